"""Every scene of a collection (``SceneSet``): its trailer, clip number, seconds and unit vector; ``RUN/scenes.npz``
read and written; whether it is fresh for the run (``scenes_problem``)."""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx import artifacts
from mmx.data.vectors import read_ids, unit_rows
from mmx.durable import atomic_write
from mmx.errors import InputError, RunError
from mmx.retrieval import unknown_id

if TYPE_CHECKING:
    from mmx.run import ModelRun

SCENES_FILE = artifacts.SCENES
NO_SCENES = ("{root} holds imported trailer embeddings: no network and no feature store, so no scenes; scene "
             "search needs a coarse or fine run (`mmx train`, then `mmx scenes --run RUN`)")


@dataclass
class SceneSet:
    """Every scene (clip) of a collection: its trailer, clip number, seconds and unit vector."""

    trailer_ids: list[str]  # (T,) the trailers, sorted
    trailer: np.ndarray  # (M,) int32 row of each scene's trailer in trailer_ids
    clip: np.ndarray  # (M,) int32 clip number inside its trailer, time order
    start: np.ndarray  # (M,) float32 seconds; NaN when unknown
    end: np.ndarray  # (M,) float32 seconds; NaN when unknown
    vectors: np.ndarray  # (M, D) float32 unit vectors

    def __len__(self) -> int:
        return len(self.clip)

    def to_frame(self):
        """A pandas DataFrame, one row per scene (clip), grouped by trailer in time order: ``trailer_id``, ``clip``
        (its number in the trailer), ``start`` and ``end`` (seconds, NaN when unknown); the vectors stay here."""
        from mmx.frames import data_frame

        rows = {"trailer_id": [self.trailer_ids[t] for t in self.trailer], "clip": self.clip.tolist(),
                "start": self.start.astype(float).tolist(), "end": self.end.astype(float).tolist()}
        return data_frame([dict(zip(rows, r)) for r in zip(*rows.values())], list(rows), floats=["start", "end"])

    @property
    def first(self) -> np.ndarray:
        """(T + 1,) row of each trailer's first scene (scenes are grouped by trailer, clips in order)."""
        return np.searchsorted(self.trailer, np.arange(len(self.trailer_ids) + 1))

    def rows_of(self, trailer_id: str) -> range:
        """The rows of one trailer's scenes; ``UnknownTrailerError`` with close ids when it has none."""
        t = bisect.bisect_left(self.trailer_ids, trailer_id)
        if t == len(self.trailer_ids) or self.trailer_ids[t] != trailer_id:
            raise unknown_id(trailer_id, self.trailer_ids, "the run's scenes")
        first = self.first
        return range(int(first[t]), int(first[t + 1]))

    def row_at(self, trailer_id: str, seconds: float | None = None, clip: int | None = None) -> int:
        """The row of the trailer's clip covering ``seconds`` (or of clip number ``clip``)."""
        rows = self.rows_of(trailer_id)
        if clip is not None:
            if not 0 <= clip < len(rows):
                raise InputError(f"trailer {trailer_id!r} has clips 0–{len(rows) - 1}; there is no clip {clip}")
            return rows[clip]
        if seconds is None:
            raise InputError("give a second or a clip number to pick the query scene")
        start, end = self.start[rows.start : rows.stop], self.end[rows.start : rows.stop]
        if np.isnan(start).any():
            raise InputError(f"the store has no clip times for {trailer_id!r}; ask for a clip number instead")
        if not start[0] <= seconds <= end[-1] + 1e-6:
            raise InputError(f"{trailer_id!r} runs {start[0]:.2f}–{end[-1]:.2f} s; {seconds:g} s is outside it")
        # the clip covering the second; in a gap between clips (dropped boundary frames) the next one
        return rows.start + min(int(np.searchsorted(end, seconds, side="left")), len(rows) - 1)

    def add(self, trailer_id: str, vectors: np.ndarray, times: np.ndarray | None) -> SceneSet:
        """A new set with ``trailer_id``'s scenes (replacing any it had), trailers kept sorted."""
        keep = [t for t in self.trailer_ids if t != trailer_id]
        parts = {t: self._part(t) for t in keep}
        parts[trailer_id] = scene_part(vectors, times)
        return SceneSet.from_parts(parts)

    def _part(self, trailer_id: str) -> dict:
        rows = self.rows_of(trailer_id)
        s = slice(rows.start, rows.stop)
        return {"vectors": self.vectors[s], "start": self.start[s], "end": self.end[s]}

    @staticmethod
    def from_parts(parts: dict[str, dict]) -> SceneSet:
        ids = sorted(parts)
        lengths = [len(parts[t]["vectors"]) for t in ids]
        dim = next((parts[t]["vectors"].shape[1] for t in ids), 128)

        def cat(key: str, empty: tuple[int, ...]) -> np.ndarray:
            return np.concatenate([parts[t][key] for t in ids]).astype(np.float32) if ids else np.zeros(empty, np.float32)

        return SceneSet(
            ids, np.repeat(np.arange(len(ids), dtype=np.int32), lengths),
            np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]) if ids else np.zeros(0, np.int32),
            cat("start", (0,)), cat("end", (0,)), cat("vectors", (0, dim)),
        )


def scene_part(vectors: np.ndarray, times: np.ndarray | None) -> dict:
    n = len(vectors)
    t = np.full((n, 2), np.nan, np.float32) if times is None else np.asarray(times, np.float32)[:n]
    return {"vectors": unit_rows(np.asarray(vectors, np.float32)), "start": t[:, 0], "end": t[:, 1]}


def write_scenes(root: Path, scenes: SceneSet) -> None:
    """Write ``RUN/scenes.npz`` (its index is ``mmx.scenes.searching``'s)."""
    buf = io.BytesIO()
    np.savez(buf, trailer_id=np.asarray(scenes.trailer_ids, dtype=str), trailer=scenes.trailer, clip=scenes.clip,
             start=scenes.start, end=scenes.end, vectors=scenes.vectors)
    atomic_write(Path(root) / SCENES_FILE, buf.getvalue())


def load_scenes(root: str | Path) -> SceneSet:
    """The scene set of a run folder (``RunError`` naming `mmx scenes` when there is none)."""
    path = Path(root) / SCENES_FILE
    if not path.exists():
        raise RunError(f"{root} has no scene vectors; compute them with `mmx scenes --run {root}` "
                       "(a coarse or fine run: imported embeddings have no scenes)")
    with np.load(path, allow_pickle=False) as z:
        return SceneSet(z["trailer_id"].tolist(), z["trailer"], z["clip"], z["start"], z["end"], z["vectors"])


def scene_trailer_ids(root: Path) -> list[str] | None:
    """The trailers of ``RUN/scenes.npz`` (without reading its vectors), None when there is none."""
    path = Path(root) / SCENES_FILE
    return read_ids(path) if path.exists() else None


def scenes_problem(run: ModelRun) -> str | None:
    """Why ``RUN/scenes.npz`` is not fresh (``mmx.artifacts.problem``: missing, older than the run's weights,
    or not of the store's trailers), or None."""
    return artifacts.problem(run.root, artifacts.SCENES, scene_trailer_ids(run.root), sorted(run.store.entries()),
                             f"store {run.store.root}")
