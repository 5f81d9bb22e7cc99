"""Answers as DataFrames: without pandas, to_frame names the notebook extra."""

from __future__ import annotations

import sys

import pytest

from mmx.errors import MissingExtra
from mmx.timeline import ClipGenres, Timeline


def test_without_pandas_to_frame_names_the_notebook_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    t = Timeline("t", "", [], ["Action"], [ClipGenres(0, 0.0, 1.0, {"Action": 0.5})])
    with pytest.raises(MissingExtra, match=r"'notebook' extra .*pip install 'mmx\[notebook\]'"):
        t.to_frame()
