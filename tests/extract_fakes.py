"""Cheap stand-in experts for the extraction tests (unique names, registered once per process).

They follow the ``mmx.experts.base.Expert`` interface exactly, with vectors that can be checked by
hand: the mean colour of a clip, the mean optical flow, the loudness of audio windows.
"""

from __future__ import annotations

import time

import numpy as np

from mmx.experts import EXPERTS, Expert
from mmx.extract.settings import ExtractConfig


class MeanColour(Expert):
    name = "fake_colour"
    modality = "rgb"
    dim = 6
    fps = 4.0
    min_frames = 2
    max_frames = 6
    size = 32

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        f = frames.astype(np.float32) / 255  # (T, S, S, 3)
        return np.concatenate([f.mean((0, 1, 2)), f.std((0, 1, 2))])


class MeanFlow(Expert):
    name = "fake_flow"
    modality = "flow"
    dim = 4
    fps = 24.0
    min_frames = 1
    max_frames = 2
    size = 32

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        assert frames.ndim == 4 and frames.shape[-1] == 2 and frames.dtype == np.float32
        return np.concatenate([frames.mean((0, 1, 2)), np.abs(frames).mean((0, 1, 2))])


class Loudness(Expert):
    name = "fake_loudness"
    modality = "audio"
    level = "window"
    dim = 2
    window = 0.5  # seconds

    def embed_audio(self, wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        n = int(self.window * sample_rate)
        k = len(wave) // n
        w = wave[: k * n].reshape(k, n)  # (k, n)
        rms = np.sqrt((w ** 2).mean(1))
        zcr = (np.diff(np.sign(w), axis=1) != 0).mean(1)
        starts = np.arange(k) * self.window
        return np.stack([rms, zcr], 1).astype(np.float32), np.stack([starts, starts + self.window], 1)


class SlowColour(MeanColour):
    name = "fake_slow"
    delay = 0.05  # seconds per clip, so a test can kill a run in the middle

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)
        return super().embed_frames(frames)


class DeadDecoder(MeanColour):
    """A decoder that gives zeros whatever the frames (a dead picture decoder)."""

    name = "fake_dead"

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        return np.zeros(self.dim, np.float32)


FAKES = [MeanColour, MeanFlow, Loudness, SlowColour, DeadDecoder]
CHEAP = ExtractConfig(experts=["fake_colour", "fake_loudness"], flow_workers=0)  # two fakes, no optical flow: quick


def register_fakes() -> None:
    for cls in FAKES:
        if cls.name not in EXPERTS:
            EXPERTS.register(cls.name)(cls)


register_fakes()
