"""Faults planted into a generated collection — what a real collection holds, and what ``mmx check`` and the
runs' masks must find — each where the caller says, and returned, so that a caller can score what was found.

SYNTHETIC DATA. Three families:

* **broken experts** (``ExpertFault``, kinds in ``EXPERT_FAULTS``): one expert of one trailer, over all its clips
  or a stretch of them, made ``zero`` (a decoder that gave nothing: a silent or black stretch), ``constant`` (a
  decoder stuck on one vector) or ``noise`` (noise of the expert's own mean and spread: a dubbed or replaced
  track; nothing in its scale gives it away, only that it no longer follows the picture).
  ``plant_expert_fault`` breaks one trailer's arrays, ``plant_broken_experts`` a share of an import folder's.
* **copies**: ``copy_clips`` is a trailer again (all its clips, a stretch, or reshuffled) with re-encoding
  noise; ``plant_copies`` copies some trailers of an import folder whole and trimmed, and reshuffles them as
  negatives; ``plant_dirt`` re-encodes a generated video into the test split (a split leak).
* **wrong labels** (kinds in ``LABEL_FAULTS``): a genre ``add``ed, ``remove``d, or ``replace``d by one the trailer
  does not show; ``flip_labels`` flips a share of a collection's labels, ``plant_dirt`` replaces one genre of a
  few training trailers.

``plant_feature_dirt`` (per-clip features: ``FeatureDirt``) and ``plant_dirt`` (video files: ``VideoDirt``) plant
a collection's worth in one call, all drawn from one seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmx.data.labels_csv import read_labels, write_labels
from mmx.registry import Registry

COPY_KINDS = ("copy", "trim", "reshuffled")  # plant_copies: a copy's id is <source id>-<kind>
BROKEN_KINDS = ("constant", "zero", "noise")  # plant_broken_experts: the kinds it plants, in turn
MOMENT_TRAILERS = 200  # plant_broken_experts: an expert's mean and spread, over this many first trailers


# ------------------------------------------------------------------------------------------ broken experts
@dataclass(frozen=True)
class ExpertFault:
    """One expert of one trailer broken."""

    expert: str
    kind: str = "zero"  # an EXPERT_FAULTS name: zero, constant or noise
    clips: tuple[int, int] | None = None  # first and last clip broken (a window expert: their windows); None: all
    held_row: int | None = None  # constant: the row repeated (None: the first row broken)


Moments = tuple  # an expert's (mean, sd): per dimension, or one number each
EXPERT_FAULTS: Registry[np.ndarray] = Registry("expert fault")  # (x, rows, fault, rng, moments) → the rows' new values


@EXPERT_FAULTS.register("zero")
def _zero(x: np.ndarray, rows: np.ndarray, fault: ExpertFault, rng, moments) -> np.ndarray:
    return np.zeros_like(x[rows])


@EXPERT_FAULTS.register("constant")
def _constant(x: np.ndarray, rows: np.ndarray, fault: ExpertFault, rng, moments) -> np.ndarray:
    held = np.flatnonzero(rows)[0] if fault.held_row is None else fault.held_row
    return np.broadcast_to(x[held], x[rows].shape)


@EXPERT_FAULTS.register("noise")
def _noise(x: np.ndarray, rows: np.ndarray, fault: ExpertFault, rng, moments) -> np.ndarray:
    if rng is None or moments is None:
        raise ValueError(f"a noise fault of {fault.expert} needs a random generator and the expert's (mean, sd)")
    mean, sd = moments
    return mean + sd * rng.normal(size=x[rows].shape)


def fault_rows(arrays: dict[str, np.ndarray], fault: ExpertFault) -> np.ndarray:
    """(rows,) bool: the rows of ``fault.expert`` the fault breaks (a window expert's rows follow their clips)."""
    x = arrays[fault.expert]
    if fault.clips is None:
        return np.ones(len(x), bool)
    clip_of = arrays.get(f"{fault.expert}__clip", np.arange(len(x)))
    first, last = fault.clips
    return (clip_of >= first) & (clip_of <= last)


def plant_expert_fault(arrays: dict[str, np.ndarray], fault: ExpertFault, rng: np.random.Generator | None = None,
                       moments: Moments | None = None) -> np.ndarray:
    """Break ``fault.expert`` in one trailer's ``arrays`` (a new array in its place, of its dtype; ``noise`` draws from
    ``rng`` with the expert's ``moments``); the indices of the rows broken."""
    x = arrays[fault.expert]
    rows = fault_rows(arrays, fault)
    broken = x.copy()
    broken[rows] = EXPERT_FAULTS.get(fault.kind)(x, rows, fault, rng, moments)
    arrays[fault.expert] = broken
    return np.flatnonzero(rows)


def plant_in_file(path: Path, fault: ExpertFault, rng: np.random.Generator | None = None,
                  moments: Moments | None = None) -> None:
    """``plant_expert_fault`` on a trailer's npz file of an import folder, rewritten in place."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    plant_expert_fault(arrays, fault, rng, moments)
    np.savez(path, **arrays)


def expert_moments(folder: Path, ids: list[str], expert: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and sd of ``expert`` over the trailers ``ids`` of an import folder (those that have it)."""
    rows = np.concatenate([a[expert] for t in ids if expert in (a := np.load(folder / f"{t}.npz"))])
    return rows.mean(0), rows.std(0)


def plant_broken_experts(folder: Path, rows: list[dict], share: float, rng: np.random.Generator,
                         experts: tuple[str, ...] = ("motion", "audio"),
                         kinds: tuple[str, ...] = BROKEN_KINDS) -> dict[tuple[str, str], str]:
    """One expert (of ``experts``, one the trailer has) broken in ``share`` of the trailers of an import folder that
    are no planted copy, over all its clips, the ``kinds`` in turn (noise: of the expert's mean and spread over the
    first ``MOMENT_TRAILERS``); (trailer, expert) → kind."""
    planted: dict[tuple[str, str], str] = {}
    candidates = [r["trailer_id"] for r in rows if not is_copy(r["trailer_id"])]
    moments: dict[str, Moments] = {}
    for tid in rng.choice(candidates, size=int(share * len(candidates)), replace=False):
        path = folder / f"{tid}.npz"
        with np.load(path) as z:
            expert = str(rng.choice([e for e in experts if e in z.files]))
        kind = kinds[len(planted) % len(kinds)]
        if kind == "noise" and expert not in moments:
            moments[expert] = expert_moments(folder, candidates[:MOMENT_TRAILERS], expert)
        plant_in_file(path, ExpertFault(expert, kind), rng, moments.get(expert))
        planted[(tid, expert)] = kind
    return planted


# ------------------------------------------------------------------------------------------------- copies
def copy_clips(arrays: dict[str, np.ndarray], clips: np.ndarray, rng: np.random.Generator, noise: float = 0.1,
               of_spread: bool = True) -> dict[str, np.ndarray]:
    """The arrays of a copy of a trailer that holds its ``clips`` (in that order; a window expert's windows follow
    their clips), with re-encoding noise: ``noise`` × each dimension's spread over the trailer (``of_spread``), or
    ``noise`` itself."""
    out = {"clip_times": arrays["clip_times"][clips]} if "clip_times" in arrays else {}
    for name, x in arrays.items():
        if name == "clip_times" or name.endswith("__clip"):
            continue
        rows = clips
        if f"{name}__clip" in arrays:
            owner = arrays[f"{name}__clip"]
            rows = np.concatenate([np.flatnonzero(owner == c) for c in clips])
            out[f"{name}__clip"] = np.concatenate([np.full((owner == c).sum(), i) for i, c in enumerate(clips)]
                                                  ).astype(np.int32)
        scale = noise * x.std(0) if of_spread else noise
        out[name] = (x[rows] + scale * rng.normal(size=x[rows].shape)).astype(x.dtype)
    return out


def is_copy(trailer_id: str) -> bool:
    """Whether ``plant_copies`` made this trailer."""
    return trailer_id.endswith(tuple(f"-{kind}" for kind in COPY_KINDS))


def pairs(group: list[str]) -> set[tuple[str, str]]:
    """Every (a, b) with a < b of trailers that are copies of each other."""
    return {(a, b) for a in group for b in group if a < b}


def plant_copies(folder: Path, rows: list[dict], n: int, rng: np.random.Generator,
                 trim: float = 0.6) -> set[tuple[str, str]]:
    """Of ``n`` labelled trailers of an import folder: a copy, a trimmed copy (a contiguous ``trim`` of the clips)
    and, as a negative, the clips reshuffled (the same shots, another video: a teaser cut from the trailer, no copy),
    each with re-encoding noise, written beside them and appended to ``rows``; the planted pairs (a trailer and its
    two copies)."""
    planted: set[tuple[str, str]] = set()
    for r in rng.choice([r for r in rows if r["genres"]], size=n, replace=False):
        src = dict(np.load(folder / f"{r['trailer_id']}.npz"))
        n_clips = len(src["clip_times"])
        start = int(rng.integers(0, n_clips - int(trim * n_clips) + 1))
        keep = {"copy": np.arange(n_clips), "trim": np.arange(start, start + int(trim * n_clips)),
                "reshuffled": rng.permutation(n_clips)}  # COPY_KINDS
        for kind, clips in keep.items():
            tid = f"{r['trailer_id']}-{kind}"
            np.savez(folder / f"{tid}.npz", **copy_clips(src, clips, rng))
            rows.append(dict(r, trailer_id=tid, title=f"{r['title']} ({kind})"))
        planted |= pairs([r["trailer_id"], f"{r['trailer_id']}-copy", f"{r['trailer_id']}-trim"])
    return planted


# ---------------------------------------------------------------------------------------------- labels
@dataclass(frozen=True)
class LabelChange:
    """A trailer's labels after a label fault, and what it added and removed."""

    genres: list[str]
    added: str | None = None
    removed: str | None = None


LABEL_FAULTS: Registry[LabelChange] = Registry("label fault")  # (labels, vocabulary, rng) → LabelChange


@LABEL_FAULTS.register("add")
def _add(have: list[str], vocabulary: list[str], rng: np.random.Generator) -> LabelChange:
    g = str(rng.choice([x for x in vocabulary if x not in have]))
    return LabelChange(have + [g], added=g)


@LABEL_FAULTS.register("remove")
def _remove(have: list[str], vocabulary: list[str], rng: np.random.Generator) -> LabelChange:
    g = str(rng.choice(have))
    kept = list(have)
    kept.remove(g)
    return LabelChange(kept, removed=g)


@LABEL_FAULTS.register("replace")
def _replace(have: list[str], vocabulary: list[str], rng: np.random.Generator) -> LabelChange:
    gone = str(rng.choice(have))
    wrong = str(rng.choice([g for g in vocabulary if g not in have]))
    return LabelChange(sorted([g for g in have if g != gone] + [wrong]), added=wrong, removed=gone)


def flip_labels(rows: list[dict], share: float, rng: np.random.Generator) -> set[tuple[str, str]]:
    """Flip ``share`` of the genre labels of ``rows`` (a count when ≥ 1), on distinct trailers: half add a genre,
    half remove one (a trailer of a single genre gets one added instead); the (trailer, genre) flipped."""
    vocabulary = sorted({g for r in rows for g in r["genres"].split("|") if g})
    n_labels = sum(len(r["genres"].split("|")) for r in rows if r["genres"])
    flipped = set()
    for i, r in enumerate(rng.permutation(len(rows))[: int(share if share >= 1 else share * n_labels)]):
        row = rows[r]
        have = [g for g in row["genres"].split("|") if g]
        change = LABEL_FAULTS.create("remove" if i % 2 and len(have) > 1 else "add", have, vocabulary, rng)
        row["genres"] = "|".join(change.genres)
        flipped.add((row["trailer_id"], change.added or change.removed))
    return flipped


# --------------------------------------------------------------------------------- a collection's worth
@dataclass(frozen=True)
class FeatureDirt:
    """What ``plant_feature_dirt`` plants into an import folder of per-clip features."""

    copies: int = 20  # trailers copied whole and trimmed, and reshuffled as negatives (plant_copies)
    broken_share: float = 0.06  # share of the trailers with one broken expert (plant_broken_experts; 0: none)
    flips: float = 0.05  # genre labels flipped: a share of them, or a count when ≥ 1 (flip_labels)


def plant_feature_dirt(folder: Path, rows: list[dict], dirt: FeatureDirt, rng: np.random.Generator) -> dict:
    """Copies, broken experts and flipped labels planted into an import folder's files and ``rows`` (the caller
    writes ``labels.csv``), in that order from ``rng``; what was planted: ``duplicates`` (pairs), ``experts``
    ((trailer, expert) → kind), ``labels`` ((trailer, genre))."""
    truth = {"duplicates": plant_copies(folder, rows, dirt.copies, rng)}
    truth["experts"] = plant_broken_experts(folder, rows, dirt.broken_share, rng)
    truth["labels"] = flip_labels(rows, dirt.flips, rng)
    return truth


@dataclass(frozen=True)
class VideoDirt:
    """What ``plant_dirt`` plants into a generated video corpus."""

    duplicates: int = 1  # training trailers re-encoded into the test split under new ids (a split leak)
    wrong_labels: int = 4  # other training trailers with one genre replaced by one they do not show
    seed: int = 0  # which trailers, which genres
    copy_scale: float = 0.75  # a copy's size against its source's
    copy_crf: int = 34  # a copy's picture quality (x264 crf: higher is worse)
    # seconds cut from a copy's start and end (a cut at the start could merge the shortened first shot into the
    # next: one clip fewer)
    copy_trim: tuple[float, float] = (0.0, 0.5)


def plant_dirt(folder: str | Path, dirt: VideoDirt = VideoDirt()) -> dict:
    """Make a generated video corpus (``mmx.synthetic.videos``) as dirty as a real collection, and say where
    (returned, and in ``planted.json``): ``duplicates`` ([source, copy] re-encoded), ``wrong_labels`` (trailer, the
    genre ``given`` and the one ``missing``), and the trailers whose ``audio`` track the generator made ``silent``
    or left out (``none``; from ``truth.json``). ``labels.csv`` must have its ``split`` column."""
    from mmx.synthetic.videos import reencode  # PyAV and OpenCV (the extract extra): only where a video is copied

    folder = Path(folder)
    rng = np.random.default_rng([dirt.seed, 2])
    rows = [vars(r) for r in read_labels(folder / "labels.csv")]
    truths = {t["trailer_id"]: t for t in json.loads((folder / "truth.json").read_text())}
    train = [r for r in rows if r["split"] == "train"]
    picked = rng.permutation(len(train))  # a small corpus gets what its training trailers allow
    planted: dict = {"duplicates": [], "wrong_labels": [],
                     "audio": {kind: sorted(t for t, v in truths.items() if v.get("audio") == kind)
                               for kind in ("silent", "none")}}
    for i in picked[:dirt.duplicates]:
        src = train[int(i)]
        copy, file = f"{src['trailer_id']}-reencoded", Path(truths[src["trailer_id"]]["file"])
        reencode(folder / file, folder / f"{copy}{file.suffix}", scale=dirt.copy_scale, crf=dirt.copy_crf,
                 trim=dirt.copy_trim)
        rows.append(dict(src, trailer_id=copy, title=f"{src['title']} (re-encoded)", split="test"))
        planted["duplicates"].append([src["trailer_id"], copy])
    vocabulary = sorted({g for r in rows for g in r["genres"]})
    for i in picked[dirt.duplicates:dirt.duplicates + dirt.wrong_labels]:
        row = train[int(i)]
        change = LABEL_FAULTS.create("replace", row["genres"], vocabulary, rng)
        row["genres"] = change.genres
        planted["wrong_labels"].append({"trailer_id": row["trailer_id"], "given": change.added,
                                        "missing": change.removed})
    write_labels(folder / "labels.csv", rows)
    (folder / "planted.json").write_text(json.dumps(planted, indent=1) + "\n")
    return planted
