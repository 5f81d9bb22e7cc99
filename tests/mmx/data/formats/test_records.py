"""The writer every streaming import format shares: records checked by the import format's rules, each bad one
named (with its trailer when its place does not say it) and skipped, the dims fixed by the release or the store,
and an unchanged entry left alone; the content digest changes with any byte, dtype or shape."""

from __future__ import annotations

import numpy as np

from mmx.data.formats.records import TrailerRecord, arrays_digest, write_records
from mmx.data.importer import ImportReport
from mmx.data.store import FeatureStore


def record(tid: str, seed: int, n: int = 12, dim: int = 6, where: str | None = None, **kw) -> TrailerRecord:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return TrailerRecord(where or f"release/{tid}.npy", tid, kw.pop("genres", ["Drama"]), {"x": x}, **kw)


def test_each_bad_record_is_named_and_skipped_and_the_rest_written(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    times = np.stack([np.arange(12.0), np.arange(1.0, 13.0)], axis=1)
    nan = record("t6", 6)
    nan.arrays["x"][3, 2] = np.nan
    records = [record("t1", 1, clip_times=times, title="One", year=2001, split="val", extra={"folds": ["val"]}),
               record("t2", 2, dim=5), record("t3", 3, where="mgtc.csv row 12", problem="has no features"),
               record("t1", 4), record("t5", 5, genres=[]), nan, record("t7", 7)]
    report = write_records(records, store, ImportReport(), "the release", dims={"x": 6}, info={"format": "test"})
    assert report.imported == ["t1", "t7"]
    why = {p.where: p.reason for p in report.problems}
    assert why["release/t2.npy"] == "expert 'x' is 5-d; the rest of the collection has 6-d"
    assert why["mgtc.csv row 12 (trailer t3)"] == "has no features"  # the row alone would not say which trailer
    assert "appears twice in the release; the first is kept" in why["release/t1.npy"]
    assert why["release/t5.npy"] == "trailer 't5' has no genres" and "NaN or inf" in why["release/t6.npy"]
    meta = store.meta("t1")
    assert (meta.title, meta.year, meta.split, meta.n_clips) == ("One", 2001, "val", 12)
    assert meta.source["format"] == "test" and meta.source["folds"] == ["val"]
    assert meta.source["sha256"] == arrays_digest(records[0].arrays, times)
    np.testing.assert_array_equal(store.load("t1", "x"), records[0].arrays["x"])
    np.testing.assert_array_equal(store.load_clip_times("t1"), times)
    assert store.experts["x"].dim == 6 and store.experts["x"].source == "the release"


def test_a_rerun_leaves_unchanged_entries_alone_and_the_store_fixes_the_dims(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    write_records([record("a", 1), record("b", 2)], store, ImportReport(), "r")
    again = write_records([record("a", 1), record("b", 2, genres=["Horror"]), record("c", 3, dim=7)], store,
                          ImportReport(), "r")
    assert again.unchanged == ["a"] and again.updated == ["b"] and again.imported == []
    assert [p.reason for p in again.problems] == ["expert 'x' is 7-d; the rest of the collection has 6-d"]
    assert store.meta("b").genres == ["Horror"]


def test_the_digest_changes_with_any_byte_dtype_shape_or_the_clip_times():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    base = arrays_digest({"x": x}, None)
    assert arrays_digest({"x": x.copy()}, None) == base
    changed = x.copy()
    changed[2, 3] = np.nextafter(changed[2, 3], np.float32(100))
    for other in ({"x": changed}, {"x": x.astype(np.float64)}, {"x": x.reshape(4, 3)}, {"y": x}):
        assert arrays_digest(other, None) != base
    assert arrays_digest({"x": x}, np.zeros((3, 2))) != base
