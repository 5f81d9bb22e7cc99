"""Trailers12k's release (a miniature written as its own writer did): rows are clips, bit-exact; every dirty entry
named once; re-imports and other folds."""

from __future__ import annotations

import numpy as np

from mmx.data.formats import ImportOptions, import_source
from mmx.data.store import FeatureStore
from release_miniatures import T12K_GENRES, reasons, write_trailers12k


def test_trailers12k_rows_are_clips_and_every_dirty_entry_is_named(tmp_path):
    import zarr

    root = tmp_path / "trailers12k"
    dirty = write_trailers12k(root)
    store = FeatureStore.create(tmp_path / "store")
    fmt, report = import_source(root, store)
    assert fmt == "trailers12k" and len(report.imported) == 40
    assert set(store.experts) == {"i_resnet", "k_r2plus1d"}
    text = "\n".join(f"{w}: {r}" for w, r in reasons(report).items())
    assert f"{dirty['missing']} has no array in k_r2plus1d_fps24_fpc24.zarr" in text
    assert "NaN or inf" in text and "is 7-d; the rest of the collection has 8-d" in text
    assert f"(trailer {dirty['nan']}): expert 'i_resnet' has NaN or inf values in 1 row(s)" in text  # named by its mid
    assert f"(trailer {dirty['wrong_dim']}): expert 'i_resnet' is 7-d" in text
    assert "different clip counts" in text and "blosc" in text.lower()
    assert f"i_resnet_fpc24.zarr/{dirty['unknown']}: has no row" in text
    assert "must be 0 or 1" in text and len(report.problems) == 7  # each dirty entry once

    mid = "tt1000003"
    z = zarr.open_group(str(root / "i_resnet_fpc24.zarr"), mode="r")
    assert np.array_equal(store.load(mid, "i_resnet"), z[mid][...])  # row k is clip k, bit-exact
    times = store.load_clip_times(mid)
    assert times.shape == (z[mid].shape[0], 2) and times[1].tolist() == [1.0, 2.0]  # 24 frames at 24 fps
    meta = store.meta(mid)
    assert set(meta.genres) <= {g.title() if g != "sci-fi" else "Sci-Fi" for g in T12K_GENRES}
    assert meta.split == meta.source["folds"][0]

    _, again = import_source(root, store)
    assert (again.imported, again.updated, len(again.unchanged)) == ([], [], 40)
    _, fold2 = import_source(root, store, options=ImportOptions(fold=2))
    changed = {t for t, m in store.entries().items() if m.source["folds"][0] != m.source["folds"][2]}
    assert set(fold2.updated) == changed and store.meta(mid).split == store.meta(mid).source["folds"][2]
