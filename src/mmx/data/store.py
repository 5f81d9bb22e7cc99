"""The feature store: one atomically written entry per trailer, read memory-mapped.

Layout of a store folder::

    manifest.json                 experts (dim, level, source), format version
    entries/<key>/meta.json       trailer id, title, year, genres, split, n_clips, experts present,
                                  the dead stretches of its experts (``broken``: zero or repeated rows,
                                  ``mmx.data.broken``), and the size and BLAKE2b checksum of every
                                  other file of the entry
    entries/<key>/<expert>.npy    (n_clips, dim) float32, or (n_windows, dim) for window-level experts
    entries/<key>/<expert>__clip.npy  (n_windows,) int32: the clip each window belongs to
    entries/<key>/clip_times.npy  (n_clips, 2) float64 start/end seconds, when known
    entries/<key>/keyframes.bin   one small JPEG per clip, concatenated, when kept
    entries/<key>/keyframes.npy   (n_clips, 2) int64 byte offset and length of each clip's JPEG

An entry is written into a hidden temporary folder and renamed into place, so a reader (or a run
killed at any moment) sees a whole entry or none. Arrays are opened with ``mmap_mode="r"``:
training touches only the clips of the current batch, never the whole collection.

Opening a store only reads. What a killed writer left behind (a half-done swap, a stale temporary
folder) is tidied up by the next writer, when it takes the store's lock; until then a reader
finds an entry whose swap was cut short where it lies (``.old-<key>.*``). ``verify`` rereads every
file of the entries against the checksums recorded when they were written.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from mmx.data.broken import current, dead_record
from mmx.durable import atomic_write, fsync_dir
from mmx.errors import StoreError, UnknownTrailerError
from mmx.inputs import ExpertInfo

FORMAT = "mmx-store"
VERSION = 1
CLIP_SUFFIX = "__clip"  # window-level experts: "<expert>__clip" maps windows to clips
RESERVED = {"clip_times", "n_clips"}
EXPERT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
STALE_TMP_SECONDS = 3600  # a temporary entry folder older than this was left by a killed writer
KEYFRAME_BYTES, KEYFRAME_INDEX = "keyframes.bin", "keyframes.npy"  # packed JPEGs + (n_clips, 2) offset/length
OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)


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
    has_keyframes: bool = False  # one small JPEG per clip (keyframes.bin + keyframes.npy)
    checksums: dict[str, dict] = field(default_factory=dict)  # file → {"size": bytes, "blake2b": hex}; {} = older entry
    placeholders: list[str] = field(default_factory=list)  # placeholder genres ("none") its labels row gave, left out
    # dead stretches of its experts, found when it was written (``mmx.data.broken.dead_record``); None = older entry
    broken: dict | None = None
    key: str = ""  # folder name inside entries/


@dataclass
class Damage:
    """A file of an entry that no longer holds what was written."""

    trailer_id: str  # "" when the entry's meta.json itself cannot be read
    folder: str  # the entry's folder
    file: str  # the damaged file, inside the folder
    reason: str  # what is wrong ("missing", "truncated: 80 of 128 bytes", "checksum differs", ...)
    source: dict = field(default_factory=dict)  # where the entry came from (to redo it): video or npz path


META_FIELDS = {f.name for f in fields(EntryMeta)} - {"key"}


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


class _Hashing:
    """A write-only file that keeps the size and BLAKE2b digest of what goes through it."""

    def __init__(self, f: BinaryIO):
        self.f, self.size, self.hash = f, 0, hashlib.blake2b(digest_size=16)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.hash.update(view)
        self.size += len(view)
        return self.f.write(view)

    def record(self) -> dict:
        return {"size": self.size, "blake2b": self.hash.hexdigest()}


def file_checksum(path: Path, chunk: int = 1 << 20) -> dict:
    """{"size", "blake2b"} of a file, as ``write_entry`` records them."""
    h, size = hashlib.blake2b(digest_size=16), 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            size += len(block)
    return {"size": size, "blake2b": h.hexdigest()}


def _write_file(path: Path, write) -> dict:
    """Create ``path``, let ``write(file)`` fill it, fsync it; returns its checksum record."""
    with open(path, "wb") as raw:
        f = _Hashing(raw)
        write(f)
        raw.flush()
        os.fsync(raw.fileno())
    return f.record()


def pack_keyframes(keyframes: list[bytes]) -> tuple[bytes, np.ndarray]:
    """Images → (concatenated bytes, (n, 2) int64 offset and length of each)."""
    lengths = np.array([len(k) for k in keyframes], np.int64)  # (n,)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else lengths
    return b"".join(keyframes), np.stack([offsets, lengths], axis=1) if len(lengths) else np.zeros((0, 2), np.int64)


class FeatureStore:
    """A folder of per-trailer expert features. ``FeatureStore.create`` or ``FeatureStore(path)``.

    Opening reads the manifest and nothing else; entries are read on first use.
    """

    def __init__(self, root: str | Path, labels: dict[str, list[str]] | None = None):
        self.root = Path(root)
        self.labels = dict(labels or {})  # trailer → the genres its entries read as (``relabelled``); files untouched
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
        self._unreadable: list[Damage] = []  # entry folders whose meta.json cannot be read
        self._dead: dict[str, dict] = {}  # dead stretches found on reading entries that have no record
        self._recovered = False  # this writer has tidied up after killed writers

    # ------------------------------------------------------------------ creation and locking
    @classmethod
    def create(cls, root: str | Path) -> "FeatureStore":
        """Open the store at ``root``, creating an empty one when the folder has none."""
        root = Path(root)
        if not (root / "manifest.json").exists():
            if root.exists() and not root.is_dir():
                raise StoreError(f"{root} exists and is not a folder")
            try:
                (root / "entries").mkdir(parents=True, exist_ok=True)
                atomic_write(
                    root / "manifest.json",
                    json.dumps({"format": FORMAT, "version": VERSION, "experts": {}}, indent=2),
                )
            except OSError as e:
                raise _write_error(root, "create the store", e) from e
        return cls(root)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for writers (several importers/extractors may share one store).

        The first time this store object takes it, it tidies up after writers that were killed.
        """
        with open(self.root / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                if not self._recovered:
                    self._recover()
                    self._recovered = True
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _write_manifest(self) -> None:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "experts": {n: asdict(e) for n, e in sorted(self.experts.items())},
        }
        try:
            atomic_write(self.root / "manifest.json", json.dumps(data, indent=2) + "\n")
        except OSError as e:
            raise _write_error(self.root, "write manifest.json", e) from e

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

        Called with the lock held. A temporary folder younger than an hour may belong to a writer
        that is still filling it (writers take the lock only to swap).
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
            target = self.entries_dir / _swapped_key(trash.name)
            if target.exists():
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(trash, target)
        self._entries = None

    def entries(self) -> dict[str, EntryMeta]:
        """All complete entries by trailer id (cached; ``refresh()`` rereads).

        An entry whose swap a killed writer left half done is read from its ``.old-`` folder.
        """
        if self._entries is None:
            out: dict[str, EntryMeta] = {}
            self._unreadable = []
            folders = sorted(p.name for p in self.entries_dir.iterdir()) if self.entries_dir.exists() else []
            present = {n for n in folders if not n.startswith(".")}
            pending = {n for n in folders if n.startswith(".old-") and _swapped_key(n) not in present}
            for name in sorted(present | pending):
                meta = self._read_meta(name)
                if meta is not None:
                    out[meta.trailer_id] = self._as_read(meta)
            self._entries = out
        return self._entries

    def _read_meta(self, folder: str) -> EntryMeta | None:
        path = self.entries_dir / folder / "meta.json"
        try:
            record = json.loads(path.read_text())
            meta = EntryMeta(**{k: v for k, v in record.items() if k in META_FIELDS})
        except FileNotFoundError:
            if (self.entries_dir / folder).is_dir():
                self._unreadable.append(Damage("", folder, "meta.json", "missing"))
            return None
        except (OSError, ValueError, TypeError) as e:
            self._unreadable.append(Damage("", folder, "meta.json", f"unreadable ({e})"))
            return None
        meta.key = folder
        return meta

    def refresh(self) -> None:
        self._entries = None
        self._dead = {}
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

    def relabelled(self, labels: dict[str, list[str]]) -> "FeatureStore":
        """This store read with other genres for some trailers (``labels``: trailer → genres, e.g. reviewed ones):
        every reader of the view (training, evaluation, checks) sees them; the store's files are not rewritten."""
        return FeatureStore(self.root, {**self.labels, **labels})

    def genres(self) -> list[str]:
        """The collection's genre vocabulary (sorted), from its entries."""
        return sorted({g for m in self.entries().values() for g in m.genres})

    def write_entry(
        self,
        meta: EntryMeta,
        arrays: dict[str, np.ndarray],
        clip_times: np.ndarray | None = None,
        keyframes: list[bytes] | None = None,
    ) -> EntryMeta:
        """Write one trailer atomically and return its meta as written (``meta`` itself is left as it was).

        ``arrays`` holds expert arrays and ``<expert>__clip``; ``keyframes`` one image (JPEG bytes)
        per clip. The dead stretches of the experts (``mmx.data.broken.dead_record``) are recorded
        in the entry's meta. A write that fails (a full disk) leaves the store as it was and raises
        ``StoreError``.
        """
        for name in arrays:
            base = name.removesuffix(CLIP_SUFFIX)
            if base not in self.experts:
                raise StoreError(f"expert {base!r} is not registered in {self.root}")
        self._check_keyframes(meta.trailer_id, meta.n_clips, keyframes)
        key = entry_key(meta.trailer_id)
        with self._new_folder(key, meta.trailer_id) as tmp:
            sums: dict[str, dict] = {}
            for name, arr in arrays.items():
                dtype = np.int32 if name.endswith(CLIP_SUFFIX) else np.float32
                data = np.ascontiguousarray(arr, dtype=dtype)
                sums[f"{name}.npy"] = _write_file(tmp / f"{name}.npy", lambda f, a=data: np.save(f, a))
            if clip_times is not None:
                times = np.asarray(clip_times, dtype=np.float64)
                sums["clip_times.npy"] = _write_file(tmp / "clip_times.npy", lambda f: np.save(f, times))
            if keyframes is not None:
                sums.update(_write_keyframes(tmp, keyframes))
            written = replace(
                meta, key=key, has_clip_times=clip_times is not None, has_keyframes=keyframes is not None,
                experts=sorted(n for n in arrays if not n.endswith(CLIP_SUFFIX)), checksums=sums,
                broken=dead_record(arrays, CLIP_SUFFIX),
            )
            self._commit(tmp, written)
        return written

    def add_keyframes(self, trailer_id: str, keyframes: list[bytes]) -> EntryMeta:
        """Give an entry its keyframes (one image per clip), atomically: a new entry folder whose
        arrays are hard links to the old one's, swapped in like any entry."""
        meta = self.meta(trailer_id)
        self._check_keyframes(trailer_id, meta.n_clips, keyframes)
        key = entry_key(trailer_id)
        source = self.entries_dir / meta.key
        with self._new_folder(key, trailer_id) as tmp:
            for path in source.iterdir():
                if path.name not in ("meta.json", KEYFRAME_BYTES, KEYFRAME_INDEX):
                    _link_or_copy(path, tmp / path.name)
            sums = {k: v for k, v in meta.checksums.items() if k not in (KEYFRAME_BYTES, KEYFRAME_INDEX)}
            sums.update(_write_keyframes(tmp, keyframes))
            written = replace(meta, key=key, has_keyframes=True, checksums=sums)
            self._commit(tmp, written)
        return written

    def link_entry(self, source: "FeatureStore", trailer_id: str, **changes) -> EntryMeta:
        """Bring one entry of another store into this one as hard links to its files (no array is
        rewritten, so the recorded checksums stay valid), with ``changes`` to its meta (``split=``)."""
        meta = source.meta(trailer_id)
        self.register_experts({e: source.experts[e] for e in meta.experts})
        key = entry_key(trailer_id)
        with self._new_folder(key, trailer_id) as tmp:
            for path in (source.entries_dir / meta.key).iterdir():
                if path.name != "meta.json":
                    _link_or_copy(path, tmp / path.name)
            written = replace(meta, key=key, **changes)
            self._commit(tmp, written)
        return written

    def _check_keyframes(self, trailer_id: str, n_clips: int, keyframes: list[bytes] | None) -> None:
        if keyframes is not None and len(keyframes) != n_clips:
            raise StoreError(f"trailer {trailer_id!r} has {n_clips} clips but {len(keyframes)} keyframes were "
                             f"given for store {self.root}; give one per clip")

    @contextmanager
    def _new_folder(self, key: str, trailer_id: str) -> Iterator[Path]:
        """A hidden temporary folder to fill with a new entry; removed again unless it was swapped in."""
        tmp = self.entries_dir / f".tmp-{key}.{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir(parents=True)
            yield tmp
        except OSError as e:
            raise _write_error(self.root, f"write the entry of {trailer_id!r}", e) from e
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _commit(self, tmp: Path, meta: EntryMeta) -> None:
        """Write ``meta.json`` into ``tmp`` and swap ``tmp`` into place as entry ``meta.key``."""
        record = asdict(meta)
        record.pop("key")
        if not record["placeholders"]:  # written only when there are some: other entries stay byte for byte as before
            record.pop("placeholders")
        _write_file(tmp / "meta.json", lambda f: f.write((json.dumps(record, indent=1) + "\n").encode()))
        with self.lock():
            target = self.entries_dir / meta.key
            if target.exists():
                old = self.entries_dir / f".old-{meta.key}.{uuid.uuid4().hex[:8]}"
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
            fsync_dir(self.entries_dir)
        if self._entries is not None:
            self._entries[meta.trailer_id] = self._as_read(meta)

    def _as_read(self, meta: EntryMeta) -> EntryMeta:
        """``meta`` as this store's readers see it: with its ``labels`` when the view relabels the trailer."""
        given = self.labels.get(meta.trailer_id)
        return meta if given is None else replace(meta, genres=list(given))

    def remove_entry(self, trailer_id: str) -> None:
        meta = self.meta(trailer_id)
        with self.lock():
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

    def dead_summary(self, ids: list[str]) -> str | None:
        """One line on the dead stretches recorded for ``ids`` (what an import or extraction found), or None."""
        dead = {t: self.dead(t) for t in ids}
        counts = Counter(e for found in dead.values() for e in found)
        if not counts:
            return None
        experts = ", ".join(f"{e} {n}" for e, n in sorted(counts.items()))
        return (f"dead features (zero or repeated rows) recorded for {sum(map(bool, dead.values()))} of {len(ids)} "
                f"trailers ({experts}); `mmx check {self.root} --only experts` lists them, and runs read them as "
                "missing (data.mask_broken_experts)")

    def dead(self, trailer_id: str) -> dict[str, list[dict]]:
        """expert → dead stretches ``{"kind", "rows": [a, b], "clips": [c, d]}`` of one trailer ({} = none).

        Read from the record written with the entry; an entry written before records were kept
        (or under another rule: stretch length, tolerance; ``mmx.data.broken.current``) is checked from its
        arrays, once per opened store.
        """
        meta = self.meta(trailer_id)
        if current(meta.broken):
            return meta.broken["dead"]
        if trailer_id not in self._dead:
            arrays = {e: self.load(trailer_id, e) for e in meta.experts}
            arrays |= {e + CLIP_SUFFIX: self.load_window_clips(trailer_id, e) for e in meta.experts
                       if e in self.experts and self.experts[e].level == "window"}
            self._dead[trailer_id] = dead_record(arrays, CLIP_SUFFIX)["dead"]
        return self._dead[trailer_id]

    def load_clip_times(self, trailer_id: str) -> np.ndarray | None:
        meta = self.meta(trailer_id)
        if not meta.has_clip_times:
            return None
        return np.load(self.entries_dir / meta.key / "clip_times.npy")

    def keyframe(self, trailer_id: str, clip: int) -> bytes | None:
        """The image (JPEG bytes) of one clip; None when the entry has no keyframes."""
        meta = self.meta(trailer_id)
        if not meta.has_keyframes:
            return None
        if not 0 <= clip < meta.n_clips:
            raise IndexError(f"trailer {trailer_id!r} has clips 0..{meta.n_clips - 1}, not {clip}")
        folder = self.entries_dir / meta.key
        offset, length = (int(v) for v in np.load(folder / KEYFRAME_INDEX, mmap_mode="r")[clip])
        with open(folder / KEYFRAME_BYTES, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def keyframes(self, trailer_id: str) -> list[bytes] | None:
        """Every clip's image, in clip order; None when the entry has no keyframes."""
        meta = self.meta(trailer_id)
        if not meta.has_keyframes:
            return None
        folder = self.entries_dir / meta.key
        index = np.load(folder / KEYFRAME_INDEX)  # (n_clips, 2)
        data = (folder / KEYFRAME_BYTES).read_bytes()
        return [data[o:o + n] for o, n in index.tolist()]

    def nbytes(self) -> int:
        return sum(p.stat().st_size for p in self.entries_dir.glob("*/*.npy"))

    # ------------------------------------------------------------------ checking
    def expected_files(self, meta: EntryMeta) -> list[str]:
        """The files an entry must hold, from its meta."""
        names = [f"{e}.npy" for e in meta.experts]
        names += [f"{e}{CLIP_SUFFIX}.npy" for e in meta.experts
                  if e in self.experts and self.experts[e].level == "window"]
        if meta.has_clip_times:
            names.append("clip_times.npy")
        if meta.has_keyframes:
            names += [KEYFRAME_BYTES, KEYFRAME_INDEX]
        return sorted(set(names) | set(meta.checksums))

    def verify_entry(self, trailer_id: str) -> list[Damage]:
        """Every file of one entry reread against its recorded size and checksum ([] = whole).

        Entries written before checksums were recorded are checked for missing files and
        unreadable or short ``.npy`` arrays only.
        """
        meta = self.meta(trailer_id)
        folder = self.entries_dir / meta.key
        out = []
        for name in self.expected_files(meta):
            why = _file_damage(folder / name, meta.checksums.get(name), meta)
            if why:
                out.append(Damage(trailer_id, meta.key, name, why, dict(meta.source)))
        return out

    def verify(self) -> list[Damage]:
        """Damaged files of every entry, and entry folders whose meta.json cannot be read."""
        self._entries = None
        damage = [d for tid in sorted(self.entries()) for d in self.verify_entry(tid)]
        return list(self._unreadable) + damage


def _file_damage(path: Path, recorded: dict | None, meta: EntryMeta) -> str | None:
    """Why ``path`` is not what was written, or None."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if recorded is not None:
        if size != recorded["size"]:
            return f"{'truncated' if size < recorded['size'] else 'grown'}: {size} of {recorded['size']} bytes"
        if file_checksum(path)["blake2b"] != recorded["blake2b"]:
            return "checksum differs from the one recorded when it was written (bytes changed)"
        return None
    if path.suffix == ".npy":
        try:
            arr = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            return f"not a readable .npy ({e})"
        if path.name in ("clip_times.npy", KEYFRAME_INDEX) and arr.shape[:1] != (meta.n_clips,):
            return f"holds {arr.shape[0] if arr.ndim else 0} rows, not {meta.n_clips}"
    return None


def _write_keyframes(folder: Path, keyframes: list[bytes]) -> dict[str, dict]:
    data, index = pack_keyframes(keyframes)
    return {KEYFRAME_BYTES: _write_file(folder / KEYFRAME_BYTES, lambda f: f.write(data)),
            KEYFRAME_INDEX: _write_file(folder / KEYFRAME_INDEX, lambda f: np.save(f, index))}


def _swapped_key(name: str) -> str:
    """``.old-<key>.<random>`` → ``<key>``."""
    return name[len(".old-"):].rsplit(".", 1)[0]


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a filesystem without hard links
        shutil.copy2(src, dst)


def _write_error(root: Path, what: str, e: OSError) -> StoreError:
    """One clear line for a store write that failed: which store, why, and what to do."""
    if e.errno in OUT_OF_SPACE:
        try:
            free = f"{shutil.disk_usage(root).free / 1e6:.1f} MB free"
        except OSError:
            free = "free space unknown"
        return StoreError(f"store {root}: no space left on its disk ({free}) to {what}; free some space "
                          "(or use a store on a larger disk) and run the same command again: the entries "
                          "already written are whole and are kept")
    return StoreError(f"store {root}: cannot {what} ({e.strerror or e}); check the folder's permissions "
                      "and disk, then run the same command again")
