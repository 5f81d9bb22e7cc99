"""Scene retrieval's precision@k and its random baseline, against a naive loop (with and without the query's own
trailer)."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.scenes.evaluation import random_precision
from mmx.scenes.evaluation import scene_precision as precision_at_k


def test_scene_precision_matches_a_naive_loop():
    rng = np.random.default_rng(3)
    vectors, labels, groups = rng.normal(size=(40, 6)), rng.integers(0, 3, 40), np.repeat(np.arange(8), 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for other in (True, False):
        expected = []
        for i in range(40):
            allowed = [j for j in range(40) if j != i and (not other or groups[j] != groups[i])]
            best = sorted(allowed, key=lambda j: -unit[i] @ unit[j])[:5]
            expected.append(np.mean([labels[j] == labels[i] for j in best]))
        assert precision_at_k(vectors, labels, groups, 5, other) == pytest.approx(np.mean(expected))
        share = [np.mean([labels[j] == labels[i] for j in range(40) if j != i and (not other or groups[j] != groups[i])])
                 for i in range(40)]
        assert random_precision(labels, groups, other) == pytest.approx(np.mean(share))
