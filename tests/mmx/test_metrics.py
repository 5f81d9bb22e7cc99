"""Metrics equal scikit-learn's or a plain loop: classification, the random baseline, label changes, the paired
bootstrap, and retrieval (precision@k, mAP, silhouette)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, silhouette_score

from helpers import naive_rankings, random_collection
from mmx.config import METRIC_KEYS
from mmx.metrics import (
    auprc_difference_interval,
    classification_metrics,
    label_changes,
    mean_average_precision,
    precision_at_k,
    random_baseline,
    retrieval_metrics,
    silhouette,
)

GENRES = [f"g{i}" for i in range(6)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((50, 6)) < 0.3).astype(int)
    y[:, 5] = 0  # a genre with no positive in this split
    s = rng.random((50, 6))
    m = classification_metrics(y, s, GENRES, threshold=0.3)
    present = y.sum(0) > 0
    assert m["auprc_micro"] == pytest.approx(average_precision_score(y, s, average="micro"))
    assert m["auprc_macro"] == pytest.approx(average_precision_score(y[:, present], s[:, present], average="macro"))
    assert m["auprc_weighted"] == pytest.approx(average_precision_score(y[:, present], s[:, present], average="weighted"))
    pred = (s >= 0.3).astype(int)
    assert m["precision_weighted"] == pytest.approx(precision_score(y, pred, average="weighted", zero_division=0))
    assert m["recall_weighted"] == pytest.approx(recall_score(y, pred, average="weighted", zero_division=0))
    assert m["f1_weighted"] == pytest.approx(f1_score(y, pred, average="weighted", zero_division=0))
    for i, g in enumerate(GENRES):
        assert m["per_genre"][g]["support"] == y[:, i].sum()
        if present[i]:
            assert m["per_genre"][g]["auprc"] == pytest.approx(average_precision_score(y[:, i], s[:, i]))
        else:
            assert m["per_genre"][g]["auprc"] is None


def test_perfect_scores_give_one_and_random_is_near_prevalence():
    rng = np.random.default_rng(0)
    y = (rng.random((400, 6)) < 0.2).astype(int)
    perfect = classification_metrics(y, y.astype(float), GENRES)
    for k in METRIC_KEYS:
        assert perfect[k] == pytest.approx(1.0)
    rand = random_baseline(y, GENRES, seed=3)
    assert rand["auprc_micro"] == pytest.approx(y.mean(), abs=0.05)
    assert rand == random_baseline(y, GENRES, seed=3)  # seeded


@pytest.mark.slow
def test_auprc_difference_interval_is_the_paired_bootstrap():
    """Against a naive reference: the same resamples, each scored by ``classification_metrics``."""
    rng = np.random.default_rng(3)
    y = (rng.random((25, 6)) < 0.3).astype(int)
    a, b = y * 0.5 + rng.random((25, 6)), rng.random((25, 6))
    draws = np.random.default_rng(7)
    diffs = []
    for _ in range(200):
        rows = draws.integers(25, size=25)
        if y[rows].any():
            diffs.append(classification_metrics(y[rows], a[rows], GENRES)["auprc_weighted"]
                         - classification_metrics(y[rows], b[rows], GENRES)["auprc_weighted"])
    want = np.quantile(diffs, [0.05, 0.95])
    assert auprc_difference_interval(y, a, b, level=0.9, n_boot=200, seed=7) == pytest.approx(tuple(want))
    assert auprc_difference_interval(y, a, a) == (0.0, 0.0)  # the same scores: no difference on any resample
    low, high = auprc_difference_interval(y, y + 0.1 * rng.random((25, 6)), 1 - y)  # perfect against reversed
    assert 0 < low <= high
    with pytest.raises(ValueError, match="level"):
        auprc_difference_interval(y, a, b, level=1.0)


def test_shape_errors():
    with pytest.raises(ValueError):
        classification_metrics(np.zeros((3, 6)), np.zeros((3, 5)), GENRES)
    with pytest.raises(ValueError, match="no trailers"):
        classification_metrics(np.zeros((0, 6)), np.zeros((0, 6)), GENRES)


def test_label_changes():
    probs = np.array([[0.9, 0.1, 0.5, 0.05, 0.0, 0.0]])
    given = np.array([[1, 1, 0, 0, 0, 0]])
    (ch,) = label_changes(probs, given, GENRES, threshold=0.3)
    assert ch == {"predicted": ["g0", "g2"], "added": ["g2"], "missing": ["g1"]}


def shares(a: list[str], b: list[str]) -> bool:
    return bool(set(a) & set(b))


@pytest.mark.parametrize("n,d,k,seed", [(30, 8, 5, 0), (57, 16, 10, 1), (12, 3, 11, 2)])
def test_precision_at_k_matches_a_loop(n, d, k, seed):
    x, genres = random_collection(n, d, seed)
    genres[3] = []  # an unlabelled trailer: never a query, never relevant
    expected = np.mean([
        np.mean([shares(genres[q], genres[j]) for j in naive_rankings(x, q)[:k]])
        for q in range(n) if genres[q]
    ])
    assert precision_at_k(x, genres, k) == pytest.approx(expected, abs=1e-12)
    queries = np.array([0, 3, 5, 7])  # a subset of queries, the whole collection as gallery
    expected_sub = np.mean([
        np.mean([shares(genres[q], genres[j]) for j in naive_rankings(x, q)[:k]]) for q in (0, 5, 7)
    ])
    assert precision_at_k(x, genres, k, queries) == pytest.approx(expected_sub, abs=1e-12)


def test_mean_average_precision_matches_scikit_learn():
    x, genres = random_collection(40, 6, 3)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps = []
    for q in range(len(x)):
        others = [j for j in range(len(x)) if j != q]
        rel = [shares(genres[q], genres[j]) for j in others]
        aps.append(average_precision_score(rel, unit[others] @ unit[q]))
    assert mean_average_precision(x, genres) == pytest.approx(np.mean(aps), abs=1e-6)


def test_silhouette_is_scikit_learns_on_primary_genre():
    x, genres = random_collection(50, 8, 4)
    expected = silhouette_score(x, [g[0] for g in genres], metric="cosine")
    assert silhouette(x, genres) == pytest.approx(expected, abs=1e-9)
    assert np.isnan(silhouette(x[:5], [["Drama"]] * 5))  # one cluster: undefined
    m = retrieval_metrics(x, genres, k=10)
    assert set(m) >= {"precision_at_10", "map", "silhouette", "n_queries"} and m["n_queries"] == 50


def test_perfect_clusters_score_one():
    genres = [["Action"]] * 12 + [["Drama"]] * 12
    x = np.concatenate([np.tile([1.0, 0.0], (12, 1)), np.tile([0.0, 1.0], (12, 1))]).astype(np.float32)
    x += np.random.default_rng(0).normal(scale=0.01, size=x.shape).astype(np.float32)
    assert precision_at_k(x, genres, 10) == 1.0
    assert mean_average_precision(x, genres) == pytest.approx(1.0)
    assert silhouette(x, genres) > 0.95


def direct_pr_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Trapezoid area under precision(recall), walking the thresholds by hand (distinct scores,
    high to low, plus the point recall 0 / precision 1)."""
    points = [(0.0, 1.0)]
    for t in sorted(set(s.tolist()), reverse=True):
        pred = s >= t
        tp = float((pred & (y == 1)).sum())
        points.append((tp / y.sum(), tp / pred.sum()))
    return sum((r1 - r0) * (p0 + p1) / 2 for (r0, p0), (r1, p1) in zip(points, points[1:]))


def test_trailers12k_metrics_match_a_direct_trapezoid_computation():
    from mmx.metrics import trailers12k_metrics

    rng = np.random.default_rng(3)
    y = (rng.random((60, 5)) < 0.3).astype(int)
    y[:, 4] = 0  # a genre with no positive: 0 in mAP, as DIViTA's NaN → 0
    y[y.sum(1) == 0, 0] = 1
    s = np.round(rng.random((60, 5)), 2)  # ties, as real scores have
    got = trailers12k_metrics(y, s, list("abcde"))
    per = [direct_pr_auc(y[:, g], s[:, g]) if y[:, g].any() else 0.0 for g in range(5)]
    assert got["uap"] == pytest.approx(100 * direct_pr_auc(y.ravel(), s.ravel()))
    assert got["map"] == pytest.approx(100 * np.mean(per))
    assert got["wap"] == pytest.approx(100 * np.average(per, weights=y.sum(0)))
    assert got["sap"] == pytest.approx(100 * np.mean([direct_pr_auc(a, b) for a, b in zip(y, s)]))
    assert got["per_genre"]["e"] == {"ap": 0.0, "support": 0}
