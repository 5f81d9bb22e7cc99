"""The output folders of v-iashin/video_features: stacks and windows aligned on the clip grid, labels from
--labels, every problem named."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.data.formats import ImportOptions, import_source
from mmx.data.store import FeatureStore
from mmx.errors import InputError
from release_miniatures import reasons, write_video_features


def test_video_features_outputs_align_on_the_clip_grid(tmp_path):
    root = tmp_path / "out"
    dirty = write_video_features(root)
    store = FeatureStore.create(tmp_path / "store")
    with pytest.raises(InputError, match="--labels"):
        import_source(root, store)
    fmt, report = import_source(root, store, options=ImportOptions(labels=root / "labels.csv", clip_seconds=2.0))
    assert fmt == "video-features" and len(report.imported) == 30
    text = "\n".join(f"{w}: {r}" for w, r in reasons(report).items())
    assert "3 times for" in text and f"{dirty['no_label']}_*.npy: has no row" in text and dirty["no_features"] in text
    assert store.experts["vggish"].level == "window" and store.experts["i3d_rgb"].dim == 16

    tid = "trailer_002"
    rgb = np.load(root / "i3d" / f"{tid}_rgb.npy")
    ends = np.load(root / "i3d" / f"{tid}_timestamps_ms.npy") / 1000
    mids = ends - np.diff(ends).mean() / 2  # a stack spans the 64 frames before its timestamp
    times = store.load_clip_times(tid)
    assert times[:, 1].max() >= ends.max() and np.allclose(np.diff(times, axis=1), 2.0)
    for c, (start, end) in enumerate(times):
        inside = (mids >= start) & (mids < end)
        want = rgb[inside].mean(0) if inside.any() else rgb[np.abs(mids - (start + end) / 2).argmin()]
        assert np.allclose(store.load(tid, "i3d_rgb")[c], want, atol=1e-6)
    win = store.load_window_clips(tid, "vggish")
    assert win.tolist() == np.minimum(((np.arange(len(win)) + 0.5) * 0.96 // 2).astype(int), len(times) - 1).tolist()
