"""The tuned linear probe: never worse on validation than the untuned one; missing experts as zeros + flag."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import tiny_cfg
from mmx.errors import ConfigError
from mmx.inference import evaluate_run
from mmx.metrics import classification_metrics
from mmx.probe import UNTUNED, ProbeConfig, ProbeSetting, linear_probe, pooled_features, tune_probe
from mmx.progress import QUIET
from mmx.run import Run
from mmx.train.coarse import train

GENRES = ["a", "b", "c", "d"]


def _data(seed: int, n: int, features: int = 60):
    """Labels from a few informative features, many noise features (features ≈ trailers: C matters)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(5, len(GENRES)))
    x = rng.normal(size=(n, features))
    y = (x[:, :5] @ w + rng.normal(scale=2.0, size=(n, len(GENRES))) > 1.0).astype(int)
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tuned_probe_is_never_worse_on_validation_than_untuned(seed):
    x, y = _data(seed, 140)
    xt, yt, xv, yv = x[:80], y[:80], x[80:], y[80:]
    setting, grid = tune_probe(xt, yt, xv, yv, GENRES, ProbeConfig(C=[0.01, 0.1]), seed=seed)
    tuned = classification_metrics(yv, linear_probe(xt, yt, xv, seed=seed, setting=setting), GENRES)
    untuned = classification_metrics(yv, linear_probe(xt, yt, xv, seed=seed), GENRES)
    assert tuned["auprc_weighted"] >= untuned["auprc_weighted"]
    assert {"C": UNTUNED.C, "scaling": UNTUNED.scaling} in [{"C": g["C"], "scaling": g["scaling"]} for g in grid]
    best = max(g["score"] for g in grid)
    assert tuned["auprc_weighted"] == pytest.approx(best)


def test_tuning_picks_strong_regularisation_when_features_outnumber_trailers():
    x, y = _data(3, 120, features=200)
    setting, _ = tune_probe(x[:60], y[:60], x[60:], y[60:], GENRES, seed=0)
    assert setting.C < UNTUNED.C or setting.scaling != UNTUNED.scaling


def test_constant_genre_gets_its_training_frequency():
    x, y = _data(0, 50)
    y[:, 2] = 0
    probs = linear_probe(x, y, x[:5], setting=ProbeSetting(0.1, "none"))
    assert np.all(probs[:, 2] == 0.0)


def test_bad_grid_and_setting_are_rejected():
    with pytest.raises(ConfigError, match="C grid"):
        ProbeConfig(C=[0.0])
    with pytest.raises(ConfigError, match="scalings"):
        ProbeConfig(scalings=["minmax"])
    with pytest.raises(ConfigError, match="C > 0"):
        ProbeSetting(C=-1.0)


def test_pooled_features_mean_and_presence(small_store):
    ids = sorted(small_store.entries())[:12]
    experts = sorted(small_store.experts)
    x = pooled_features(small_store, ids, experts)
    col = 0
    for name in experts:
        dim = small_store.experts[name].dim
        for r, tid in enumerate(ids):
            arr = small_store.load(tid, name)
            if arr is None:
                assert not x[r, col : col + dim + 1].any()  # a missing expert: zeros and flag 0
            else:
                np.testing.assert_allclose(x[r, col : col + dim], np.asarray(arr).mean(0), rtol=1e-5, atol=1e-6)
                assert x[r, col + dim] == 1.0
        col += dim + 1
    assert col == x.shape[1]


@pytest.mark.slow
def test_evaluate_reports_the_tuned_probe_and_a_verdict(small_store, tmp_path):
    from helpers import tiny_cfg
    from mmx.inference import evaluate_run
    from mmx.progress import QUIET
    from mmx.train.coarse import train

    train(small_store, tmp_path / "run", tiny_cfg(1), reporter=QUIET)
    result = evaluate_run(tmp_path / "run", "test")
    probe = result["probe"]
    assert probe["C"] in ProbeConfig().C + [UNTUNED.C] and probe["scaling"] in ("none", "standard")
    assert probe["tuned_on"] == "val" and 0 <= probe["auprc_weighted"] <= 1
    assert "tuned linear probe" in result["verdict"] and f"{probe['auprc_weighted']:.3f}" in result["verdict"]


@pytest.mark.slow
def test_probe_row_is_fitted_on_train_and_beats_random(small_store, tmp_path):
    train(small_store, tmp_path / "run", tiny_cfg(1), reporter=QUIET)
    result = evaluate_run(Run.open(tmp_path / "run"), "test")
    assert set(result) >= {"auprc_micro", "auprc_macro", "auprc_weighted", "precision_weighted",
                           "recall_weighted", "f1_weighted", "per_genre", "random", "probe"}
    assert result["probe"]["auprc_weighted"] > result["random"]["auprc_weighted"]
    assert np.isfinite(result["auprc_weighted"])
