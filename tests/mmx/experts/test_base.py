"""What an expert is: every registered expert declares the interface; sampling settings go through the
constructor, checked, leaving the class defaults alone; audio experts take no frame sampling."""

from __future__ import annotations

import pytest

import extract_fakes  # noqa: F401  (registers the fake experts: they declare the interface too)
from mmx.experts import EXPERTS
from mmx.extract import ExtractConfig


@pytest.mark.parametrize("name", EXPERTS.names())
def test_registered_experts_declare_the_interface(name):
    e = EXPERTS.create(name)
    assert e.name == name
    assert e.modality in ("rgb", "flow", "audio") and e.level in ("clip", "window") and e.dim > 0
    assert (e.level == "window") == (e.modality == "audio")
    assert 1 <= e.min_frames <= e.max_frames and e.fps > 0 and e.size > 0
    assert e.settings()["name"] == name and e.settings()["dim"] == e.dim


def test_sampling_settings_go_through_the_constructor():
    from mmx.errors import ConfigError
    from mmx.experts import EXPERTS
    from mmx.extract.pipeline import load_experts

    (expert,), _ = load_experts(ExtractConfig(experts=["fake_colour"], sampling={"fake_colour": {"fps": 2, "size": 48}}))
    assert (expert.fps, expert.size, expert.max_frames) == (2.0, 48, 6)
    assert expert.settings()["size"] == 48
    assert EXPERTS.create("fake_colour").size == 32  # the class default is untouched
    with pytest.raises(ConfigError, match="min_frames <= max_frames"):
        EXPERTS.create("fake_colour", min_frames=9)
    with pytest.raises(ConfigError, match="no frame sampling"):
        EXPERTS.create("fake_loudness", fps=3)
