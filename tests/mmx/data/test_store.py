"""The feature store: checksums recorded with every entry, `mmx store verify`, keyframes, a full disk, atomic
entries and swaps a killed writer leaves half done; opening and reading change nothing on disk."""

from __future__ import annotations

import errno
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import snapshot, tiny_jpeg
from mmx.data import store as store_module
from mmx.data.store import KEYFRAME_BYTES, STALE_TMP_SECONDS, EntryMeta, FeatureStore
from mmx.errors import StoreError
from mmx.inputs import ExpertInfo
from mmx_cli.main import main


def small_store(root, n: int = 3) -> FeatureStore:
    store = FeatureStore.create(root)
    store.register_experts({"image": ExpertInfo(4), "audio": ExpertInfo(2, "window")})
    for i in range(n):
        arrays = {"image": np.full((3, 4), i), "audio": np.ones((4, 2)), "audio__clip": np.array([0, 1, 1, 2])}
        store.write_entry(EntryMeta(f"t{i}", ["Drama"], 3, [], source={"npz": f"/data/in/t{i}.npz"}), arrays,
                          clip_times=np.arange(6.0).reshape(3, 2), keyframes=[tiny_jpeg(10 * i + c) for c in range(3)])
    return store


def test_keyframes_round_trip_and_are_added_atomically(tmp_path):
    store = small_store(tmp_path / "s")
    frames = [tiny_jpeg(c) for c in range(3)]
    assert store.keyframes("t1") == [tiny_jpeg(10 + c) for c in range(3)] and store.keyframe("t1", 2) == tiny_jpeg(12)
    assert Image.open(io.BytesIO(store.keyframe("t0", 0))).size == (16, 8)
    with pytest.raises(IndexError):
        store.keyframe("t0", 3)
    plain = store.write_entry(EntryMeta("bare", [], 3, []), {"image": np.ones((3, 4))})
    assert not plain.has_keyframes and store.keyframes("bare") is None and store.keyframe("bare", 0) is None
    added = store.add_keyframes("bare", frames)
    reopened = FeatureStore(tmp_path / "s")
    assert added.has_keyframes and reopened.meta("bare") == added and reopened.keyframes("bare") == frames
    np.testing.assert_array_equal(reopened.load("bare", "image"), np.ones((3, 4)))
    assert reopened.verify() == []
    with pytest.raises(StoreError, match="3 clips but 2 keyframes"):
        store.add_keyframes("bare", frames[:2])
    assert not [p for p in (tmp_path / "s" / "entries").iterdir() if p.name.startswith(".")]


def test_entries_written_before_checksums_and_keyframes_still_read(tmp_path):
    store = small_store(tmp_path / "s", n=1)
    meta_path = tmp_path / "s" / "entries" / store.meta("t0").key / "meta.json"
    record = json.loads(meta_path.read_text())
    for new_field in ("checksums", "has_keyframes"):
        record.pop(new_field)
    meta_path.write_text(json.dumps(record))
    old = FeatureStore(tmp_path / "s")
    assert not old.meta("t0").has_keyframes and old.keyframes("t0") is None and old.verify() == []
    np.testing.assert_array_equal(old.load("t0", "image"), np.zeros((3, 4)))


def damage(store: FeatureStore) -> None:
    """t0: a flipped byte; t1: a truncated .npy; t2: a missing file."""
    entries = store.entries_dir
    path = entries / store.meta("t0").key / "image.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))
    path = entries / store.meta("t1").key / "audio__clip.npy"
    path.write_bytes(path.read_bytes()[:-4])
    (entries / store.meta("t2").key / KEYFRAME_BYTES).unlink()


def test_verify_names_each_damaged_file(tmp_path, capsys):
    store = small_store(tmp_path / "s")
    assert main(["store", "verify", str(store.root)]) == 0
    assert "3 entries, every file whole" in capsys.readouterr().out
    damage(store)
    found = {(d.trailer_id, d.file): d.reason for d in FeatureStore(store.root).verify()}
    assert set(found) == {("t0", "image.npy"), ("t1", "audio__clip.npy"), ("t2", KEYFRAME_BYTES)}
    assert "checksum differs" in found["t0", "image.npy"]
    assert found["t1", "audio__clip.npy"].startswith("truncated")
    assert found["t2", KEYFRAME_BYTES] == "missing"
    assert main(["store", "verify", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert "3 of 3 entries damaged" in out and "mmx import /data/in --store" in out
    assert main(["store", "verify", str(store.root), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and {d["trailer_id"] for d in report["damaged"]} == {"t0", "t1", "t2"}


def test_unreadable_meta_is_named(tmp_path, capsys):
    store = small_store(tmp_path / "s", n=2)
    (store.entries_dir / store.meta("t1").key / "meta.json").write_text("{not json")
    damaged = FeatureStore(store.root).verify()
    assert [(d.trailer_id, d.file) for d in damaged] == [("", "meta.json")]
    assert main(["store", "verify", str(store.root)]) == 1
    assert "meta.json unreadable" in capsys.readouterr().out


def test_a_full_disk_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    store = small_store(tmp_path / "s", n=1)

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module._Hashing, "write", full)
    with pytest.raises(StoreError, match=r"no space left on its disk .* run the same command again"):
        store.write_entry(EntryMeta("t0", ["Horror"], 3, []), {"image": np.zeros((3, 4))})
    with pytest.raises(StoreError, match="no space left"):
        store.add_keyframes("t0", [tiny_jpeg(1)] * 3)
    monkeypatch.undo()
    fresh = FeatureStore(store.root)
    assert fresh.meta("t0").genres == ["Drama"] and fresh.verify() == []
    assert not [p for p in store.entries_dir.iterdir() if p.name.startswith(".")]


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


def test_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="not an mmx store"):
        FeatureStore(tmp_path)


def test_entry_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"image": ExpertInfo(4)})
    meta = EntryMeta("x", ["Drama"], 3, [])
    store.write_entry(meta, {"image": np.ones((3, 4))})
    calls = {"n": 0}
    real_save = np.save

    def dying_save(*a, **k):  # the process dies in the middle of rewriting entry "x"
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        store.write_entry(EntryMeta("x", ["Horror"], 3, []), {"image": np.zeros((3, 4))})
    monkeypatch.setattr(np, "save", real_save)
    fresh = FeatureStore(tmp_path / "store")
    assert fresh.meta("x").genres == ["Drama"]
    np.testing.assert_array_equal(fresh.load("x", "image"), np.ones((3, 4)))
    assert not list((tmp_path / "store" / "entries").glob(".tmp-*"))


def test_swap_interrupted_between_renames_is_recovered(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"image": ExpertInfo(4)})
    store.write_entry(EntryMeta("x", ["Drama"], 3, []), {"image": np.ones((3, 4))})
    key = store.meta("x").key
    entries = tmp_path / "store" / "entries"
    os.replace(entries / key, entries / f".old-{key}.deadbeef")  # killed after moving the old entry away
    assert FeatureStore(tmp_path / "store").meta("x").genres == ["Drama"]
