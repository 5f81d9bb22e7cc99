"""An ``mmx export`` folder read back: every trailer a record with its arrays as stored (window experts with the
clip of each window, clip times, keyframes), an expert a trailer lacks left out, and a folder that is not an
export named with what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import trailer, write_folder
from mmx.data.formats import FORMATS, ImportOptions
from mmx.data.formats.parquet import MANIFEST, detect, records, to_arrays
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.errors import InputError
from mmx.export import export


def test_records_give_back_the_stores_arrays(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    import_folder(write_folder(tmp_path / "in", {"a": trailer(n=5), "b": trailer(n=7, seed=1, audio=False)}), store)
    out = tmp_path / "export"
    export(out, store)
    assert detect(out) and not detect(tmp_path / "in")
    got = {r.trailer_id: r for r in records(out, json.loads((out / MANIFEST).read_text()))}
    assert sorted(got) == ["a", "b"] and got["a"].genres == ["Action", "Drama"]
    for tid, rec in got.items():
        assert rec.problem is None and sorted(rec.arrays) == sorted(store.meta(tid).experts + (
            ["audio__clip"] if "audio" in store.meta(tid).experts else []))
        for name, x in rec.arrays.items():
            want = store.load_window_clips(tid, "audio") if name == "audio__clip" else store.load(tid, name)
            assert x.tobytes() == np.asarray(want).tobytes()


def test_clip_rows_become_arrays_windows_times_and_keyframes():
    experts = {"image": {"dim": 2, "level": "clip"}, "audio": {"dim": 1, "level": "window"},
               "face": {"dim": 1, "level": "clip"}}
    rows = [{"image": [0.0, 1.0], "audio": [[0.5], [0.25]], "face": None, "start": 0.0, "end": 1.5,
             "keyframe": {"bytes": b"jpg0", "path": None}},
            {"image": [2.0, 3.0], "audio": [], "face": None, "start": 1.5, "end": 3.0,
             "keyframe": {"bytes": b"jpg1", "path": None}},
            {"image": [4.0, 5.0], "audio": [[0.75]], "face": None, "start": 3.0, "end": 4.0,
             "keyframe": {"bytes": b"jpg2", "path": None}}]
    arrays, times, keyframes = to_arrays(rows, experts)
    assert sorted(arrays) == ["audio", "audio__clip", "image"]  # no face rows: the trailer lacks that expert
    np.testing.assert_array_equal(arrays["image"], np.arange(6, dtype=np.float32).reshape(3, 2))
    assert arrays["audio"].tolist() == [[0.5], [0.25], [0.75]] and arrays["audio__clip"].tolist() == [0, 0, 2]
    assert times.dtype == np.float64 and times.tolist() == [[0.0, 1.5], [1.5, 3.0], [3.0, 4.0]]
    assert keyframes == [b"jpg0", b"jpg1", b"jpg2"]
    rows[1]["start"] = None
    assert to_arrays(rows, experts)[1] is None  # a clip without times: the trailer has none


def test_a_folder_that_is_not_an_export_is_named(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    fmt = FORMATS.create("parquet")
    (tmp_path / MANIFEST).write_text("{")
    with pytest.raises(InputError, match=f"{MANIFEST} is not readable .*an `mmx export` folder"):
        fmt.run(tmp_path, store, ImportOptions())
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match=f"{MANIFEST} is not an mmx export manifest"):
        fmt.run(tmp_path, store, ImportOptions())
