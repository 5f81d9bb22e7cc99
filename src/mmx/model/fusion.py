"""Fusing the experts of one clip into its L2-normalised clip vector.

Registered by name (``FUSIONS``): ``cg`` — collaborative gating (§3.1, eq. 1–2, from Liu et al.,
BMVC 2019 "Use What You Have") followed by a GEM per expert; ``concat`` — the paper's "Naive
Concat" baseline. Both take ψ (C, E, D), the experts of C clips in the shared D-d space, and the
availability mask (C, E), and return (C, clip_dim) unit vectors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmx.config import ModelConfig
from mmx.model.layers import MLP, GatedEmbeddingModule, Linear, linear
from mmx.registry import Registry

FUSIONS: Registry[nn.Module] = Registry("fusion")


class CollaborativeGating(nn.Module):
    """Eq. 1–2: ``T_e = h(Σ_{f≠e} g([ψ_e; ψ_f]))``, ``ψ_e ← ψ_e ∘ σ(T_e)``.

    Only available partners f enter the sum (availability masks, as Collaborative Experts does), so
    a missing expert changes nothing else. g's first layer acts on the concatenation [ψ_e; ψ_f];
    it is computed as ``W_l ψ_e + W_r ψ_f`` so that each expert is multiplied once, not E−1 times.
    g ends in a linear layer, which commutes with the masked sum over partners: the sum is taken
    before it, so that layer runs on the E experts of a clip rather than on its E(E−1) pairs (a
    third of the gating's largest product with 4 experts), and the pairs are formed by
    broadcasting with the diagonal masked — no gather, whose backward is an ``index_put_``.
    With a single expert there is no pair and ψ passes unchanged.
    """

    def __init__(self, n_experts: int, dim: int, g_layers: int = 2, h_layers: int = 2):
        super().__init__()
        if g_layers < 1 or h_layers < 1:
            raise ValueError("g and h need at least one layer each")
        self.n_experts = n_experts
        self.g_left = Linear(dim, dim)  # acts on ψ_e (the first half of [ψ_e; ψ_f])
        self.g_right = Linear(dim, dim, bias=False)  # acts on ψ_f
        self.g_rest = MLP([dim] * g_layers)  # the remaining layers of g (empty when g_layers == 1)
        self.h = MLP([dim] * (h_layers + 1))

    def attention(self, psi: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        """T (C, E, D): the attention vector of each expert."""
        left, right = self.g_left(psi), self.g_right(psi)  # (C, E, D) each
        pair = left.unsqueeze(2) + right.unsqueeze(1)  # (C, E, F = E, D): g's first layer on [ψ_e; ψ_f], every f
        others = ~torch.eye(self.n_experts, dtype=torch.bool, device=psi.device)  # (E, F): f ≠ e
        weight = (avail.unsqueeze(1) & others).to(pair.dtype)  # (C, E, F): the partners that enter the sum
        weight = weight.unsqueeze(-1)  # (C, E, F, 1); the sums below are elementwise: a product over F (4 experts)
        # would be built anew by oneDNN for every batch's clip count in bf16 (mmx.model.layers.linear)
        if not len(self.g_rest):  # g is its first layer alone
            return self.h((pair * weight).sum(2))  # (C, E, D)
        *inner, last = self.g_rest  # g's remaining layers end in a linear one
        pair = torch.relu(pair)
        for layer in inner:
            pair = layer(pair)  # (C, E, F, D)
        summed = (pair * weight).sum(2)  # (C, E, D): Σ over available f ≠ e, before `last`
        return self.h(linear(summed, last.weight) + weight.sum(2) * last.bias)  # (C, E, D)

    def forward(self, psi: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        if self.n_experts == 1:
            return psi
        return psi * torch.sigmoid(self.attention(psi, avail))  # (C, E, D)


@FUSIONS.register("cg")
class GatedFusion(nn.Module):
    """Collaborative gating → a GEM per expert → concatenation → Linear → L2 norm (§3.1, §7)."""

    def __init__(self, n_experts: int, cfg: ModelConfig):
        super().__init__()
        self.gating = CollaborativeGating(n_experts, cfg.expert_dim, cfg.g_layers, cfg.h_layers)
        self.gems = nn.ModuleList(GatedEmbeddingModule(cfg.expert_dim, cfg.gem_dim) for _ in range(n_experts))
        self.out = Linear(n_experts * cfg.gem_dim, cfg.clip_dim)

    def forward(self, psi: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        gated = self.gating(psi, avail)  # (C, E, D)
        mask = avail.unsqueeze(-1).to(psi.dtype)  # (C, E, 1)
        gems = torch.stack([gem(gated[:, e]) for e, gem in enumerate(self.gems)], dim=1)  # (C, E, gem)
        return F.normalize(self.out((gems * mask).flatten(1)), dim=-1)  # (C, clip_dim)


@FUSIONS.register("concat")
class NaiveConcat(nn.Module):
    """The paper's "Naive Concat": the experts concatenated and passed through an MLP (§4.3)."""

    def __init__(self, n_experts: int, cfg: ModelConfig):
        super().__init__()
        self.mlp = MLP([n_experts * cfg.expert_dim, cfg.expert_dim, cfg.clip_dim])

    def forward(self, psi: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        mask = avail.unsqueeze(-1).to(psi.dtype)  # (C, E, 1)
        return F.normalize(self.mlp((psi * mask).flatten(1)), dim=-1)  # (C, clip_dim)
