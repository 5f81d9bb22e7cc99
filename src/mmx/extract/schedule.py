"""Running the experts while the video is still being decoded: a thread pool and per-expert batches.

* ``ExpertPool`` — ``threads`` Python threads, each running one forward pass at a time with
  PyTorch single-threaded (``torch_threads(1)`` for the whole extraction). Forward passes release
  the GIL, so the threads use as many cores; and since no thread waits at an OpenMP barrier for a
  descheduled sibling, a busy machine slows extraction down by its fair share instead of several
  times (what 2 intra-op threads beside another 2-thread job do). At most ``2 × threads`` batches
  are queued or running: the decoding thread waits when the experts fall behind, which bounds memory.
* ``ClipBatcher`` — collects each expert's clips as the sampling pass completes them and hands
  them over in batches of about ``expert.batch_frames`` frames (3-D networks: clips of equal
  length, see ``Expert.batch_key``), so each forward pass is large.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from mmx.experts import Expert


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def expert_threads(threads: int, workers: int) -> int:
    """``threads`` when set, else the cores this process may use shared among ``workers`` processes."""
    return threads or max(1, available_cores() // max(1, workers))


class ExpertPool:
    """A bounded thread pool; every task's wall time is added to ``timings[stage]`` (thread-safe)."""

    def __init__(self, threads: int, timings: dict[str, float]):
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="mmx-expert")
        self.slots = threading.BoundedSemaphore(2 * threads)
        self.timings = timings
        self.lock = threading.Lock()

    def submit(self, stage: str, fn: Callable, *args) -> Future:
        """Run ``fn(*args)`` on a pool thread; blocks while ``2 × threads`` tasks are queued or running."""
        self.slots.acquire()
        try:
            future = self.executor.submit(self._timed, stage, fn, *args)
        except BaseException:
            self.slots.release()
            raise
        future.add_done_callback(lambda _: self.slots.release())
        return future

    def _timed(self, stage: str, fn: Callable, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            with self.lock:
                self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def checked(vectors: np.ndarray, expert: Expert, clips: list[int]) -> np.ndarray:
    """An expert's (n_clips, dim) output, or ValueError naming the expert and clip when it is not that."""
    vectors = np.asarray(vectors, np.float32)
    if vectors.shape != (len(clips), expert.dim):
        raise ValueError(f"expert {expert.name!r} returned shape {vectors.shape} for clips {clips}; "
                         f"expected ({len(clips)}, {expert.dim})")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise ValueError(f"expert {expert.name!r} returned NaN or inf for clip {clips[int(np.argmax(bad))]}")
    return vectors


class ClipBatcher:
    """Clips of many experts in, one (n_clips, dim) array per expert out (``finish``)."""

    def __init__(self, experts: list[Expert], pool: ExpertPool):
        self.experts, self.pool = experts, pool
        self.pending: dict[tuple[int, object], list[tuple[int, np.ndarray]]] = defaultdict(list)
        self.futures: list[tuple[int, list[int], Future]] = []

    def add(self, e: int, clip: int, frames: np.ndarray) -> None:
        """Frames (or flows) of one clip for expert number ``e``; a full batch goes to the pool."""
        expert = self.experts[e]
        key = (e, expert.batch_key(frames))
        self.pending[key].append((clip, frames))
        if sum(len(f) for _, f in self.pending[key]) >= expert.batch_frames:
            self._submit(key)

    def _submit(self, key: tuple[int, object]) -> None:
        e = key[0]
        batch = self.pending.pop(key)
        clips, frames = [c for c, _ in batch], [f for _, f in batch]
        expert = self.experts[e]
        self.futures.append((e, clips, self.pool.submit(f"expert:{expert.name}", expert.embed_clips, frames)))

    def finish(self, ids: Sequence[int]) -> dict[str, np.ndarray]:
        """Hand over what is left, wait for every batch; expert name → (len(ids), dim), row k the vectors
        of clip ``ids[k]`` (a clip not in ``ids`` is left out)."""
        for key in list(self.pending):
            self._submit(key)
        row = {c: k for k, c in enumerate(ids)}
        out = {e.name: np.empty((len(ids), e.dim), np.float32) for e in self.experts}
        for e, clips, future in self.futures:
            expert = self.experts[e]
            vectors = checked(future.result(), expert, clips)
            kept = [j for j, c in enumerate(clips) if c in row]
            out[expert.name][[row[clips[j]] for j in kept]] = vectors[kept]
        return out
