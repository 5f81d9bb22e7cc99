"""A synthetic per-clip feature collection in the import format, with real label structure.

SYNTHETIC DATA. Labels are drawn from the genre combinations of MovieNet's 26,412 trailers
(``genre_combinations.json``: counts of every combination seen at least 8 times), so genre
frequencies and co-occurrence are real. Features are made up: each clip is dominated by one of
its trailer's genres (runs of clips share it, as scenes of a trailer do), and every expert sees
that scene genre through its own random projection with its own signal-to-noise ratio
(appearance strongest, scene weakest, as in the paper's Tbl. 2). Each trailer also has a style of
its own shared by all its clips, so the two halves of a trailer resemble each other (what NT-Xent
fine-tuning learns from). A few trailers have no audio track, a few have fewer than 10 clips,
and some have a genre missing from their labels (what label suggestions should find).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np


@dataclass
class SyntheticConfig:
    n_trailers: int = 360  # collection size
    seed: int = 0  # everything below is drawn from this seed
    clips: tuple[int, int] = (12, 80)  # clips per trailer, uniform in this range
    short_fraction: float = 0.04  # trailers with 5–9 clips (excluded by the 10-clip rule)
    dims: dict[str, int] = field(  # expert → feature size
        default_factory=lambda: {"appearance": 128, "motion": 96, "scene": 64, "audio": 48}
    )
    snr: dict[str, float] = field(  # expert → signal strength against unit noise
        default_factory=lambda: {"appearance": 0.55, "motion": 0.4, "scene": 0.25, "audio": 0.3}
    )
    window_expert: str = "audio"  # written at window level (1–4 windows per clip) for NetVLAD
    no_audio_fraction: float = 0.05  # trailers without an audio track
    dropped_label_fraction: float = 0.1  # trailers whose labels miss one of their true genres
    latent: int = 24  # size of the hidden scene space the experts project
    style: float = 0.6  # strength of each trailer's own style (shared by all its clips)
    scene_run: float = 0.8  # chance that the next clip keeps the scene genre of the previous one


def genre_combinations() -> tuple[list[list[str]], np.ndarray]:
    data = json.loads(resources.files("mmx.demo").joinpath("genre_combinations.json").read_text())
    combos = [k.split("|") for k in data["combinations"]]
    counts = np.array(list(data["combinations"].values()), dtype=float)
    return combos, counts / counts.sum()


def generate(out: str | Path, cfg: SyntheticConfig = SyntheticConfig()) -> Path:
    """Write ``labels.csv`` and one npz per trailer into ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    combos, probs = genre_combinations()
    genres = sorted({g for c in combos for g in c})
    G = len(genres)
    prototypes = rng.normal(size=(G, cfg.latent))  # scene genre → latent scene
    projections = {e: rng.normal(size=(cfg.latent, d)) / np.sqrt(cfg.latent) for e, d in cfg.dims.items()}
    rows = []
    for t in range(cfg.n_trailers):
        true = combos[rng.choice(len(combos), p=probs)]
        labels = list(true)
        if len(labels) > 1 and rng.random() < cfg.dropped_label_fraction:
            labels.pop(rng.integers(len(labels)))
        if rng.random() < cfg.short_fraction:
            n = int(rng.integers(5, 10))
        else:
            n = int(rng.integers(cfg.clips[0], cfg.clips[1] + 1))
        gidx = [genres.index(g) for g in true]
        scene = np.empty(n, dtype=int)  # the genre dominating each clip, in runs
        scene[0] = rng.choice(gidx)
        for c in range(1, n):
            scene[c] = scene[c - 1] if rng.random() < cfg.scene_run else rng.choice(gidx)
        style = rng.normal(size=cfg.latent) * cfg.style
        mix = prototypes[gidx].mean(0)
        latent = prototypes[scene] + 0.5 * mix + style + 0.5 * rng.normal(size=(n, cfg.latent))  # (n, k)
        arrays: dict[str, np.ndarray] = {}
        for e, proj in projections.items():
            if e == cfg.window_expert:
                if rng.random() < cfg.no_audio_fraction:
                    continue
                per_clip = rng.integers(1, 5, size=n)
                clip_of = np.repeat(np.arange(n), per_clip)
                signal = (latent @ proj)[clip_of] * cfg.snr[e]
                arrays[e] = signal + rng.normal(size=signal.shape)
                arrays[f"{e}__clip"] = clip_of.astype(np.int32)
            else:
                signal = (latent @ proj) * cfg.snr[e]
                arrays[e] = signal + rng.normal(size=signal.shape)
        lengths = rng.uniform(1.0, 6.0, size=n)
        ends = np.cumsum(lengths)
        arrays["clip_times"] = np.stack([ends - lengths, ends], axis=1)
        tid = f"demo{t:04d}"
        np.savez(out / f"{tid}.npz", **{k: (v.astype(np.float32) if v.dtype.kind == "f" and k != "clip_times" else v) for k, v in arrays.items()})
        rows.append(
            {
                "trailer_id": tid,
                "genres": "|".join(labels),
                "title": f"Synthetic trailer {t:04d} ({', '.join(true)})",
                "year": int(rng.integers(1930, 2021)),
                "true_genres": "|".join(true),
            }
        )
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out
