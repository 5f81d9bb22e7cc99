"""The feature store: one atomically written entry per trailer, read memory-mapped.

Layout of a store folder::

    manifest.json                 experts (dim, level, source), format version
    entries/<key>/meta.json       trailer id, title, year, genres, split, n_clips, experts present
    entries/<key>/<expert>.npy    (n_clips, dim) float32, or (n_windows, dim) for window-level experts
    entries/<key>/<expert>__clip.npy  (n_windows,) int32: the clip each window belongs to
    entries/<key>/clip_times.npy  (n_clips, 2) float64 start/end seconds, when known

An entry is written into a hidden temporary folder and renamed into place, so a reader (or a run
killed at any moment) sees a whole entry or none. Arrays are opened with ``mmap_mode="r"``:
training touches only the clips of the current batch, never the whole collection.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from mmx.errors import StoreError, UnknownTrailerError
from mmx.utils import atomic_write_text

FORMAT = "mmx-store"
VERSION = 1
CLIP_SUFFIX = "__clip"  # window-level experts: "<expert>__clip" maps windows to clips
RESERVED = {"clip_times", "n_clips"}
EXPERT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
STALE_TMP_SECONDS = 3600  # a temporary entry folder older than this was left by a killed writer



@dataclass
class ExpertInfo:
    dim: int  # feature size per clip (or per window)
    level: str = "clip"  # "clip": (n_clips, dim); "window": (n_windows, dim) + "<expert>__clip"
    source: str = ""  # where the features came from (import folder, extractor and its weights)


@dataclass
class EntryMeta:
    trailer_id: str
    genres: list[str]
    n_clips: int
    experts: list[str]  # experts present in this entry (a trailer may lack audio)
    title: str = ""
    year: int | None = None
    split: str | None = None  # "train" / "val" / "test" when the labels gave one
    source: dict = field(default_factory=dict)  # e.g. {"npz": path, "sha256": ..., "labels": ...}
    has_clip_times: bool = False
    key: str = ""  # folder name inside entries/


def entry_key(trailer_id: str) -> str:
    """A filesystem-safe, collision-free folder name for any trailer id (ids like '#RealityHigh')."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", trailer_id)[:60].lstrip(".") or "_"
    digest = hashlib.sha1(trailer_id.encode("utf-8")).hexdigest()[:10]
    return f"{safe}-{digest}"


def validate_trailer_id(trailer_id: str) -> str | None:
    """Why ``trailer_id`` cannot be used, or None when it can."""
    if not trailer_id or not trailer_id.strip():
        return "empty trailer_id"
    if trailer_id != trailer_id.strip():
        return "trailer_id has leading or trailing spaces"
    if any(ord(c) < 32 for c in trailer_id):
        return "trailer_id has control characters"
    return None


