"""TV-L1 optical flow (Zach, Pock & Bischof 2007), the input of the flow-stream motion expert (§4.1).

OpenCV contrib's ``DualTVL1OpticalFlow`` computes it at about 0.4 s per 224×224 frame pair on one
CPU core — the main cost of extraction — so it is optional and runs clip by clip in a process pool.
Flow is in pixels, ``(dx, dy)``: a picture that moves right gives dx > 0.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor

import cv2
import numpy as np


def tvl1_pair(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Two (H, W, 3) uint8 RGB frames → (H, W, 2) float32 flow from ``prev`` to ``nxt``."""
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    a = cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(nxt, cv2.COLOR_RGB2GRAY)
    return tvl1.calc(a, b, None).astype(np.float32)


def clip_flow(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one clip → (T-1, H, W, 2) float32 flow between neighbours."""
    if len(frames) < 2:
        raise ValueError(f"optical flow needs at least 2 frames, got {len(frames)}")
    return np.stack([tvl1_pair(frames[i], frames[i + 1]) for i in range(len(frames) - 1)])


def _one_thread() -> None:
    cv2.setNumThreads(1)  # the pool is the parallelism; OpenCV's own threads would oversubscribe


class InlineExecutor(Executor):
    """Runs each task at once in this process (``workers=0``): no pool, same interface."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as e:  # handed to the caller through the future, as a pool would
            future.set_exception(e)
        return future


def flow_executor(workers: int) -> Executor:
    """A process pool of ``workers`` for ``clip_flow`` (-1 = one per CPU core; 0 = in this process)."""
    if workers == 0:
        return InlineExecutor()
    n = (os.cpu_count() or 1) if workers < 0 else workers
    # "spawn": a forked child inherits OpenCV's (and torch's) thread pools mid-state and can hang
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=n, mp_context=context, initializer=_one_thread)
