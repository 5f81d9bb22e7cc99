"""What an expert is: a pre-trained network that turns the frames (or audio) of a clip into a vector.

The extraction pipeline (``mmx.extract``) decodes, cuts and samples; an expert only embeds. Video
experts get the frames of one clip sampled at their own rate and size and return one mean-pooled
vector; audio experts get the whole 16 kHz mono track and return one vector per window with the
window's start/end time (the pipeline assigns windows to clips, giving ``<expert>__clip``).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import ClassVar

import numpy as np

from mmx.errors import ConfigError, WeightsMissing
from mmx.registry import Registry

SAMPLING_KEYS = ("fps", "min_frames", "max_frames", "size")  # what a video expert's constructor can change
PRECISIONS = ("fp32", "bf16", "fp16")  # number formats a forward pass can run in (autocast below fp32)


class Expert(abc.ABC):
    """An expert network. The class attributes are its defaults; ``EXPERTS.create(name, fps=4, ...)``
    makes an instance with its own sampling (video experts only), ``device="cuda"`` and
    ``precision="bf16"`` one that runs there and in that format (where the expert supports it)."""

    name: ClassVar[str]  # registry name, also the expert's name in the store
    modality: ClassVar[str]  # "rgb", "flow" or "audio"
    dim: ClassVar[int]  # size of the vector per clip (or per window)
    level: ClassVar[str] = "clip"  # "window" for experts that embed audio windows
    fps: float = 1.0  # video experts: frames sampled per second of clip
    min_frames: int = 1  # video experts: at least this many frames per clip (repeated if short)
    max_frames: int = 16  # video experts: at most this many frames per clip
    size: int = 224  # video experts: frames arrive resized (short side) and centre-cropped to size×size
    batch_frames: ClassVar[int] = 32  # video experts: frames of several clips the pipeline hands over at once
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)  # formats it can compute in; any other runs in fp32

    def __init__(self, *, fps: float | None = None, min_frames: int | None = None,
                 max_frames: int | None = None, size: int | None = None,
                 device: str = "cpu", precision: str = "fp32") -> None:
        given = {k: v for k, v in zip(SAMPLING_KEYS, (fps, min_frames, max_frames, size)) if v is not None}
        if given and self.modality == "audio":
            raise ConfigError(f"sampling.{self.name}: an audio expert takes no frame sampling settings "
                              f"({', '.join(given)})")
        try:
            values = {k: float(v) if k == "fps" else int(v) for k, v in given.items()}
        except (TypeError, ValueError):
            raise ConfigError(f"sampling.{self.name}: {given} must be numbers") from None
        for key, value in values.items():
            setattr(self, key, value)  # the instance's own sampling, shadowing the class default
        if self.fps <= 0 or not 1 <= self.min_frames <= self.max_frames or self.size < 16:
            raise ConfigError(f"sampling.{self.name}: needs fps > 0, 1 <= min_frames <= max_frames and size >= 16 "
                              f"(got fps={self.fps}, min_frames={self.min_frames}, max_frames={self.max_frames}, "
                              f"size={self.size})")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        self.device = device  # where the network and its batches run: "cpu", "cuda", "cuda:1"
        self.precision = precision if precision in self.precisions else "fp32"  # what it really computes in

    def weight_files(self) -> list[Path]:
        """The weight files this expert loads (empty when it has none)."""
        return []

    def check_weights(self) -> None:
        """Raise ``WeightsMissing`` naming each missing file and where it is expected."""
        missing = [p for p in self.weight_files() if not p.exists()]
        if missing:
            raise WeightsMissing(
                f"expert {self.name!r} needs {', '.join(str(p) for p in missing)}; "
                "see `mmx experts` for where each weight file comes from (`mmx weights` says how to install "
                "the weight packages)"
            )

    def settings(self) -> dict:
        """Everything that changes the vectors (weights, sampling); a rerun with equal settings skips."""
        out = {"name": self.name, "dim": self.dim, "fps": self.fps, "size": self.size,
               "min_frames": self.min_frames, "max_frames": self.max_frames}
        return {**out, **self.precision_setting()}

    def precision_setting(self) -> dict:
        """{"precision": ...} below fp32 (vectors differ slightly), {} in fp32 (what older entries used)."""
        return {} if self.precision == "fp32" else {"precision": self.precision}

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        """Video experts: (T, size, size, C) frames of one clip → (dim,) float32."""
        raise TypeError(f"expert {self.name!r} does not embed video frames")

    def embed_clips(self, clips: list[np.ndarray]) -> np.ndarray:
        """Video experts: the frames of several clips → (n_clips, dim) float32, each as ``embed_frames``
        gives it; networks override this to run the clips' frames through large forward passes."""
        return np.stack([np.asarray(self.embed_frames(frames), np.float32) for frames in clips])

    def batch_key(self, frames: np.ndarray) -> object:
        """Clips with equal keys can share a forward pass (3-D networks: equal frame counts)."""
        return None

    def embed_audio(self, wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """Audio experts: (N,) float32 mono → ((n_windows, dim) float32, (n_windows, 2) start/end seconds)."""
        raise TypeError(f"expert {self.name!r} does not embed audio")


EXPERTS: Registry[Expert] = Registry("expert")  # every expert by name; each module of mmx.experts registers its own
