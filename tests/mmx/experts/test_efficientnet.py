"""EfficientNet-Lite0, the appearance expert: its ImageNet head recognises a man in a suit in a real sample video
(the check that its weights were read and mapped correctly)."""

from __future__ import annotations

import torch

from helpers import decode_at
from mmx.experts import EXPERTS


def test_appearance_recognises_a_suit():
    from torchvision.models import ResNet18_Weights

    imagenet = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    torch.manual_seed(0)
    e = EXPERTS.create("appearance")
    frame = decode_at("bikes.mp4", 224, [30])  # a man in a suit and tie
    with torch.inference_mode():
        top3 = [imagenet[i] for i in e.classify(torch.from_numpy(frame))[0].argsort(descending=True)[:3]]
    assert "suit" in top3
