"""MovieNet trailer features of Sulun et al. (ESWA 2024, ``serkansulun/movie-genre-classification``;
``features.pkl`` and ``splits.json`` on Zenodo 13909366), laid out as their
``preprocessing/src/extract_features.py`` writes it::

    features.pkl   {"samples": {youtube_id: {"features": {name: (n, dim) array | [] | None},
                                              "label": (21,) multi-hot}},
                    "stats": {name: {"mean", "std", "min", "max"}}, "idx_to_label": {index: genre}}
    splits.json    {"trn": [youtube_id, …], "val": […], "tst": […]}

Rules. The trailer id is the YouTube id. The CLIP rows (one per detected scene) are the clips.
BEATs windows and face rows carry no times, so they are window-level experts attached to clips in
proportion: window w of W belongs to clip ``floor(w · n_clips / W)`` (both run through the
trailer in time order). The sentence-level experts (``asr_sentiment``, ``ocr_sentiment``: one
768-d vector per trailer) are stored as clip-level experts whose every row is that vector (the
store has no trailer level; every clip sees the trailer's speech and on-screen text). A missing
modality (an empty list or None) leaves that expert out of the trailer; a trailer without CLIP
rows has no clips and is reported. Genres come from ``label`` through ``idx_to_label``; splits
``trn/val/tst`` → train/val/test (a trailer splits.json does not name gets mmx's hash split).

The pickle is read with ``mmx.data.formats.safe_pickle`` (numpy arrays and containers only). A
pickle cannot be read in parts, so the whole file is in memory while it is imported (the release's
own reader does the same); each sample is dropped once written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from mmx.data.formats.format import ImportFormat, ImportOptions, register_format
from mmx.data.formats.records import TrailerRecord, write_records
from mmx.data.formats.safe_pickle import load
from mmx.data.importer import ImportReport
from mmx.data.store import CLIP_SUFFIX, FeatureStore
from mmx.errors import InputError, Problem

CLIP_ROWS = "clip"  # the feature whose rows are the clips
LEVELS = {"clip": "clip", "beats": "window", "face_emotion": "window",
          "asr_sentiment": "trailer", "ocr_sentiment": "trailer"}
SPLITS = {"trn": "train", "val": "val", "tst": "test"}


def pickle_path(path: Path) -> Path:
    return path / "features.pkl" if path.is_dir() else path


def detect(path: Path) -> bool:
    return (path.is_file() and path.suffix == ".pkl") or (path.is_dir() and (path / "features.pkl").is_file())


def read_splits(path: Path) -> dict[str, str]:
    """YouTube id → train/val/test from splits.json."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{path} is not a readable splits.json ({e})") from None
    if not isinstance(data, dict) or not set(data) <= set(SPLITS):
        raise InputError(f"{path} must hold lists 'trn', 'val' and 'tst' of YouTube ids")
    return {tid: SPLITS[k] for k, ids in data.items() for tid in ids}


def as_rows(value) -> np.ndarray | None:
    """A feature as (n, dim), or None when the modality is missing (empty list, None, empty array)."""
    if value is None or (isinstance(value, list) and not value):
        return None
    arr = np.asarray(value)
    if arr.size == 0:
        return None
    return arr[np.newaxis, :] if arr.ndim == 1 else arr  # their reader adds the axis the same way


def to_record(tid: str, sample, genres_of: dict[int, str], split: str | None, where: str) -> TrailerRecord:
    """One sample → a record (its problem set when the sample cannot be used)."""
    rec = TrailerRecord(where, tid, split=split)
    if not isinstance(sample, dict) or not isinstance(sample.get("features"), dict) or "label" not in sample:
        rec.problem = "is not a dict with 'features' and 'label'"
        return rec
    label = np.asarray(sample["label"]).reshape(-1)
    if label.shape[0] != len(genres_of):
        rec.problem = f"label has {label.shape[0]} entries; idx_to_label names {len(genres_of)} genres"
        return rec
    rec.genres = [genres_of[i] for i in np.flatnonzero(label > 0.5).tolist()]
    feats = {k: as_rows(v) for k, v in sample["features"].items() if k in LEVELS}
    clips = feats.get(CLIP_ROWS)
    if clips is None:
        rec.problem = "has no CLIP scene rows (the clips); not imported"
        return rec
    n_clips = clips.shape[0]
    for name, rows in feats.items():
        if rows is None:
            continue
        if LEVELS[name] == "window":
            rec.arrays[name + CLIP_SUFFIX] = (np.arange(rows.shape[0]) * n_clips // rows.shape[0]).astype(np.int32)
        elif LEVELS[name] == "trailer":
            rows = np.repeat(rows.mean(axis=0, keepdims=True), n_clips, axis=0)  # (n_clips, dim)
        rec.arrays[name] = rows
    return rec


def run(path: Path, store: FeatureStore, options: ImportOptions) -> ImportReport:
    report = ImportReport()
    pkl = pickle_path(path)
    data = load(pkl)
    if not isinstance(data, dict) or not isinstance(data.get("samples"), dict) or "idx_to_label" not in data:
        raise InputError(f"{pkl} is not a MovieNet features.pkl (a dict with 'samples' and 'idx_to_label')")
    genres_of = {int(i): str(g) for i, g in data["idx_to_label"].items()}
    splits_path = options.splits or pkl.parent / "splits.json"
    splits = read_splits(splits_path) if splits_path.exists() else {}
    samples: dict = data.pop("samples")
    del data
    unknown = sorted(set(splits) - set(samples))
    if unknown:
        report.problems.append(Problem(splits_path.name, f"names {len(unknown)} id(s) with no sample in {pkl.name} "
                                       f"(e.g. {', '.join(unknown[:3])}); nothing to import for them"))
    others = sorted({k for s in samples.values() if isinstance(s, dict) and isinstance(s.get("features"), dict)
                     for k in s["features"]} - set(LEVELS))
    if others:
        report.problems.append(Problem(pkl.name, f"feature(s) {', '.join(others)} have no rule here; left out"))

    def stream() -> Iterator[TrailerRecord]:
        for tid in sorted(samples):
            sample = samples.pop(tid)  # dropped once written: memory falls as the import goes
            yield to_record(str(tid), sample, genres_of, splits.get(tid), f"{pkl.name} sample {tid}")

    info = {"format": "movienet", "path": str(pkl.resolve())}
    return write_records(stream(), store, report, f"movienet:{pkl.resolve()}", None, info)


register_format(ImportFormat(
    "movienet", "MovieNet features of Sulun et al.: features.pkl (+ splits.json beside it)", detect, run,
))
