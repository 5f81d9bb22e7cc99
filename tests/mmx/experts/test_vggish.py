"""VGGish: its mel matrix has ordered bands from about 125 Hz to 7.5 kHz, each covering a bin."""

from __future__ import annotations

import numpy as np

from mmx.experts.vggish import vggish_mel_matrix


def test_vggish_mel_matrix():
    m = vggish_mel_matrix()  # (257 FFT bins, 64 bands)
    assert m.shape == (257, 64) and (m[0] == 0).all()
    peaks = m.argmax(axis=0)
    assert (np.diff(peaks) >= 0).all() and (m.max(axis=0) > 0.5).all()  # ordered bands, each covering a bin
    hz = peaks * 8000 / 256
    assert 125 < hz[0] < 250 and 7000 < hz[-1] < 7500
