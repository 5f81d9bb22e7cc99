"""The atlas: every trailer's picture in a few sizes, packed into sheets, as PixPlot draws a collection.

A trailer's **picture** is its keyframe — the middle clip's, the one ``/api/keyframe`` gives — for a
run with a feature store (``StoreKeyframes``), or the picture given with imported embeddings
(``mmx import-embeddings --pictures DIR``: ``PackedPictures``, kept in ``RUN/pictures.bin``).

Each picture is cropped around its centre to ``AtlasConfig.aspect`` and shrunk to the tile of every
**level** (8, 24, 64 and 160 px wide by default); a level's tiles are packed row by row into JPEG
**sheets** of at most ``sheet`` px a side. Trailers take **slots** in the order of a Hilbert curve
over the map (``hilbert_order``), so neighbours on the map share sheets and a zoomed-in view needs
few of them. Slot ``s`` of level ``L`` is in sheet ``s // per_sheet``, at column ``p % cols`` and
row ``p // cols`` of it (``p = s % per_sheet``).

The atlas lives in ``RUN/atlas/``: ``atlas.json`` (each slot's trailer and picture version) and one
file per sheet, named by a digest of the pictures it holds, so a sheet is made again only when one
of its pictures changed. ``update_atlas`` makes the first ``eager`` levels at once; the larger ones
are made a sheet at a time when first asked for (``Atlas.sheet``) and kept. A trailer added later
(an ingested video) takes the next slot; when a trailer left, slots are given anew in map order.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from mmx.artifacts import ATLAS, PICTURES, PICTURES_INDEX
from mmx.durable import atomic_write
from mmx.errors import ConfigError, InputError
from mmx.run import EmbeddingsRun, ModelRun, Run

FORMAT, VERSION = "mmx-atlas", 1
GREY = (60, 60, 66)  # the tile of a picture that cannot be decoded


@dataclass(frozen=True)
class AtlasConfig:
    tiles: tuple[int, ...] = (8, 24, 64, 160)  # tile width (px) of each level, smallest first
    aspect: float = 4 / 3  # tile width / height: each picture is cropped to it around its centre
    sheet: int = 1024  # most pixels a sheet has on a side
    quality: int = 85  # JPEG quality of the sheets
    eager: int = 1  # levels made by update_atlas; the larger ones a sheet at a time, when first asked for

    def __post_init__(self):
        if not self.tiles or list(self.tiles) != sorted(set(self.tiles)) or self.tiles[0] < 4:
            raise ConfigError(f"atlas tiles must be increasing widths of at least 4 px, not {self.tiles}")
        if max(self.tiles) > self.sheet or not 0.25 <= self.aspect <= 4 or not 1 <= self.quality <= 95:
            raise ConfigError("atlas tiles must fit a sheet, aspect be 0.25–4 and quality 1–95")
        if not 1 <= self.eager <= len(self.tiles):
            raise ConfigError(f"atlas eager levels must be 1–{len(self.tiles)}, not {self.eager}")

    def tile(self, level: int) -> tuple[int, int]:
        """(width, height) of a tile of ``level``."""
        w = self.tiles[level]
        return w, max(1, round(w / self.aspect))

    def grid(self, level: int) -> tuple[int, int]:
        """(columns, rows) of a full sheet of ``level``."""
        w, h = self.tile(level)
        return self.sheet // w, self.sheet // h


# ---------------------------------------------------------------------------- pictures
class Pictures(Protocol):
    """Where the pictures come from: a version of each trailer's picture, and its bytes (JPEG or PNG)."""

    def versions(self) -> dict[str, str]:
        """trailer id → a string that changes whenever the trailer's picture does."""

    def read(self, trailer_id: str) -> bytes:
        """The picture of ``trailer_id``."""


