"""Search in a vector set (§4.4, Fig. 5) and the retrieval evaluation of a run (Fig. 6).

Similarity is cosine. ``Neighbours`` is the one nearest-neighbour search: over a **vector set** —
unit rows, each belonging to one trailer — it answers from a FAISS index built from those rows when
it has one, else exactly, both through ``mmx.index.nearest_rows``. A run has two vector sets:

* its trailer embeddings (``TrailerVectors``: one row per trailer), with the run's newest FAISS index
  while it is fresh for them (``mmx index``; ``Neighbours.of_run``);
* its scene vectors (``mmx.scenes.searching.SceneVectors``: one row per clip), with ``RUN/scenes.faiss``.

Every search answers ``Hit`` objects: the trailer, its title and the cosine, plus the trailer's
genres and year (trailer search) or the clip's number and seconds (scene search). A query is a
vector (every row may be a hit), a row of the set (it is left out, or with ``other_trailers`` every
row of its trailer) or a trailer id (its row; the trailer is left out). The CLI, the explorer and
the report all search through it. The metrics themselves live in ``mmx.metrics``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np

from mmx.data.vectors import EmbeddingSet, unit_rows
from mmx.errors import InputError, UnknownTrailerError
from mmx.index import has_faiss, load_run_index, nearest_rows
from mmx.metrics import retrieval_metrics
from mmx.run import FINE, ModelRun, Run


@dataclass
class Hit:
    """One answer of a search: a trailer (trailer search) or one of its clips (scene search)."""

    trailer_id: str
    title: str
    score: float  # cosine similarity to the query
    row: int  # the hit's row in the vector set searched
    genres: list[str] | None = None  # trailer hits: the trailer's labels (first = primary genre); None on scene hits
    year: int | None = None  # trailer hits: the trailer's year, when known
    clip: int | None = None  # scene hits: the clip's number inside its trailer; None on trailer hits
    start: float | None = None  # scene hits: seconds; None when the store has no clip times
    end: float | None = None

    def as_dict(self) -> dict:
        """The hit as JSON answers give it (`mmx search --json`, the HTTP API): the fields of its kind, no row."""
        out = {"trailer_id": self.trailer_id, "title": self.title, "score": self.score}
        if self.genres is not None:
            out |= {"genres": self.genres, "year": self.year}
        if self.clip is not None:
            out |= {"clip": self.clip, "start": self.start, "end": self.end}
        return out


class VectorSet(Protocol):
    """What ``Neighbours`` searches: (N, D) unit rows, each of one trailer, a trailer's rows side by side."""

    what: str  # what the rows are, for messages ("the run's embeddings")

    @property
    def unit(self) -> np.ndarray: ...  # (N, D) unit rows

    def rows_of(self, trailer_id: str) -> range: ...  # a trailer's rows; UnknownTrailerError (close ids) when none

    def hit(self, row: int, score: float) -> Hit: ...  # what a hit on ``row`` shows


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


@dataclass(frozen=True)
class TrailerVectors:
    """A run's trailer embeddings as a vector set: row i is trailer ``emb.ids[i]``."""

    emb: EmbeddingSet
    what = "the run's embeddings"

    @property
    def unit(self) -> np.ndarray:
        return self.emb.unit  # (N, D)

    def rows_of(self, trailer_id: str) -> range:
        row = resolve_id(self.emb, trailer_id)
        return range(row, row + 1)

    def hit(self, row: int, score: float) -> Hit:
        e = self.emb
        return Hit(e.ids[row], e.titles[row], score, row, genres=e.genres[row], year=e.years[row])


V = TypeVar("V", bound=VectorSet)


class Neighbours(Generic[V]):
    """The rows of one vector set nearest to a query: from ``index`` (a FAISS index of those rows) when given,
    else exact."""

    def __init__(self, vectors: V, index=None, index_rows: np.ndarray | None = None, kind: str | None = None):
        self.vectors = vectors
        self.index = index  # faiss.Index built from exactly these rows, or None: exact search
        self.index_rows = index_rows  # (N,) the set's row of each index row; None: the same rows
        self.kind = kind  # the index's kind (mmx.index.INDEXES) when it is a run index (`mmx index`)

    @classmethod
    def of_run(cls, run: Run) -> Neighbours[TrailerVectors]:
        """The run's trailer embeddings with its newest fresh FAISS index (when faiss, the `scale` extra, is there)."""
        emb = run.embeddings()
        found = load_run_index(run) if has_faiss() else None
        if found is None:
            return cls(TrailerVectors(emb))
        rows = None if found.ids == emb.ids else np.array([emb.position[t] for t in found.ids])  # trailers added
        return cls(TrailerVectors(emb), found.index, rows, found.kind)

    def nearest(self, query: str | np.ndarray, k: int = 10) -> list[Hit]:
        """The ``k`` hits of ``query``: a trailer id of the set (its row — the first, where a trailer has several —
        is the query; the trailer is left out) or a (D,) vector."""
        if isinstance(query, str):
            return self.around(self.vectors.rows_of(query).start, k, other_trailers=True)
        return self.search(query, k)

    def search(self, vector: np.ndarray, k: int = 10) -> list[Hit]:
        """The ``k`` rows most cosine-similar to the (D,) ``vector``, best first."""
        q = unit_rows(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]  # (D,)
        dim = self.vectors.unit.shape[1]
        if q.shape[0] != dim:
            raise InputError(f"the query vector is {q.shape[0]}-d; {self.vectors.what} are {dim}-d")
        return self._nearest(q, k, range(0))

    def around(self, row: int, k: int = 10, other_trailers: bool = False) -> list[Hit]:
        """The ``k`` rows most similar to row ``row``, leaving out the row itself — with ``other_trailers``,
        every row of its trailer."""
        own = range(row, row + 1)
        if other_trailers:
            own = self.vectors.rows_of(self.vectors.hit(row, 1.0).trailer_id)
        return self._nearest(self.vectors.unit[row], k, own)

    def _nearest(self, q: np.ndarray, k: int, leave_out: range) -> list[Hit]:
        found = nearest_rows(self.vectors.unit, self.index, q, k + len(leave_out))  # (index row, cosine)
        rows = found if self.index_rows is None else [(int(self.index_rows[r]), s) for r, s in found]
        return [self.vectors.hit(r, s) for r, s in rows if r not in leave_out][:k]


def nearest(emb: EmbeddingSet, query: str | np.ndarray, k: int = 10) -> list[Hit]:
    """The ``k`` trailers most cosine-similar to ``query``, by exact search."""
    return Neighbours(TrailerVectors(emb)).nearest(query, k)


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
