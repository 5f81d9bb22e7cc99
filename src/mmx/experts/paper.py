"""The paper's own visual experts (§4.2), loaded from weight files the user already has.

- ``senet154``: SENet-154, ImageNet (appearance, 2048-d); timm ``legacy_senet154``, which reads
  both timm's file and Cadene's ``senet154-c7b49a05.pth`` (same parameter names).
- ``resnet18_places365``: ResNet-18 trained on Places365 (scene, 512-d); torchvision ``resnet18``
  with 365 classes, reading CSAIL's ``resnet18_places365.pth.tar`` (DataParallel ``module.`` keys).
- ``r2plus1d``: R(2+1)D-18, Kinetics-400 (motion, 512-d); torchvision ``r2plus1d_18``. The paper
  does not say which depth; torchvision has the 18-layer network only.

The I3D flow stream is ``i3d_flow`` (mmx.experts.i3d) and VGGish is ``vggish`` (mmx.experts.vggish).
Nothing is downloaded: a missing file raises ``WeightsMissing`` naming it and where it is expected.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from mmx.experts.base import EXPERTS
from mmx.experts.torch_expert import (
    ClipExpert,
    FrameExpert,
    UserWeights,
    imagenet_normalise,
)
from mmx.experts.weights import WeightSpec, load_into, on_meta, strip_prefix

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)  # torchvision video models


def scale_imagenet(frames: torch.Tensor) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (T, 3, H, W) standardised with the ImageNet statistics."""
    return imagenet_normalise(frames.float().div(255).permute(0, 3, 1, 2), IMAGENET_MEAN, IMAGENET_STD)


@EXPERTS.register("senet154")
class SENet154(UserWeights, FrameExpert):
    """SENet-154 (Hu et al. 2018), ImageNet: 2048-d globally pooled features per frame, averaged over the clip."""

    name: ClassVar[str] = "senet154"
    modality: ClassVar[str] = "rgb"
    dim: ClassVar[int] = 2048
    fps: float = 1.0
    max_frames: int = 8  # ~1.5 s per frame on 2 CPU threads
    size: int = 224
    batch_size: ClassVar[int] = 8
    WEIGHTS = WeightSpec(
        "legacy_senet154-e9eb9fe6.pth",
        "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_senet154-e9eb9fe6.pth "
        "(timm; Cadene's senet154-c7b49a05.pth or timm/legacy_senet154.in1k model.safetensors also fit: pass its path)",
    )

    @staticmethod
    def architecture() -> nn.Module:
        import timm

        return timm.create_model("legacy_senet154", pretrained=False)

    def build(self) -> nn.Module:
        return load_into(on_meta(self.architecture), self.read_weights(), self.path)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        return scale_imagenet(frames)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(self.net.forward_features(x), pre_logits=True)  # (B, 2048)


@EXPERTS.register("resnet18_places365")
class ResNet18Places365(UserWeights, FrameExpert):
    """ResNet-18 trained on Places365 (Zhou et al. 2017): 512-d pooled features per frame, averaged over the clip."""

    name: ClassVar[str] = "resnet18_places365"
    modality: ClassVar[str] = "rgb"
    dim: ClassVar[int] = 512
    fps: float = 1.0
    max_frames: int = 8
    size: int = 224
    WEIGHTS = WeightSpec(
        "resnet18_places365.pth.tar",
        "http://places2.csail.mit.edu/models_places365/resnet18_places365.pth.tar (CSAILVision/places365)",
    )

    @staticmethod
    def architecture() -> nn.Module:
        from torchvision.models import resnet18

        return resnet18(num_classes=365)

    def build(self) -> nn.Module:
        net = load_into(on_meta(self.architecture), strip_prefix(self.read_weights(), "module."), self.path)
        net.fc = nn.Identity()  # the pooled 512-d features are the embedding
        return net

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        return scale_imagenet(frames)


@EXPERTS.register("r2plus1d")
class R2Plus1D(UserWeights, ClipExpert):
    """R(2+1)D-18 (Tran et al. 2018), Kinetics-400: 512-d pooled features of the clip."""

    name: ClassVar[str] = "r2plus1d"
    modality: ClassVar[str] = "rgb"
    dim: ClassVar[int] = 512
    fps: float = 15.0  # torchvision's Kinetics recipe samples ~15 fps clips
    min_frames: int = 8  # the network's temporal stride
    max_frames: int = 32
    size: int = 112  # torchvision's training crop
    WEIGHTS = WeightSpec(
        "r2plus1d_18-91a641e6.pth",
        "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth (torchvision R2Plus1D_18_Weights.KINETICS400_V1)",
        sha256="91a641e6",  # torch hub file names carry the first 8 hex digits of the sha256
    )

    @staticmethod
    def architecture() -> nn.Module:
        from torchvision.models.video import r2plus1d_18

        return r2plus1d_18()

    def build(self) -> nn.Module:
        net = load_into(on_meta(self.architecture), self.read_weights(), self.path)
        net.fc = nn.Identity()
        return net

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        x = imagenet_normalise(frames.float().div(255).permute(0, 3, 1, 2), KINETICS_MEAN, KINETICS_STD)  # (T, 3, H, W)
        return x.permute(1, 0, 2, 3).unsqueeze(0)  # (1, 3, T, H, W)
