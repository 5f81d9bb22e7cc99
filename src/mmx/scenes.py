"""Scenes as first-class citizens: every clip's fused 128-d vector, indexed and searchable.

The network computes every clip's L2-normalised 128-d vector (``MMX.clip_vectors``, §7) before it
gathers windows; those vectors are the run's **scene vectors**. ``compute_scenes(run)`` runs a
trained run's network (coarse or fine) over every trailer of its store and writes::

    RUN/scenes.npz          trailer_id (T,), trailer (M,) row into it, clip (M,), start/end (M,) seconds
                            (NaN when the store has no clip times), vectors (M, 128)
    RUN/scenes.faiss        the FAISS index of the vectors (row i = scene i; ``mmx.index``)
    RUN/scenes.json         its settings and the trailers it was built from

They are derived artifacts of the run (``mmx.artifacts``): fresh while not older than the weights
and of the store's trailers; ``add_scenes`` brings trailers that join the run into them.

The index is exact (brute force) up to ``SceneIndexConfig.exact_max`` scenes and IVF above it;
bench/scenes.py measured both (see docs/explorer.md): on 2 shared cores exact search over 300,000
scenes has a p99 far above 20 ms, while IVF over 1,000,000 has a p99 of a few ms at recall@10 ≥ 0.95.

Scene vectors are a vector set (``SceneVectors``) searched by ``mmx.retrieval.Neighbours``, the search
of trailer embeddings too; its hits are ``mmx.retrieval.Hit`` objects with the clip's number and seconds.
Queries: a scene of the run (``trailer id`` + a second, the clip covering it; or a clip number), a
vector, or a short video file extracted with the run's experts (the mean of its clip vectors). The
query scene is left out of its hits; ``other_trailers`` leaves its whole trailer out.
``evaluate_scenes`` measures scene retrieval on a corpus with known shot genres (the demo's
``truth.json``): precision@10 (``mmx.metrics``) of the network's scene vectors beside the same
search on a raw expert's clip features and beside random ranking.
"""

from __future__ import annotations

import bisect
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx import artifacts
from mmx.data.vectors import read_ids, unit_rows
from mmx.durable import atomic_write
from mmx.errors import InputError, RunError
from mmx.index import IndexConfig, has_faiss, sized_config
from mmx.metrics import precision_at_k
from mmx.progress import QUIET, Reporter
from mmx.retrieval import Hit, Neighbours, unknown_id

if TYPE_CHECKING:
    import faiss

    from mmx.data.store import FeatureStore
    from mmx.model.mmx import MMX
    from mmx.run import ModelRun, RunInfo

SCENES_FILE, INDEX_FILE, INDEX_META = artifacts.SCENES, artifacts.SCENE_INDEX, artifacts.SCENE_INDEX_RECORD
NO_SCENES = ("{root} holds imported trailer embeddings: no network and no feature store, so no scenes; scene "
             "search needs a coarse or fine run (`mmx train`, then `mmx scenes --run RUN`)")


@dataclass
class SceneIndexConfig(IndexConfig):
    """``mmx.index.IndexConfig`` with the scene vectors' defaults (measured by bench/scenes.py)."""

    exact_max: int = 50_000  # up to this many scenes the index is exact (bench/scenes.py: its p99 passes 20 ms past ~100k)
    kind: str = "ivf"  # the approximate kind beyond exact_max (IVF builds in seconds, HNSW in minutes)
    nprobe: int = 64  # ivf cells scanned per query: recall@10 ≥ 0.95 at 1M scenes (bench/scenes.py)
    ef_search: int = 64  # hnsw: candidate list per query


# ---------------------------------------------------------------------------- the scene set
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
        parts[trailer_id] = _part(vectors, times)
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


def _part(vectors: np.ndarray, times: np.ndarray | None) -> dict:
    n = len(vectors)
    t = np.full((n, 2), np.nan, np.float32) if times is None else np.asarray(times, np.float32)[:n]
    return {"vectors": unit_rows(np.asarray(vectors, np.float32)), "start": t[:, 0], "end": t[:, 1]}


