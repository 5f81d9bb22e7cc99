"""``scene``: the GIST descriptor (Oliva & Torralba, IJCV 2001), a STAND-IN for ResNet-18/Places365.

No Places365 weights can be had offline, so the scene expert is the classic hand-made scene
descriptor: the energy of 32 Gabor filters (4 scales × 8 orientations) averaged over a 4×4 grid,
512-d per frame, averaged over the clip. It follows the authors' reference code (LMgist.m):
grey 256×256 image, log + local contrast normalisation (``prefilter``), symmetric boundary
extension of 32 pixels, Gabor transfer functions in the frequency domain (``gabor_bank``).
It needs no weights. It runs in PyTorch (float32 FFTs, batches of frames, on the expert's device):
within 1e-4 (relative) of the float64 NumPy version it replaced, several times faster. Each filter's
inverse transform is pruned (``filter_cells``): only the spectrum rows where the filter is not ~0
and only the output columns inside the border are transformed, and the real, even prefilter uses
half-spectrum FFTs — 2.4× fewer seconds than the full transforms, the same vectors to 6e-7
(relative). The paper's own scene expert is ``resnet18_places365`` (user weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
import torch

from mmx.experts.base import EXPERTS, Expert
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


PRUNE_BELOW = 1e-8  # transfer-function values below this are dropped (float32 rounding is ~1e-7 of the largest)


@dataclass(frozen=True)
class PrunedFilter:
    """One Gabor filter kept where it is not ~0: a circular run of spectrum rows (or of columns, ``transposed``)."""

    transposed: bool  # True: the run is of columns; the filter and the spectrum are used transposed
    index: torch.Tensor  # (K,) the run's rows of the (possibly transposed) spectrum, in circular order
    gain: torch.Tensor  # (K, N, 2) the filter on those rows, repeated for the real and imaginary parts


def circular_run(mask: np.ndarray) -> np.ndarray:
    """FFT-layout indices of the one contiguous (in signed frequency) run of ``mask``, lowest frequency first."""
    n = len(mask)
    centred = np.fft.fftshift(mask)  # index j holds frequency j - n/2
    on = np.flatnonzero(centred)
    if not centred[on[0]:on[-1] + 1].all():
        raise ValueError("a Gabor filter's support is not one run of frequencies")
    return (np.arange(on[0], on[-1] + 1) + n // 2) % n


@lru_cache(maxsize=4)
def pruned_bank(n: int, device: torch.device = torch.device("cpu")) -> tuple[PrunedFilter, ...]:
    """The (n, n) Gabor bank on ``device``, each filter cut to the rows or columns (whichever are fewer) where
    it is not ~0."""
    out = []
    for g in gabor_bank(n):  # (n, n)
        kept = g > PRUNE_BELOW
        rows, cols = circular_run(kept.any(axis=1)), circular_run(kept.any(axis=0))
        transposed = len(cols) < len(rows)
        index = cols if transposed else rows
        gain = (g.T if transposed else g)[index]  # (K, n)
        gain = torch.from_numpy(np.repeat(gain[..., None], 2, axis=-1)).to(device)  # (K, n, 2)
        out.append(PrunedFilter(transposed, torch.from_numpy(index).to(device), gain))
    return tuple(out)


def pad_symmetric(x: torch.Tensor, pad: int) -> torch.Tensor:
    """(..., n, n) → (..., n + 2·pad, n + 2·pad), edges mirrored with the edge repeated (numpy's "symmetric")."""
    idx = torch.from_numpy(np.pad(np.arange(x.shape[-1]), pad, mode="symmetric")).to(x.device)
    return x[..., idx, :][..., idx]


def prefilter(img: torch.Tensor, pad: int = PREFILTER_PAD) -> torch.Tensor:
    """(B, n, n) grey in [0, 255] → log image, high-passed and divided by its local contrast (LMgist's prefilt).

    The Gaussian is real and even, so its filtering of a real image is real: half-spectrum FFTs."""
    x = pad_symmetric(torch.log1p(img), pad)  # (B, m, m), m = n + 2·pad
    m = x.shape[-1]
    gauss = torch.from_numpy(_gaussian(m, 4.0)[:, :m // 2 + 1]).to(img.device)  # (m, m/2 + 1)
    x = x - torch.fft.irfft2(torch.fft.rfft2(x) * gauss, s=(m, m))
    local_std = torch.sqrt(torch.abs(torch.fft.irfft2(torch.fft.rfft2(x ** 2) * gauss, s=(m, m))))
    return (x / (0.2 + local_std))[:, pad:-pad, pad:-pad]


def filter_cells(spectrum: torch.Tensor, f: PrunedFilter, border: int, blocks: int,
                 work: torch.Tensor) -> torch.Tensor:
    """Mean |ifft2(spectrum · filter)| per cell inside the border, from the kept rows only: (B, blocks, blocks).

    ``spectrum`` is (B, N, N, 2) (real and imaginary parts), transposed when the filter is. The
    inverse transform runs over the K kept rows, then along the other axis on the n output columns
    only; the kept run is moved to the start of that axis, which multiplies the result by a unit
    phase that the modulus removes. ``work`` is a (B, n, N) complex scratch buffer."""
    b, n, k = spectrum.shape[0], work.shape[1], len(f.index)
    rows = torch.view_as_complex(spectrum.index_select(1, f.index) * f.gain)  # (B, K, N) complex
    half = torch.fft.ifft(rows, dim=-1)[..., border:-border]  # (B, K, n)
    work[..., k:] = 0
    work[..., :k] = half.transpose(1, 2)  # (B, n, K)
    z = torch.view_as_real(torch.fft.ifft(work, dim=-1)[..., border:-border])  # (B, n, n, 2), the kept axis last
    energy = z[..., 0].square().addcmul_(z[..., 1], z[..., 1]).sqrt_()  # (B, n, n)
    cells = energy.reshape(b, blocks, n // blocks, blocks, n // blocks).mean(dim=(2, 4))  # (B, blocks, blocks)
    return cells if f.transposed else cells.transpose(1, 2)  # (B, row, column) of the image


def gist_batch(img: torch.Tensor, blocks: int = 4, border: int = 32) -> torch.Tensor:
    """(B, n, n) grey images in [0, 255], float32 → (B, filters · blocks²) mean Gabor energy per filter and cell."""
    b, n = img.shape[0], img.shape[-1]
    x = torch.fft.fft2(pad_symmetric(prefilter(img), border))  # (B, N, N) complex, N = n + 2·border
    spectra = {False: torch.view_as_real(x), True: torch.view_as_real(x.transpose(1, 2).contiguous())}
    work = torch.empty(b, n, x.shape[-1], dtype=x.dtype, device=x.device)
    cells = [filter_cells(spectra[f.transposed], f, border, blocks, work) for f in pruned_bank(x.shape[-1], x.device)]
    return torch.stack(cells, dim=1).transpose(2, 3).reshape(b, -1)  # column-major cells, as LMgist orders them


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
    batch_size: ClassVar[int] = 4  # frames per pass (1, 2, 4 or 8 take the same time per frame)
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
