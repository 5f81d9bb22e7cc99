"""Scene vectors computed: the network's clip vectors of a store's trailers (``clip_vectors``), every scene of a
run written with its index (``compute_scenes``), trailers that join the run added (``add_scenes``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx.errors import RunError
from mmx.progress import QUIET, Reporter
from mmx.scenes.scene_set import NO_SCENES, SCENES_FILE, SceneSet, load_scenes, scene_part, write_scenes
from mmx.scenes.searching import SceneIndexConfig, build_scene_index

if TYPE_CHECKING:
    from mmx.data.store import FeatureStore
    from mmx.model.mmx import MMX
    from mmx.run import ModelRun, RunInfo


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
        for batch in make_loader(store, info.reading, ids, batch_size, views, every_clip=True):
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
            parts[tid] = scene_part(vecs, run.store.load_clip_times(tid))
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
    write_scenes(root, scenes)
    build_scene_index(Path(root), scenes, cfg)
