"""A synthetic per-clip feature collection in the import format, with real label structure.

SYNTHETIC DATA. Labels are drawn from the genre combinations of MovieNet's 26,412 trailers
(``genre_combinations.json``: counts of every combination seen at least 8 times), so genre
frequencies and co-occurrence are real. Features are made up, from a hidden scene space:

* every clip shows one *scene genre*, one of its trailer's genres, in runs of clips (scenes);
  with ``neutral_fraction`` some clips show none of them (titles, logos, dialogue), so not every
  clip carries the trailer's genres; a genre may look several ways (``modes`` prototypes);
* every clip also carries the trailer's overall look: its genre mix (``trailer_tint``) and a
  style of its own (``style``, shared by all its clips, so the two halves of a trailer resemble
  each other — what NT-Xent fine-tuning learns from);
* every expert sees that scene through its own random projection (``render="relu"``: rectified,
  as post-ReLU network features are) with its own signal-to-noise ratio (appearance strongest,
  scene weakest, as in the paper's Tbl. 2);
* real dirt: some trailers have no audio track, some fewer than 10 clips, some a genre missing
  from their labels (what label suggestions should find), and with ``corrupt_fraction`` one
  expert of some trailers is replaced by noise of the same per-dimension mean and spread as that
  expert's real features (a broken decoder, a dubbed or replaced audio track): nothing in its
  scale gives it away, only that it no longer follows the picture.

Every knob is a field of ``SyntheticConfig``; knobs added after the first version default to
"off" and draw from their own random stream, so older collections are generated bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mmx.data.labels_csv import COLUMNS, write_labels
from mmx.errors import ConfigError
from mmx.synthetic.faults import ExpertFault, plant_expert_fault

RENDERS = ("linear", "relu")
NEUTRAL_LOOKS = 8  # distinct neutral scenes (title card, logo, talking head, …) shared by all trailers


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
    no_audio_fraction: float = 0.05  # trailers without an audio track (the window expert is absent)
    dropped_label_fraction: float = 0.1  # trailers whose labels miss one of their true genres
    latent: int = 24  # size of the hidden scene space the experts project
    style: float = 0.6  # strength of each trailer's own style (shared by all its clips)
    scene_run: float = 0.8  # chance that the next clip keeps the scene genre of the previous one
    trailer_tint: float = 0.5  # weight of the trailer's genre mix in every clip; 0 = genre only in its scenes
    clip_noise: float = 0.5  # latent noise of every clip (shots of one scene differ)
    neutral_fraction: float = 0.0  # chance that a scene shows none of the trailer's genres
    modes: int = 1  # prototypes per genre; a scene of genre g shows one of them
    render: str = "linear"  # expert view of the latent scene: "linear" projection, or "relu" (rectified)
    corrupt_fraction: float = 0.0  # trailers with one expert replaced by noise (broken decoder, dubbed audio)
    corrupt_experts: list[str] = field(default_factory=lambda: ["motion", "audio"])  # experts that can break
    id_prefix: str = "demo"  # trailer ids are <id_prefix><number>

    def __post_init__(self) -> None:
        fractions = ("short_fraction", "no_audio_fraction", "dropped_label_fraction", "scene_run",
                     "neutral_fraction", "corrupt_fraction")
        for name in fractions:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"SyntheticConfig.{name} must lie in [0, 1], not {getattr(self, name)}")
        if self.n_trailers < 1 or self.latent < 1 or self.modes < 1:
            raise ConfigError("SyntheticConfig.n_trailers, latent and modes must be at least 1")
        if not 10 <= self.clips[0] <= self.clips[1]:
            raise ConfigError(f"SyntheticConfig.clips must be (lo, hi) with 10 <= lo <= hi, not {self.clips}")
        if set(self.snr) != set(self.dims):
            raise ConfigError(f"SyntheticConfig.snr names {sorted(self.snr)} must match dims {sorted(self.dims)}")
        if self.render not in RENDERS:
            raise ConfigError(f"SyntheticConfig.render must be one of {', '.join(RENDERS)}, not {self.render!r}")
        for name in ("trailer_tint", "clip_noise", "style"):
            if getattr(self, name) < 0:
                raise ConfigError(f"SyntheticConfig.{name} must be >= 0")


def genre_combinations() -> tuple[list[list[str]], np.ndarray]:
    data = json.loads(resources.files("mmx.synthetic").joinpath("genre_combinations.json").read_text())
    combos = [k.split("|") for k in data["combinations"]]
    counts = np.array(list(data["combinations"].values()), dtype=float)
    return combos, counts / counts.sum()


@dataclass
class World:
    """What all trailers of one collection share: genre looks and every expert's view of a scene."""

    genres: list[str]
    prototypes: np.ndarray  # (G, modes, latent): the looks of every genre
    neutral: np.ndarray  # (NEUTRAL_LOOKS, latent): scenes that show no genre
    projections: dict[str, np.ndarray]  # expert → (latent, dim)
    moments: dict[str, tuple[np.ndarray, np.ndarray]]  # expert → per-dim mean, sd of its real features


