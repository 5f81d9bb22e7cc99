"""Running the experts beside decoding: clips batched per expert and run on a thread pool give each clip the vectors
the expert gives it alone, in the order asked; an expert's output is checked, naming the expert and the clip; the
thread count defaults to the cores shared among the worker processes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import extract_fakes  # noqa: F401  (registers the fake experts)
from mmx.experts import EXPERTS
from mmx.extract.schedule import ClipBatcher, ExpertPool, available_cores, checked, expert_threads


def test_batches_give_each_clip_its_own_vectors_in_the_order_asked():
    expert = EXPERTS.create("fake_colour")
    rng = np.random.default_rng(0)
    clips = {c: rng.integers(0, 256, (int(rng.integers(2, 7)), 32, 32, 3), dtype=np.uint8) for c in range(20)}
    timings: dict[str, float] = {}
    pool = ExpertPool(2, timings)
    try:
        batcher = ClipBatcher([expert], pool)
        for c, frames in clips.items():
            batcher.add(0, c, frames)
        ids = [5, 0, 19, 3]  # some of the clips, in another order
        out = batcher.finish(ids)
    finally:
        pool.close()
    assert len(batcher.futures) >= 2  # 20 clips of 2–6 frames fill more than one batch of 32 frames
    want = np.stack([expert.embed_frames(clips[c]) for c in ids])  # (4, 6)
    assert out["fake_colour"].shape == (4, 6) and out["fake_colour"].dtype == np.float32
    np.testing.assert_allclose(out["fake_colour"], want, rtol=1e-6, atol=1e-7)
    assert timings["expert:fake_colour"] > 0


def test_an_experts_output_is_checked_naming_the_expert_and_the_clip():
    expert = EXPERTS.create("fake_colour")  # 6-d
    assert checked(np.ones((2, 6), np.float64), expert, [4, 7]).dtype == np.float32
    with pytest.raises(ValueError, match=r"'fake_colour' returned shape \(2, 5\) for clips \[4, 7\]; expected \(2, 6"):
        checked(np.ones((2, 5)), expert, [4, 7])
    bad = np.ones((2, 6))
    bad[1, 3] = np.inf
    with pytest.raises(ValueError, match="'fake_colour' returned NaN or inf for clip 7"):
        checked(bad, expert, [4, 7])


def test_threads_default_to_the_cores_shared_among_workers():
    cores = available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert expert_threads(3, 4) == 3  # given: kept
    assert expert_threads(0, 1) == cores and expert_threads(0, 0) == cores
    assert expert_threads(0, cores + 1) == 1  # never none
