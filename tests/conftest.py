"""Shared fixtures: a small synthetic collection, imported once per session; ../shared data."""

from __future__ import annotations

import os

# One maths thread per test process (subprocesses inherit it): the test models are tiny, and with
# two OpenMP threads on a busy 2-core machine every small op waits for a descheduled thread.
os.environ["OMP_NUM_THREADS"] = "1"

import functools  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.experts.base import Expert
from mmx.synthetic.features import SyntheticConfig, generate

torch.set_num_threads(1)

# MMX_OTHER_CPU=1e-6 runs the suite as on another CPU: every vector an expert returns is off by about that share
# of itself, row by row (oneDNN's kernels there sum in another order; on an AMD EPYC musicnn's rows for a silent
# track differ by 3e-7), the same for the same call, so a rerun still gives what the first run gave.
OTHER_CPU = float(os.environ.get("MMX_OTHER_CPU", "0"))


def as_on_another_cpu(vectors: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(list(vectors.shape))
    return (vectors * (1 + OTHER_CPU * rng.normal(size=vectors.shape))).astype(vectors.dtype)


def perturbing(method, audio: bool):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        return (as_on_another_cpu(out[0]), out[1]) if audio else as_on_another_cpu(out)

    return wrapper


def pytest_configure(config) -> None:
    if not OTHER_CPU:
        return
    import extract_fakes  # noqa: F401  (the test experts are experts too)
    import mmx.experts  # noqa: F401  (every expert class defined)

    todo, seen = [Expert], set()
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        for name, audio in (("embed_clips", False), ("embed_audio", True)):
            if name in vars(cls) and (cls, name) not in seen:
                seen.add((cls, name))
                setattr(cls, name, perturbing(vars(cls)[name], audio))

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
