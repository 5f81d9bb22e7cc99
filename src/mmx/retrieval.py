"""Trailer search and retrieval metrics in an embedding space (§4.4, Fig. 5, Fig. 6).

Similarity is cosine. ``nearest`` answers a query (a trailer id of the run or a vector).
The metrics use genre overlap as relevance — a retrieved trailer is relevant to the query when
the two share at least one genre label — and leave the query itself out of its own ranking:

- ``precision_at_k``: share of the k nearest other trailers that are relevant, averaged over queries;
- ``mean_average_precision``: average precision of the full ranking of the other trailers, averaged
  over queries (equal to scikit-learn's ``average_precision_score`` per query when scores do not tie);
- ``silhouette``: scikit-learn's silhouette score with cosine distance, each trailer labelled by its
  primary genre (the first one listed), as the paper tracks it through fine-tuning (Fig. 6).

Trailers without any genre label are never queries (nothing could be relevant to them) and
count as irrelevant when retrieved. Rankings are computed in blocks of queries, so the 7,594
real trailers take a few seconds.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import silhouette_score

from mmx.embeddings import EmbeddingSet, embed_query_npz, load_embeddings, unit_rows
from mmx.errors import InputError, UnknownTrailerError
from mmx.inference import split_ids
from mmx.train.run import RunDir

BLOCK = 512  # queries ranked at once: 512 × N float32 scores


@dataclass
class Hit:
    trailer_id: str
    score: float  # cosine similarity to the query
    genres: list[str]
    title: str
    year: int | None



# ---------------------------------------------------------------------------- search
def nearest(emb: EmbeddingSet, query: str | np.ndarray, k: int = 10) -> list[Hit]:
    """The ``k`` trailers most cosine-similar to ``query``.

    ``query`` is a trailer id of ``emb`` (the trailer itself is left out of its hits) or a (D,)
    vector (every trailer may be a hit, so a trailer's own vector finds it first, with score 1).
    """
    if isinstance(query, str):
        q = emb.unit[resolve_id(emb, query)]
        exclude = emb.position[query]
    else:
        vec = np.asarray(query, dtype=np.float32).reshape(-1)
        if vec.shape[0] != emb.dim:
            raise InputError(f"query vector is {vec.shape[0]}-d; the run's embeddings are {emb.dim}-d")
        q, exclude = unit_rows(vec), None
    scores = emb.unit @ q  # (N,)
    order = _top(scores[None], min(k, len(emb.ids) - (exclude is not None)), None if exclude is None else [exclude])[0]
    return [Hit(emb.ids[i], float(scores[i]), emb.genres[i], emb.titles[i], emb.years[i]) for i in order]


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


def search_run(run: str | Path | RunDir, query: str, k: int = 10) -> list[Hit]:
    """Nearest trailers in a run; ``query`` is a trailer id or the path of a new trailer's npz.

    Uses the run's FAISS index (``mmx index``) when one matches its embeddings, else ``nearest``.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    emb = load_embeddings(run)
    if query.endswith(".npz") and query not in emb.position:
        if not Path(query).is_file():
            raise InputError(f"query file {query} does not exist")
        vector, own = embed_query_npz(run, query), None
    else:
        vector, own = emb.unit[resolve_id(emb, query)], query
    found = _index_search(run, unit_rows(np.asarray(vector, dtype=np.float32).reshape(1, -1)), k + 1)
    if found is None:
        return nearest(emb, query if own is not None else vector, k)
    ids, scores = found
    hits = [(t, float(sc)) for t, sc in zip(ids[0], scores[0]) if t != own][:k]
    return [Hit(t, sc, emb.genres[emb.position[t]], emb.titles[emb.position[t]], emb.years[emb.position[t]])
            for t, sc in hits]


def _index_search(run: RunDir, vectors: np.ndarray, k: int):
    """The run's FAISS index answer, or None without an index (or without faiss, the `scale` extra)."""
    if importlib.util.find_spec("faiss") is None:
        return None
    from mmx.index import (
        search_index,  # faiss is imported only when an index may be used
    )

    return search_index(run, vectors, k)


def _top(scores: np.ndarray, k: int, exclude: list[int] | None) -> np.ndarray:
    """(Q, k) column indices of the k highest scores per row, best first; ``exclude[r]`` left out."""
    scores = scores.copy()
    if exclude is not None:
        scores[np.arange(len(scores)), exclude] = -np.inf
    if k <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (Q, k) unordered
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# ---------------------------------------------------------------------------- metrics
def genre_matrix(genres: list[list[str]]) -> np.ndarray:
    """(N, G) bool multi-hot over the sorted vocabulary of ``genres``."""
    vocab = {g: i for i, g in enumerate(sorted({g for gs in genres for g in gs}))}
    y = np.zeros((len(genres), len(vocab)), dtype=bool)
    for r, gs in enumerate(genres):
        y[r, [vocab[g] for g in gs]] = True
    return y


def _queries(y: np.ndarray, queries: np.ndarray | None) -> np.ndarray:
    queries = np.arange(len(y)) if queries is None else np.asarray(queries, dtype=np.int64)
    return queries[y[queries].any(axis=1)]


def _blocks(vectors: np.ndarray, genres: list[list[str]], queries: np.ndarray | None):
    """Yield (query rows, scores (Q, N) with the query's own column at −inf, relevance (Q, N))."""
    unit = unit_rows(vectors)
    y = genre_matrix(genres).astype(np.float32)
    qs = _queries(y.astype(bool), queries)
    if len(qs) == 0:
        raise ValueError("no query has a genre label; retrieval metrics need labelled trailers")
    if len(unit) < 2:
        raise ValueError("retrieval metrics need at least two trailers")
    for start in range(0, len(qs), BLOCK):
        rows = qs[start : start + BLOCK]
        scores = unit[rows] @ unit.T  # (Q, N) cosine
        scores[np.arange(len(rows)), rows] = -np.inf
        yield rows, scores, (y[rows] @ y.T) > 0  # (Q, N) relevance: a shared genre


def precision_at_k(
    vectors: np.ndarray, genres: list[list[str]], k: int = 10, queries: np.ndarray | None = None
) -> float:
    """Mean share of relevant trailers among the k nearest others of each labelled query."""
    k = min(k, len(vectors) - 1)
    hits, n = 0.0, 0
    for rows, scores, rel in _blocks(vectors, genres, queries):
        top = _top(scores, k, None)  # own column is already −inf
        hits += np.take_along_axis(rel, top, axis=1).mean(axis=1).sum()
        n += len(rows)
    return float(hits / n)


def mean_average_precision(vectors: np.ndarray, genres: list[list[str]], queries: np.ndarray | None = None) -> float:
    """Mean over labelled queries of the average precision of the ranking of all other trailers."""
    total, n = 0.0, 0
    for rows, scores, rel in _blocks(vectors, genres, queries):
        order = np.argsort(-scores, axis=1)[:, :-1]  # (Q, N−1): the query itself (−inf) is last
        r = np.take_along_axis(rel, order, axis=1)  # (Q, N−1) relevance by rank
        hits = np.cumsum(r, axis=1, dtype=np.float32)  # relevant trailers up to every rank
        ranks = np.arange(1, r.shape[1] + 1, dtype=np.float32)
        n_rel = hits[:, -1]
        ap = np.where(n_rel > 0, (hits / ranks * r).sum(axis=1, dtype=np.float64) / np.maximum(n_rel, 1), 0.0)
        total += ap.sum()
        n += len(rows)
    return float(total / n)


def silhouette(vectors: np.ndarray, genres: list[list[str]]) -> float:
    """Cosine silhouette of the trailers with a genre, labelled by primary genre; NaN if undefined."""
    labelled = [i for i, gs in enumerate(genres) if gs]
    primary = [genres[i][0] for i in labelled]
    n_labels = len(set(primary))
    if not 2 <= n_labels <= len(labelled) - 1:
        return float("nan")
    return float(silhouette_score(np.asarray(vectors)[labelled], primary, metric="cosine"))


def retrieval_metrics(
    vectors: np.ndarray, genres: list[list[str]], k: int = 10, queries: np.ndarray | None = None
) -> dict:
    """``precision_at_{k}``, ``map`` and ``silhouette`` (on the queries) with the counts."""
    qs = _queries(genre_matrix(genres), queries)
    return {
        f"precision_at_{k}": precision_at_k(vectors, genres, k, qs),
        "map": mean_average_precision(vectors, genres, qs),
        "silhouette": silhouette(np.asarray(vectors)[qs], [genres[i] for i in qs]),
        "n_queries": int(len(qs)),
        "n_gallery": int(len(vectors)),
        "k": k,
    }


def evaluate_retrieval(run: str | Path | RunDir, split: str = "all", k: int = 10) -> dict:
    """Retrieval metrics of a run: queries from ``split``, the gallery every labelled trailer of the run.

    For a fine run the coarse run it started from is evaluated the same way under ``"coarse"``.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    info = run.info()
    labelled = split_ids(run, "all")
    wanted = set(split_ids(run, split))
    emb = load_embeddings(run).subset(labelled)
    queries = np.array([i for i, t in enumerate(labelled) if t in wanted], dtype=np.int64)
    out = {"run": str(run.root), "kind": info.kind, "split": split}
    out.update(retrieval_metrics(emb.vectors, emb.genres, k, queries))
    if info.kind == "fine" and info.parent:
        out["coarse"] = evaluate_retrieval(info.parent, split, k)
    return out
