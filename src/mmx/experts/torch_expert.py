"""Shared machinery of the PyTorch experts: lazy loading, device and precision, batching, input checks.

``FrameExpert`` embeds each frame with a 2-D network and averages over the clip; ``ClipExpert``
feeds the whole clip to a 3-D network. Both take the frames of many clips at once
(``embed_clips``): a 2-D network sees the frames of all of them in forward passes of
``batch_size`` frames, a 3-D network stacks clips of equal length, ``clip_batch`` at a time.
Subclasses give ``build()`` (the network with its weights, eval mode), ``preprocess`` (numpy
frames → network input), when the network's own ``forward`` is not the embedding ``features``,
and ``optimise`` for inference-only rewrites that keep the vectors (folding BatchNorm into the
convolution before it). ``UserWeights`` adds a weight file that the user provides, with its checksum.

Every forward pass runs on the expert's ``device`` in its ``precision``: ``bf16`` / ``fp16`` are
autocast (convolutions and matrix products in the lower format, the rest as PyTorch decides),
``fp32`` is plain. ``auto_device`` and ``auto_precision`` say what a machine does well.
"""

from __future__ import annotations

import abc
from collections import defaultdict
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np
import torch
from torch import nn

from mmx.experts.base import PRECISIONS, Expert
from mmx.experts.weights import WeightSpec, load_state_dict, require, verify_checksum
from mmx.precision import native_bf16_cpu

CHANNELS = {"rgb": 3, "flow": 2}  # last axis of the frames the pipeline hands to each modality
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def auto_device() -> str:
    """A GPU when one is visible, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def auto_precision(device: str) -> str:
    """Half precision where the hardware does it natively (a CUDA GPU: bf16, or fp16 before Ampere;
    a CPU with bf16 instructions: bf16), else fp32."""
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_bf16_cpu() else "fp32"


def autocast(device: str, precision: str) -> AbstractContextManager:
    """Autocast to ``precision`` on ``device``'s kind; nothing for fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``n`` for the duration, then put back."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def fold_batchnorm(conv: nn.Module, bn: nn.BatchNorm2d | nn.BatchNorm3d) -> None:
    """Fold an eval-mode BatchNorm into the convolution before it (in place): conv' = bn ∘ conv."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)  # (Cout,)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    shape = (-1,) + (1,) * (conv.weight.dim() - 1)
    conv.weight = nn.Parameter(conv.weight.detach() * scale.view(shape), requires_grad=False)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach(), requires_grad=False)


class TorchExpert(Expert):
    """An expert whose network is built (and its weights read) on the first embed."""

    precisions: ClassVar[tuple[str, ...]] = PRECISIONS
    memory_format: ClassVar[torch.memory_format] = torch.contiguous_format  # layout of weights and inputs

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        self._net: nn.Module | None = None

    @abc.abstractmethod
    def build(self) -> nn.Module:
        """The network with its pre-trained weights loaded."""

    def optimise(self, net: nn.Module) -> nn.Module:
        """Inference-only rewrites of the eval-mode network that keep its outputs (default: none)."""
        return net

    @property
    def net(self) -> nn.Module:
        if self._net is None:
            self.check_weights()
            net = self.optimise(self.build().eval())
            self._net = net.to(self.device, memory_format=self.memory_format)
        return self._net

    def autocast(self) -> AbstractContextManager:
        return autocast(self.device, self.precision)

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        """A preprocessed batch in the network's memory layout."""
        return x.contiguous(memory_format=self.memory_format)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Network input batch → (B, dim) embeddings."""
        return self.net(x)


class FrameExpert(TorchExpert):
    """2-D network applied frame by frame; the clip vector is the mean over its frames."""

    batch_size: ClassVar[int] = 16  # frames per forward pass
    memory_format: ClassVar[torch.memory_format] = torch.channels_last  # oneDNN's fast layout for 2-D convolutions

    @abc.abstractmethod
    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, H, W, 3) uint8 → (T, 3, H, W) float network input."""

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        return self.embed_clips([frames])[0]

    @torch.inference_mode()
    def embed_clips(self, clips: list[np.ndarray]) -> np.ndarray:
        for frames in clips:
            check_frames(frames, self)
        frames = np.concatenate(clips) if len(clips) > 1 else clips[0]  # (N, H, W, 3)
        parts = []
        with self.autocast():
            for start in range(0, len(frames), self.batch_size):
                x = self.preprocess(torch.from_numpy(frames[start:start + self.batch_size]).to(self.device))
                parts.append(self.features(self.to_input(x)).float())  # (b, dim)
        per_frame = torch.cat(parts)  # (N, dim)
        counts = torch.tensor([len(c) for c in clips], device=per_frame.device)  # (n_clips,)
        owner = torch.repeat_interleave(torch.arange(len(clips), device=per_frame.device), counts)  # (N,)
        sums = torch.zeros(len(clips), per_frame.shape[1], device=per_frame.device).index_add_(0, owner, per_frame)
        return (sums / counts[:, None]).cpu().numpy().astype(np.float32)  # (n_clips, dim)


class ClipExpert(TorchExpert):
    """3-D network applied to the whole clip at once; its output is pooled over time and space."""

    clip_batch: ClassVar[int] = 4  # clips of equal length per forward pass
    memory_format: ClassVar[torch.memory_format] = torch.channels_last_3d  # oneDNN's fast layout for 3-D convolutions

    @abc.abstractmethod
    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, H, W, C) → (1, C, T, H, W) float network input."""

    def batch_key(self, frames: np.ndarray) -> object:
        return max(len(frames), self.min_frames)  # the clip's length once looped to the minimum

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        return self.embed_clips([frames])[0]

    @torch.inference_mode()
    def embed_clips(self, clips: list[np.ndarray]) -> np.ndarray:
        for frames in clips:
            check_frames(frames, self)
        clips = [repeat_to(frames, self.min_frames) for frames in clips]
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, frames in enumerate(clips):
            by_length[len(frames)].append(i)
        out = np.empty((len(clips), self.dim), np.float32)
        with self.autocast():
            for members in by_length.values():
                for start in range(0, len(members), self.clip_batch):
                    idx = members[start:start + self.clip_batch]
                    x = torch.cat([self.preprocess(torch.from_numpy(np.ascontiguousarray(clips[i])).to(self.device))
                                   for i in idx])  # (b, C, T, H, W)
                    out[idx] = self.features(self.to_input(x)).float().cpu().numpy()  # (b, dim)
        return out


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

    def __init__(self, weights: str | Path | None = None, sha256: str = "", **settings) -> None:
        super().__init__(**settings)
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
