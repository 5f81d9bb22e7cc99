"""Label issues: the planted flipped genres and the vocabulary problems named, a probe on fewer trailers than
feature dims, and a label's odds of being wrong linear in the prior whatever a genre's probability scale."""

from __future__ import annotations

import numpy as np

from mmx.health.report import check


def test_label_issues_name_the_flipped_genre_and_the_vocabulary_problems(planted):
    root, flipped = planted
    findings = check(root, ["labels"]).findings
    issues = [(f.trailers[0], f.genre) for f in findings if f.kind == "label to review"]
    planted_wrong = set(flipped) | {("short", "Comedy")}  # "short" shows Comedy but is labelled "none"
    assert len(set(issues) & set(flipped)) >= 2 and issues[0] in planted_wrong
    assert len(set(issues) - planted_wrong) <= 1  # at most one healthy (trailer, genre) to review
    kinds = {(f.kind, f.genre or f.trailers[0]) for f in findings}
    assert ("placeholder genre", "none") in kinds and ("no genres", "silent") in kinds


def test_label_check_on_fewer_trailers_than_feature_dims():
    """Wide features (the demo's 1,280-d appearance) on a small collection: the probe's projection is
    capped by the number of trailers (PCA gives at most one component per trailer)."""
    from mmx.health.label_issues import LabelCheckConfig, out_of_fold

    rng = np.random.default_rng(0)
    y = (rng.random((40, 3)) < 0.4).astype(int)
    y[:3] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]  # every genre has a positive
    x = rng.normal(size=(40, 300)) + 2.0 * y @ rng.normal(size=(3, 300))
    probs = out_of_fold(x, y, ["A", "B", "C"], LabelCheckConfig(max_dims=128))
    assert probs.shape == (40, 3) and np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()


def test_a_label_is_wrong_with_odds_linear_in_the_prior_whatever_a_genre_s_probability_scale():
    """``wrong_labels``: per-genre calibration undoes a genre's probabilities squeezed towards its prior (a hard
    genre's), so its posteriors stay the same; the odds scale with the prior share; within a genre the labelled
    trailer with the lowest probability is the likeliest wrong."""
    from mmx.health.label_issues import wrong_labels

    rng = np.random.default_rng(7)
    y = (rng.random((200, 3)) < [0.3, 0.2, 0.1]).astype(int)
    logit = 3.0 * (2 * y - 1) + rng.normal(size=y.shape) * 1.5  # (N, G): an informative model
    probs = 1 / (1 + np.exp(-logit))
    squeezed = probs.copy()
    squeezed[:, 2] = 1 / (1 + np.exp(-(0.3 * logit[:, 2] - 2.0)))  # the same order, shrunk towards "no"
    base, hard = wrong_labels(y, probs), wrong_labels(y, squeezed)
    assert np.abs(hard - base).max() < 0.01  # probabilities: within 1 % (the calibration's fit is regularised)
    assert set(np.argsort(-hard, axis=None)[:5]) == set(np.argsort(-base, axis=None)[:5])
    odds = base / (1 - base)
    double = wrong_labels(y, probs, share=0.1)
    np.testing.assert_allclose(double / (1 - double), 2 * odds, rtol=1e-9)
    for c in range(3):
        pos = np.flatnonzero(y[:, c])
        assert pos[np.argmax(base[pos, c])] == pos[np.argmin(probs[pos, c])]
