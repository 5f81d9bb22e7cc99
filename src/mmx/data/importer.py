"""The import format: ``labels.csv`` plus one ``<trailer_id>.npz`` of per-clip expert features.

``labels.csv`` columns: ``trailer_id``, ``genres`` (``|``-separated), optional ``title``, ``year``,
``split`` (train/val/test). Each npz holds one float array per expert shaped ``(n_clips, dim)``,
clips in time order; a window-level expert (audio for NetVLAD) gives ``(n_windows, dim)`` plus an
int array ``<expert>__clip`` saying which clip each window belongs to; optional ``clip_times``
``(n_clips, 2)`` in seconds. An expert may be absent from a trailer. Optional keyframes: a folder
``<trailer_id>.keyframes/`` with one image per clip (JPEG, PNG or WebP), in clip order by file
name (``0000.jpg``, ``0001.jpg``, …); a folder that does not fit is reported and the trailer is
imported without keyframes.

Every problem is reported with its file or row and the reason; the rest is imported. Importing
the same folder twice changes nothing (entries whose npz and label row are unchanged are skipped).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmx.data.labels_csv import read_labels
from mmx.data.store import (
    CLIP_SUFFIX,
    EXPERT_NAME,
    RESERVED,
    EntryMeta,
    ExpertInfo,
    FeatureStore,
)
from mmx.durable import sha256_file
from mmx.errors import InputError, Problem


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    placeholders: dict[str, list[str]] = field(default_factory=dict)  # trailer → placeholder genres left out (kept)

    @property
    def ok(self) -> bool:
        return not self.problems


KEYFRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # image files read from <trailer_id>.keyframes/


def read_keyframes(folder: Path, n_clips: int) -> tuple[list[bytes] | None, str | None]:
    """The images of a ``<trailer_id>.keyframes`` folder in clip order, or None and why they cannot be used."""
    from PIL import Image, UnidentifiedImageError  # Pillow: only when a collection has keyframes

    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in KEYFRAME_SUFFIXES)
    except OSError as e:
        return None, f"cannot list {folder.name} ({e.strerror})"
    if len(files) != n_clips:
        return None, f"{folder.name} holds {len(files)} image(s) for {n_clips} clips; give one per clip"
    images = []
    for path in files:
        try:
            data = path.read_bytes()
            with Image.open(path) as img:
                img.verify()
        except (OSError, UnidentifiedImageError, SyntaxError) as e:
            return None, f"{folder.name}/{path.name} is not a readable image ({e})"
        images.append(data)
    return images, None


def keyframes_digest(images: list[bytes]) -> str:
    h = hashlib.sha256()
    for data in images:
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _npz_shapes(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Array shapes and dtypes of an npz without reading the data."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.endswith(".npy"):
                continue
            with zf.open(name) as f:
                version = np.lib.format.read_magic(f)
                read_header = HEADER_READERS.get(version)
                if read_header is None:
                    raise ValueError(f"{name} uses .npy format {version}, which is not supported")
                shape, _, dtype = read_header(f)
            out[name[:-4]] = (shape, dtype)
    return out


def check_trailer(path: Path, arrays: dict[str, np.ndarray]) -> tuple[dict[str, ExpertInfo], int, str | None]:
    """Expert infos and n_clips of one npz, or the reason it cannot be used."""
    experts = [k for k in arrays if k not in RESERVED and not k.endswith(CLIP_SUFFIX)]
    if not experts:
        return {}, 0, "holds no expert arrays"
    for name in experts:
        if not EXPERT_NAME.match(name) or "__" in name:
            return {}, 0, f"expert name {name!r} must be lower-case letters, digits and single underscores"
    for k in arrays:
        if k.endswith(CLIP_SUFFIX) and k[: -len(CLIP_SUFFIX)] not in experts:
            return {}, 0, f"{k!r} has no expert array {k[: -len(CLIP_SUFFIX)]!r}"
    infos: dict[str, ExpertInfo] = {}
    clip_counts: dict[str, int] = {}
    for name in experts:
        arr = arrays[name]
        if arr.ndim != 2 or arr.shape[1] == 0:
            return {}, 0, f"expert {name!r} has shape {arr.shape}; expected (n_clips, dim)"
        if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
            return {}, 0, f"expert {name!r} has dtype {arr.dtype}; expected floats"
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).any(axis=1).sum())
            return {}, 0, f"expert {name!r} has NaN or inf values in {bad} row(s)"
        level = "window" if name + CLIP_SUFFIX in arrays else "clip"
        infos[name] = ExpertInfo(dim=int(arr.shape[1]), level=level)
        if level == "clip":
            clip_counts[name] = int(arr.shape[0])
    if len(set(clip_counts.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(clip_counts.items()))
        return {}, 0, f"experts have different clip counts ({detail})"
    if clip_counts:
        n_clips = next(iter(clip_counts.values()))
    elif "n_clips" in arrays:
        n_clips = int(np.asarray(arrays["n_clips"]).reshape(()))
    elif "clip_times" in arrays:
        n_clips = int(arrays["clip_times"].shape[0])
    else:
        n_clips = max(int(arrays[n + CLIP_SUFFIX].max()) + 1 for n in experts)
    for name, info in infos.items():
        if info.level != "window":
            continue
        idx = arrays[name + CLIP_SUFFIX]
        if idx.ndim != 1 or idx.shape[0] != arrays[name].shape[0]:
            return {}, 0, f"{name}{CLIP_SUFFIX} must have one entry per window ({arrays[name].shape[0]})"
        if not np.issubdtype(idx.dtype, np.integer):
            return {}, 0, f"{name}{CLIP_SUFFIX} must be integers"
        if idx.size and (idx.min() < 0 or idx.max() >= n_clips):
            return {}, 0, f"{name}{CLIP_SUFFIX} points outside clips 0..{n_clips - 1}"
        if idx.size and (np.diff(idx) < 0).any():
            return {}, 0, f"{name}{CLIP_SUFFIX} must be in time order (non-decreasing)"
    if "clip_times" in arrays and arrays["clip_times"].shape != (n_clips, 2):
        return {}, 0, f"clip_times has shape {arrays['clip_times'].shape}; expected ({n_clips}, 2)"
    if n_clips < 1:
        return {}, 0, "has no clips"
    return infos, n_clips, None


def _expert_dims(folder: Path, rows: list, npz_files: dict[str, Path], store: FeatureStore,
                 report: ImportReport) -> tuple[dict[str, dict], dict[str, int]]:
    """Pass 1, array shapes only: every listed npz's shapes, and each expert's dim decided by the
    majority of the collection (an existing store's dims win)."""
    shapes: dict[str, dict] = {}
    for r in rows:
        path = npz_files.get(r.trailer_id)
        if path is None:
            report.problems.append(Problem(f"labels.csv row {r.row}", f"no {r.trailer_id}.npz in {folder}"))
            continue
        try:
            shapes[r.trailer_id] = _npz_shapes(path)
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            report.problems.append(Problem(path.name, f"is not a readable npz ({e})"))
    dims: dict[str, Counter] = {}
    for sh in shapes.values():
        for name, (shape, _) in sh.items():
            if name not in RESERVED and not name.endswith(CLIP_SUFFIX) and len(shape) == 2:
                dims.setdefault(name, Counter())[shape[1]] += 1
    majority = {name: c.most_common(1)[0][0] for name, c in dims.items()}
    for name, info in store.experts.items():  # an existing store fixes the dims
        majority[name] = info.dim
    return shapes, majority


def import_folder(folder: str | Path, store: FeatureStore, source: str | None = None) -> ImportReport:
    """Import ``folder`` (labels.csv + npz files) into ``store``; see the module docstring."""
    folder = Path(folder)
    report = ImportReport()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a readable folder")
    try:
        npz_files = {p.stem: p for p in folder.iterdir() if p.suffix == ".npz"}
    except OSError as e:
        raise InputError(f"cannot list {folder}: {e.strerror}") from None
    labels_path = folder / "labels.csv"
    if not labels_path.exists():
        raise InputError(f"{folder} has no labels.csv (columns trailer_id, genres[, title, year, split])")
    rows = read_labels(labels_path, report.problems)
    report.placeholders = {r.trailer_id: r.placeholders for r in rows if r.placeholders}
    listed = {r.trailer_id for r in rows}
    for stem in sorted(set(npz_files) - listed):
        report.problems.append(Problem(npz_files[stem].name, "has no row in labels.csv; not imported"))

    shapes, majority = _expert_dims(folder, rows, npz_files, store, report)
    source = source or f"import:{folder.resolve()}"
    existing = store.entries()
    for r in rows:
        if r.trailer_id not in shapes:
            continue
        path = npz_files[r.trailer_id]
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            report.problems.append(Problem(path.name, f"cannot be read ({e})"))
            continue
        infos, n_clips, why = check_trailer(path, arrays)
        if why is None:
            for name, info in infos.items():
                known = store.experts.get(name)
                if info.dim != majority[name]:
                    why = f"expert {name!r} is {info.dim}-d; the rest of the collection has {majority[name]}-d"
                elif known is not None and known.level != info.level:
                    why = f"expert {name!r} is {info.level}-level here but {known.level}-level in the store"
                if why:
                    break
        if why:
            report.problems.append(Problem(path.name, why))
            continue
        digest = sha256_file(path)
        meta = EntryMeta(
            trailer_id=r.trailer_id, genres=r.genres, n_clips=n_clips, experts=[],
            title=r.title, year=r.year, split=r.split, placeholders=r.placeholders,
            source={"npz": str(path.resolve()), "sha256": digest},
        )
        keyframes, why = None, None
        if (folder / f"{r.trailer_id}.keyframes").is_dir():
            keyframes, why = read_keyframes(folder / f"{r.trailer_id}.keyframes", n_clips)
        if why:
            report.problems.append(Problem(path.name, f"keyframes not imported: {why}"))
        if keyframes is not None:
            meta.source["keyframes_sha256"] = keyframes_digest(keyframes)
        old = existing.get(r.trailer_id)
        if old is not None and same_entry(old, meta) and not store.verify_entry(r.trailer_id):
            report.unchanged.append(r.trailer_id)
            continue
        store.register_experts({n: ExpertInfo(i.dim, i.level, source) for n, i in infos.items()})
        arrays_out = {k: v for k, v in arrays.items() if k not in RESERVED}
        store.write_entry(meta, arrays_out, clip_times=arrays.get("clip_times"), keyframes=keyframes)
        (report.updated if old is not None else report.imported).append(r.trailer_id)
    return report


def same_entry(old: EntryMeta, new: EntryMeta) -> bool:
    return (
        old.source.get("sha256") == new.source["sha256"]
        and old.source.get("keyframes_sha256") == new.source.get("keyframes_sha256")
        and (old.genres, old.title, old.year, old.split, old.placeholders)
        == (new.genres, new.title, new.year, new.split, new.placeholders)
    )
