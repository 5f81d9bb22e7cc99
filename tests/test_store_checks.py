"""Checksums recorded with every entry, `mmx store verify`, keyframes in the store, a full disk."""

from __future__ import annotations

import errno
import io
import json

import numpy as np
import pytest
from PIL import Image

from helpers import trailer, write_folder
from mmx.data import store as store_module
from mmx.data.importer import import_folder
from mmx.data.store import KEYFRAME_BYTES, EntryMeta, FeatureStore
from mmx.errors import StoreError
from mmx.inputs import ExpertInfo
from mmx_cli.main import main


def jpeg(value: int, width: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, 8), (value, 255 - value, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def small_store(root, n: int = 3) -> FeatureStore:
    store = FeatureStore.create(root)
    store.register_experts({"image": ExpertInfo(4), "audio": ExpertInfo(2, "window")})
    for i in range(n):
        arrays = {"image": np.full((3, 4), i), "audio": np.ones((4, 2)), "audio__clip": np.array([0, 1, 1, 2])}
        store.write_entry(EntryMeta(f"t{i}", ["Drama"], 3, [], source={"npz": f"/data/in/t{i}.npz"}), arrays,
                          clip_times=np.arange(6.0).reshape(3, 2), keyframes=[jpeg(10 * i + c) for c in range(3)])
    return store


def test_keyframes_round_trip_and_are_added_atomically(tmp_path):
    store = small_store(tmp_path / "s")
    frames = [jpeg(c) for c in range(3)]
    assert store.keyframes("t1") == [jpeg(10 + c) for c in range(3)] and store.keyframe("t1", 2) == jpeg(12)
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


def test_reimport_replaces_a_damaged_entry(tmp_path):
    folder = write_folder(tmp_path / "in", {"a": trailer(), "b": trailer(seed=2)})
    store = FeatureStore.create(tmp_path / "s")
    import_folder(folder, store)
    path = store.entries_dir / store.meta("a").key / "image.npy"
    path.write_bytes(path.read_bytes()[:-8])
    again = import_folder(folder, FeatureStore(store.root))
    assert again.updated == ["a"] and again.unchanged == ["b"]
    assert FeatureStore(store.root).verify() == []


def test_import_takes_keyframes_from_a_folder(tmp_path):
    folder = write_folder(tmp_path / "in", {"a": trailer(n=12), "b": trailer(n=12, seed=2)})
    (folder / "a.keyframes").mkdir()
    for c in range(12):
        (folder / "a.keyframes" / f"{c:04d}.jpg").write_bytes(jpeg(c))
    (folder / "b.keyframes").mkdir()
    (folder / "b.keyframes" / "0000.jpg").write_bytes(jpeg(1))  # one image for 12 clips
    store = FeatureStore.create(tmp_path / "s")
    report = import_folder(folder, store)
    assert sorted(report.imported) == ["a", "b"]
    assert [p.reason for p in report.problems] == [("keyframes not imported: b.keyframes holds 1 image(s) for "
                                                    "12 clips; give one per clip")]
    assert store.keyframes("a") == [jpeg(c) for c in range(12)] and store.keyframes("b") is None
    (folder / "a.keyframes" / "0003.jpg").write_bytes(jpeg(99))
    assert import_folder(folder, FeatureStore(store.root)).updated == ["a"]  # changed keyframes: re-imported
    assert FeatureStore(store.root).keyframe("a", 3) == jpeg(99)


def test_a_full_disk_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    store = small_store(tmp_path / "s", n=1)

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module._Hashing, "write", full)
    with pytest.raises(StoreError, match=r"no space left on its disk .* run the same command again"):
        store.write_entry(EntryMeta("t0", ["Horror"], 3, []), {"image": np.zeros((3, 4))})
    with pytest.raises(StoreError, match="no space left"):
        store.add_keyframes("t0", [jpeg(1)] * 3)
    monkeypatch.undo()
    fresh = FeatureStore(store.root)
    assert fresh.meta("t0").genres == ["Drama"] and fresh.verify() == []
    assert not [p for p in store.entries_dir.iterdir() if p.name.startswith(".")]
