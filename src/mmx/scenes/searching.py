"""The scene index (``RUN/scenes.faiss``, ``mmx.index``'s build and file format) and scene search: the nearest
scenes to a scene of the run or to a vector, exact or through the index."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx import artifacts
from mmx.errors import InputError, RunError
from mmx.index import IndexConfig, has_faiss, sized_config
from mmx.retrieval import Hit, Neighbours
from mmx.scenes.scene_set import NO_SCENES, SCENES_FILE, SceneSet, load_scenes, scene_trailer_ids, scenes_problem

if TYPE_CHECKING:
    import faiss

INDEX_FILE, INDEX_META = artifacts.SCENE_INDEX, artifacts.SCENE_INDEX_RECORD


@dataclass
class SceneIndexConfig(IndexConfig):
    """``mmx.index.IndexConfig`` with the scene vectors' defaults (measured by bench/scenes.py)."""

    exact_max: int = 50_000  # up to this many scenes the index is exact (bench/scenes.py: its p99 passes 20 ms past ~100k)
    kind: str = "ivf"  # the approximate kind beyond exact_max (IVF builds in seconds, HNSW in minutes)
    nprobe: int = 64  # ivf cells scanned per query: recall@10 ≥ 0.95 at 1M scenes (bench/scenes.py)
    ef_search: int = 64  # hnsw: candidate list per query


def build_scene_index(root: Path, scenes: SceneSet, cfg: SceneIndexConfig = SceneIndexConfig()) -> faiss.Index | None:
    """The scene vectors' index (``mmx.index``: one build, one file format), written beside them."""
    if not has_faiss():
        return None
    from mmx.index import build_index, save_index

    icfg = sized_config(len(scenes), cfg)
    index = build_index(scenes.vectors, icfg)
    save_index(index, icfg, root / INDEX_FILE, root / INDEX_META, {"trailers": scenes.trailer_ids})
    return index


def load_scene_index(root: str | Path) -> faiss.Index | None:
    """The run's scene index when it is fresh for its scenes.npz, else None (search is exact then)."""
    if not has_faiss():
        return None
    from mmx.index import read_index, read_record

    root = Path(root)
    meta, path = root / INDEX_META, root / INDEX_FILE
    if not (meta.exists() and path.exists() and (root / SCENES_FILE).exists()):
        return None
    record = read_record(meta, f"`mmx scenes --run {root}`")
    if artifacts.problem(root, artifacts.SCENE_INDEX, record.get("trailers", []), scene_trailer_ids(root),
                         "scene vectors"):
        return None
    return read_index(path, record)


def _seconds(v: float) -> float | None:
    return None if math.isnan(v) else round(float(v), 3)


@dataclass(frozen=True)
class SceneVectors:
    """A scene set as a vector set (``mmx.retrieval.Neighbours``): row i is scene i, its hits titled from ``titles``."""

    scenes: SceneSet
    titles: dict[str, str] = field(default_factory=dict)  # trailer id → title (hits show the id where it has none)
    what = "the run's scene vectors"

    @property
    def unit(self) -> np.ndarray:
        return self.scenes.vectors  # (M, D), kept as unit rows

    def rows_of(self, trailer_id: str) -> range:
        return self.scenes.rows_of(trailer_id)

    def hit(self, row: int, score: float) -> Hit:
        s = self.scenes
        tid = s.trailer_ids[s.trailer[row]]
        return Hit(tid, self.titles.get(tid, "") or tid, score, row, clip=int(s.clip[row]),
                   start=_seconds(s.start[row]), end=_seconds(s.end[row]))


def search_scene(scenes: SceneSet, index, trailer_id: str, seconds: float | None = None, clip: int | None = None,
                 k: int = 10, other_trailers: bool = False, titles: dict[str, str] | None = None
                 ) -> tuple[Hit, list[Hit]]:
    """The query scene (the clip of ``trailer_id`` covering ``seconds``, or clip ``clip``) and its hits, from
    ``index`` (the scenes' FAISS index) when given, else exact."""
    row = scenes.row_at(trailer_id, seconds, clip)
    neighbours = Neighbours(SceneVectors(scenes, titles or {}), index)
    return neighbours.vectors.hit(row, 1.0), neighbours.around(row, k, other_trailers)


def open_scenes(run) -> tuple[SceneSet, faiss.Index | None]:
    """The scene set and index of an opened run (``RunError`` saying what to run when they are missing or stale)."""
    from mmx.run import ModelRun

    if not isinstance(run, ModelRun):
        raise RunError(NO_SCENES.format(root=run.root))
    problem = scenes_problem(run)
    if problem:
        raise RunError(problem)
    return load_scenes(run.root), load_scene_index(run.root)


def search_run_scenes(run, scene: tuple[str, float | None] | None = None, vector: np.ndarray | None = None,
                      k: int = 10, other_trailers: bool = False,
                      opened: tuple[SceneSet, faiss.Index | None] | None = None) -> tuple[Hit | None, list[Hit]]:
    """The scenes nearest to ``scene`` (trailer id, second; no second: its first clip) or to a (D,) ``vector`` (a
    short video's: ``mmx.api.video_scene_vector``): the query scene (None for a vector) and its hits. ``opened``:
    the run's scenes and index when the caller has them (``open_scenes``)."""
    scenes, index = open_scenes(run) if opened is None else opened
    titles = {t: m.title for t, m in run.store.entries().items()}
    if scene is not None:
        first = 0 if scene[1] is None else None
        return search_scene(scenes, index, scene[0], scene[1], first, k, other_trailers, titles)
    if vector is None:
        raise InputError("give a scene (TRAILER_ID@SECONDS) or a video file as the query")
    neighbours = Neighbours(SceneVectors(scenes, titles), index)
    return None, neighbours.search(vector, k)
