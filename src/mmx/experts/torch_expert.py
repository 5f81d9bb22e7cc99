"""Shared machinery of the PyTorch experts: lazy loading, device, batching, input checks.

``FrameExpert`` embeds each frame with a 2-D network and averages over the clip; ``ClipExpert``
feeds the whole clip to a 3-D network once. Subclasses give ``build()`` (the network with its
weights, eval mode), ``preprocess`` (numpy frames → network input) and, when the network's own
``forward`` is not the embedding, ``features``. ``UserWeights`` adds a weight file that the user
provides, with its checksum.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from mmx.experts.base import Expert
from mmx.experts.weights import WeightSpec, load_state_dict, require, verify_checksum

CHANNELS = {"rgb": 3, "flow": 2}  # last axis of the frames the pipeline hands to each modality


def device() -> torch.device:
    """A GPU when one is visible, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_frames(frames: np.ndarray, expert: Expert) -> None:
    """The pipeline's contract: (T, size, size, C) with T >= 1, uint8 RGB or float32 (dx, dy) flow."""
    c = CHANNELS[expert.modality]
    if frames.ndim != 4 or frames.shape[0] < 1 or frames.shape[1:] != (expert.size, expert.size, c):
        raise ValueError(
            f"expert {expert.name!r} expects frames of shape (T, {expert.size}, {expert.size}, {c}), "
            f"got {frames.shape}"
        )


def imagenet_normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(..., 3, H, W) in [0, 1] → standardised per channel."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - m) / s


class TorchExpert(Expert):
    """An expert whose network is built (and its weights read) on the first embed."""

    def __init__(self, **sampling) -> None:
        super().__init__(**sampling)
        self._net: nn.Module | None = None

    @abc.abstractmethod
    def build(self) -> nn.Module:
        """The network with its pre-trained weights loaded."""

    @property
    def net(self) -> nn.Module:
        if self._net is None:
            self.check_weights()
            self._net = self.build().eval().to(device())
        return self._net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Network input batch → (B, dim) embeddings."""
        return self.net(x)


class FrameExpert(TorchExpert):
    """2-D network applied frame by frame; the clip vector is the mean over its frames."""

    batch_size: ClassVar[int] = 16  # frames per forward pass

    @abc.abstractmethod
    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, H, W, 3) uint8 → (T, 3, H, W) float network input."""

    @torch.inference_mode()
    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames, self)
        dev = device()
        total = None
        for start in range(0, len(frames), self.batch_size):
            x = self.preprocess(torch.from_numpy(frames[start:start + self.batch_size]).to(dev))  # (b, 3, H, W)
            f = self.features(x).float().sum(dim=0)  # (dim,)
            total = f if total is None else total + f
        return (total / len(frames)).cpu().numpy().astype(np.float32)


class ClipExpert(TorchExpert):
    """3-D network applied to the whole clip at once; its output is pooled over time and space."""

    @abc.abstractmethod
    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, H, W, C) → (1, C, T, H, W) float network input."""

    @torch.inference_mode()
    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames, self)
        frames = repeat_to(frames, self.min_frames)
        x = self.preprocess(torch.from_numpy(np.ascontiguousarray(frames)).to(device()))  # (1, C, T, H, W)
        return self.features(x)[0].float().cpu().numpy()  # (dim,)


def repeat_to(frames: np.ndarray, n: int) -> np.ndarray:
    """Loop a too-short clip until it has at least ``n`` frames (the 3-D networks need a minimum)."""
    if len(frames) >= n:
        return frames
    return np.concatenate([frames] * -(-n // len(frames)))[:n]


class UserWeights:
    """Mixin for experts whose weight file the user provides (``WEIGHTS``), by path or in the weights folder.

    ``weights`` overrides where the file is; ``sha256`` (a full digest or a prefix) is checked before
    loading when given or when ``WEIGHTS`` knows one. ``read_weights`` returns the state dict.
    """

    WEIGHTS: ClassVar[WeightSpec]

    def __init__(self, weights: str | Path | None = None, sha256: str = "", **sampling) -> None:
        super().__init__(**sampling)
        self.path = self.WEIGHTS.resolve(weights)
        self.sha256 = sha256 or self.WEIGHTS.sha256

    @property
    def weights_source(self) -> str:
        return self.WEIGHTS.source

    def weight_files(self) -> list[Path]:
        return [self.path]

    def check_weights(self) -> None:
        require(self.path, self.name, self.WEIGHTS.source)

    def settings(self) -> dict:
        return {**super().settings(), "weights": self.path.name, "sha256": self.sha256}

    def read_weights(self) -> dict[str, torch.Tensor]:
        self.check_weights()
        verify_checksum(self.path, self.sha256)
        return load_state_dict(self.path)