# ---------------------------------------------------------------------------- computing them
def clip_vectors(model: MMX, store: FeatureStore, info: RunInfo, ids: list[str], batch_size: int = 8,
                 precision: str = "fp32") -> dict[str, np.ndarray]:
    """trailer id → (n_clips, D) scene vectors of ``store``'s trailers from ``model`` (each clip computed once, in
    ``precision``: ``mmx.precision``; the vectors are fp32)."""
    import torch

    from mmx.data.dataset import evenly_spaced
    from mmx.data.loader import make_loader
    from mmx.precision import autocast

    views = evenly_spaced(model.cfg.n_seqs, model.cfg.seq_len)
    device = next(model.parameters()).device
    out: dict[str, np.ndarray] = {}
    model.eval()
    with torch.no_grad(), autocast(device, precision):
        for batch in make_loader(store, info, ids, batch_size, views, every_clip=True):
            flat = model.clip_vectors(batch.to(device)).float().cpu().numpy()  # (C, D) every clip of the batch
            counts = [store.meta(t).n_clips for t in batch.ids]
            for tid, vecs in zip(batch.ids, np.split(flat, np.cumsum(counts)[:-1])):
                out[tid] = vecs
    return out


def compute_scenes(run: ModelRun, reporter: Reporter = QUIET, batch_size: int = 8,
                   cfg: SceneIndexConfig = SceneIndexConfig()) -> SceneSet:
    """Scene vectors of every trailer in the run's store, written with their index into the run folder."""
    from mmx.run import ModelRun

    if not isinstance(run, ModelRun):
        raise RunError(NO_SCENES.format(root=run.root))
    ids = sorted(run.store.entries())
    if not ids:
        raise RunError(f"the store {run.store.root} of {run.root} holds no trailers; nothing to index")
    parts: dict[str, dict] = {}
    chunks = [ids[i : i + 64] for i in range(0, len(ids), 64)]
    for chunk in reporter.bar(chunks, desc="scenes", unit="chunk"):
        for tid, vecs in clip_vectors(run.model(), run.store, run.info, chunk, batch_size, run.precision).items():
            parts[tid] = _part(vecs, run.store.load_clip_times(tid))
    scenes = SceneSet.from_parts(parts)
    save_scenes(run.root, scenes, cfg)
    reporter.line(f"{len(scenes)} scenes of {len(ids)} trailers → {run.root / SCENES_FILE}")
    return scenes


def add_scenes(run: ModelRun, ids: list[str], cfg: SceneIndexConfig = SceneIndexConfig()) -> SceneSet:
    """The run's scene set with the scenes of store trailers ``ids`` added (or replaced), written with its index."""
    vectors = clip_vectors(run.model(), run.store, run.info, ids, precision=run.precision)
    scenes = load_scenes(run.root)
    for tid in ids:
        scenes = scenes.add(tid, vectors[tid], run.store.load_clip_times(tid))
    save_scenes(run.root, scenes, cfg)
    return scenes


def save_scenes(root: Path, scenes: SceneSet, cfg: SceneIndexConfig = SceneIndexConfig()) -> None:
    """Write ``scenes.npz`` and build its index (exact or approximate by size)."""
    buf = io.BytesIO()
    np.savez(buf, trailer_id=np.asarray(scenes.trailer_ids, dtype=str), trailer=scenes.trailer, clip=scenes.clip,
             start=scenes.start, end=scenes.end, vectors=scenes.vectors)
    atomic_write(Path(root) / SCENES_FILE, buf.getvalue())
    build_scene_index(Path(root), scenes, cfg)


def scene_trailer_ids(root: Path) -> list[str] | None:
    """The trailers of ``RUN/scenes.npz`` (without reading its vectors), None when there is none."""
    path = Path(root) / SCENES_FILE
    return read_ids(path) if path.exists() else None


