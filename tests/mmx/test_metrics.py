"""Metrics equal scikit-learn's; the random baseline and label changes behave."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
)

from mmx.config import METRIC_KEYS
from mmx.metrics import (
    auprc_difference_interval,
    classification_metrics,
    label_changes,
    random_baseline,
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
