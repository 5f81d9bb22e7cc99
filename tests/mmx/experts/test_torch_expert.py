"""The fast paths give the vectors of the plain ones: batched = one clip at a time, optimised network
= the network as built, PyTorch GIST = the float64 NumPy formula, bf16 close to fp32.

Tolerances: fp32 paths agree to 1e-4 relative to the largest feature (float rounding of folded
BatchNorm and reordered sums); bf16 keeps a cosine of at least 0.99 to fp32 per clip (measured on
the sample videos: appearance ≥ 0.997, motion ≥ 0.9999).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import fft

from helpers import decode_at
from mmx.experts import EXPERTS
from mmx.experts.gist import gabor_bank

pytestmark = pytest.mark.slow  # the real networks on decoded sample video

SAMPLING = {"appearance": {}, "scene": {}, "motion": {"size": 112}}  # I3D at 112 px keeps the test quick


def clips_of(size: int) -> list[np.ndarray]:
    """Three clips of different lengths (8, 3 and 4 frames) from the real sample videos."""
    return [decode_at("bikes.mp4", size, range(0, 24, 3)), decode_at("bikes.mp4", size, range(120, 126, 2)),
            decode_at("bigbuckbunny.mp4", size, range(10, 110, 25))]


@pytest.fixture(scope="module")
def made():
    torch.manual_seed(0)
    return {name: EXPERTS.create(name, **s) for name, s in SAMPLING.items()}


def close(a: np.ndarray, b: np.ndarray, rel: float = 1e-4) -> None:
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rel * np.abs(b).max()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("name", list(SAMPLING))
def test_batched_equals_one_clip_at_a_time(made, name):
    expert = made[name]
    clips = clips_of(expert.size)
    batched = expert.embed_clips(clips)  # (3, dim): all frames in shared forward passes
    close(batched, np.stack([expert.embed_frames(c) for c in clips]))


@pytest.mark.parametrize("name", ["appearance", "motion"])
def test_optimised_network_equals_the_built_one(made, name):
    """BatchNorm folded, symmetric padding inside the convolution, channels-last: same features."""
    expert = made[name]
    plain = expert.build().eval()
    clip = clips_of(expert.size)[0]
    with torch.inference_mode():
        x = expert.preprocess(torch.from_numpy(clip))
        fast = expert.features(expert.to_input(x))
        expert._net, optimised = plain, expert._net
        try:
            slow = expert.features(x)
        finally:
            expert._net = optimised
    close(fast.numpy(), slow.numpy())


def gist_float64(img: np.ndarray, blocks: int = 4, border: int = 32) -> np.ndarray:
    """LMgist in float64 NumPy, written out step by step (the formula the PyTorch version follows)."""
    def gauss(n: int, fc: float = 4.0) -> np.ndarray:
        f = np.arange(-n // 2, n // 2)
        fx, fy = np.meshgrid(f, f)
        return np.fft.fftshift(np.exp(-(fx ** 2 + fy ** 2) / (fc / np.sqrt(np.log(2))) ** 2))

    x = np.pad(np.log1p(img), 5, mode="symmetric")
    g = gauss(x.shape[0])
    x = x - fft.ifft2(fft.fft2(x) * g).real
    x = (x / (0.2 + np.sqrt(np.abs(fft.ifft2(fft.fft2(x ** 2) * g)))))[5:-5, 5:-5]
    n = img.shape[0]
    spectrum = fft.fft2(np.pad(x, border, mode="symmetric"))
    energy = np.abs(fft.ifft2(spectrum[None] * gabor_bank(n + 2 * border)))[:, border:-border, border:-border]
    cells = energy.reshape(len(energy), blocks, n // blocks, blocks, n // blocks).mean(axis=(2, 4))
    return cells.transpose(0, 2, 1).reshape(-1)


def test_gist_in_pytorch_equals_the_float64_formula(made):
    clip = clips_of(256)[1]  # (3, 256, 256, 3)
    grey = clip.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    want = np.mean([gist_float64(g) for g in grey], axis=0)
    close(made["scene"].embed_frames(clip), want)


@pytest.mark.parametrize("name", ["appearance", "motion"])
def test_bf16_stays_close_to_fp32(made, name):
    fp32 = made[name]
    bf16 = EXPERTS.create(name, **SAMPLING[name], precision="bf16")
    bf16._net = fp32.net  # the same weights; autocast does the rest
    clips = clips_of(fp32.size)
    assert bf16.settings()["precision"] == "bf16" and "precision" not in fp32.settings()
    assert cosines(bf16.embed_clips(clips), fp32.embed_clips(clips)).min() > 0.99


def test_experts_without_a_gain_stay_in_fp32():
    assert EXPERTS.create("audio", precision="bf16").precision == "fp32"
    assert EXPERTS.create("scene", precision="bf16").precision == "fp32"
