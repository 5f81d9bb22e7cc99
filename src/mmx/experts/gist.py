"""``scene``: the GIST descriptor (Oliva & Torralba, IJCV 2001), a STAND-IN for ResNet-18/Places365.

No Places365 weights can be had offline, so the scene expert is the classic hand-made scene
descriptor: the energy of 32 Gabor filters (4 scales × 8 orientations) averaged over a 4×4 grid,
512-d per frame, averaged over the clip. It follows the authors' reference code (LMgist.m):
grey 256×256 image, log + local contrast normalisation (``prefilter``), symmetric boundary
extension of 32 pixels, Gabor transfer functions in the frequency domain (``gabor_bank``).
It needs no weights. It runs in PyTorch (float32 FFTs, batches of frames, on the expert's device):
within 1e-4 (relative) of the float64 NumPy version it replaced, several times faster. The paper's own scene expert is ``resnet18_places365`` (user weights).
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np
import torch

from mmx.experts import EXPERTS
from mmx.experts.base import Expert
from mmx.experts.torch_expert import check_frames

PREFILTER_PAD = 5  # pixels of symmetric padding around the image for the prefilter (LMgist)


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
    return np.fft.fftshift(np.exp(-(fx ** 2 + fy ** 2) / (fc / np.sqrt(np.log(2))) ** 2)).astype(np.float32)


def _filters(n: int, border: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """For (n, n) images: the Gabor bank at the padded size and the prefilter's Gaussian, on ``device``."""
    bank = torch.from_numpy(gabor_bank(n + 2 * border)).to(device)  # (F, n + 2·border, n + 2·border)
    return bank, torch.from_numpy(_gaussian(n + 2 * PREFILTER_PAD, 4.0)).to(device)


def pad_symmetric(x: torch.Tensor, pad: int) -> torch.Tensor:
    """(..., n, n) → (..., n + 2·pad, n + 2·pad), edges mirrored with the edge repeated (numpy's "symmetric")."""
    idx = torch.from_numpy(np.pad(np.arange(x.shape[-1]), pad, mode="symmetric")).to(x.device)
    return x[..., idx, :][..., idx]


def prefilter(img: torch.Tensor, gauss: torch.Tensor, pad: int = PREFILTER_PAD) -> torch.Tensor:
    """(B, n, n) grey in [0, 255] → log image, high-passed and divided by its local contrast (LMgist's prefilt)."""
    x = pad_symmetric(torch.log1p(img), pad)  # (B, n + 2·pad, n + 2·pad)
    x = x - torch.fft.ifft2(torch.fft.fft2(x) * gauss).real
    local_std = torch.sqrt(torch.abs(torch.fft.ifft2(torch.fft.fft2(x ** 2) * gauss)))
    return (x / (0.2 + local_std))[:, pad:-pad, pad:-pad]


def gist_batch(img: torch.Tensor, blocks: int = 4, border: int = 32, filters_per_pass: int = 8) -> torch.Tensor:
    """(B, n, n) grey images in [0, 255], float32 → (B, filters · blocks²) mean Gabor energy per filter and cell."""
    b, n = img.shape[0], img.shape[-1]
    bank, gauss = _filters(n, border, img.device)  # (F, N, N), (n + 10, n + 10)
    x = torch.fft.fft2(pad_symmetric(prefilter(img, gauss), border))  # (B, N, N) complex
    cells = []
    for start in range(0, len(bank), filters_per_pass):  # bounds the memory at B × filters_per_pass images
        g = bank[start:start + filters_per_pass]  # (f, N, N)
        filtered = torch.fft.ifft2(x[:, None] * g[None])  # (B, f, N, N) complex
        energy = filtered[..., border:-border, border:-border].abs()  # (B, f, n, n): the border never enters
        cells.append(energy.view(b, len(g), blocks, n // blocks, blocks, n // blocks).mean(dim=(3, 5)))
    return torch.cat(cells, dim=1).transpose(2, 3).reshape(b, -1)  # column-major cells, as LMgist orders them


def gist(img: np.ndarray, blocks: int = 4, border: int = 32) -> np.ndarray:
    """(n, n) grey image in [0, 255] → (filters · blocks²,) GIST descriptor."""
    x = torch.from_numpy(np.asarray(img, np.float32))[None]  # (1, n, n)
    return gist_batch(x, blocks, border)[0].numpy()


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
    batch_size: ClassVar[int] = 4  # frames per pass (each holds 8 filtered 320² complex images)
    weights_source: ClassVar[str] = "none needed (hand-made descriptor)"

    def settings(self) -> dict:
        return {**super().settings(), "descriptor": "gist", "scales": 4, "orientations": 8, "grid": 4}

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        return self.embed_clips([frames])[0]

    @torch.inference_mode()
    def embed_clips(self, clips: list[np.ndarray]) -> np.ndarray:
        for frames in clips:
            check_frames(frames, self)
        frames = torch.from_numpy(np.concatenate(clips)).to(self.device)  # (N, n, n, 3) uint8
        weights = torch.tensor([0.299, 0.587, 0.114], device=self.device)
        per_frame = torch.cat([gist_batch(frames[i:i + self.batch_size].float() @ weights)  # (b, n, n) grey
                               for i in range(0, len(frames), self.batch_size)])  # (N, 512)
        ends = np.cumsum([len(c) for c in clips])
        return np.stack([per_frame[e - len(c):e].mean(dim=0).cpu().numpy() for c, e in zip(clips, ends)])
