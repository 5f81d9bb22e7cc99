"""Loaders over a store: a trailer's features and labels as the reading names them; every trailer once, in the
order its shuffle seed gives, the same windows again for the same epoch and others for the next; whole trailers for
prediction, one view per chapter (a chapter of at most 12 clips here), grouped by chapter count."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from mmx.data.dataset import evenly_spaced, random_starts
from mmx.data.loader import Reading, make_loader, whole_trailer_batches
from mmx.presets import MODELS

GENRES = ["Action", "Comedy", "Drama", "Horror"]


def reading(store, experts=("appearance", "audio")) -> Reading:
    return Reading({e: store.experts[e] for e in experts}, GENRES)


def test_a_batch_holds_the_trailers_features_and_labels_as_the_reading_names_them(small_store):
    ids = sorted(small_store.entries())[:5]
    batch = next(iter(make_loader(small_store, reading(small_store), ids, 5, evenly_spaced(2, 3))))
    assert batch.ids == ids and set(batch.feats) == {"appearance", "audio"} and batch.windows.shape == (5, 1, 2, 3)
    want = [[float(g in small_store.meta(t).genres) for g in GENRES] for t in ids]
    assert batch.labels.tolist() == want
    for b, tid in enumerate(ids):  # each window reads the clips the view names, from its own trailer
        view = evenly_spaced(2, 3)[0](small_store.meta(tid).n_clips, None)  # (2, 3) clip numbers
        np.testing.assert_array_equal(batch.feats["appearance"][batch.windows[b, 0]].numpy(),
                                      np.asarray(small_store.load(tid, "appearance"))[view])
    every = next(iter(make_loader(small_store, reading(small_store), ids, 5, evenly_spaced(2, 3), every_clip=True)))
    n = [small_store.meta(t).n_clips for t in ids]
    assert every.feats["appearance"].shape[0] == sum(n)  # every clip, trailer by trailer, in time order
    np.testing.assert_array_equal(every.feats["appearance"][n[0]:n[0] + n[1]].numpy(),
                                  np.asarray(small_store.load(ids[1], "appearance")))
    assert batch.avail.shape == (batch.feats["appearance"].shape[0], 2)


def test_a_seeded_loader_gives_every_trailer_once_an_epoch_and_the_same_windows_on_resume(small_store):
    ids = sorted(small_store.entries())[:20]
    r, views = reading(small_store, ("motion",)), random_starts(2, 3)

    def epoch(e: int) -> tuple[list[str], list[torch.Tensor]]:
        batches = list(make_loader(small_store, r, ids, 8, views, shuffle_seed=3, seed=1, epoch=e))
        return [t for b in batches for t in b.ids], [b.windows for b in batches]

    order, windows = epoch(0)
    assert sorted(order) == ids and order != ids  # each once, shuffled
    again, same = epoch(0)
    assert again == order and all(torch.equal(a, b) for a, b in zip(windows, same))  # a resumed epoch
    later, other = epoch(1)  # another epoch: the same order (the trainer seeds it), other random windows
    assert later == order and not all(torch.equal(a, b) for a, b in zip(windows, other))
    reshuffled = list(make_loader(small_store, r, ids, 8, views, shuffle_seed=4, seed=1))
    assert [t for b in reshuffled for t in b.ids] != order


def test_whole_trailers_are_read_one_view_per_chapter_grouped_by_chapters(small_store):
    ids = sorted(small_store.entries())
    cfg = dataclasses.replace(MODELS.create("tiny"), chapter_clips=12, n_seqs=2, seq_len=3)
    batches = list(whole_trailer_batches(small_store, reading(small_store), ids, 16, cfg))
    assert sorted(t for b in batches for t in b.ids) == ids  # every trailer once
    chapters = [b.windows.shape[1] for b in batches]
    assert chapters == sorted(chapters) and len(set(chapters)) > 1  # groups in order: 1 chapter, then 2, ...
    for b in batches:
        assert all(b.windows.shape[1] == -(-small_store.meta(t).n_clips // 12) for t in b.ids)  # ⌈clips / 12⌉
