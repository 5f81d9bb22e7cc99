"""The views a trailer is read in: one chapter is the evenly spaced view."""

from __future__ import annotations

import numpy as np

from mmx.data.dataset import chapters, evenly_spaced


def test_one_chapter_is_the_evenly_spaced_view():
    for n in (5, 40, 719):
        np.testing.assert_array_equal(chapters(1, 40, 9)[0](n, None), evenly_spaced(40, 9)[0](n, None))