class StoreKeyframes:
    """The middle clip's keyframe of every store entry with keyframes (the store is reread after ``forget``)."""

    def __init__(self, run: ModelRun):
        self.run = run

    def versions(self) -> dict[str, str]:
        out = {}
        for tid, meta in self.run.store.entries().items():
            if meta.has_keyframes:
                digest = meta.checksums.get("keyframes.bin", {}).get("blake2b", meta.key)
                out[tid] = f"{meta.n_clips}:{digest}"
        return out

    def read(self, trailer_id: str) -> bytes:
        store = self.run.store
        data = store.keyframe(trailer_id, store.meta(trailer_id).n_clips // 2)
        if data is None:
            raise InputError(f"trailer {trailer_id!r} has no keyframes in store {store.root}")
        return data


class PackedPictures:
    """Pictures given with imported embeddings: ``RUN/pictures.bin`` (packed) and ``RUN/pictures.npz``."""

    def __init__(self, root: Path):
        self.root = root
        with np.load(root / PICTURES_INDEX, allow_pickle=False) as z:
            ids, spans, digests = z["trailer_id"].tolist(), z["span"], z["digest"].tolist()
        self._spans = dict(zip(ids, spans.tolist()))
        self._versions = dict(zip(ids, digests))

    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    def read(self, trailer_id: str) -> bytes:
        offset, length = self._spans[trailer_id]
        with open(self.root / PICTURES, "rb") as f:
            f.seek(offset)
            return f.read(length)


PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def import_pictures(run: Run, folder: str | Path, width: int = 160) -> tuple[int, list[str]]:
    """The pictures in ``folder`` named by trailer id (``<id>.jpg``, ``.jpeg``, ``.png`` or ``.webp``) as the
    pictures of the imported-embeddings ``run``, each shrunk to a JPEG at most ``width`` px wide.
    Returns how many were kept and the problems (trailers without a picture, files that are not one)."""
    from PIL import UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give a folder of pictures named <trailer_id>.jpg (or .png)")
    found, problems = {}, []
    for tid in run.embeddings().ids:
        paths = [folder / f"{tid}{s}" for s in PICTURE_SUFFIXES] if "/" not in tid else []
        path = next((p for p in paths if p.is_file()), None)
        if path is None:
            problems.append(f"{tid}: no picture {folder}/{tid}.jpg (or .jpeg, .png, .webp); it stays a dot")
            continue
        try:
            found[tid] = picture_jpeg(path.read_bytes(), width)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            problems.append(f"{path}: not a picture Pillow can read ({e}); left out")
    write_pictures(run, found)
    return len(found), problems


def write_pictures(run: Run, pictures: dict[str, bytes]) -> None:
    """Keep ``pictures`` (trailer id → image bytes) as the pictures of an imported-embeddings run."""
    ids = [t for t in run.embeddings().ids if t in pictures]
    blobs = [pictures[t] for t in ids]
    lengths = np.array([len(b) for b in blobs], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    buf = io.BytesIO()
    np.savez(buf, trailer_id=np.asarray(ids, dtype=str), span=np.stack([offsets, lengths], axis=1).reshape(-1, 2),
             digest=np.asarray([hashlib.blake2b(b, digest_size=8).hexdigest() for b in blobs], dtype=str))
    atomic_write(run.root / PICTURES, b"".join(blobs))
    atomic_write(run.root / PICTURES_INDEX, buf.getvalue())  # last: it says which pictures the run has


def picture_jpeg(data: bytes, width: int = 160, quality: int = 80) -> bytes:
    """Any image Pillow reads → a JPEG at most ``width`` px wide (aspect kept), as keyframes are kept."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        if img.width > width:
            img = img.resize((width, max(2, round(img.height * width / img.width))), Image.Resampling.BOX)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        return buf.getvalue()


def run_pictures(run: Run) -> Pictures | None:
    """The pictures of ``run``: its store's keyframes, or those imported with its embeddings; None without."""
    if isinstance(run, ModelRun):
        pictures = StoreKeyframes(run)
        return pictures if pictures.versions() else None
    if isinstance(run, EmbeddingsRun) and (run.root / PICTURES_INDEX).exists():
        return PackedPictures(run.root)
    return None


# ---------------------------------------------------------------------------- order
def hilbert_order(xy: np.ndarray, bits: int = 16) -> np.ndarray:
    """(N,) indices that sort the (N, 2) points along a Hilbert curve over their bounding box."""
    xy = np.asarray(xy, np.float64)
    if len(xy) == 0:
        return np.zeros(0, np.int64)
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0)
    side = 1 << bits
    q = ((xy - lo) / np.where(span > 0, span, 1) * (side - 1)).round().astype(np.int64)  # (N, 2) on the grid
    x, y, d = q[:, 0].copy(), q[:, 1].copy(), np.zeros(len(q), np.int64)
    s = side >> 1
    while s > 0:  # the classic xy → d walk, one bit a step, for every point at once
        rx, ry = (x & s) > 0, (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry & rx
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        x, y = np.where(ry, x, y), np.where(ry, y, x)  # swap where ry == 0
        s >>= 1
    return np.argsort(d, kind="stable")


# ---------------------------------------------------------------------------- the atlas
@dataclass
class Atlas:
    """The slots (trailer and picture version) of a run's atlas, and its sheets."""

    folder: Path
    cfg: AtlasConfig
    ids: list[str]  # slot → trailer id
    versions: list[str]  # slot → the version of its picture
    pictures: Pictures
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _digests: dict[tuple[int, int], str] = field(default_factory=dict, repr=False)

    @cached_property
    def slots(self) -> dict[str, int]:
        return {t: s for s, t in enumerate(self.ids)}

    def per_sheet(self, level: int) -> int:
        cols, rows = self.cfg.grid(level)
        return cols * rows

    def n_sheets(self, level: int) -> int:
        return -(-len(self.ids) // self.per_sheet(level))

    def digest(self, level: int, sheet: int) -> str:
        """What sheet ``sheet`` of ``level`` holds (its tile size and each slot's trailer and picture version)."""
        if (level, sheet) not in self._digests:
            n = self.per_sheet(level)
            part = list(zip(self.ids[sheet * n:(sheet + 1) * n], self.versions[sheet * n:(sheet + 1) * n]))
            key = json.dumps([self.cfg.tile(level), self.cfg.quality, part], separators=(",", ":"))
            self._digests[level, sheet] = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self._digests[level, sheet]

    def path(self, level: int, sheet: int) -> Path:
        return self.folder / f"{level}-{sheet}-{self.digest(level, sheet)}.jpg"

    def describe(self) -> dict:
        """The levels as the explorer's page reads them: tile size, sheet grid and each sheet's version."""
        levels = []
        for level in range(len(self.cfg.tiles)):
            (w, h), (cols, _) = self.cfg.tile(level), self.cfg.grid(level)
            levels.append({"tile": [w, h], "cols": cols, "per_sheet": self.per_sheet(level),
                           "sheets": [self.digest(level, s) for s in range(self.n_sheets(level))]})
        return {"count": len(self.ids), "aspect": round(self.cfg.aspect, 4), "levels": levels}

    def sheet(self, level: int, sheet: int) -> bytes:
        """The JPEG of one sheet, made (and kept) when it is not there yet."""
        if not 0 <= level < len(self.cfg.tiles):
            raise InputError(f"the atlas has levels 0–{len(self.cfg.tiles) - 1}, not {level}")
        if not 0 <= sheet < self.n_sheets(level):
            raise InputError(f"level {level} of the atlas has sheets 0–{self.n_sheets(level) - 1}, not {sheet}")
        path = self.path(level, sheet)
        if not path.exists():
            with self._lock:
                if not path.exists():
                    atomic_write(path, self._make(level, sheet))
        return path.read_bytes()

    def nbytes(self, level: int | None = None) -> int:
        """Bytes of the sheets made so far (of one level, or of all)."""
        return sum(self.path(lv, s).stat().st_size for lv in range(len(self.cfg.tiles)) if level in (None, lv)
                   for s in range(self.n_sheets(lv)) if self.path(lv, s).exists())

    def _make(self, level: int, sheet: int) -> bytes:
        from PIL import Image

        (w, h), (cols, _) = self.cfg.tile(level), self.cfg.grid(level)
        n = self.per_sheet(level)
        ids = self.ids[sheet * n:(sheet + 1) * n]
        rows = -(-len(ids) // cols)
        canvas = Image.new("RGB", (min(cols, len(ids)) * w, rows * h), GREY)
        for p, tid in enumerate(ids):
            canvas.paste(tile_image(self.pictures.read(tid), w, h), ((p % cols) * w, (p // cols) * h))
        buf = io.BytesIO()
        canvas.save(buf, "JPEG", quality=self.cfg.quality, optimize=True, subsampling=0)  # 4:4:4: tiles are small
        return buf.getvalue()


def tile_image(data: bytes, w: int, h: int):
    """A picture (JPEG or PNG bytes) cropped around its centre to w:h and shrunk to (w, h); grey when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (w, h))  # a JPEG decodes straight at 1/2, 1/4 or 1/8 of its size when that is enough
        img = img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return Image.new("RGB", (w, h), GREY)
    iw, ih = img.size
    if iw * h > ih * w:  # wider than the tile: crop the sides
        cw, ch = ih * w / h, ih
    else:
        cw, ch = iw, iw * h / w
    box = ((iw - cw) / 2, (ih - ch) / 2, (iw + cw) / 2, (ih + ch) / 2)
    return img.resize((w, h), Image.Resampling.BOX if cw >= w else Image.Resampling.BILINEAR, box=box)


def update_atlas(root: Path, pictures: Pictures, order: list[str], cfg: AtlasConfig = AtlasConfig()) -> Atlas:
    """The atlas of the trailers in ``order`` that have pictures, kept in ``root/atlas``; what changed is made again.

    Slots are kept from the atlas already there when it has the same settings and every trailer it holds is
    still here (new trailers take the next slots); otherwise they follow ``order``. The sheets of the first
    ``cfg.eager`` levels are made now; sheets that no longer belong to the atlas are removed.
    """
    folder = (Path(root) / ATLAS).parent
    versions = pictures.versions()
    wanted = [t for t in order if t in versions]
    old = _read(Path(root) / ATLAS, cfg)
    if old is not None and set(old) <= set(wanted):
        keep = set(old)
        ids = old + [t for t in wanted if t not in keep]
    else:
        ids = wanted
    atlas = Atlas(folder, cfg, ids, [versions[t] for t in ids], pictures)
    folder.mkdir(parents=True, exist_ok=True)
    current = {atlas.path(lv, s).name for lv in range(len(cfg.tiles)) for s in range(atlas.n_sheets(lv))}
    for stale in folder.glob("*.jpg"):
        if stale.name not in current:
            stale.unlink(missing_ok=True)
    for level in range(cfg.eager):
        for sheet in range(atlas.n_sheets(level)):
            atlas.sheet(level, sheet)
    record = {"format": FORMAT, "version": VERSION, "config": asdict(cfg), "ids": ids, "versions": atlas.versions}
    atomic_write(Path(root) / ATLAS, json.dumps(record, separators=(",", ":")))
    return atlas


def _read(path: Path, cfg: AtlasConfig) -> list[str] | None:
    """The slots' trailers of the atlas kept at ``path`` when it was made with ``cfg``; None otherwise."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = record.get("format") == FORMAT and record.get("version") == VERSION
    config = record.get("config", {})
    if not same or {**config, "tiles": tuple(config.get("tiles", ()))} != asdict(cfg):
        return None
    return list(record.get("ids", []))
