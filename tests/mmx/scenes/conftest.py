"""A scene set of 30 synthetic trailers, for the tests of the scene set and its search."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.scenes.scene_set import SceneSet, scene_part


def synthetic_scenes(n_trailers: int = 30, seed: int = 0) -> SceneSet:
    """Trailers of 5–14 clips, 2 s each with 0.1 s gaps, vectors clustered by trailer."""
    rng = np.random.default_rng(seed)
    parts = {}
    for t in range(n_trailers):
        n = int(rng.integers(5, 15))
        centre = rng.normal(size=16)
        starts = np.arange(n) * 2.1
        parts[f"tr{t:02d}"] = scene_part(centre + 0.8 * rng.normal(size=(n, 16)), np.c_[starts, starts + 2.0])
    return SceneSet.from_parts(parts)


@pytest.fixture(scope="session")
def scenes() -> SceneSet:
    return synthetic_scenes()
