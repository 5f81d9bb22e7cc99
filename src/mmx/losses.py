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


class NTXentLoss(nn.Module):
    """NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al., ICML 2020).

    ``loss(z_a, z_b)`` with z_a, z_b (N, D): two views of N trailers, row i of each a positive
    pair; the other 2(N − 1) views of the batch are the negatives of an anchor. With
    s(u, v) = uᵀv / (‖u‖‖v‖) and the 2N views z_1..z_2N (z_a then z_b), anchor k with positive p(k):

        ℓ_k = −log [ exp(s(z_k, z_p(k)) / τ) / Σ_{j≠k} exp(s(z_k, z_j) / τ) ]

    and the loss is the mean of ℓ_k over the 2N anchors (the paper's fine-grained stage, §3.3, τ = 0.5).
    """

    def __init__(self, temperature: float = 0.5):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"NT-Xent temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        if z_a.ndim != 2 or z_a.shape != z_b.shape:
            raise ValueError(
                f"z_a {tuple(z_a.shape)} and z_b {tuple(z_b.shape)} must both be (N, D), one row per trailer"
            )
        n = z_a.shape[0]
        if n < 2:
            raise ValueError(f"NT-Xent needs at least 2 pairs (the other pairs are the negatives), got {n}")
        z = F.normalize(torch.cat([z_a, z_b]), dim=1)  # (2N, D) unit vectors
        logits = z @ z.T / self.temperature  # (2N, 2N) cosine similarity / τ
        logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
        positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)  # (2N,) p(k)
        return F.cross_entropy(logits, positive)
