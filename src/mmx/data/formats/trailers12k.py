"""Trailers12k (Montalvo-Lezama et al. 2022, Zenodo 10.5281/zenodo.5716409), read as its own
reader (``richardtml/DIViTA``, ``data.py``) reads it::

    <root>/trailers12k_mgtc.csv      mid, ten 0/1 genre columns (action … thriller), split0, split1, split2
    <root>/<backbone>.zarr/          a zarr group (v2 directory store as released) per backbone: attribute
                                     ``num_features``; one (T, num_features) float32 array per mid

Rules. Experts are named after their backbones: the folder name without ``.zarr``, a leading
``trailers_`` and the trailing ``_fpsNN`` / ``_fpcNN`` sampling tags (``k_r2plus1d_fps24_fpc24.zarr``
→ ``k_r2plus1d``). Row k of every group is the same clip, so the clips are the rows; a trailer
whose groups disagree on T is reported. Genres are the csv's ten columns (title-cased, the
paper's spellings: ``sci-fi`` → ``Sci-Fi``); ``--fold K`` takes train/val/test from ``splitK``
(0 train, 1 val, 2 test, as DIViTA's ``subset_idx``). Clip times are ``[k, k+1) × fpc / fps``
seconds when a group's name gives both tags (24 frames at 24 fps: one second a clip).
Bad entries are reported and skipped: a csv row whose array is missing from a group, an array
no csv row names, a shape that does not match ``num_features``, NaN/inf, unreadable chunks.
One trailer's arrays are read at a time (the release is ~40 GB).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from mmx.data.formats.format import ImportFormat, ImportOptions, register_format
from mmx.data.formats.records import TrailerRecord, write_records
from mmx.data.importer import ImportReport
from mmx.data.store import FeatureStore
from mmx.errors import InputError, Problem
from mmx.genres import normalize_genre

SPLIT_CODES = {"0": "train", "1": "val", "2": "test"}  # DIViTA: {'trn': 0, 'val': 1, 'tst': 2}
FOLDS = (0, 1, 2)
SAMPLING_TAG = re.compile(r"(_fps\d+|_fpc\d+)+$")
READ_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError)  # a damaged array or chunk


def expert_name(folder: str) -> str:
    """``trailers_ik_swin_fps24_fpc24.zarr`` → ``ik_swin``."""
    stem = folder.removesuffix(".zarr").removeprefix("trailers_")
    return re.sub(r"[^a-z0-9_]+", "_", SAMPLING_TAG.sub("", stem).lower()).strip("_")


def clip_seconds(folders: list[str]) -> float | None:
    """Seconds per clip from the ``fpsNN`` and ``fpcNN`` tags of the group names (None if none says)."""
    found = set()
    for name in folders:
        fps, fpc = re.search(r"_fps(\d+)", name), re.search(r"_fpc(\d+)", name)
        if fps and fpc:
            found.add(int(fpc.group(1)) / int(fps.group(1)))
    return found.pop() if len(found) == 1 else None


def find_csv(root: Path) -> Path | None:
    """The MGTC csv: the one whose header has ``mid`` and ``split0``."""
    for path in sorted(root.glob("*.csv")):
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                header = next(csv.reader(f), [])
        except OSError:
            continue
        if "mid" in header and "split0" in header:
            return path
    return None


def zarr_groups(root: Path) -> dict[str, Path]:
    """Expert name → zarr group folder (v2 ``.zgroup`` or v3 ``zarr.json``)."""
    out = {}
    for path in sorted(root.glob("*.zarr")):
        if path.is_dir() and ((path / ".zgroup").exists() or (path / "zarr.json").exists()):
            out[expert_name(path.name)] = path
    return out


def detect(path: Path) -> bool:
    return path.is_dir() and find_csv(path) is not None and bool(zarr_groups(path))


def read_mgtc(path: Path, fold: int, problems: list[Problem]) -> tuple[list[tuple[str, str, list[str], list[str]]], set[str]]:
    """(where, mid, genres, split of every fold) per usable row of the MGTC csv, and every mid it names."""
    if fold not in FOLDS:
        raise InputError(f"--fold {fold}: Trailers12k has folds 0, 1 and 2 (columns split0..split2 of {path.name})")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        first_split = min(i for i, h in enumerate(header) if h.startswith("split"))
        genre_cols = [(i, normalize_genre(h.title())) for i, h in enumerate(header[:first_split]) if h != "mid"]
        mid_col = header.index("mid")
        split_cols = [header.index(f"split{k}") for k in FOLDS if f"split{k}" in header]
        if fold >= len(split_cols):
            raise InputError(f"{path.name} has no column split{fold}")
        rows, seen, named = [], set(), set()
        for n, rec in enumerate(reader, start=2):
            where = f"{path.name} row {n}"
            if len(rec) != len(header):
                problems.append(Problem(where, f"has {len(rec)} fields, the header {len(header)}"))
                continue
            mid, flags = rec[mid_col].strip(), [rec[i].strip() for i, _ in genre_cols]
            named.add(mid)
            if not mid or mid in seen:
                problems.append(Problem(where, f"mid {mid!r} is empty or repeated; row skipped"))
            elif any(v not in ("0", "1") for v in flags):
                problems.append(Problem(where, f"genre columns of {mid} must be 0 or 1, not {flags}"))
            elif any(rec[i].strip() not in SPLIT_CODES for i in split_cols):
                problems.append(Problem(where, f"split columns of {mid} are {[rec[i] for i in split_cols]}; "
                                        "expected 0, 1 or 2"))
            else:
                seen.add(mid)
                genres = [g for (_, g), v in zip(genre_cols, flags) if v == "1"]
                rows.append((where, mid, genres, [SPLIT_CODES[rec[i].strip()] for i in split_cols]))
    return rows, named


def records(root: Path, options: ImportOptions, report: ImportReport) -> tuple[dict[str, int], Iterator[TrailerRecord]]:
    """The experts' declared dims and a stream of one record per csv row."""
    import zarr  # extra mmx[data]

    table = find_csv(root)
    paths = zarr_groups(root)
    if table is None or not paths:
        raise InputError(f"{root} is not a Trailers12k folder (an MGTC csv with mid, split0 and *.zarr groups)")
    if options.experts:
        unknown = sorted(set(options.experts) - set(paths))
        if unknown:
            raise InputError(f"{root} has no backbone(s) {', '.join(unknown)}; it has {', '.join(paths)}")
        paths = {n: p for n, p in paths.items() if n in options.experts}
    groups = {n: zarr.open_group(str(p), mode="r") for n, p in paths.items()}
    dims = {n: int(g.attrs["num_features"]) for n, g in groups.items()}
    keys = {n: set(g.array_keys()) for n, g in groups.items()}
    rows, named = read_mgtc(table, options.fold, report.problems)
    for name, found in keys.items():
        for mid in sorted(found - named):
            report.problems.append(Problem(f"{paths[name].name}/{mid}", f"has no row in {table.name}; not imported"))
    seconds = clip_seconds([p.name for p in paths.values()])

    def stream() -> Iterator[TrailerRecord]:
        for where, mid, genres, folds in rows:
            rec = TrailerRecord(where, mid, genres, split=folds[options.fold], extra={"folds": folds})
            missing = [paths[n].name for n in groups if mid not in keys[n]]
            if missing:
                rec.problem = f"{mid} has no array in {', '.join(missing)}"
                yield rec
                continue
            for name, group in groups.items():
                try:
                    rec.arrays[name] = np.asarray(group[mid][...])
                except READ_ERRORS as e:
                    rec.problem = f"{paths[name].name}/{mid} cannot be read ({type(e).__name__}: {e})"
                    break
            n = next(iter(rec.arrays.values())).shape[0] if rec.arrays and not rec.problem else 0
            if seconds is not None and n and all(a.ndim == 2 and a.shape[0] == n for a in rec.arrays.values()):
                starts = np.arange(n, dtype=np.float64) * seconds
                rec.clip_times = np.stack([starts, starts + seconds], axis=1)  # (T, 2)
            yield rec

    return dims, stream()


def run(root: Path, store: FeatureStore, options: ImportOptions) -> ImportReport:
    report = ImportReport()
    dims, stream = records(root, options, report)
    info = {"format": "trailers12k", "path": str(root.resolve()), "fold": options.fold}
    return write_records(stream, store, report, f"trailers12k:{root.resolve()}", dims, info)


register_format(ImportFormat(
    "trailers12k", "Trailers12k: <backbone>.zarr groups + trailers12k_mgtc.csv (--fold 0|1|2)", detect, run,
))
