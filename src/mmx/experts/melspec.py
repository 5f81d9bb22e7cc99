"""Spectrogram front ends of the audio experts, in numpy (no librosa, no TensorFlow).

``power_spectrogram`` + ``slaney_mel`` reproduce ``librosa.feature.melspectrogram`` with its
defaults (centred frames, periodic Hann window, power 2, Slaney mel scale and area
normalisation), which musicnn was trained on; ``frame_windows`` cuts a (frames, bands) spectrogram
into fixed-length windows with their start/end times.
"""

from __future__ import annotations

import numpy as np


def hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window('hann', n, fftbins=True))."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def frames_of(wave: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(N,) → (frames, n_fft) strided view, frames = 1 + (N - n_fft) // hop."""
    return np.lib.stride_tricks.sliding_window_view(wave, n_fft)[::hop]


def by_blocks(rows: np.ndarray, fn, width: int, block: int = 4096) -> np.ndarray:
    """(n, width) float32 of ``fn`` applied to ``block`` rows of ``rows`` at a time: the float64 transforms of a
    feature film's sound track (gigabytes at once) never exist whole; every row is computed as alone."""
    out = np.empty((len(rows), width), np.float32)
    for start in range(0, len(rows), block):
        out[start : start + block] = fn(rows[start : start + block])
    return out


def power_spectrogram(wave: np.ndarray, n_fft: int, hop: int, center: bool = True,
                      bands: np.ndarray | None = None) -> np.ndarray:
    """(N,) float → (frames, n_fft // 2 + 1) |STFT|² ; centred frames are zero-padded by n_fft // 2 on both sides.

    With ``bands`` (n_bands, n_fft // 2 + 1) the result is ``|STFT|² @ bands.T`` (a mel spectrogram).
    """
    if center:
        wave = np.pad(wave, n_fft // 2)
    if len(wave) < n_fft:
        wave = np.pad(wave, (0, n_fft - len(wave)))
    window = hann(n_fft)

    def power(frames: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(frames * window, axis=-1)  # (block, bins) complex
        p = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        return p if bands is None else p @ bands.T

    return by_blocks(frames_of(wave, n_fft, hop), power, n_fft // 2 + 1 if bands is None else len(bands))


def hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    """Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def slaney_mel(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney scale and area normalisation (librosa.filters.mel)."""
    fmax = sr / 2 if fmax is None else fmax
    fft_hz = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_hz = mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))
    ramps = mel_hz[:, None] - fft_hz[None, :]  # (n_mels + 2, bins)
    fdiff = np.diff(mel_hz)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return (weights * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]).astype(np.float32)


def frame_windows(n_frames: int, window: int, hop: int) -> np.ndarray:
    """Start frame of each full window of ``window`` frames every ``hop`` frames; one window if shorter."""
    return np.arange(0, max(n_frames - window, 0) + 1, hop)
