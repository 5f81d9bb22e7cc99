"""Train/val/test splits and the minimum-clip rule (§4.1).

A split given in the labels wins. Otherwise each trailer falls into train/val/test by a seeded
hash of its id: deterministic, independent of the order of the collection, and stable when
trailers are added (adding a trailer never moves another one to a different split).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from mmx.data.store import EntryMeta

SPLITS = ("train", "val", "test")


def hash_split(trailer_id: str, seed: int, fractions: list[float]) -> str:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"split fractions must be three non-negative numbers, got {fractions}")
    digest = hashlib.sha256(f"{seed}:{trailer_id}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(fractions)
    if u < fractions[0] / total:
        return "train"
    if u < (fractions[0] + fractions[1]) / total:
        return "val"
    return "test"


@dataclass
class SplitResult:
    ids: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    too_short: list[str] = field(default_factory=list)  # excluded: fewer than min_clips clips
    no_genre: list[str] = field(default_factory=list)  # excluded: no genre label

    def counts(self) -> dict[str, int]:
        return {s: len(v) for s, v in self.ids.items()}


def split_entries(
    entries: dict[str, EntryMeta], seed: int, fractions: list[float], min_clips: int
) -> SplitResult:
    """Sorted trailer ids per split, with the trailers excluded and why."""
    out = SplitResult()
    for tid in sorted(entries):
        meta = entries[tid]
        if meta.n_clips < min_clips:
            out.too_short.append(tid)
            continue
        if not meta.genres:
            out.no_genre.append(tid)
            continue
        split = meta.split or hash_split(tid, seed, fractions)
        out.ids[split].append(tid)
    return out
