"""Cut detection on generated trailers with known cuts: found within one frame, in every container the corpus
writes, moved by the scene settings; scene ranges cover every frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmx.extract.audio import load_audio
from mmx.extract.cuts import detect_cuts, scene_ranges
from mmx.extract.decode import Resizer, decode_video, probe
from mmx.synthetic.videos import CONTAINER_CODECS, VideoCorpusConfig, generate_videos, make_trailer

SMALL = VideoCorpusConfig(n_videos=3, seed=5, shots=(5, 7), shot_frames=(16, 26), width=128, height=96)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    generate_videos(out, SMALL)
    return out


def _small_frames(path: Path, width: int = 128, height: int = 96):
    resizer = Resizer()
    return (resizer.image(f, width, height, "bgr24") for f in decode_video(path))


def test_cuts_found_within_one_frame(corpus):
    truths = json.loads((corpus / "truth.json").read_text())
    assert len(truths) == SMALL.n_videos
    for t in truths:
        found = detect_cuts(_small_frames(corpus / t["file"]), fps=t["fps"])
        assert len(found) == len(t["cuts"]), (t["file"], found, t["cuts"])
        assert np.abs(np.array(found) - np.array(t["cuts"])).max() <= 1


@pytest.mark.parametrize("suffix", sorted(CONTAINER_CODECS))
def test_every_container_decodes_with_cuts_and_audio(tmp_path, suffix):
    cfg = VideoCorpusConfig(width=64, height=48, suffix=suffix)
    path = tmp_path / f"t{suffix}"
    cuts = make_trailer(path, ["Action", "Horror", "Comedy"], [18, 18, 18], cfg, np.random.default_rng(0))
    assert probe(path).has_audio
    assert detect_cuts(_small_frames(path, 64, 48), fps=24.0) == cuts == [18, 36]
    assert abs(len(load_audio(path)) / 16000 - 54 / 24) < 0.1


def test_scene_settings_change_the_cuts(corpus):
    t = json.loads((corpus / "truth.json").read_text())[0]
    path = corpus / t["file"]
    assert detect_cuts(_small_frames(path), t["fps"], threshold=255.0) == []  # nothing passes: one scene
    longest = max(np.diff([0] + t["cuts"] + [t["n_frames"]]))
    sparse = detect_cuts(_small_frames(path), t["fps"], min_scene_len=int(longest) + 1)
    assert len(sparse) < len(t["cuts"])
    assert all(b - a > longest for a, b in zip([0] + sparse, sparse))


def test_scene_ranges_cover_all_frames():
    assert scene_ranges([], 50) == [(0, 50)]
    assert scene_ranges([10, 30], 50) == [(0, 10), (10, 30), (30, 50)]
    assert scene_ranges([0, 50, 60], 50) == [(0, 50)]  # cuts outside the video are ignored
