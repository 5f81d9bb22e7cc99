"""``scene``: the GIST descriptor (Oliva & Torralba, IJCV 2001), a STAND-IN for ResNet-18/Places365.

No Places365 weights can be had offline, so the scene expert is the classic hand-made scene
descriptor: the energy of 32 Gabor filters (4 scales × 8 orientations) averaged over a 4×4 grid,
512-d per frame, averaged over the clip. It follows the authors' reference code (LMgist.m):
grey 256×256 image, log + local contrast normalisation (``prefilter``), symmetric boundary
extension of 32 pixels, Gabor transfer functions in the frequency domain (``gabor_bank``).
It needs no weights. The paper's own scene expert is ``resnet18_places365`` (user weights).
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np
from scipy import fft

from mmx.experts import EXPERTS
from mmx.experts.base import Expert
from mmx.experts.torch_expert import check_frames


@lru_cache(maxsize=4)
def gabor_bank(n: int, orientations: tuple[int, ...] = (8, 8, 8, 8)) -> np.ndarray:
    """(filters, n, n) Gabor transfer functions, FFT layout (LMgist's createGabor)."""
    f = np.arange(-n // 2, n // 2)
    fx, fy = np.meshgrid(f, f)
    radius = np.fft.fftshift(np.hypot(fx, fy))  # (n, n) frequency magnitude
    angle = np.fft.fftshift(np.angle(fx + 1j * fy))  # (n, n) frequency orientation
    bank = []
    for scale, n_or in enumerate(orientations):
        for k in range(n_or):
            theta = angle + np.pi / n_or * k
            theta = theta + 2 * np.pi * (theta < -np.pi) - 2 * np.pi * (theta > np.pi)
            f0, bw = 0.3 / 1.85 ** scale, 16 * n_or ** 2 / 32 ** 2  # centre frequency (of n), angular width
            bank.append(np.exp(-10 * 0.35 * (radius / n / f0 - 1) ** 2 - 2 * bw * np.pi * theta ** 2))
    return np.stack(bank).astype(np.float32)


@lru_cache(maxsize=4)
def _gaussian(n: int, fc: float) -> np.ndarray:
    f = np.arange(-n // 2, n // 2)
    fx, fy = np.meshgrid(f, f)
    return np.fft.fftshift(np.exp(-(fx ** 2 + fy ** 2) / (fc / np.sqrt(np.log(2))) ** 2))


def prefilter(img: np.ndarray, fc: float = 4.0, pad: int = 5) -> np.ndarray:
    """(H, W) grey in [0, 255] → log image, high-passed and divided by its local contrast (LMgist's prefilt)."""
    x = np.pad(np.log1p(img), pad, mode="symmetric")
    g = _gaussian(x.shape[0], fc)
    x = x - fft.ifft2(fft.fft2(x) * g).real
    local_std = np.sqrt(np.abs(fft.ifft2(fft.fft2(x ** 2) * g)))
    return (x / (0.2 + local_std))[pad:-pad, pad:-pad]


def gist(img: np.ndarray, blocks: int = 4, border: int = 32) -> np.ndarray:
    """(n, n) grey image → (filters · blocks²,) mean Gabor energy per filter and grid cell."""
    n = img.shape[0]
    x = fft.fft2(np.pad(prefilter(img), border, mode="symmetric"))  # (n + 2·border)²
    energy = np.abs(fft.ifft2(x[None] * gabor_bank(n + 2 * border)))[:, border:-border, border:-border]  # (F, n, n)
    cells = energy.reshape(len(energy), blocks, n // blocks, blocks, n // blocks).mean(axis=(2, 4))  # (F, b, b)
    return cells.transpose(0, 2, 1).reshape(-1)  # column-major cells, as LMgist orders them


@EXPERTS.register("scene")
class Gist(Expert):
    """GIST (4 scales × 8 orientations × 4×4 grid = 512-d) — a weight-free stand-in for Places365."""

    name: ClassVar[str] = "scene"
    modality: ClassVar[str] = "rgb"
    dim: ClassVar[int] = 512
    fps: float = 1.0  # the scene layout of a shot hardly changes
    min_frames: int = 1
    max_frames: int = 8
    size: int = 256  # LMgist's image size
    weights_source: ClassVar[str] = "none needed (hand-made descriptor)"

    def settings(self) -> dict:
        return {**super().settings(), "descriptor": "gist", "scales": 4, "orientations": 8, "grid": 4}

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames, self)
        grey = frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # (T, n, n) in [0, 255]
        return np.mean([gist(g) for g in grey], axis=0).astype(np.float32)