def scenes_problem(run: ModelRun) -> str | None:
    """Why ``RUN/scenes.npz`` is not fresh (``mmx.artifacts.problem``: missing, older than the run's weights,
    or not of the store's trailers), or None."""
    return artifacts.problem(run.root, artifacts.SCENES, scene_trailer_ids(run.root), sorted(run.store.entries()),
                             f"store {run.store.root}")


def load_scenes(root: str | Path) -> SceneSet:
    """The scene set of a run folder (``RunError`` naming `mmx scenes` when there is none)."""
    path = Path(root) / SCENES_FILE
    if not path.exists():
        raise RunError(f"{root} has no scene vectors; compute them with `mmx scenes --run {root}` "
                       "(a coarse or fine run: imported embeddings have no scenes)")
    with np.load(path, allow_pickle=False) as z:
        return SceneSet(z["trailer_id"].tolist(), z["trailer"], z["clip"], z["start"], z["end"], z["vectors"])


# ---------------------------------------------------------------------------- the index
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


# ---------------------------------------------------------------------------- search
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


def video_query_vector(run: ModelRun, video: str | Path, reporter: Reporter = QUIET) -> np.ndarray:
    """The unit mean of a short video's scene vectors, extracted with the run's experts and settings."""
    from mmx.add import extracted_apart

    with extracted_apart(run, video, reporter) as (store, tid):
        vectors = clip_vectors(run.model(), store, run.info, [tid], precision=run.precision)[tid]
    return unit_rows(vectors.mean(0, keepdims=True))[0]


# ---------------------------------------------------------------------------- evaluation
def shot_genres(truth: list[dict], trailer_id: str, start: np.ndarray, end: np.ndarray) -> list[str | None]:
    """The genre of the shot covering each clip's midpoint, from ``truth.json``'s cuts (None: unknown)."""
    t = next((t for t in truth if t["trailer_id"] == trailer_id), None)
    if t is None or np.isnan(start).any():
        return [None] * len(start)
    frames = (start + end) / 2 * t["fps"]
    return [t["shot_genres"][bisect.bisect_right(t["cuts"], f)] for f in frames]


def scene_precision(vectors: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 10,
                    other_groups: bool = True) -> float:
    """``mmx.metrics.precision_at_k`` of scenes with one label each (their shot genre), leaving out the query
    itself (and its whole group — its trailer — when ``other_groups``)."""
    return precision_at_k(vectors, [[str(g)] for g in labels], k, groups=groups if other_groups else None)


def random_precision(labels: np.ndarray, groups: np.ndarray, other_groups: bool = True) -> float:
    """Expected precision@k of a random ranking: the share of eligible scenes carrying the query's label."""
    out = []
    for i in range(len(labels)):
        eligible = groups != groups[i] if other_groups else np.arange(len(labels)) != i
        out.append(np.mean(labels[eligible] == labels[i]))
    return float(np.mean(out))


def find_truth(run) -> Path:
    """``truth.json`` beside the videos the run's store was extracted from (the demo corpus writes it)."""
    folders = {Path(m.source["video"]).parent for m in run.store.entries().values() if m.source.get("video")}
    for folder in sorted(folders):
        if (folder / "truth.json").is_file():
            return folder / "truth.json"
    raise InputError(f"no truth.json beside the videos of {run.store.root}; scene evaluation needs a corpus with "
                     "known shot genres (the demo's generated videos): give it with --truth FILE")


def raw_comparison_expert(run: ModelRun, preferred: str = "appearance") -> str | None:
    """The clip-level expert whose raw features scene vectors are compared with: ``preferred`` when the
    run has it, else the clip-level expert that most trailers carry; None when no trailer has one."""
    carried = {n: sum(n in m.experts for m in run.store.entries().values())
               for n, e in run.info.experts.items() if e["level"] == "clip"}
    carried = {n: c for n, c in carried.items() if c}
    if not carried:
        return None
    return preferred if preferred in carried else max(carried, key=lambda n: (carried[n], n))


