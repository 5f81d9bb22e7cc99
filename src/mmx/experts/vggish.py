"""``vggish``: VGGish (Hershey et al., ICASSP 2017), AudioSet — the paper's audio expert (§4.2).

128-d per 0.96 s window, from the PyTorch port of the TF release (harritaylor/torchvggish,
``vggish-10086976.pth``; its parameter names are the ones used here). The front end follows the
release's ``vggish_input``/``mel_features``: 25 ms periodic-Hann frames every 10 ms, 512-point
|FFT|, 64 HTK-mel bands over 125–7500 Hz, log(mel + 0.01), windows of 96 frames without overlap.
The embedding is the network's output (after its last ReLU); the release's PCA + 8-bit
quantisation post-processing is not applied (it needs a second file and only rotates/quantises).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from mmx.experts.base import EXPERTS
from mmx.experts.melspec import by_blocks, frames_of, hann
from mmx.experts.torch_expert import TorchExpert, UserWeights
from mmx.experts.weights import WeightSpec, load_into, on_meta

SR = 16000
WIN, HOP, N_FFT = 400, 160, 512  # 25 ms, 10 ms, next power of two
N_MELS, F_MIN, F_MAX = 64, 125.0, 7500.0
EXAMPLE_FRAMES = 96  # 0.96 s per example, no overlap


def hz_to_mel_htk(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def vggish_mel_matrix() -> np.ndarray:
    """(257, 64) triangular weights in HTK-mel space, DC bin zeroed (mel_features.spectrogram_to_mel_matrix)."""
    bins_mel = hz_to_mel_htk(np.linspace(0.0, SR / 2, N_FFT // 2 + 1))
    edges = np.linspace(hz_to_mel_htk(F_MIN), hz_to_mel_htk(F_MAX), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((bins_mel[:, None] - lower) / (center - lower),
                                         (upper - bins_mel[:, None]) / (upper - center)))
    weights[0] = 0.0
    return weights.astype(np.float32)


def log_mel_examples(wave: np.ndarray) -> np.ndarray:
    """(N,) 16 kHz → (n_examples, 96, 64) log-mel examples; none when the audio is shorter than ~0.98 s."""
    if len(wave) < WIN:
        return np.zeros((0, EXAMPLE_FRAMES, N_MELS), np.float32)
    window, bands = hann(WIN), vggish_mel_matrix()  # (257, 64)

    def mel(frames: np.ndarray) -> np.ndarray:  # (block, WIN) → (block, 64)
        return np.log(np.abs(np.fft.rfft(frames * window, N_FFT)) @ bands + 0.01)

    log_mel = by_blocks(frames_of(np.asarray(wave, np.float32), WIN, HOP), mel, N_MELS)  # (frames, 64)
    n = len(log_mel) // EXAMPLE_FRAMES
    return log_mel[: n * EXAMPLE_FRAMES].reshape(n, EXAMPLE_FRAMES, N_MELS)


class VGGish(nn.Module):
    """VGG-like CNN: (B, 1, 96, 64) log-mel → 4 conv stages (64, 128, 256×2, 512×2) → FC 4096, 4096, 128."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096),
                                        nn.ReLU(True), nn.Linear(4096, 128), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # (B, 6·4·512) in TF's (H, W, C) order
        return self.embeddings(x)  # (B, 128)


@EXPERTS.register("vggish")
class VGGishExpert(UserWeights, TorchExpert):
    """VGGish, AudioSet: 128-d per 0.96 s window."""

    name: ClassVar[str] = "vggish"
    modality: ClassVar[str] = "audio"
    dim: ClassVar[int] = 128
    level: ClassVar[str] = "window"
    batch_size: ClassVar[int] = 64  # examples per forward pass
    WEIGHTS = WeightSpec(
        "vggish-10086976.pth",
        "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth (torchvggish)",
    )

    def settings(self) -> dict:
        return {"name": self.name, "dim": self.dim, "weights": self.path.name, "sha256": self.sha256,
                "window_s": 0.96, "postprocess": "none", "sample_rate": SR, **self.precision_setting()}

    def build(self) -> VGGish:
        return load_into(on_meta(VGGish), self.read_weights(), self.path)

    @torch.inference_mode()
    def embed_audio(self, wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        if sample_rate != SR or wave.ndim != 1:
            raise ValueError(f"expert {self.name!r} needs mono {SR} Hz audio of shape (N,), "
                             f"got {wave.shape} at {sample_rate} Hz")
        examples = log_mel_examples(wave)  # (n, 96, 64)
        starts = np.arange(len(examples)) * EXAMPLE_FRAMES * HOP / SR
        seconds = np.stack([starts, starts + EXAMPLE_FRAMES * HOP / SR], axis=1).astype(np.float32).reshape(-1, 2)
        if not len(examples):
            return np.zeros((0, self.dim), np.float32), seconds
        x = torch.from_numpy(examples).unsqueeze(1).to(self.device)  # (n, 1, 96, 64)
        with self.autocast():
            out = [self.net(x[i:i + self.batch_size]).float().cpu() for i in range(0, len(x), self.batch_size)]
        return torch.cat(out).numpy(), seconds
