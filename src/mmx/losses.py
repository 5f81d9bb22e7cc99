"""Loss modules, each citing its paper, stating input shapes and validating arguments."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WeightedBCELoss(nn.Module):
    """Multi-label binary cross-entropy on logits with a positive weight per genre (eq. 3).

    ``l_{b,g} = −[p_g y_{b,g} log σ(u_{b,g}) + (1 − y_{b,g}) log(1 − σ(u_{b,g}))]``, averaged over
    batch and genres. ``pos_weight`` (G,) is p_g, usually n_negative / n_positive of the training
    split (``positive_weights``). Inputs: logits u (B, G), targets y (B, G) in {0, 1}.
    """

    def __init__(self, pos_weight: torch.Tensor):
        super().__init__()
        if pos_weight.ndim != 1 or (pos_weight <= 0).any():
            raise ValueError("pos_weight must be a 1-d tensor of positive numbers, one per genre")
        self.register_buffer("pos_weight", pos_weight.float())

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.shape != targets.shape or logits.shape[-1] != self.pos_weight.shape[0]:
            raise ValueError(
                f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} must both be "
                f"(B, {self.pos_weight.shape[0]})"
            )
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.pos_weight)


def positive_weights(labels: torch.Tensor, cap: float) -> torch.Tensor:
    """p_g = n_negative / n_positive per genre of a (N, G) multi-hot matrix, within [1/cap, cap]."""
    pos = labels.sum(0)
    neg = labels.shape[0] - pos
    return (neg / pos.clamp(min=1)).clamp(1.0 / cap, cap)
