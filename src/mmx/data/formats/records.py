"""The one writer every streaming import format shares: trailer records in, store entries out.

A format reads its release one trailer at a time and yields ``TrailerRecord``s (or a record whose
``problem`` says why the entry cannot be used); ``write_records`` holds every rule of the import
format (``mmx.data.importer``) for them: arrays are checked by ``check_trailer`` (shapes, NaN/inf,
clip counts, window indices), an expert keeps the dim the store already has or, for a new store,
the dim the release declares (``dims``) or else the first good entry's; bad entries are named and
skipped; an entry whose arrays and labels are unchanged is left alone, so a rerun changes nothing.
Only one trailer's arrays are held at a time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from mmx.data.importer import ImportReport, check_trailer, keyframes_digest, same_entry
from mmx.data.store import RESERVED, EntryMeta, FeatureStore, validate_trailer_id
from mmx.errors import Problem
from mmx.inputs import ExpertInfo


@dataclass
class TrailerRecord:
    where: str  # what a problem names: "i_resnet_fpc24.zarr/tt0347149", "features.pkl sample abc"
    trailer_id: str
    genres: list[str] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # expert → (n, dim); "<expert>__clip" → (n_windows,)
    title: str = ""
    year: int | None = None
    split: str | None = None
    clip_times: np.ndarray | None = None  # (n_clips, 2) seconds, when the release has them
    problem: str | None = None  # why the entry cannot be imported (set by the format's reader)
    extra: dict = field(default_factory=dict)  # kept in meta.source (Trailers12k: the split of every fold)
    keyframes: list[bytes] | None = None  # one image per clip, when the release has them

    def named(self, why: str) -> str:
        """``where``, with the trailer id when neither it nor the problem ``why`` names it ("mgtc.csv row 2
        (trailer tt0347149)"): a curator looks a problem up by its trailer, not by a row number."""
        alone = re.compile(rf"(?<![\w.-]){re.escape(self.trailer_id)}(?![\w-])")  # not the 1 of "row 12"
        return self.where if alone.search(self.where) or alone.search(why) else f"{self.where} (trailer {self.trailer_id})"


def arrays_digest(arrays: dict[str, np.ndarray], clip_times: np.ndarray | None) -> str:
    """SHA-256 over names, dtypes, shapes and bytes: equal digests ↔ the same entry content."""
    h = hashlib.sha256()
    items = sorted(arrays.items()) + ([("clip_times", clip_times)] if clip_times is not None else [])
    for name, arr in items:
        a = np.ascontiguousarray(arr)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def write_records(
    records: Iterable[TrailerRecord],
    store: FeatureStore,
    report: ImportReport,
    source: str,
    dims: dict[str, int] | None = None,
    info: dict | None = None,
) -> ImportReport:
    """Check and write each record into ``store``; ``source`` names the release in the manifest,
    ``info`` is kept in every entry's ``meta.source`` (format, path)."""
    fixed = dict(dims or {})
    for name, expert in store.experts.items():  # an existing store fixes the dims
        fixed[name] = expert.dim
    existing = store.entries()
    seen: set[str] = set()
    for rec in records:
        why = rec.problem or validate_trailer_id(rec.trailer_id)
        if why is None and rec.trailer_id in seen:
            why = f"trailer {rec.trailer_id!r} appears twice in the release; the first is kept"
        if why is None and not rec.genres:
            why = f"trailer {rec.trailer_id!r} has no genres"
        infos, n_clips = {}, 0
        if why is None:
            infos, n_clips, why = check_trailer(Path(rec.where), {**rec.arrays, **_times(rec)})
        if why is None:
            why = _dim_problem(infos, fixed, store)
        if why:
            report.problems.append(Problem(rec.named(why), why))
            continue
        seen.add(rec.trailer_id)
        for name, expert in infos.items():
            fixed.setdefault(name, expert.dim)
        meta = EntryMeta(
            trailer_id=rec.trailer_id, genres=rec.genres, n_clips=n_clips, experts=[],
            title=rec.title, year=rec.year, split=rec.split,
            source={**(info or {}), **rec.extra, "sha256": arrays_digest(rec.arrays, rec.clip_times)},
        )
        if rec.keyframes is not None:
            meta.source["keyframes_sha256"] = keyframes_digest(rec.keyframes)
        old = existing.get(rec.trailer_id)
        if old is not None and same_entry(old, meta) and not store.verify_entry(rec.trailer_id):
            report.unchanged.append(rec.trailer_id)
            continue
        if any(n not in store.experts or source not in store.experts[n].source.split(" | ") for n in infos):
            store.register_experts({n: ExpertInfo(i.dim, i.level, source) for n, i in infos.items()})
        arrays = {k: v for k, v in rec.arrays.items() if k not in RESERVED}
        store.write_entry(meta, arrays, clip_times=rec.clip_times, keyframes=rec.keyframes)
        (report.updated if old is not None else report.imported).append(rec.trailer_id)
    return report


def _times(rec: TrailerRecord) -> dict[str, np.ndarray]:
    return {} if rec.clip_times is None else {"clip_times": rec.clip_times}


def _dim_problem(infos: dict[str, ExpertInfo], fixed: dict[str, int], store: FeatureStore) -> str | None:
    for name, expert in infos.items():
        known = store.experts.get(name)
        if name in fixed and expert.dim != fixed[name]:
            return f"expert {name!r} is {expert.dim}-d; the rest of the collection has {fixed[name]}-d"
        if known is not None and known.level != expert.level:
            return f"expert {name!r} is {expert.level}-level here but {known.level}-level in the store"
    return None
