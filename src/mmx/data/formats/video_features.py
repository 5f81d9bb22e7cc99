"""Outputs of ``v-iashin/video_features`` (``on_extraction=save_numpy``), as its
``utils.make_path`` and ``sanity_check`` lay them out::

    <out>/<feature_type>[/<model_name>]/<stem>_<key>.npy

``i3d``: keys ``rgb`` and/or ``flow`` (T, 1024), one row per 64-frame stack, with ``fps`` and
``timestamps_ms`` (the time the stack ends); ``r21d``: key ``r21d`` (T, 512) per 16-frame stack, no
times; frame-wise extractors (``resnet``, ``clip``, ``timm``, ``s3d``): key = feature type, one row
per frame, ``timestamps_ms`` the frame's time; ``vggish``: key ``vggish`` (T, 128), one row per
0.96 s of audio, no times. The outputs carry no genres: ``--labels labels.csv`` gives them in the
import format's columns (trailer_id = the video's file stem, genres, title, year, split).

The clip grid (stated here, chosen by ``--clip-seconds``, default 2 s): clip c is
``[c·s, (c+1)·s)`` from 0 to the end of the latest row of any expert. A row's time is the middle of
the span it covers (frame-wise: from its timestamp for one frame; i3d: the stack before its
timestamp, as long as the spacing of the timestamps; vggish: ``[0.96 w, 0.96 (w+1))``; r21d and
any other untimed rows: spread evenly over the trailer's duration known from the timed experts).
A clip-level expert's vector for clip c is the mean of its rows whose time falls in c, or the
row nearest the clip's middle when none does. VGGish stays at window level (NetVLAD in the model):
each window is attached to the clip its time falls in. Experts are named ``<feature_type>``
(+ ``_<model>``; i3d: ``i3d_rgb``, ``i3d_flow``), lower-case with ``_`` for other characters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from mmx.data.formats.format import ImportFormat, ImportOptions, register_format
from mmx.data.formats.records import TrailerRecord, write_records
from mmx.data.importer import ImportReport
from mmx.data.labels_csv import read_labels
from mmx.data.store import CLIP_SUFFIX, FeatureStore
from mmx.errors import InputError, Problem

FEATURE_TYPES = ("i3d", "r21d", "s3d", "vggish", "resnet", "clip", "timm")  # raft/pwc write flow frames, not features
STREAMS = {"i3d": ("rgb", "flow")}  # feature types whose keys are not the feature type itself
STACK_END = {"i3d"}  # timestamps_ms marks the end of the row's stack, not its start
WINDOW_SECONDS = {"vggish": 0.96}  # untimed rows of a known fixed length
WINDOW_LEVEL = {"vggish"}  # kept as windows (NetVLAD in the model)


@dataclass
class Feature:
    expert: str  # the store's expert name
    feature_type: str
    folder: Path
    key: str  # file key: rgb, flow, or the feature type


def expert_name(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", "_".join(parts).lower()).strip("_")


def features(root: Path) -> list[Feature]:
    """Every (expert, folder, key) under ``root``."""
    out = []
    for ft in FEATURE_TYPES:
        base = root / ft
        if not base.is_dir():
            continue
        folders = [(base, ())] + [(p, (p.name,)) for p in sorted(base.iterdir()) if p.is_dir()]
        for folder, model in folders:
            for key in STREAMS.get(ft, (ft,)):
                if any(folder.glob(f"*_{key}.npy")):
                    name = expert_name(ft, *model, key) if ft in STREAMS else expert_name(ft, *model)
                    out.append(Feature(name, ft, folder, key))
    return out


def detect(path: Path) -> bool:
    return path.is_dir() and bool(features(path))


def stems(feature: Feature) -> list[str]:
    return sorted(p.name[: -len(f"_{feature.key}.npy")] for p in feature.folder.glob(f"*_{feature.key}.npy"))


def row_spans(feature: Feature, stem: str, n: int) -> np.ndarray | None:
    """(n, 2) start/end seconds of each row, or None when the rows carry no times."""
    if feature.feature_type in WINDOW_SECONDS:
        s = WINDOW_SECONDS[feature.feature_type]
        return np.stack([np.arange(n) * s, (np.arange(n) + 1) * s], axis=1)
    path = feature.folder / f"{stem}_timestamps_ms.npy"
    if not path.exists():
        return None
    t = np.load(path, allow_pickle=False).astype(np.float64).reshape(-1) / 1000.0
    if t.shape[0] != n:
        raise ValueError(f"{path.name} has {t.shape[0]} times for {n} rows")
    fps_path = feature.folder / f"{stem}_fps.npy"
    frame = 1.0 / float(np.load(fps_path, allow_pickle=False)) if fps_path.exists() else 0.0
    step = float(np.median(np.diff(t))) if n > 1 else (t[0] if feature.feature_type in STACK_END else frame)
    if feature.feature_type in STACK_END:
        return np.stack([t - step, t], axis=1)
    return np.stack([t, t + (frame or step)], axis=1)


def to_clips(rows: np.ndarray, mids: np.ndarray, n_clips: int, seconds: float) -> np.ndarray:
    """(n_clips, dim): per clip the mean of the rows timed inside it, else the row nearest its middle."""
    clip_of = np.minimum((mids // seconds).astype(np.int64), n_clips - 1)
    out = np.empty((n_clips, rows.shape[1]), dtype=np.float32)
    centres = (np.arange(n_clips) + 0.5) * seconds
    for c in range(n_clips):
        inside = clip_of == c
        out[c] = rows[inside].mean(axis=0) if inside.any() else rows[np.abs(mids - centres[c]).argmin()]
    return out


def trailer_record(stem: str, feats: list[Feature], seconds: float, where: str) -> TrailerRecord:
    """One video's outputs → a record on the clip grid."""
    rec = TrailerRecord(where, stem)
    loaded: dict[str, tuple[Feature, np.ndarray, np.ndarray | None]] = {}
    for f in feats:
        path = f.folder / f"{stem}_{f.key}.npy"
        if not path.exists():
            continue
        try:
            rows = np.load(path, allow_pickle=False)
            if rows.ndim != 2 or rows.shape[0] == 0:
                raise ValueError(f"has shape {rows.shape}; expected (rows, dim)")
            loaded[f.expert] = (f, rows, row_spans(f, stem, rows.shape[0]))
        except (OSError, ValueError) as e:
            rec.problem = f"{f.expert} ({path.name}): {e}"
            return rec
    timed = [spans[-1, 1] for _, _, spans in loaded.values() if spans is not None]
    if not timed:
        rec.problem = "none of its features carries times (timestamps_ms or VGGish windows); add a timed one"
        return rec
    duration = max(timed)
    n_clips = max(1, math.ceil(duration / seconds - 1e-9))
    for name, (f, rows, spans) in loaded.items():
        if spans is None:  # untimed rows: spread evenly over the trailer
            edges = np.linspace(0.0, duration, rows.shape[0] + 1)
            spans = np.stack([edges[:-1], edges[1:]], axis=1)
        mids = spans.mean(axis=1)
        if f.feature_type in WINDOW_LEVEL:
            rec.arrays[name] = rows
            rec.arrays[name + CLIP_SUFFIX] = np.minimum((mids // seconds).astype(np.int32), n_clips - 1)
        else:
            rec.arrays[name] = to_clips(rows.astype(np.float32), mids, n_clips, seconds)
    starts = np.arange(n_clips, dtype=np.float64) * seconds
    rec.clip_times = np.stack([starts, starts + seconds], axis=1)
    return rec


def run(root: Path, store: FeatureStore, options: ImportOptions) -> ImportReport:
    report = ImportReport()
    if options.labels is None:
        raise InputError(f"{root}: video_features outputs hold no genres; give them with --labels labels.csv "
                         "(columns trailer_id = the video's file stem, genres[, title, year, split])")
    if options.clip_seconds <= 0:
        raise InputError(f"--clip-seconds must be positive, not {options.clip_seconds}")
    feats = [f for f in features(root) if not options.experts or f.expert in options.experts]
    if not feats:
        raise InputError(f"{root} holds no video_features outputs (<feature_type>/[<model>/]<stem>_<key>.npy)")
    rows = {r.trailer_id: r for r in read_labels(Path(options.labels), report.problems)}
    found = sorted({s for f in feats for s in stems(f)})
    for stem in sorted(set(found) - set(rows)):
        report.problems.append(Problem(f"{stem}_*.npy", f"has no row in {Path(options.labels).name}; not imported"))
    for tid in sorted(set(rows) - set(found)):
        report.problems.append(Problem(f"{Path(options.labels).name} row {rows[tid].row}", f"no features for {tid} in {root}"))

    def stream() -> Iterator[TrailerRecord]:
        for stem in found:
            if stem in rows:
                r = rows[stem]
                rec = trailer_record(stem, feats, options.clip_seconds, f"{stem}_*.npy")
                rec.genres, rec.title, rec.year, rec.split = r.genres, r.title, r.year, r.split
                yield rec

    info = {"format": "video-features", "path": str(root.resolve()), "clip_seconds": options.clip_seconds}
    return write_records(stream(), store, report, f"video-features:{root.resolve()}", None, info)


register_format(ImportFormat(
    "video-features", "v-iashin/video_features outputs: <feature_type>[/<model>]/<stem>_<key>.npy + --labels",
    detect, run,
))
