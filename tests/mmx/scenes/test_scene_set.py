"""The scene set: clips grouped by trailer in time order, unit vectors, a second or a clip number found (or named
when outside), a trailer added without moving the others' scenes."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.errors import InputError, UnknownTrailerError


def test_scene_set_groups_clips_by_trailer_in_time_order(scenes):
    assert scenes.trailer_ids == sorted(scenes.trailer_ids)
    rows = scenes.rows_of("tr03")
    assert list(scenes.clip[rows.start : rows.stop]) == list(range(len(rows)))
    assert np.allclose(np.linalg.norm(scenes.vectors, axis=1), 1, atol=1e-5)
    assert scenes.row_at("tr03", 0.0) == rows[0]
    assert scenes.row_at("tr03", 2.05) == rows[1]  # in the gap after clip 0: the next clip
    assert scenes.row_at("tr03", 4.3) == rows[2]
    assert scenes.row_at("tr03", clip=1) == rows[1]
    with pytest.raises(InputError, match="outside"):
        scenes.row_at("tr03", 999.0)
    with pytest.raises(InputError, match="no clip 99"):
        scenes.row_at("tr03", clip=99)
    with pytest.raises(UnknownTrailerError, match="did you mean"):
        scenes.rows_of("tr3")


def test_adding_a_trailer_keeps_the_others(scenes):
    new = scenes.add("aa-new", np.ones((3, 16)), None)
    assert new.trailer_ids[0] == "aa-new" and len(new) == len(scenes) + 3
    assert np.isnan(new.start[new.rows_of("aa-new").start])
    old, moved = scenes.rows_of("tr05"), new.rows_of("tr05")
    np.testing.assert_array_equal(scenes.vectors[old.start : old.stop], new.vectors[moved.start : moved.stop])
