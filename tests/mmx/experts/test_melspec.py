"""The mel front end against librosa's melspectrogram with musicnn's settings (tests/data, recorded by
scripts/record_musicnn_reference.py)."""

from __future__ import annotations

import numpy as np
from record_musicnn_reference import reference_wave

from helpers import TESTS
from mmx.experts.melspec import power_spectrogram, slaney_mel

DATA = TESTS / "data"


def test_mel_front_end_matches_librosa():
    ref = np.load(DATA / "musicnn_reference.npz")["mel"]  # librosa.feature.melspectrogram, musicnn's settings
    mel = power_spectrogram(reference_wave(), 512, 256) @ slaney_mel(16000, 512, 96).T
    assert mel.shape == ref.shape
    np.testing.assert_allclose(mel, ref, rtol=1e-4, atol=1e-4 * ref.max())
