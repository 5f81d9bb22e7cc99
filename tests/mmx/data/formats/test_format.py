"""The registry of import formats: every layout ``mmx import`` reads registered once under its name, each with a
one-line summary, a cheap detector and a reader; a name taken or unknown is refused."""

from __future__ import annotations

import pytest

from mmx.data.formats import FORMATS, ImportFormat, register_format
from mmx.errors import ConfigError


def test_every_layout_is_registered_once_with_its_summary_detector_and_reader(tmp_path):
    assert FORMATS.names() == ["mmx", "movienet", "parquet", "trailers12k", "video-features"]
    for name in FORMATS.names():
        fmt = FORMATS.create(name)
        assert isinstance(fmt, ImportFormat) and fmt.name == name
        assert fmt.summary and "\n" not in fmt.summary and callable(fmt.run)
        assert fmt.detect(tmp_path) is False  # an empty folder has no layout
    with pytest.raises(ValueError, match="import format 'mmx' is registered twice"):
        register_format(ImportFormat("mmx", "again", lambda p: False, lambda *a: None))
    with pytest.raises(ConfigError, match="unknown import format 'csv'"):
        FORMATS.create("csv")
