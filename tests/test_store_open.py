"""Opening and reading a store changes nothing on disk; writers tidy up after killed writers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from helpers import snapshot
from mmx.data.store import STALE_TMP_SECONDS, EntryMeta, FeatureStore
from mmx.inputs import ExpertInfo


def store_with_leftovers(root: Path) -> FeatureStore:
    """Entries "x" (swap cut short: only its .old- folder is left) and "y", and a stale temp folder."""
    store = FeatureStore.create(root)
    store.register_experts({"image": ExpertInfo(4)})
    store.write_entry(EntryMeta("x", ["Drama"], 3, []), {"image": np.ones((3, 4))})
    store.write_entry(EntryMeta("y", ["Comedy"], 2, []), {"image": np.zeros((2, 4))})
    entries = root / "entries"
    key = store.meta("x").key
    os.replace(entries / key, entries / f".old-{key}.deadbeef")  # killed between the two renames of a swap
    stale = entries / f".tmp-{key}.cafe0001"
    stale.mkdir()
    (stale / "image.npy").write_bytes(b"half written")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    return store


def test_opening_and_reading_leave_the_folder_untouched(tmp_path):
    root = tmp_path / "store"
    store_with_leftovers(root)
    before = snapshot(root)
    store = FeatureStore(root)
    assert sorted(store.entries()) == ["x", "y"]  # "x" is read from where the killed swap left it
    np.testing.assert_array_equal(store.load("x", "image"), np.ones((3, 4)))
    assert store.meta("y").genres == ["Comedy"] and store.load_clip_times("y") is None
    assert store.keyframes("y") is None and store.verify() == []
    store.refresh()
    len(FeatureStore(root))
    assert snapshot(root) == before


def test_the_first_writer_finishes_the_swap_and_drops_stale_temp_folders(tmp_path):
    root = tmp_path / "store"
    store_with_leftovers(root)
    store = FeatureStore(root)
    store.register_experts({"audio": ExpertInfo(2, "window")})  # any write takes the lock
    names = sorted(p.name for p in (root / "entries").iterdir())
    assert not any(n.startswith((".old-", ".tmp-")) for n in names) and len(names) == 2
    assert FeatureStore(root).meta("x").genres == ["Drama"]


def test_write_entry_returns_the_written_meta_and_leaves_the_callers_alone(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"image": ExpertInfo(4), "audio": ExpertInfo(2, "window")})
    meta = EntryMeta("x", ["Drama"], 3, [])
    arrays = {"image": np.ones((3, 4)), "audio": np.ones((5, 2)), "audio__clip": np.array([0, 0, 1, 2, 2])}
    written = store.write_entry(meta, arrays, clip_times=np.zeros((3, 2)))
    assert meta == EntryMeta("x", ["Drama"], 3, [])
    assert written.experts == ["audio", "image"] and written.has_clip_times and written.key
    assert set(written.checksums) == {"image.npy", "audio.npy", "audio__clip.npy", "clip_times.npy"}
    assert FeatureStore(tmp_path / "store").meta("x") == written
