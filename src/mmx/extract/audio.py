"""The audio track, resampled to 16 kHz mono 16-bit (what VGGish and musicnn-style experts expect).

FFmpeg's resampler (through PyAV) mixes the channels down and converts the rate; bad packets are
skipped and counted like video packets. The wave can be kept as a 16-bit WAV file on request.
"""

from __future__ import annotations

import io
import wave as wavfile
from pathlib import Path

import av
import numpy as np

from mmx.durable import atomic_write
from mmx.extract.decode import DecodeStats, decode_packets, open_video


def load_audio(path: Path, sample_rate: int = 16000, stats: DecodeStats | None = None) -> np.ndarray | None:
    """(N,) float32 mono in [-1, 1] at ``sample_rate``; None when the file has no audio track."""
    stats = stats if stats is not None else DecodeStats()
    with open_video(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        for frame in decode_packets(container.demux(stream), stats):
            frame.pts = None  # let the resampler count samples itself (broken pts would stall it)
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    if not chunks:
        return np.zeros(0, np.float32)
    pcm = np.concatenate(chunks)  # (N,) int16
    del chunks  # a film's track: 192 MB per 100 minutes as int16, twice that as float32
    wave = pcm.astype(np.float32)
    wave /= 32768.0
    return wave


def write_wav(path: Path, wave: np.ndarray, sample_rate: int = 16000) -> None:
    """Write (N,) float32 in [-1, 1] as a 16-bit mono WAV, atomically."""
    pcm = np.clip(np.round(wave * 32767), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wavfile.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    atomic_write(Path(path), buf.getvalue())
