"""A synthetic feature store at the paper's expert sizes, written with ``FeatureStore.write_entry``.

SYNTHETIC DATA (random vectors): for timing and memory only. Experts as in §4.2: appearance 2048-d,
scene 512-d, motion 1024-d per clip, audio 128-d per ~0.96 s window (window level, NetVLAD in the
model). Trailers have ``clips`` clips (±20 %), four genres drawn from eight.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mmx.data.store import EntryMeta, FeatureStore
from mmx.inputs import ExpertInfo

EXPERTS = {"appearance": 2048, "scene": 512, "motion": 1024}  # clip level
AUDIO_DIM = 128  # window level
WINDOWS_PER_CLIP = 2  # ~2 s clips, 0.96 s VGGish windows
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western"]


def write_store(root: str | Path, n_trailers: int, clips: int = 100, seed: int = 0, progress: bool = True) -> FeatureStore:
    """A store of ``n_trailers`` random trailers in ``root`` (reused when it already holds them)."""
    store = FeatureStore.create(root)
    if len(store) >= n_trailers:
        return store
    infos = {n: ExpertInfo(d, "clip", "synthetic") for n, d in EXPERTS.items()}
    infos["audio"] = ExpertInfo(AUDIO_DIM, "window", "synthetic")
    store.register_experts(infos)
    rng = np.random.default_rng(seed)
    for i in tqdm(range(n_trailers), desc="synthetic store", unit="trailer", disable=not progress):
        n = int(rng.integers(int(clips * 0.8), int(clips * 1.2) + 1))
        arrays = {name: rng.standard_normal((n, d), dtype=np.float32) for name, d in EXPERTS.items()}
        arrays["audio"] = rng.standard_normal((n * WINDOWS_PER_CLIP, AUDIO_DIM), dtype=np.float32)
        arrays["audio__clip"] = np.repeat(np.arange(n, dtype=np.int32), WINDOWS_PER_CLIP)
        genres = sorted(rng.choice(GENRES, size=int(rng.integers(1, 4)), replace=False).tolist())
        split = "train" if i % 10 < 8 else ("val" if i % 10 == 8 else "test")
        meta = EntryMeta(trailer_id=f"t{i:05d}", genres=genres, n_clips=n, experts=[], split=split)
        store.write_entry(meta, arrays)
    return store
