"""Evaluation metrics of §4.2 and §4.4 as plain functions on top of scikit-learn.

Genre classification (Tbl. 2). AUPRC is scikit-learn's average precision. Macro, weighted and per-genre AUPRC are taken over the
genres that have at least one positive in the evaluated split (average precision is undefined for a
genre with no positive); micro AUPRC pools every genre. Precision, recall and F1 are weighted by
support at the given threshold, with zero_division=0.

Retrieval in an embedding space (Fig. 5, Fig. 6). Similarity is cosine; genre overlap is relevance
— a retrieved trailer is relevant to the query when the two share at least one genre label — and
the query itself is left out of its own ranking:

- ``precision_at_k``: share of the k nearest other trailers that are relevant, averaged over queries;
- ``mean_average_precision``: average precision of the full ranking of the other trailers, averaged
  over queries (equal to scikit-learn's ``average_precision_score`` per query when scores do not tie);
- ``silhouette``: scikit-learn's silhouette score with cosine distance, each trailer labelled by its
  primary genre (the first one listed), as the paper tracks it through fine-tuning (Fig. 6).

Anchor protocols: the metrics exactly as two published tables compute them, so an mmx run lines up
with them (``PROTOCOLS``; ``mmx evaluate --protocol NAME``):

- ``trailers12k`` (Montalvo-Lezama et al. 2022, ``richardtml/DIViTA`` ``train.py``): the area under
  the precision-recall curve by the trapezoid rule (scikit-learn's ``precision_recall_curve`` then
  ``auc``) — µAP over all (trailer, genre) pairs pooled, mAP the mean over genres with an undefined
  genre (no positive) counted as 0, wAP weighted by each genre's positives, sAP the mean over
  trailers (those with no genre left out; the release has none) — all ×100, plus per genre;
- ``movienet`` (Sulun et al. 2024, ``classification/src/utils_classify.py``): scikit-learn's
  average precision, macro and micro, and macro/micro precision, recall and F1 at 0.5, ×100.

Trailers without any genre label are never queries (nothing could be relevant to them) and
count as irrelevant when retrieved. Rankings are computed in blocks of ``BLOCK`` queries, so the
7,594 real trailers take a few seconds.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import (
    auc,
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    silhouette_score,
)

from mmx.data.vectors import unit_rows

BLOCK = 512  # retrieval queries ranked at once: 512 × N float32 scores


def _check(y_true: np.ndarray, scores: np.ndarray, genres: list[str]) -> None:
    if y_true.shape != scores.shape or y_true.ndim != 2 or y_true.shape[1] != len(genres):
        raise ValueError(
            f"y_true {y_true.shape} and scores {scores.shape} must both be (N, {len(genres)})"
        )
    if y_true.shape[0] == 0:
        raise ValueError("no trailers to evaluate")


def classification_metrics(
    y_true: np.ndarray, scores: np.ndarray, genres: list[str], threshold: float = 0.3
) -> dict:
    """All metrics of Tbl. 2 for (N, G) labels and probabilities; ``per_genre`` has AUPRC and support."""
    y_true = np.asarray(y_true, dtype=int)
    scores = np.asarray(scores, dtype=float)
    _check(y_true, scores, genres)
    support = y_true.sum(0)
    present = support > 0
    out: dict = {}
    if present.any():
        yt, sc = y_true[:, present], scores[:, present]
        out["auprc_micro"] = float(average_precision_score(y_true, scores, average="micro"))
        out["auprc_macro"] = float(average_precision_score(yt, sc, average="macro"))
        out["auprc_weighted"] = float(average_precision_score(yt, sc, average="weighted"))
        per = average_precision_score(yt, sc, average=None)
    else:
        out.update(auprc_micro=float("nan"), auprc_macro=float("nan"), auprc_weighted=float("nan"))
        per = []
    pred = (scores >= threshold).astype(int)
    p, r, f, _ = precision_recall_fscore_support(y_true, pred, average="weighted", zero_division=0)
    out.update(precision_weighted=float(p), recall_weighted=float(r), f1_weighted=float(f))
    per_iter = iter(np.atleast_1d(per))
    out["per_genre"] = {
        g: {"auprc": float(next(per_iter)) if present[i] else None, "support": int(support[i])}
        for i, g in enumerate(genres)
    }
    out["n"] = int(y_true.shape[0])
    out["threshold"] = threshold
    return out


def random_baseline(
    y_true: np.ndarray, genres: list[str], threshold: float = 0.3, seed: int = 0
) -> dict:
    """The same metrics for uniform random scores (the paper's "Random" row)."""
    rng = np.random.default_rng(seed)
    return classification_metrics(y_true, rng.random(np.shape(y_true)), genres, threshold)


def auprc_difference_interval(
    y_true: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, level: float = 0.95, n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired bootstrap interval of AUPRC_w(a) − AUPRC_w(b) on the same (N, G) labels.

    The trailers are resampled with replacement ``n_boot`` times and both score sets are evaluated on
    every resample (genres with no positive in it left out, as ``classification_metrics`` does), so the
    interval says how far the split's sampling alone moves the difference; training seeds add their own.
    """
    y_true = np.asarray(y_true, dtype=int)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), not {level}")
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        rows = rng.integers(len(y_true), size=len(y_true))
        y = y_true[rows]
        present = y.sum(0) > 0
        if not present.any():
            continue
        y = y[:, present]
        a, b = (np.asarray(s, dtype=float)[rows][:, present] for s in (scores_a, scores_b))
        diffs.append(average_precision_score(y, a, average="weighted")
                     - average_precision_score(y, b, average="weighted"))
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def label_changes(
    probs: np.ndarray, given: np.ndarray, genres: list[str], threshold: float = 0.3
) -> list[dict]:
    """Per trailer: predicted labels, and the labels the model would add or drop (Tbl. 4)."""
    out = []
    for p, y in zip(probs, given):
        pred = p >= threshold
        out.append(
            {
                "predicted": [genres[i] for i in np.argsort(-p) if pred[i]],
                "added": [genres[i] for i in np.argsort(-p) if pred[i] and not y[i]],
                "missing": [genres[i] for i in np.argsort(p) if y[i] and not pred[i]],
            }
        )
    return out


# ---------------------------------------------------------------------------- anchor protocols
def pr_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve by the trapezoid rule; NaN when ``y`` has no positive."""
    y = np.asarray(y).reshape(-1)
    if not y.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, np.asarray(scores).reshape(-1))
    return float(auc(recall, precision))


def trailers12k_metrics(y_true: np.ndarray, scores: np.ndarray, genres: list[str]) -> dict:
    """µAP, mAP, wAP and sAP (×100) as Trailers12k's DIViTA computes them, with ``per_genre`` AP."""
    y_true = np.asarray(y_true, dtype=int)
    scores = np.asarray(scores, dtype=float)
    _check(y_true, scores, genres)
    per = np.array([pr_auc(y_true[:, g], scores[:, g]) for g in range(len(genres))])  # (G,) NaN: no positive
    per0 = np.nan_to_num(per, nan=0.0)
    support = y_true.sum(0)
    labelled = y_true.any(axis=1)
    per_sample = [pr_auc(y, s) for y, s in zip(y_true[labelled], scores[labelled])]
    return {
        "uap": 100 * pr_auc(y_true, scores),
        "map": 100 * float(per0.mean()),
        "wap": 100 * float(np.average(per0, weights=support)) if support.sum() else float("nan"),
        "sap": 100 * float(np.mean(per_sample)) if per_sample else float("nan"),
        "per_genre": {g: {"ap": 100 * float(per0[i]), "support": int(support[i])} for i, g in enumerate(genres)},
        "n": int(y_true.shape[0]),
    }


def movienet_metrics(y_true: np.ndarray, scores: np.ndarray, genres: list[str], threshold: float = 0.5) -> dict:
    """Macro and micro average precision and P/R/F1 at ``threshold`` (×100), as Sulun et al. compute them."""
    y_true = np.asarray(y_true, dtype=int)
    scores = np.nan_to_num(np.asarray(scores, dtype=float))
    _check(y_true, scores, genres)
    pred = (scores >= threshold).astype(int)
    with warnings.catch_warnings():  # a genre with no positive in the split scores 0, as in their runs
        warnings.filterwarnings("ignore", "No positive class found", UserWarning)
        out = {"map_macro": 100 * float(average_precision_score(y_true, scores, average="macro")),
               "map_micro": 100 * float(average_precision_score(y_true, scores, average="micro"))}
    for avg in ("macro", "micro"):
        p, r, f, _ = precision_recall_fscore_support(y_true, pred, average=avg, zero_division=0)
        out.update({f"precision_{avg}": 100 * float(p), f"recall_{avg}": 100 * float(r), f"f1_{avg}": 100 * float(f)})
    out["n"] = int(y_true.shape[0])
    return out


# the paper's short names of classification_metrics' keys (Tbl. 2 and 5: AUPRC_w, F1w, …), for tables and reports
SHORT_NAMES = {"auprc_micro": "AUPRC_mi", "auprc_macro": "AUPRC_ma", "auprc_weighted": "AUPRC_w",
               "precision_weighted": "Pw", "recall_weighted": "Rw", "f1_weighted": "F1w"}

PROTOCOLS = {  # anchor name → metric function (y_true, scores, genres) → dict
    "trailers12k": trailers12k_metrics,
    "movienet": movienet_metrics,
}
PROTOCOL_KEYS = {
    "trailers12k": ["uap", "map", "wap", "sap"],
    "movienet": ["map_macro", "map_micro", "f1_macro", "f1_micro"],
}


# ---------------------------------------------------------------------------- retrieval
def top_k(scores: np.ndarray, k: int, exclude: list[int] | None) -> np.ndarray:
    """(Q, k) column indices of the k highest scores per row, best first; ``exclude[r]`` left out."""
    scores = scores.copy()
    if exclude is not None:
        scores[np.arange(len(scores)), exclude] = -np.inf
    if k <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (Q, k) unordered
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


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


def _blocks(vectors: np.ndarray, genres: list[list[str]], queries: np.ndarray | None,
            groups: np.ndarray | None = None):
    """Yield (query rows, scores (Q, N) with the query's own column — and with ``groups`` (N,) every column
    of its group — at −inf, relevance (Q, N))."""
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
        if groups is not None:
            scores[groups[None] == groups[rows][:, None]] = -np.inf  # (Q, N) the query's own group
        yield rows, scores, (y[rows] @ y.T) > 0  # (Q, N) relevance: a shared genre


def precision_at_k(
    vectors: np.ndarray, genres: list[list[str]], k: int = 10, queries: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> float:
    """Mean share of relevant items among the k nearest others of each labelled query; with ``groups``
    (N,) the items of the query's own group (e.g. the scenes of its trailer) are left out too."""
    k = min(k, len(vectors) - 1)
    hits, n = 0.0, 0
    for rows, scores, rel in _blocks(vectors, genres, queries, groups):
        top = top_k(scores, k, None)  # own column is already −inf
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
