"""Shared fixtures: a small synthetic collection, imported once per session; ../shared data."""

from __future__ import annotations

import os

# One maths thread per test process (subprocesses inherit it): the test models are tiny, and with
# two OpenMP threads on a busy 2-core machine every small op waits for a descheduled thread.
os.environ["OMP_NUM_THREADS"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.demo.synthetic import SyntheticConfig, generate

torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (read there, never copied into the project)."""
    path = SHARED / "data"
    if not path.exists():
        pytest.fail(f"{path} is missing: tests read the real data from ../shared beside the checkout")
    return path


@pytest.fixture(scope="session")
def small_features(tmp_path_factory) -> Path:
    """An import-format folder of 80 synthetic trailers (small dims, short trailers)."""
    cfg = SyntheticConfig(
        n_trailers=80, seed=1, clips=(10, 24),
        dims={"appearance": 16, "motion": 12, "scene": 8, "audio": 6},
        snr={"appearance": 1.5, "motion": 1.0, "scene": 0.6, "audio": 0.8},
    )
    return generate(tmp_path_factory.mktemp("features"), cfg)


@pytest.fixture(scope="session")
def small_store(small_features, tmp_path_factory) -> FeatureStore:
    store = FeatureStore.create(tmp_path_factory.mktemp("store") / "store")
    report = import_folder(small_features, store)
    assert report.ok, report.problems
    return store
