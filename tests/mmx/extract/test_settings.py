"""Extraction settings: checked when made, naming the setting; each expert's sampling is its profile's with the
config's overrides on top; the precision is the config's, else the profile's; only the settings that change the
vectors make a rerun extract again."""

from __future__ import annotations

import re

import pytest

from mmx.errors import ConfigError
from mmx.extract.settings import ExtractConfig


@pytest.mark.parametrize("bad, words", [
    ({"profile": "slow"}, "unknown extraction profile 'slow'; known: paper, default, fast"),
    ({"precision": "fp8"}, "precision 'fp8' must be one of auto, fp32, bf16, fp16"),
    ({"workers": 0}, "workers (0) >= 1"),
    ({"threads": -1}, "threads (-1) and scene_buffer_mb (512) must be >= 0"),
    ({"keyframe_width": 8}, "keyframe_width must be 16–1024 px"),
    ({"keyframe_quality": 96}, "keyframe_quality 1–95"),
])
def test_bad_settings_are_refused_when_made(bad, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        ExtractConfig(**bad)


def test_sampling_is_the_profiles_with_the_overrides_on_top():
    cfg = ExtractConfig(profile="fast", sampling={"motion": {"max_frames": 4}, "audio": {}})
    assert cfg.expert_sampling("motion") == {"size": 112, "max_frames": 4}
    assert cfg.expert_sampling("scene") == {"max_frames": 1}
    assert cfg.expert_sampling("audio") == {} and ExtractConfig().expert_sampling("motion") == {}
    assert ExtractConfig(profile="paper").wanted_precision() == "fp32"
    assert ExtractConfig(profile="paper", precision="bf16").wanted_precision() == "bf16"
    assert ExtractConfig().wanted_precision() == "auto"


def test_only_the_settings_that_change_the_vectors_are_fingerprinted():
    plain = ExtractConfig().vector_settings()
    assert ExtractConfig(workers=2, threads=3, keyframes=False, flow_workers=0, wav_dir="w").vector_settings() == plain
    for changed in ({"scene_threshold": 30.0}, {"min_scene_len": 20}, {"drop_frames": 0}, {"audio_rate": 22050}):
        assert ExtractConfig(**changed).vector_settings() != plain, changed
