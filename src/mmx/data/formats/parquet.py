"""A folder written by ``mmx export`` (``mmx.export``): Parquet shards + ``mmx_export.json``.

The ``clips`` shards give every array back as it was stored (float32 experts, the windows of each
clip with their clip index, float64 clip times, keyframe bytes); the ``trailers`` shards give
title, year, split and genres. A trailers-only export (a run of imported embeddings) has no clips:
each trailer becomes a one-clip entry whose expert ``embedding`` is its vector. Shards are read
one record batch at a time; a trailer's rows are consecutive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from mmx.data.formats.format import ImportFormat, ImportOptions, register_format
from mmx.data.formats.records import TrailerRecord, write_records
from mmx.data.importer import ImportReport
from mmx.data.store import CLIP_SUFFIX, FeatureStore
from mmx.errors import InputError

# the export folder's own marks, written by mmx.export and read here
EXPORT_FORMAT, EXPORT_VERSION = "mmx-export", 1
MANIFEST = "mmx_export.json"

EMBEDDING = "embedding"  # the expert of a trailers-only export


def detect(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def read_trailers(root: Path) -> dict[str, dict]:
    """trailer_id → its row of the trailers config (without the vectors, except a trailers-only embedding)."""
    import pyarrow.parquet as pq

    out = {}
    for path in shards(root / "trailers"):
        f = pq.ParquetFile(path)
        cols = [c for c in ("trailer_id", "title", "year", "split", "genres", EMBEDDING) if c in f.schema_arrow.names]
        for batch in f.iter_batches(columns=cols):
            for row in batch.to_pylist():
                out[row["trailer_id"]] = row
    return out


def clip_rows(root: Path) -> Iterator[tuple[str, list[dict]]]:
    """(trailer_id, its clip rows) in file order."""
    import pyarrow.parquet as pq

    current, rows = None, []
    for path in shards(root / "clips"):
        for batch in pq.ParquetFile(path).iter_batches():
            for row in batch.to_pylist():
                if row["trailer_id"] != current and rows:
                    yield current, rows
                    rows = []
                current = row["trailer_id"]
                rows.append(row)
    if rows:
        yield current, rows


def to_arrays(rows: list[dict], experts: dict[str, dict]) -> tuple[dict[str, np.ndarray], np.ndarray | None, list | None]:
    """A trailer's clip rows → (arrays as stored, clip times, keyframes)."""
    arrays = {}
    for name, info in experts.items():
        values = [r[name] for r in rows]
        if any(v is None for v in values):
            continue  # the trailer lacks this expert
        if info["level"] == "window":
            windows = [w for v in values for w in v]
            arrays[name] = np.array(windows, dtype=np.float32).reshape(len(windows), info["dim"])
            arrays[name + CLIP_SUFFIX] = np.repeat(np.arange(len(rows), dtype=np.int32), [len(v) for v in values])
        else:
            arrays[name] = np.array(values, dtype=np.float32).reshape(len(rows), info["dim"])
    times = None
    if all(r["start"] is not None for r in rows):
        times = np.array([[r["start"], r["end"]] for r in rows], dtype=np.float64)
    keyframes = None
    if rows and rows[0].get("keyframe") is not None:  # a datasets Image: {"bytes", "path"}
        keyframes = [r["keyframe"]["bytes"] for r in rows]
    return arrays, times, keyframes


def records(root: Path, manifest: dict) -> Iterator[TrailerRecord]:
    trailers = read_trailers(root)
    if manifest.get("trailers_only"):
        for tid, t in trailers.items():
            yield _record(tid, t, {EMBEDDING: np.asarray(t[EMBEDDING], np.float32)[None]}, None)
        return
    for tid, rows in clip_rows(root):
        t = trailers.get(tid)
        if t is None:
            yield TrailerRecord(f"clips/{tid}", tid, problem="has no row in the trailers config")
            continue
        if [r["clip"] for r in rows] != list(range(len(rows))):
            yield TrailerRecord(f"clips/{tid}", tid, problem="clip numbers are not 0..n-1 in order")
            continue
        arrays, times, keyframes = to_arrays(rows, manifest["experts"])
        yield _record(tid, t, arrays, times, keyframes)


def _record(tid: str, t: dict, arrays: dict, times, keyframes: list | None = None) -> TrailerRecord:
    return TrailerRecord(f"trailers/{tid}", tid, list(t["genres"] or []), arrays, t["title"] or "", t["year"], t["split"],
                         times, keyframes=keyframes)


def run(root: Path, store: FeatureStore, options: ImportOptions) -> ImportReport:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{root / MANIFEST} is not readable ({e}); is {root} an `mmx export` folder?") from None
    if manifest.get("format") != EXPORT_FORMAT:
        raise InputError(f"{root / MANIFEST} is not an mmx export manifest")
    dims = {n: e["dim"] for n, e in manifest["experts"].items()}
    info = {"format": "parquet", "path": str(root.resolve())}
    return write_records(records(root, manifest), store, ImportReport(), f"parquet:{root.resolve()}", dims, info)


register_format(ImportFormat("parquet", "a folder written by `mmx export` (Parquet shards + mmx_export.json)", detect, run))