def evaluate_scenes(run: ModelRun, truth_path: str | Path, k: int = 10, raw_expert: str = "appearance",
                    other_trailers: bool = True) -> dict:
    """Scene precision@k by shot genre: the run's scene vectors, a raw expert's clip features, random.

    All three are measured on the same scenes: those with a known shot genre, of trailers that carry
    the raw expert (``trailers_without_raw`` counts the others). Without any clip-level raw features
    the raw row is None.
    """
    truth_path = Path(truth_path)
    if not truth_path.is_file():
        raise InputError(f"{truth_path} does not exist; scene evaluation needs the shot genres of a generated "
                         "corpus (`truth.json` beside the demo's videos)")
    truth = json.loads(truth_path.read_text())
    scenes = load_scenes(run.root)
    raw_expert = raw_comparison_expert(run, raw_expert)
    keep_rows, labels, raw, without = [], [], [], []
    for tid in scenes.trailer_ids:
        rows = scenes.rows_of(tid)
        feats = None if raw_expert is None else run.store.load(tid, raw_expert)
        if raw_expert is not None and feats is None:
            without.append(tid)
            continue
        genres = shot_genres(truth, tid, scenes.start[rows.start : rows.stop], scenes.end[rows.start : rows.stop])
        known = [i for i, g in enumerate(genres) if g is not None]
        keep_rows += [rows.start + i for i in known]
        labels += [genres[i] for i in known]
        if feats is not None:
            raw.append(np.asarray(feats, np.float32)[known])
    if len({scenes.trailer[r] for r in keep_rows}) < 2:
        raise InputError(f"fewer than two trailers of {run.root} appear in {truth_path} with clip times"
                         f"{f' and {raw_expert} features' if raw_expert else ''}; scene evaluation needs the "
                         "generated corpus the run was extracted from")
    rows = np.asarray(keep_rows)
    y, groups = np.asarray(labels), scenes.trailer[rows]
    k = min(k, len(rows) - 1)
    raw_precision = (None if raw_expert is None
                     else scene_precision(np.concatenate(raw), y, groups, k, other_trailers))
    return {
        "run": str(run.root), "truth": str(truth_path), "k": k, "other_trailers": other_trailers,
        "scenes": len(rows), "trailers": len(set(groups.tolist())),
        "shot_genres": {g: int(n) for g, n in zip(*np.unique(y, return_counts=True))},
        f"mmx_precision_at_{k}": scene_precision(scenes.vectors[rows], y, groups, k, other_trailers),
        "raw_expert": raw_expert, "trailers_without_raw": len(without),
        f"raw_precision_at_{k}": raw_precision,
        f"random_precision_at_{k}": random_precision(y, groups, other_trailers),
    }


# ---------------------------------------------------------------------------- a run's scene search
def open_scenes(run) -> tuple[SceneSet, faiss.Index | None]:
    """The scene set and index of an opened run (``RunError`` saying what to run when they are missing or stale)."""
    from mmx.run import ModelRun

    if not isinstance(run, ModelRun):
        raise RunError(NO_SCENES.format(root=run.root))
    problem = scenes_problem(run)
    if problem:
        raise RunError(problem)
    return load_scenes(run.root), load_scene_index(run.root)


def search_run_scenes(run, scene: tuple[str, float | None] | None = None, video: str | Path | None = None,
                      k: int = 10, other_trailers: bool = False, reporter: Reporter = QUIET
                      ) -> tuple[Hit | None, list[Hit]]:
    """The scenes nearest to ``scene`` (trailer id, second; no second: its first clip) or to a short ``video``: the
    query scene (None for a video) and its hits."""
    scenes, index = open_scenes(run)
    titles = {t: m.title for t, m in run.store.entries().items()}
    if scene is not None:
        first = 0 if scene[1] is None else None
        return search_scene(scenes, index, scene[0], scene[1], first, k, other_trailers, titles)
    if video is None:
        raise InputError("give a scene (TRAILER_ID@SECONDS) or a video file as the query")
    neighbours = Neighbours(SceneVectors(scenes, titles), index)
    return None, neighbours.search(video_query_vector(run, video, reporter), k)
