"""Evaluation metrics of §4.2 as plain functions on top of scikit-learn.

AUPRC is scikit-learn's average precision. Macro, weighted and per-genre AUPRC are taken over the
genres that have at least one positive in the evaluated split (average precision is undefined for a
genre with no positive); micro AUPRC pools every genre. Precision, recall and F1 are weighted by
support at the given threshold, with zero_division=0.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

METRIC_KEYS = (
    "auprc_micro", "auprc_macro", "auprc_weighted",
    "precision_weighted", "recall_weighted", "f1_weighted",
)


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
