"""Extraction profiles: a profile's sampling and precision reach the experts, overrides win over it, an unknown
profile is named, a CUDA device without a GPU says so."""

from __future__ import annotations

import pytest
import torch

from mmx.extract import ExtractConfig


def test_profiles_device_and_precision_reach_the_experts():
    from mmx.errors import ConfigError, ExtractError
    from mmx.extract.pipeline import load_experts

    fast = {e.name: e for e in load_experts(ExtractConfig(experts=["motion", "scene"], profile="fast",
                                                           precision="fp32"))[0]}
    assert (fast["motion"].size, fast["motion"].max_frames, fast["scene"].max_frames) == (112, 8, 1)
    mixed = ExtractConfig(experts=["motion"], profile="fast", sampling={"motion": {"size": 160}}, precision="bf16")
    (motion,), _ = load_experts(mixed)
    assert (motion.size, motion.max_frames, motion.precision) == (160, 8, "bf16")  # overrides win over the profile
    assert motion.settings()["precision"] == "bf16"  # part of the fingerprint: a rerun in fp32 re-extracts
    with pytest.raises(ConfigError, match="unknown extraction profile 'slow'"):
        ExtractConfig(profile="slow")
    if not torch.cuda.is_available():
        with pytest.raises(ExtractError, match="no CUDA GPU"):
            load_experts(ExtractConfig(experts=["scene"], device="cuda"))