def make_world(cfg: SyntheticConfig, rng: np.random.Generator, extra: np.random.Generator, genres: list[str]) -> World:
    first = rng.normal(size=(len(genres), cfg.latent))  # the original single look per genre
    more = extra.normal(size=(len(genres), cfg.modes - 1, cfg.latent))
    prototypes = np.concatenate([first[:, None], more], axis=1)  # (G, modes, latent)
    projections = {e: rng.normal(size=(cfg.latent, d)) / np.sqrt(cfg.latent) for e, d in cfg.dims.items()}
    neutral = extra.normal(size=(NEUTRAL_LOOKS, cfg.latent))
    world = World(genres, prototypes, neutral, projections, {})
    sample = typical_latents(world, cfg, extra)
    for e in cfg.dims:
        feats = expert_view(world, cfg, e, sample, extra)
        world.moments[e] = (feats.mean(0), feats.std(0))
    return world


def typical_latents(world: World, cfg: SyntheticConfig, rng: np.random.Generator, n: int = 1024) -> np.ndarray:
    """(n, latent) clips of random scenes of random two-genre trailers (for the experts' moments)."""
    G = len(world.genres)
    scene = world.prototypes[rng.integers(G, size=n), rng.integers(cfg.modes, size=n)]
    mix = world.prototypes[rng.integers(G, size=(n, 2)), 0].mean(1)
    noise = cfg.style * rng.normal(size=scene.shape) + cfg.clip_noise * rng.normal(size=scene.shape)
    return scene + cfg.trailer_tint * mix + noise


def expert_view(world: World, cfg: SyntheticConfig, expert: str, latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, dim) features of ``expert`` for latent scenes (n, latent): projection, signal + unit noise."""
    signal = latent @ world.projections[expert]
    if cfg.render == "relu":
        signal = np.maximum(signal, 0.0)
    signal = signal * cfg.snr[expert]
    return signal + rng.normal(size=signal.shape)


def scene_genres(cfg: SyntheticConfig, n: int, gidx: list[int], rng: np.random.Generator, extra: np.random.Generator) -> np.ndarray:
    """(n,) the genre each clip shows (−1 − k: neutral look k), in runs of clips (scenes)."""
    def draw() -> int:
        if cfg.neutral_fraction and extra.random() < cfg.neutral_fraction:
            return -1 - int(extra.integers(NEUTRAL_LOOKS))
        return int(rng.choice(gidx))

    scene = np.empty(n, dtype=int)
    scene[0] = draw()
    for c in range(1, n):
        scene[c] = scene[c - 1] if rng.random() < cfg.scene_run else draw()
    return scene


def scene_latents(world: World, cfg: SyntheticConfig, scene: np.ndarray, extra: np.random.Generator) -> np.ndarray:
    """(n, latent) the look of every clip's scene: a genre prototype (one mode per scene) or a neutral look."""
    starts = np.flatnonzero(np.r_[True, scene[1:] != scene[:-1]])
    mode = np.zeros(len(scene), dtype=int)
    if cfg.modes > 1:
        lengths = np.diff(np.r_[starts, len(scene)])
        mode = np.repeat(extra.integers(cfg.modes, size=len(starts)), lengths)
    out = np.empty((len(scene), cfg.latent))
    genre = scene >= 0
    out[genre] = world.prototypes[scene[genre], mode[genre]]
    out[~genre] = world.neutral[-1 - scene[~genre]]
    return out


