"""Generated videos with shots of known genres, and the store the cheap fake experts extract from them with
keyframes (for the tests of extraction against a damaged or full store, and of keyframes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract_fakes import CHEAP, register_fakes
from mmx.data.store import FeatureStore
from mmx.extract import extract_videos
from mmx.synthetic.videos import VideoCorpusConfig, generate_videos

register_fakes()
VIDEOS = VideoCorpusConfig(n_videos=4, seed=21, shots=(3, 4), shot_frames=(16, 20), width=112, height=84)


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("videos")
    generate_videos(out, VIDEOS)
    return out


@pytest.fixture(scope="session")
def full(videos, tmp_path_factory) -> FeatureStore:
    """The videos extracted with keyframes."""
    store = FeatureStore.create(tmp_path_factory.mktemp("full") / "store")
    assert extract_videos([videos], store, CHEAP, progress=False).ok
    return store
