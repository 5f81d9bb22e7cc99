"""The audio track: resampled to 16 kHz mono with both channels in their proportion, written as 16-bit WAV; none
when a video has no audio track."""

from __future__ import annotations

import wave as wavfile

import numpy as np

from mmx.extract.audio import load_audio, write_wav
from mmx.extract.decode import probe
from mmx.synthetic.videos import write_video


def test_audio_resampled_to_16k_mono(tmp_path):
    sr, seconds = 44100, 2.0
    t = np.arange(int(sr * seconds)) / sr
    stereo = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 1000 * t)]).astype(np.float32)
    path = write_video(tmp_path / "tone.mp4", [np.zeros((48, 64, 3), np.uint8)] * 48, 24, stereo, sr)
    wave = load_audio(path, 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) / 16000 - seconds) < 0.03  # AAC pads the last 1024-sample frame at most
    spectrum = np.abs(np.fft.rfft(wave))
    freqs = np.fft.rfftfreq(len(wave), 1 / 16000)
    top2 = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert np.allclose(top2, [440, 1000], atol=2)  # both channels are in the mono mix
    left, right = (spectrum[np.abs(freqs - f) < 5].max() for f in (440, 1000))
    assert 1.6 < left / right < 2.4  # in their original proportion
    write_wav(tmp_path / "tone.wav", wave, 16000)
    with wavfile.open(str(tmp_path / "tone.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, len(wave))
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.abs(pcm / 32767 - wave).max() < 1e-4


def test_no_audio_track_gives_none(tmp_path):
    path = write_video(tmp_path / "silent.mp4", [np.zeros((48, 64, 3), np.uint8)] * 10, 24)
    assert load_audio(path) is None
    assert probe(path).has_audio is False
