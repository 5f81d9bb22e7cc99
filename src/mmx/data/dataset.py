"""Torch dataset over a feature store: windows chosen per trailer, only their clips read.

Each item reads, memory-mapped, just the clips its windows reference; ``collate`` flattens the
clips of a batch into one array per expert, so the model computes every clip vector once and
gathers the windows from it (not 9×). ``views`` > 1 gives several window sets per trailer (the
two halves for NT-Xent fine-tuning).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from mmx.data.store import FeatureStore
from mmx.data.windows import chapter_span, window_indices
from mmx.inputs import Batch, ExpertInfo

# A view rule: (n_clips, trailer index, epoch rng or None) → (n_seqs, seq_len) clip indices.
ViewRule = Callable[[int, np.random.Generator | None], np.ndarray]


class BrokenMask:
    """Which rows of a trailer's expert a run reads as missing: its dead stretches (the store's
    record; with ``dead``) and, for a trailer found noise-like when the run was made, all of them."""

    def __init__(self, store: FeatureStore, noise: dict[str, list[str]], dead: bool = True):
        self.store = store
        self.noise = noise
        self.dead = dead

    def rows(self, trailer_id: str, expert: str, n_rows: int) -> np.ndarray | None:
        """(n_rows,) bool, True = read as missing; None when every row is read."""
        if expert in self.noise.get(trailer_id, ()):
            return np.ones(n_rows, bool)
        stretches = self.store.dead(trailer_id).get(expert) if self.dead else None
        if not stretches:
            return None
        drop = np.zeros(n_rows, bool)
        for s in stretches:
            a, b = s["rows"]
            drop[a : b + 1] = True
        return drop


def evenly_spaced(n_seqs: int, seq_len: int) -> list[ViewRule]:
    """One view: windows evenly spaced over the whole trailer (inference, and training by default)."""
    return [lambda n, rng: window_indices(n, n_seqs, seq_len)]


def random_starts(n_seqs: int, seq_len: int) -> list[ViewRule]:
    """One view: window starts drawn anew every epoch (training augmentation)."""
    return [lambda n, rng: window_indices(n, n_seqs, seq_len, rng=rng)]


def chapters(n_chapters: int, n_seqs: int, seq_len: int) -> list[ViewRule]:
    """``n_chapters`` views: view k has its windows evenly spaced over the k-th of equal spans of the
    trailer (a film read in chapters; one chapter is ``evenly_spaced``)."""

    def view(k: int) -> ViewRule:
        return lambda n, rng: window_indices(n, n_seqs, seq_len, *chapter_span(n, n_chapters, k))

    return [view(k) for k in range(n_chapters)]


TRAIN_VIEWS = {"even": evenly_spaced, "random": random_starts}  # data.train_windows (mmx.config.TRAIN_WINDOWS)


class TrailerDataset(Dataset):
    """Items are dicts of numpy arrays for one trailer; use with ``collate``."""

    def __init__(
        self,
        store: FeatureStore,
        ids: list[str],
        experts: list[str],
        genres: list[str],
        views: list[ViewRule],
        seed: int = 0,
        every_clip: bool = False,
        mask: BrokenMask | None = None,
    ):
        self.store = store
        self.ids = list(ids)
        self.experts = list(experts)
        self.genre_index = {g: i for i, g in enumerate(genres)}
        self.views = views
        self.seed = seed
        self.every_clip = every_clip  # read every clip, not only those the views' windows use (scene vectors)
        self.mask = mask  # broken experts read as missing (data.mask_broken_experts); None: every row is read
        self.epoch = 0  # random views draw from (seed, epoch, item): resumable and worker-safe

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        tid = self.ids[i]
        meta = self.store.meta(tid)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        windows = np.stack([view(meta.n_clips, rng) for view in self.views])  # (V, S, L)
        if self.every_clip:
            used, local = np.arange(meta.n_clips), windows
        else:
            used, local = np.unique(windows, return_inverse=True)  # clips read, windows → position
        item = {
            "id": tid,
            "windows": local.reshape(windows.shape),
            "n": len(used),
            "feats": {},
            "window_clip": {},
            "avail": np.zeros((len(used), len(self.experts)), dtype=bool),
        }
        for e, name in enumerate(self.experts):
            arr = self.store.load(tid, name)
            info = self.store.experts[name]
            if arr is None:
                continue
            drop = self.mask.rows(tid, name, len(arr)) if self.mask is not None else None  # (rows,) read as missing
            if drop is not None and drop.all():
                continue  # broken throughout: exactly a trailer without the expert
            if info.level == "clip":
                item["feats"][name] = np.asarray(arr[used], dtype=np.float32)  # (U, d)
                item["avail"][:, e] = True
                if drop is not None:
                    item["feats"][name][drop[used]] = 0.0
                    item["avail"][drop[used], e] = False
            else:
                clip_of = self.store.load_window_clips(tid, name)
                keep = np.isin(clip_of, used) if drop is None else np.isin(clip_of, used) & ~drop
                item["feats"][name] = np.asarray(arr[np.flatnonzero(keep)], dtype=np.float32)  # (W, d)
                item["window_clip"][name] = np.searchsorted(used, clip_of[keep])
                item["avail"][np.unique(item["window_clip"][name]), e] = True
        labels = np.zeros(len(self.genre_index), dtype=np.float32)
        for g in meta.genres:
            if g in self.genre_index:
                labels[self.genre_index[g]] = 1.0
        item["labels"] = labels
        return item


def make_collate(experts: dict[str, ExpertInfo]) -> Callable[[list[dict]], Batch]:
    """Collate function that flattens the clips of all trailers of a batch.

    Every expert is in ``feats`` and every window-level expert in ``window_clip`` whatever the
    batch holds: an expert that no trailer of the batch has gives zero rows of windows (window
    level) or zero-filled clip rows (clip level), and ``avail`` says it is absent. So the model
    meets one shape per level, never a special case per batch.
    """

    def collate(items: list[dict]) -> Batch:
        offsets = np.cumsum([0] + [it["n"] for it in items])
        feats, window_clip = {}, {}
        for name, info in experts.items():
            has = [(it, off) for it, off in zip(items, offsets) if name in it["feats"]]
            if info.level == "window":
                feats[name] = torch.from_numpy(_concat([it["feats"][name] for it, _ in has], (0, info.dim), np.float32))
                window_clip[name] = torch.from_numpy(
                    _concat([it["window_clip"][name] + off for it, off in has], (0,), np.int64)
                )
            else:  # clip level: a trailer without the expert still needs its rows, zeros
                full = np.zeros((int(offsets[-1]), info.dim), np.float32)
                for it, off in has:
                    full[off : off + it["n"]] = it["feats"][name]
                feats[name] = torch.from_numpy(full)
        windows = torch.from_numpy(np.stack([it["windows"] + off for it, off in zip(items, offsets)]))
        return Batch(
            ids=[it["id"] for it in items],
            feats=feats,
            window_clip=window_clip,
            avail=torch.from_numpy(np.concatenate([it["avail"] for it in items])),
            windows=windows.long(),
            labels=torch.from_numpy(np.stack([it["labels"] for it in items])),
        )

    return collate


def _concat(parts: list[np.ndarray], empty: tuple[int, ...], dtype: type) -> np.ndarray:
    """``parts`` joined along rows as ``dtype``; an array of shape ``empty`` when there are none."""
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(empty, dtype)
