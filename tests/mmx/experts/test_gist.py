"""GIST: stripes excite the orientation across them; the Gabor bank's shape and peak."""

from __future__ import annotations

import numpy as np

from mmx.experts.gist import gabor_bank, gist


def test_gist_orientation_energy():
    """Vertical stripes excite orientation 0 (horizontal frequency), horizontal stripes orientation 4."""
    x = np.arange(256)
    vertical = np.tile(127.5 + 100 * np.sin(2 * np.pi * x / 16), (256, 1))  # varies along x
    for img, expected in ((vertical, 0), (vertical.T, 4)):
        per_orientation = gist(img).reshape(4, 8, 16).sum(axis=(0, 2))  # (scales, orientations, cells)
        assert per_orientation.argmax() == expected
    bank = gabor_bank(320)
    assert bank.shape == (32, 320, 320) and 0.99 < bank.max() <= 1.0