class FeatureStore:
    """A folder of per-trailer expert features. ``FeatureStore.create`` or ``FeatureStore(path)``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / "manifest.json"
        if not manifest.exists():
            raise StoreError(
                f"{self.root} is not an mmx store (no manifest.json); "
                "create one with `mmx import DIR --store STORE` or `mmx extract`"
            )
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"{manifest} is unreadable ({e}); restore it or re-import") from None
        if data.get("format") != FORMAT:
            raise StoreError(f"{manifest} is not an mmx store manifest")
        self.experts: dict[str, ExpertInfo] = {
            name: ExpertInfo(**info) for name, info in data.get("experts", {}).items()
        }
        self._entries: dict[str, EntryMeta] | None = None
        self._recover()

    # ------------------------------------------------------------------ creation and locking
    @classmethod
    def create(cls, root: str | Path) -> "FeatureStore":
        """Open the store at ``root``, creating an empty one when the folder has none."""
        root = Path(root)
        if not (root / "manifest.json").exists():
            if root.exists() and not root.is_dir():
                raise StoreError(f"{root} exists and is not a folder")
            (root / "entries").mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                root / "manifest.json",
                json.dumps({"format": FORMAT, "version": VERSION, "experts": {}}, indent=2),
            )
        return cls(root)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for writers (several importers/extractors may share one store)."""
        with open(self.root / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _write_manifest(self) -> None:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "experts": {n: asdict(e) for n, e in sorted(self.experts.items())},
        }
        atomic_write_text(self.root / "manifest.json", json.dumps(data, indent=2) + "\n")

    def _reload_manifest(self) -> None:
        data = json.loads((self.root / "manifest.json").read_text())
        self.experts = {n: ExpertInfo(**i) for n, i in data.get("experts", {}).items()}

    def register_experts(self, infos: dict[str, ExpertInfo]) -> None:
        """Add experts to the manifest; an existing expert must keep its dim and level."""
        with self.lock():
            self._reload_manifest()
            for name, info in infos.items():
                old = self.experts.get(name)
                if old is not None and (old.dim, old.level) != (info.dim, info.level):
                    raise StoreError(
                        f"expert {name!r} is {old.dim}-d {old.level}-level in {self.root}, "
                        f"not {info.dim}-d {info.level}-level; use another store or expert name"
                    )
                if old is None:
                    self.experts[name] = info
                elif info.source and info.source not in old.source.split(" | "):
                    old.source = f"{old.source} | {info.source}" if old.source else info.source
            self._write_manifest()

    # ------------------------------------------------------------------ entries
    @property
    def entries_dir(self) -> Path:
        return self.root / "entries"

    def _recover(self) -> None:
        """Finish or undo an entry swap that a killed writer left half done; drop stale temp folders.

        A temporary folder younger than an hour may belong to a writer that is still running.
        """
        if not self.entries_dir.exists():
            return
        for tmp in self.entries_dir.glob(".tmp-*"):
            try:
                if time.time() - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                    shutil.rmtree(tmp, ignore_errors=True)
            except FileNotFoundError:  # its writer finished meanwhile
                pass
        for trash in self.entries_dir.glob(".old-*"):
            key = trash.name[len(".old-"):].rsplit(".", 1)[0]
            target = self.entries_dir / key
            if target.exists():
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(trash, target)

    def entries(self) -> dict[str, EntryMeta]:
        """All complete entries by trailer id (cached; ``refresh()`` rereads)."""
        if self._entries is None:
            out: dict[str, EntryMeta] = {}
            for meta_path in sorted(self.entries_dir.glob("*/meta.json")):
                if meta_path.parent.name.startswith("."):
                    continue
                meta = EntryMeta(**json.loads(meta_path.read_text()))
                meta.key = meta_path.parent.name
                out[meta.trailer_id] = meta
            self._entries = out
        return self._entries

    def refresh(self) -> None:
        self._entries = None
        self._reload_manifest()

    def __len__(self) -> int:
        return len(self.entries())

    def __contains__(self, trailer_id: object) -> bool:
        return trailer_id in self.entries()

    def meta(self, trailer_id: str) -> EntryMeta:
        try:
            return self.entries()[trailer_id]
        except KeyError:
            raise UnknownTrailerError(f"trailer {trailer_id!r} is not in store {self.root}") from None

    def genres(self) -> list[str]:
        """The collection's genre vocabulary (sorted), from its entries."""
        return sorted({g for m in self.entries().values() for g in m.genres})

    def write_entry(
        self,
        meta: EntryMeta,
        arrays: dict[str, np.ndarray],
        clip_times: np.ndarray | None = None,
    ) -> None:
        """Write one trailer atomically. ``arrays`` holds expert arrays and ``<expert>__clip``."""
        for name in arrays:
            base = name[: -len(CLIP_SUFFIX)] if name.endswith(CLIP_SUFFIX) else name
            if base not in self.experts:
                raise StoreError(f"expert {base!r} is not registered in {self.root}")
        meta.key = entry_key(meta.trailer_id)
        meta.has_clip_times = clip_times is not None
        meta.experts = sorted(n for n in arrays if not n.endswith(CLIP_SUFFIX))
        tmp = self.entries_dir / f".tmp-{meta.key}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            for name, arr in arrays.items():
                dtype = np.int32 if name.endswith(CLIP_SUFFIX) else np.float32
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr, dtype=dtype))
            if clip_times is not None:
                np.save(tmp / "clip_times.npy", np.asarray(clip_times, dtype=np.float64))
            record = asdict(meta)
            record.pop("key")
            (tmp / "meta.json").write_text(json.dumps(record, indent=1) + "\n")
            for p in tmp.iterdir():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
            target = self.entries_dir / meta.key
            if target.exists():
                old = self.entries_dir / f".old-{meta.key}.{uuid.uuid4().hex[:8]}"
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if self._entries is not None:
            self._entries[meta.trailer_id] = meta

    def remove_entry(self, trailer_id: str) -> None:
        meta = self.meta(trailer_id)
        shutil.rmtree(self.entries_dir / meta.key)
        self.entries().pop(trailer_id, None)

    # ------------------------------------------------------------------ reading
    def load(self, trailer_id: str, expert: str, mmap: bool = True) -> np.ndarray | None:
        """Features of one expert for one trailer, memory-mapped; None when the trailer lacks it."""
        meta = self.meta(trailer_id)
        if expert not in meta.experts:
            return None
        return np.load(self.entries_dir / meta.key / f"{expert}.npy", mmap_mode="r" if mmap else None)

    def load_window_clips(self, trailer_id: str, expert: str) -> np.ndarray:
        """For a window-level expert: (n_windows,) clip index of every window."""
        meta = self.meta(trailer_id)
        return np.load(self.entries_dir / meta.key / f"{expert}{CLIP_SUFFIX}.npy")

    def load_clip_times(self, trailer_id: str) -> np.ndarray | None:
        meta = self.meta(trailer_id)
        if not meta.has_clip_times:
            return None
        return np.load(self.entries_dir / meta.key / "clip_times.npy")

    def nbytes(self) -> int:
        return sum(p.stat().st_size for p in self.entries_dir.glob("*/*.npy"))
