"""Building blocks: linear layers, MLPs, the per-expert reduction, NetVLAD, context gating and the GEM."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmx.precision import in_cpu_autocast


def bucket_rows(m: int) -> int:
    """``m`` rounded up to a multiple of 2^(⌊log₂ m⌋ − 3): at most an eighth more, eight sizes per doubling."""
    if m <= 16:
        return m
    step = 1 << (m.bit_length() - 4)
    return -(-m // step) * step


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear``; under CPU bf16 autocast with the rows padded to ``bucket_rows`` (and the padding dropped).

    oneDNN builds (JIT-compiles) a bf16 matrix product for every new shape, ~14 ms for the three
    products of a 730×256×256 layer's forward and backward on one core, and a batch's number of clips
    (windows, pairs) differs from batch to batch: without buckets every step of a real epoch pays that
    in every layer and bf16 training is no faster than fp32. Rows are independent, so the rows kept
    are the product's. fp32 (MKL) and GPUs (cuBLAS) build nothing per shape, and torch.compile makes its
    own kernels for a range of shapes: no padding there.
    """
    if x.device.type != "cpu" or not in_cpu_autocast() or torch.compiler.is_compiling():
        return F.linear(x, weight, bias)
    m = x[..., 0].numel()
    padded = bucket_rows(m)
    if padded == m:
        return F.linear(x, weight, bias)
    rows = x.reshape(m, x.shape[-1]).to(torch.bfloat16)  # (m, d_in), cast before the copy that pads
    out = F.linear(F.pad(rows, (0, 0, 0, padded - m)), weight, bias)[:m]  # (m, d_out)
    return out.reshape(*x.shape[:-1], out.shape[-1])


class Linear(nn.Linear):
    """``nn.Linear`` computed by ``linear`` (the same parameters and state dict): every layer of the network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class MLP(nn.Sequential):
    """Linear layers of the given sizes with ReLU between them (and after the last if asked).

    Layers followed by a ReLU get He initialisation: with PyTorch's default the activations shrink
    by about √6 per layer, and the paper's stack j → k → l (six layers on unit-norm clip vectors)
    starts with constant logits and a long plateau.
    """

    def __init__(self, sizes: list[int], final_relu: bool = False, dropout: float = 0.0):
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            if dropout and i == len(sizes) - 2:
                layers.append(nn.Dropout(dropout))
            layer = Linear(a, b)
            layers.append(layer)
            if i < len(sizes) - 2 or final_relu:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
                layers.append(nn.ReLU())
        super().__init__(*layers)


def standardise(norm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)``, with the running statistics also in training when a batch has a single row."""
    if norm.training and x.shape[0] == 1:
        return F.batch_norm(x, norm.running_mean, norm.running_var, training=False, eps=norm.eps)
    return norm(x)


class ReduceDim(nn.Module):
    """Map an expert's features to the shared space: Linear + L2 norm (Collaborative Experts)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc = Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc(x), dim=-1)  # (N, d_out)


class NetVLAD(nn.Module):
    """NetVLAD (Arandjelović et al., CVPR 2016) pooling the windows of each clip into one vector.

    ``forward(x, segment, n_segments)``: x (W, D) window features, segment (W,) clip of each
    window → (n_segments, K·D), intra-normalised per cluster then L2-normalised. A clip with no
    window gets a zero vector (its availability mask is off). The soft assignment may come out of
    a bf16 matrix product (autocast); the sums over windows are fp32, as the features are.

    Both normalisations are one scale per (clip, cluster): an intra-normalised block has length 1
    (0 when its residual is zero), so the length of the whole is √(number of non-zero blocks), known
    from the (C, K) block norms without a second pass over the (C, K·D) vectors.
    """

    eps = 1e-12  # F.normalize's: a norm below it divides by it instead

    def __init__(self, dim: int, clusters: int):
        super().__init__()
        self.dim, self.clusters = dim, clusters
        self.assign = Linear(dim, clusters)
        self.centroids = nn.Parameter(torch.randn(clusters, dim) / dim**0.5)

    @property
    def out_dim(self) -> int:
        return self.dim * self.clusters

    def forward(self, x: torch.Tensor, segment: torch.Tensor, n_segments: int) -> torch.Tensor:
        x = x.float()
        a = torch.softmax(self.assign(x).float(), dim=-1)  # (W, K) soft assignment
        weighted = (a.unsqueeze(-1) * x.unsqueeze(1)).flatten(1)  # (W, K·D)
        vlad = x.new_zeros(n_segments, self.clusters * self.dim).index_add_(0, segment, weighted)
        mass = x.new_zeros(n_segments, self.clusters).index_add_(0, segment, a)  # (C, K)
        vlad = vlad.view(n_segments, self.clusters, self.dim) - mass.unsqueeze(-1) * self.centroids  # (C, K, D)
        n = torch.linalg.vector_norm(vlad, dim=-1, keepdim=True)  # (C, K, 1)
        intra = n.clamp_min(self.eps)  # what intra-normalisation divides each block by
        whole = torch.linalg.vector_norm(n / intra, dim=1, keepdim=True).clamp_min(self.eps)  # (C, 1, 1): the blocks' joint length
        return (vlad * (1.0 / (intra * whole))).flatten(1)  # intra-, then L2-normalised (C, K·D); the scale's a (C, K, 1)


class ContextGating(nn.Module):
    """x ∘ σ(BN(W x + b)) (Miech et al. 2017): a GLU over [x ; BN(W x + b)], without the concatenation."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc = Linear(dim, dim)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.bn(self.fc(x)))  # (N, dim)


class GatedEmbeddingModule(nn.Module):
    """GEM (Miech et al., "Learning a Text-Video Embedding from Incomplete and Heterogeneous Data").

    Linear → context gating → L2 norm.
    """

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc = Linear(d_in, d_out)
        self.cg = ContextGating(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.cg(self.fc(x)), dim=-1)  # (N, d_out)
