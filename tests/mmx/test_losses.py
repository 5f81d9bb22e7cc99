"""NT-Xent against a plain loop over the SimCLR formula, its symmetry, known values and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from mmx.losses import NTXentLoss


def simclr_loop(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> float:
    """Chen et al. 2020, Alg. 1, written out anchor by anchor in float64."""
    z = [v.double() for v in torch.cat([z_a, z_b])]
    n2 = len(z)
    n = n2 // 2

    def sim(u, v):
        return float(u @ v / (u.norm() * v.norm()))

    total = 0.0
    for k in range(n2):
        p = (k + n) % n2
        den = sum(math.exp(sim(z[k], z[j]) / tau) for j in range(n2) if j != k)
        total += -math.log(math.exp(sim(z[k], z[p]) / tau) / den)
    return total / n2


@pytest.mark.parametrize("n,d,tau", [(2, 3, 0.5), (5, 8, 0.1), (8, 128, 0.5), (16, 4, 1.0), (3, 2048, 2.0)])
def test_matches_simclr_loop(n, d, tau):
    g = torch.Generator().manual_seed(n * 1000 + d)
    z_a, z_b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    got = NTXentLoss(tau)(z_a, z_b).item()
    assert got == pytest.approx(simclr_loop(z_a, z_b, tau), rel=1e-5, abs=1e-6)


def test_symmetric_and_scale_invariant():
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    loss = NTXentLoss(0.5)
    assert loss(z_a, z_b).item() == pytest.approx(loss(z_b, z_a).item(), rel=1e-6)
    assert loss(z_a, z_b).item() == pytest.approx(loss(3 * z_a, 0.2 * z_b).item(), rel=1e-5)
    perm = torch.randperm(6, generator=g)  # relabelling the trailers changes nothing
    assert loss(z_a, z_b).item() == pytest.approx(loss(z_a[perm], z_b[perm]).item(), rel=1e-5)


def test_known_values():
    # identical views, orthogonal trailers: s = 1 for the positive, 0 for the 2(N−1) negatives
    n, tau = 4, 0.5
    z = torch.eye(n)
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2 * (n - 1)))
    assert NTXentLoss(tau)(z, z).item() == pytest.approx(expected, rel=1e-6)
    # every view the same vector: all similarities 1, so the loss is log(2N − 1)
    same = torch.ones(5, 3)
    assert NTXentLoss(0.5)(same, same).item() == pytest.approx(math.log(9), rel=1e-6)
    # positives opposite to each other score worst: −s/τ − log(...) with s = −1 to the positive
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    val = NTXentLoss(1.0)(a, -a).item()
    expected = -math.log(math.exp(-1) / (math.exp(-1) + 2 * math.exp(0)))
    assert val == pytest.approx(expected, rel=1e-6)


def test_gradient_pulls_positives_together():
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(8, 16, generator=g, requires_grad=True)
    z_b = torch.randn(8, 16, generator=g)
    opt = torch.optim.SGD([z_a], lr=0.5)
    loss = NTXentLoss(0.5)
    first = loss(z_a, z_b).item()
    for _ in range(50):
        opt.zero_grad()
        out = loss(z_a, z_b)
        out.backward()
        opt.step()
    assert loss(z_a, z_b).item() < first - 0.5


@pytest.mark.parametrize("tau", [0.0, -0.5, float("nan")])
def test_bad_temperature(tau):
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(tau)


@pytest.mark.parametrize("a,b", [((4, 8), (4, 7)), ((4, 8), (5, 8)), ((8,), (8,)), ((1, 8), (1, 8))])
def test_bad_shapes(a, b):
    with pytest.raises(ValueError):
        NTXentLoss()(torch.randn(*a), torch.randn(*b))
