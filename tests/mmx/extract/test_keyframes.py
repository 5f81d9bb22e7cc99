"""Keyframes: one small JPEG per clip, showing the clip's look; added later to a store extracted without them,
without running the experts."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from extract_fakes import CHEAP, register_fakes
from mmx.data.store import FeatureStore
from mmx.extract import ExtractConfig, extract_videos

register_fakes()


def test_every_clip_gets_a_small_keyframe(full):
    for tid, meta in full.entries().items():
        images = full.keyframes(tid)
        assert meta.has_keyframes and len(images) == meta.n_clips
        pictures = [Image.open(io.BytesIO(k)) for k in images]
        assert {p.format for p in pictures} == {"JPEG"} and {p.size for p in pictures} == {(112, 84)}
        colours = np.array([np.asarray(p.convert("RGB"), np.float32).mean((0, 1)) / 255 for p in pictures])
        np.testing.assert_allclose(colours, full.load(tid, "fake_colour")[:, :3], atol=0.06)  # the clip's look


def test_keyframes_are_added_later_without_running_the_experts(videos, full, tmp_path, monkeypatch):
    from extract_fakes import MeanColour

    store = FeatureStore.create(tmp_path / "store")
    no_frames = ExtractConfig(experts=CHEAP.experts, flow_workers=0, keyframes=False)
    assert extract_videos([videos], store, no_frames, progress=False).ok
    assert not any(m.has_keyframes for m in FeatureStore(store.root).entries().values())

    def refuse(self, frames):
        raise AssertionError("an expert ran although only keyframes were missing")

    monkeypatch.setattr(MeanColour, "embed_frames", refuse)
    report = extract_videos([videos], FeatureStore(store.root), CHEAP, progress=False)
    assert report.ok and sorted(report.keyframed) == sorted(full.entries()) and not report.extracted
    added = FeatureStore(store.root)
    for tid in full.entries():
        assert added.keyframes(tid) == full.keyframes(tid)  # the same frames as a fresh extraction picks
    assert added.verify() == []
