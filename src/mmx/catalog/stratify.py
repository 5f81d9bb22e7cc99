"""Train/val/test splits for a catalogue: a given split wins, the rest is stratified.

A split comes from the list itself (a ``split`` column) or from a split file such as MovieNet's
``splits.json`` (``{"trn": [ids], "val": [ids], "tst": [ids]}``). Trailers without one are split
80/10/10 (§4.1) by iterative stratification (Sechidis, Tsoumakas & Vlahavas, "On the
stratification of multi-label data", ECML PKDD 2011), so that every genre — rare ones too — is
spread over the splits in the given proportions; seeded, and independent of the list's order.
Trailers with fewer than 10 clips are excluded later, once they are extracted (``mmx.data.splits``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmx.catalog.build import Entry
from mmx.catalog.list_formats import LIST_FORMATS
from mmx.data.splits import SPLITS
from mmx.errors import ConfigError, InputError

# Names split files use → mmx's split names.
SPLIT_NAMES = {"trn": "train", "train": "train", "val": "val", "valid": "val", "validation": "val",
               "tst": "test", "test": "test"}


@dataclass
class SplitConfig:
    seed: int = 0  # seed of the stratified split; the same list and seed give the same split
    fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])  # train/val/test (§4.1: 6047/754/754)


def companion_split_file(list_path: str | Path, fmt: str) -> Path | None:
    """The split file that comes with lists of format ``fmt`` (MovieNet's ``splits.json``), if beside the list."""
    name = LIST_FORMATS.create(fmt).split_file
    path = Path(list_path).with_name(name) if name else None
    return path if path is not None and path.is_file() else None


def read_split_file(path: str | Path) -> dict[str, str]:
    """Trailer id → train/val/test from a JSON file of ``{split name: [ids]}``."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read the split file {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"split file {path} is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise InputError(f"split file {path} must map split names to lists of trailer ids")
    out: dict[str, str] = {}
    for name, ids in doc.items():
        split = SPLIT_NAMES.get(str(name).lower())
        if split is None or not isinstance(ids, list):
            raise InputError(
                f"split file {path}: {name!r} must be one of {', '.join(SPLIT_NAMES)} with a list of trailer ids"
            )
        for tid in ids:
            if str(tid) in out and out[str(tid)] != split:
                raise InputError(f"split file {path}: trailer {tid!r} is in both {out[str(tid)]} and {split}")
            out[str(tid)] = split
    return out


def _pick(primary: np.ndarray, secondary: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest ``primary``, ties broken by the largest ``secondary``, then at random."""
    best = np.flatnonzero(primary == primary.max())
    if best.size > 1:
        best = best[secondary[best] == secondary[best].max()]
    return int(best[0] if best.size == 1 else rng.choice(best))


def iterative_stratification(labels: np.ndarray, fractions: list[float], seed: int) -> np.ndarray:
    """Subset index (0..K-1) per example for a multi-label ``labels`` matrix (N, G) (Sechidis et al.
    2011, Algorithm 1).

    Each subset j wants ``r_j · N`` examples and ``r_j · N_i`` examples of each label i. Repeatedly
    take the label with the fewest examples still unassigned and give each of its examples to the
    subset that wants that label most (ties: the subset that wants most examples overall, then
    random); examples without labels go to the subset that wants most examples.
    """
    y = np.asarray(labels, dtype=bool)  # (N, G)
    r = np.asarray(fractions, dtype=float)
    if y.ndim != 2 or r.ndim != 1 or (r < 0).any() or r.sum() <= 0:
        raise ConfigError(f"need an (N, G) label matrix and non-negative fractions, got {y.shape} and {fractions}")
    r = r / r.sum()  # (K,)
    rng = np.random.default_rng(seed)
    want = r * len(y)  # (K,) examples each subset still wants
    want_label = np.outer(y.sum(axis=0), r)  # (G, K) examples of each label each subset still wants
    subset = np.full(len(y), -1)  # (N,)
    left = y.sum(axis=0)  # (G,) unassigned examples per label
    while left.any():
        rarest = np.flatnonzero(left == left[left > 0].min())
        label = int(rarest[0] if rarest.size == 1 else rng.choice(rarest))
        for i in rng.permutation(np.flatnonzero(y[:, label] & (subset < 0))):
            k = _pick(want_label[label], want, rng)
            subset[i] = k
            want_label[y[i], k] -= 1
            want[k] -= 1
        left = (y & (subset < 0)[:, None]).sum(axis=0)
    for i in rng.permutation(np.flatnonzero(subset < 0)):
        k = _pick(want, want, rng)
        subset[i] = k
        want[k] -= 1
    return subset


@dataclass
class SplitSummary:
    given: Counter = field(default_factory=Counter)  # split → trailers whose split was given
    stratified: Counter = field(default_factory=Counter)  # split → trailers split here
    not_in_list: int = 0  # ids of the split file that are not usable entries of the list

    def counts(self) -> dict[str, int]:
        return {s: self.given[s] + self.stratified[s] for s in SPLITS}


def assign_splits(
    entries: list[Entry], cfg: SplitConfig, given: dict[str, str] | None = None
) -> tuple[list[Entry], SplitSummary]:
    """Entries with ``split`` set: the list's own split, else ``given`` (a split file), else stratified."""
    given = given or {}
    summary = SplitSummary(not_in_list=len(set(given) - {e.trailer_id for e in entries}))
    out = [replace(e, split=e.split or given.get(e.trailer_id)) for e in entries]
    summary.given.update(e.split for e in out if e.split)
    rest = sorted((e for e in out if not e.split), key=lambda e: e.trailer_id)
    if rest:
        vocab = sorted({g for e in rest for g in e.genres})
        column = {g: j for j, g in enumerate(vocab)}
        y = np.zeros((len(rest), len(vocab)), dtype=bool)  # (N, G)
        for i, e in enumerate(rest):
            y[i, [column[g] for g in e.genres]] = True
        for e, k in zip(rest, iterative_stratification(y, cfg.fractions, cfg.seed), strict=True):
            e.split = SPLITS[k]
        summary.stratified.update(e.split for e in rest)
    return out, summary