def corrupt(world: World, cfg: SyntheticConfig, arrays: dict[str, np.ndarray], extra: np.random.Generator) -> str | None:
    """Replace one present expert (of ``corrupt_experts``) by noise with its real per-dim mean and sd."""
    if not cfg.corrupt_fraction or extra.random() >= cfg.corrupt_fraction:
        return None
    present = [e for e in cfg.corrupt_experts if e in arrays]
    if not present:
        return None
    e = present[int(extra.integers(len(present)))]
    plant_expert_fault(arrays, ExpertFault(e, "noise"), extra, world.moments[e])
    return e


def generate(out: str | Path, cfg: SyntheticConfig = SyntheticConfig()) -> Path:
    """Write ``labels.csv`` and one npz per trailer into ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    extra = np.random.default_rng([cfg.seed, 1])  # the draws of the later knobs
    combos, probs = genre_combinations()
    genres = sorted({g for c in combos for g in c})
    world = make_world(cfg, rng, extra, genres)
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
        scene = scene_genres(cfg, n, gidx, rng, extra)
        style = rng.normal(size=cfg.latent) * cfg.style
        mix = world.prototypes[gidx, 0].mean(0)
        clip_noise = cfg.clip_noise * rng.normal(size=(n, cfg.latent))
        latent = scene_latents(world, cfg, scene, extra) + cfg.trailer_tint * mix + style + clip_noise  # (n, k)
        arrays = trailer_arrays(world, cfg, latent, rng)
        broken = corrupt(world, cfg, arrays, extra)
        lengths = rng.uniform(1.0, 6.0, size=n)
        ends = np.cumsum(lengths)
        arrays["clip_times"] = np.stack([ends - lengths, ends], axis=1)
        tid = f"{cfg.id_prefix}{t:04d}"
        np.savez(out / f"{tid}.npz", **{k: (v.astype(np.float32) if v.dtype.kind == "f" and k != "clip_times" else v) for k, v in arrays.items()})
        row = {
            "trailer_id": tid,
            "genres": "|".join(labels),
            "title": f"Synthetic trailer {t:04d} ({', '.join(true)})",
            "year": int(rng.integers(1930, 2021)),
            "true_genres": "|".join(true),
        }
        if cfg.corrupt_fraction:
            row["corrupted_expert"] = broken or ""
        rows.append(row)
    write_labels(out / "labels.csv", rows, [c for c in rows[0] if c not in COLUMNS])
    return out


def trailer_arrays(world: World, cfg: SyntheticConfig, latent: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every expert's features of one trailer's clip latents (n, latent); the window expert per window."""
    n = len(latent)
    arrays: dict[str, np.ndarray] = {}
    for e in world.projections:
        if e == cfg.window_expert:
            if rng.random() < cfg.no_audio_fraction:
                continue
            per_clip = rng.integers(1, 5, size=n)
            clip_of = np.repeat(np.arange(n), per_clip)
            arrays[e] = expert_view(world, cfg, e, latent[clip_of], rng)
            arrays[f"{e}__clip"] = clip_of.astype(np.int32)
        else:
            arrays[e] = expert_view(world, cfg, e, latent, rng)
    return arrays
