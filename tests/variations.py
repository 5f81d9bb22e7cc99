"""The ways real collections vary, built as small import-format collections (no trailer may break a read path).

Every registered expert of mmx (``mmx.experts.EXPERTS``, at its own level, a small dim) is in every
collection, so a new expert joins the read-path matrix by being registered. ``VARIANTS`` names the
per-trailer variations, ``COLLECTIONS`` the collection-level ones; ``build`` writes one collection
as an import folder (``labels.csv`` with splits, one npz per trailer, keyframes where asked, and a
``truth.json`` of shot genres so that scene evaluation can run) and says which experts its store
declares. Features follow the trailer's genres (a mean per genre plus noise), so a model trained
for an epoch or two is not degenerate.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmx.experts import EXPERTS
from mmx.inputs import ExpertInfo
from mmx.synthetic.faults import ExpertFault, plant_expert_fault

DIM = 6  # every expert's feature size here
GENRES = ["Action", "Comedy", "Horror"]
TRAIN_ONLY_GENRE = "Western"  # a genre with positives in the training split only (none in val or test)
MIN_CLIPS = 10  # data.min_clips' default
LONG_CLIPS = 2000
CENTRES = dict(zip([*GENRES, TRAIN_ONLY_GENRE], np.random.default_rng(7).normal(size=(4, DIM))))  # each genre's look


def registered_experts() -> dict[str, ExpertInfo]:
    """mmx's own registered experts (not test stand-ins) at their level, ``DIM``-d."""
    out = {}
    for name in EXPERTS.names():
        cls = EXPERTS.get(name)
        if cls.__module__.startswith("mmx."):
            out[name] = ExpertInfo(dim=DIM, level=cls.level)
    return out


EXPERT_INFOS = registered_experts()
WINDOW_EXPERTS = [n for n, i in EXPERT_INFOS.items() if i.level == "window"]
CLIP_EXPERTS = [n for n, i in EXPERT_INFOS.items() if i.level == "clip"]


@dataclass(frozen=True)
class Trailer:
    """One trailer to write: its id says which variation it carries."""

    trailer_id: str
    genres: list[str]
    split: str
    n_clips: int = 12
    missing: tuple[str, ...] = ()  # experts absent from this trailer
    empty_clips: bool = False  # window-level experts: every other clip has no window
    times: bool = True  # clip_times in the npz
    keyframes: bool = False  # a keyframes folder beside the npz
    broken: tuple[str, ...] = ()  # experts whose decoder repeated one vector for the whole trailer
    dead_opening: int = 0  # every expert gives zeros over this many first clips (a black, silent opening)


# Per-trailer variations: name → how the trailer differs. Each lands in the test split, whose
# trailers every read path meets; "missing:<expert>" is one per registered expert.
VARIANTS: dict[str, dict] = {
    **{f"missing-{e}": {"missing": (e,)} for e in EXPERT_INFOS},
    "empty-windows": {"empty_clips": True},
    "min-clips": {"n_clips": MIN_CLIPS},
    "long": {"n_clips": LONG_CLIPS},
    "no-times": {"times": False},
    "keyframes": {"keyframes": True},
    # recorded broken when imported (mmx.data.broken), read as missing by runs with data.mask_broken_experts
    **{f"broken-{e}": {"broken": (e,)} for e in (CLIP_EXPERTS[0], WINDOW_EXPERTS[0])},
    "dead-opening": {"dead_opening": 4},
}


@dataclass(frozen=True)
class Collection:
    """A collection-level variation: which trailers, and which experts no trailer has."""

    name: str
    trailers: list[Trailer] = field(default_factory=list)
    absent: tuple[str, ...] = ()  # declared by the store, carried by no trailer


def _plain(i: int, split: str, genres: list[str] | None = None) -> Trailer:
    return Trailer(f"{split}{i:02d}", genres or [GENRES[i % 3]] + ([GENRES[(i + 1) % 3]] if i % 4 == 0 else []), split)


