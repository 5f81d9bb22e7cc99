"""Trailer search in an embedding space (§4.4, Fig. 5) and the retrieval evaluation of a run (Fig. 6).

Similarity is cosine. ``Neighbours`` is the one nearest-neighbour path over trailers: over a run's
embeddings it answers from the run's FAISS index when one is fresh for them (``mmx index``), else
exactly (``nearest``), both through ``mmx.index.nearest_rows`` — the search the scene vectors
(``mmx.scenes``) use too; the CLI, the explorer and the report all search through it. A query is a trailer
id (the trailer itself is left out of its hits) or a vector (every trailer may be a hit).
The metrics themselves live in ``mmx.metrics``.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmx.data.vectors import EmbeddingSet, unit_rows
from mmx.errors import InputError, UnknownTrailerError
from mmx.index import nearest_rows
from mmx.metrics import retrieval_metrics
from mmx.run import FINE, ModelRun, Run


@dataclass
class Hit:
    trailer_id: str
    score: float  # cosine similarity to the query
    genres: list[str]
    title: str
    year: int | None


def resolve_id(emb: EmbeddingSet, trailer_id: str) -> int:
    """Row of ``trailer_id``; an unknown id raises with the closest known ids."""
    if trailer_id in emb.position:
        return emb.position[trailer_id]
    raise unknown_id(trailer_id, emb.ids, "the run")


def unknown_id(trailer_id: str, known: list[str], where: str) -> UnknownTrailerError:
    """The error for an id not in ``known``, suggesting the closest ones (difflib)."""
    close = difflib.get_close_matches(trailer_id, known, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `mmx info` lists how many trailers it holds"
    return UnknownTrailerError(f"trailer {trailer_id!r} is not in {where}{hint}")


def _query(emb: EmbeddingSet, query: str | np.ndarray) -> tuple[np.ndarray, int | None]:
    """(D,) unit query vector and the row to leave out (the query trailer's own), if any."""
    if isinstance(query, str):
        row = resolve_id(emb, query)
        return emb.unit[row], row
    vec = np.asarray(query, dtype=np.float32).reshape(-1)
    if vec.shape[0] != emb.dim:
        raise InputError(f"query vector is {vec.shape[0]}-d; the run's embeddings are {emb.dim}-d")
    return unit_rows(vec), None


def _hit(emb: EmbeddingSet, row: int, score: float) -> Hit:
    return Hit(emb.ids[row], float(score), emb.genres[row], emb.titles[row], emb.years[row])


def nearest(emb: EmbeddingSet, query: str | np.ndarray, k: int = 10) -> list[Hit]:
    """The ``k`` trailers most cosine-similar to ``query``, by exact search."""
    return Neighbours(emb).nearest(query, k)


class Neighbours:
    """Nearest trailers in one embedding set: from ``index`` (a matching FAISS index) when given, else exact."""

    def __init__(self, emb: EmbeddingSet, index=None):
        self.emb = emb
        self.index = index  # mmx.index.RunIndex built from exactly these embeddings, or None

    @classmethod
    def of_run(cls, run: Run) -> "Neighbours":
        """The run's embeddings with its newest matching FAISS index (when faiss, the `scale` extra, is there)."""
        index = None
        if importlib.util.find_spec("faiss") is not None:
            from mmx.index import load_run_index  # faiss is imported only when an index may be used

            index = load_run_index(run)
        return cls(run.embeddings(), index)

    def nearest(self, query: str | np.ndarray, k: int = 10) -> list[Hit]:
        """The ``k`` trailers most similar to ``query`` (a trailer id of the set, or a (D,) vector)."""
        q, own = _query(self.emb, query)
        ids = self.emb.ids if self.index is None else self.index.ids  # trailer id of each row searched
        found = nearest_rows(self.emb.unit, None if self.index is None else self.index.index, q, k + (own is not None))
        own_id = None if own is None else self.emb.ids[own]
        return [_hit(self.emb, self.emb.position[ids[r]], s) for r, s in found if ids[r] != own_id][:k]


def search_run(run: str | Path | Run, query: str, k: int = 10) -> list[Hit]:
    """Nearest trailers in a run; ``query`` is a trailer id or the path of a new trailer's npz."""
    from mmx.embeddings import embed_query_npz  # embeds with the network: only for file queries

    run = Run.open(run)
    vector = embed_query_npz(run, query) if query.endswith(".npz") else None
    return Neighbours.of_run(run).nearest(query if vector is None else vector, k)


def evaluate_retrieval(run: str | Path | Run, split: str = "all", k: int = 10) -> dict:
    """Retrieval metrics of a run: queries from ``split``, the gallery every labelled trailer of the run.

    For a fine run the coarse run it started from is evaluated the same way under ``"coarse"``.
    """
    run = Run.open(run)
    labelled = run.split_ids("all")
    wanted = set(run.split_ids(split))
    emb = run.embeddings().subset(labelled)
    queries = np.array([i for i, t in enumerate(labelled) if t in wanted], dtype=np.int64)
    out = {"run": str(run.root), "kind": run.kind, "split": split}
    out.update(retrieval_metrics(emb.vectors, emb.genres, k, queries))
    if run.kind == FINE and isinstance(run, ModelRun) and run.parent is not None:
        out["coarse"] = evaluate_retrieval(run.parent, split, k)
    return out
