"""The import format (labels.csv + one npz per trailer) into a store: round trip with memory-mapped reads,
re-imports, every bad input reported and the rest imported, keyframes from a folder, a damaged entry replaced."""

from __future__ import annotations

import os

import numpy as np
import pytest

from helpers import tiny_jpeg, trailer, write_folder
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.errors import InputError


def test_import_roundtrip_and_memory_mapped_reads(tmp_path):
    arrays = trailer(seed=1)
    arrays["clip_times"] = np.stack([np.arange(12.0), np.arange(12.0) + 1], 1)
    folder = write_folder(tmp_path / "in", {"a": arrays, "b": trailer(seed=2, audio=False)},
                          [{"trailer_id": "a", "genres": "Action|Science Fiction", "title": "A", "year": "1999", "split": "test"},
                           {"trailer_id": "b", "genres": "comedy", "title": "B", "year": "", "split": ""}])
    store = FeatureStore.create(tmp_path / "store")
    report = import_folder(folder, store)
    assert report.ok and sorted(report.imported) == ["a", "b"]
    assert store.experts["audio"].level == "window" and store.experts["image"].dim == 8
    assert "import:" in store.experts["image"].source
    reopened = FeatureStore(tmp_path / "store")
    a = reopened.meta("a")
    assert (a.genres, a.title, a.year, a.split, a.n_clips) == (["Action", "Sci-Fi"], "A", 1999, "test", 12)
    assert reopened.meta("b").experts == ["image", "motion"]  # no audio track
    img = reopened.load("a", "image")
    assert isinstance(img, np.memmap)
    np.testing.assert_array_equal(img, arrays["image"])
    np.testing.assert_array_equal(reopened.load_window_clips("a", "audio"), arrays["audio__clip"])
    np.testing.assert_array_equal(reopened.load_clip_times("a"), arrays["clip_times"])
    assert reopened.load("b", "audio") is None
    assert reopened.genres() == ["Action", "Comedy", "Sci-Fi"]


def test_reimport_changes_nothing_and_updates_changed_rows(tmp_path):
    folder = write_folder(tmp_path / "in", {"a": trailer(), "b": trailer(seed=3)})
    store = FeatureStore.create(tmp_path / "store")
    import_folder(folder, store)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "store").rglob("*") if p.is_file()}
    again = import_folder(folder, FeatureStore(tmp_path / "store"))
    assert sorted(again.unchanged) == ["a", "b"] and not again.imported and not again.updated
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "store").rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == {p: t for p, t in before.items() if p.name != ".lock"}
    write_folder(folder, {}, [{"trailer_id": "a", "genres": "Horror"}, {"trailer_id": "b", "genres": "Action|Drama"}])
    third = import_folder(folder, FeatureStore(tmp_path / "store"))
    assert third.updated == ["a"] and third.unchanged == ["b"]
    assert FeatureStore(tmp_path / "store").meta("a").genres == ["Horror"]


def test_each_bad_input_is_reported_and_the_rest_imported(tmp_path):
    good = trailer()
    nan = trailer(seed=5)
    nan["image"][3, 1] = np.nan
    inf = trailer(seed=6)
    inf["motion"][0, 0] = np.inf
    mismatch = trailer(seed=7)
    mismatch["motion"] = mismatch["motion"][:10]
    wrong_dim = trailer(seed=8, img_dim=9)
    bad_clip = trailer(seed=9)
    bad_clip["audio__clip"][-1] = 99
    folder = write_folder(
        tmp_path / "in",
        {"good": good, "good2": trailer(seed=4), "nan": nan, "inf": inf, "mismatch": mismatch,
         "wrong_dim": wrong_dim, "bad_clip": bad_clip, "orphan": trailer(seed=10)},
        [{"trailer_id": t, "genres": "Drama"} for t in
         ["good", "good2", "nan", "inf", "mismatch", "wrong_dim", "bad_clip", "no_npz", "not_npz"]]
        + [{"trailer_id": "nogenre", "genres": ""}, {"trailer_id": "good", "genres": "Comedy"},
           {"trailer_id": "badsplit", "genres": "Drama", "split": "dev"}],
    )
    (folder / "not_npz.npz").write_text("this is not a zip file")
    store = FeatureStore.create(tmp_path / "store")
    report = import_folder(folder, store)
    assert sorted(report.imported) == ["good", "good2"]
    reasons = {p.where: p.reason for p in report.problems}
    assert "NaN or inf" in reasons["nan.npz"] and "NaN or inf" in reasons["inf.npz"]
    assert "different clip counts" in reasons["mismatch.npz"]
    assert "9-d; the rest of the collection has 8-d" in reasons["wrong_dim.npz"]
    assert "points outside clips" in reasons["bad_clip.npz"]
    assert "not a readable npz" in reasons["not_npz.npz"]
    assert "has no row in labels.csv" in reasons["orphan.npz"]
    assert any("no no_npz.npz" in r for r in reasons.values())
    assert any("has no genres" in r for r in reasons.values())
    assert any("duplicate trailer_id 'good'" in r for r in reasons.values())
    assert any("split 'dev'" in r for r in reasons.values())
    assert len(report.problems) == 11


def test_unreadable_folder_and_missing_labels(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    with pytest.raises(InputError, match="not a readable folder"):
        import_folder(tmp_path / "nowhere", store)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no labels.csv"):
        import_folder(tmp_path / "empty", store)
    (tmp_path / "empty" / "labels.csv").write_text("id,genre\nx,Drama\n")
    with pytest.raises(InputError, match="needs columns trailer_id and genres"):
        import_folder(tmp_path / "empty", store)
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked"
        locked.mkdir(mode=0)
        with pytest.raises(InputError):
            import_folder(locked, store)


def test_expert_dims_are_fixed_by_the_store(tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    import_folder(write_folder(tmp_path / "a", {"a": trailer()}), store)
    report = import_folder(write_folder(tmp_path / "b", {"b": trailer(img_dim=5)}), store)
    assert not report.imported and "5-d; the rest of the collection has 8-d" in report.problems[0].reason


def test_odd_trailer_ids_are_safe(tmp_path):
    folder = write_folder(tmp_path / "in", {"#RealityHigh": trailer(), "A b (2001)": trailer(seed=2)})
    store = FeatureStore.create(tmp_path / "store")
    assert import_folder(folder, store).ok
    assert set(FeatureStore(tmp_path / "store").entries()) == {"#RealityHigh", "A b (2001)"}


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
        (folder / "a.keyframes" / f"{c:04d}.jpg").write_bytes(tiny_jpeg(c))
    (folder / "b.keyframes").mkdir()
    (folder / "b.keyframes" / "0000.jpg").write_bytes(tiny_jpeg(1))  # one image for 12 clips
    store = FeatureStore.create(tmp_path / "s")
    report = import_folder(folder, store)
    assert sorted(report.imported) == ["a", "b"]
    assert [p.reason for p in report.problems] == [("keyframes not imported: b.keyframes holds 1 image(s) for "
                                                    "12 clips; give one per clip")]
    assert store.keyframes("a") == [tiny_jpeg(c) for c in range(12)] and store.keyframes("b") is None
    (folder / "a.keyframes" / "0003.jpg").write_bytes(tiny_jpeg(99))
    assert import_folder(folder, FeatureStore(store.root)).updated == ["a"]  # changed keyframes: re-imported
    assert FeatureStore(store.root).keyframe("a", 3) == tiny_jpeg(99)