def mixed() -> Collection:
    """Every per-trailer variation in one collection (in its test split), beside plain trailers;
    ``TRAIN_ONLY_GENRE`` has positives in training only."""
    train = [_plain(i, "train") for i in range(16)]
    train += [_plain(i, "train", [GENRES[i % 3], TRAIN_ONLY_GENRE]) for i in range(16, 19)]
    val = [_plain(i, "val") for i in range(4)]
    test = [Trailer(name, [GENRES[k % 3]], "test", **kw) for k, (name, kw) in enumerate(VARIANTS.items())]
    return Collection("mixed", train + val + test + [_plain(i, "test") for i in range(2)])


def singleton_splits() -> Collection:
    """One trailer in the validation split and one in the test split."""
    train = [_plain(i, "train") for i in range(12)]
    return Collection("singleton-splits", train + [_plain(0, "val"), _plain(0, "test")])


def absent_everywhere(keep: str) -> Collection:
    """A store that declares every registered expert while its trailers only carry ``keep`` (an
    archive of silent films extracted with an audio expert, say)."""
    trailers = [_plain(i, split) for split, n in (("train", 12), ("val", 3), ("test", 3)) for i in range(n)]
    return Collection(f"only-{keep}", trailers, absent=tuple(e for e in EXPERT_INFOS if e != keep))


# Collection-level variations. "only-<expert>" for one clip-level and one window-level expert:
# together every registered expert is absent from a whole collection at least once.
COLLECTIONS = {c.name: c for c in [mixed(), singleton_splits(),
                                   absent_everywhere(CLIP_EXPERTS[0]), absent_everywhere(WINDOW_EXPERTS[0])]}


def _features(t: Trailer, absent: tuple[str, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
    signal = np.mean([CENTRES[g] for g in t.genres], axis=0)
    out: dict[str, np.ndarray] = {}
    for name, info in EXPERT_INFOS.items():
        if name in t.missing or name in absent:
            continue
        if info.level == "clip":
            clip_of = np.arange(t.n_clips)
        else:
            per_clip = rng.integers(1, 4, size=t.n_clips)
            if t.empty_clips:
                per_clip[::2] = 0
            clip_of = np.repeat(np.arange(t.n_clips), per_clip)
            out[f"{name}__clip"] = clip_of.astype(np.int64)
        out[name] = (signal + rng.normal(size=(len(clip_of), DIM))).astype(np.float32)
        if name in t.broken:
            plant_expert_fault(out, ExpertFault(name, "constant"))
        if t.dead_opening:
            plant_expert_fault(out, ExpertFault(name, "zero", clips=(0, t.dead_opening - 1)))
    if t.times:
        start = np.arange(t.n_clips, dtype=np.float32) * 2.0
        out["clip_times"] = np.stack([start, start + 2.0], 1)
    return out


def _keyframes(folder: Path, n: int) -> None:
    from PIL import Image

    folder.mkdir()
    for c in range(n):
        buf = io.BytesIO()
        Image.new("RGB", (16, 12), (c * 20 % 256, 80, 160)).save(buf, "JPEG")
        (folder / f"{c:04d}.jpg").write_bytes(buf.getvalue())


def build(collection: Collection, out: Path, seed: int = 0) -> Path:
    """Write ``collection`` as an import folder (with ``truth.json``) into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = []
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trailer_id", "genres", "split", "title"])
        for t in collection.trailers:
            writer.writerow([t.trailer_id, "|".join(t.genres), t.split, f"Title of {t.trailer_id}"])
            np.savez(out / f"{t.trailer_id}.npz", **_features(t, collection.absent, rng))
            if t.keyframes:
                _keyframes(out / f"{t.trailer_id}.keyframes", t.n_clips)
            # one shot per clip at 1 fps with 2-s clips: cut k at frame 2k
            truth.append({"trailer_id": t.trailer_id, "fps": 1.0, "cuts": [2 * k for k in range(1, t.n_clips)],
                          "shot_genres": [t.genres[k % len(t.genres)] for k in range(t.n_clips)]})
    (out / "truth.json").write_text(json.dumps(truth))
    return out
