"""Collaborative gating (eqs. 1–2): by hand on a tiny case, against a plain loop over expert pairs, and blind to
what a missing expert holds."""

from __future__ import annotations

import pytest
import torch

from mmx.model import CollaborativeGating


def test_gating_tiny_case_by_hand():
    # E=2 experts, D=1, one-layer g and h: g([a; b]) = 1·a + 2·b + 0.5, h(x) = x.
    cg = CollaborativeGating(n_experts=2, dim=1, g_layers=1, h_layers=1)
    with torch.no_grad():
        cg.g_left.weight.fill_(1.0)
        cg.g_left.bias.fill_(0.5)
        cg.g_right.weight.fill_(2.0)
        cg.h[0].weight.fill_(1.0)
        cg.h[0].bias.fill_(0.0)
    psi = torch.tensor([[[1.0], [3.0]]])  # (C=1, E=2, D=1)
    avail = torch.ones(1, 2, dtype=torch.bool)
    out = cg(psi, avail)
    # T_0 = g([1; 3]) = 1 + 6 + 0.5 = 7.5; T_1 = g([3; 1]) = 3 + 2 + 0.5 = 5.5
    expected = torch.tensor([[[1.0 * torch.sigmoid(torch.tensor(7.5))], [3.0 * torch.sigmoid(torch.tensor(5.5))]]])
    torch.testing.assert_close(out, expected)


def _reference_gating(cg: CollaborativeGating, psi: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Eq. 1–2 as a plain loop, with g applied to the concatenation [ψ_e; ψ_f]."""
    W = torch.cat([cg.g_left.weight, cg.g_right.weight], dim=1)  # (D, 2D): g's first layer on [ψ_e; ψ_f]
    b = cg.g_left.bias
    C, E, D = psi.shape
    out = torch.empty_like(psi)
    for c in range(C):
        for e in range(E):
            total = torch.zeros(D)
            for f in range(E):
                if f == e or not avail[c, f]:
                    continue
                x = W @ torch.cat([psi[c, e], psi[c, f]]) + b
                if len(cg.g_rest):
                    x = cg.g_rest(torch.relu(x))
                total = total + x
            out[c, e] = psi[c, e] * torch.sigmoid(cg.h(total))
    return out


@pytest.mark.parametrize("E,g_layers,h_layers", [(2, 1, 1), (3, 2, 2), (4, 3, 1)])
def test_gating_matches_loop_over_pairs(E, g_layers, h_layers):
    torch.manual_seed(E)
    cg = CollaborativeGating(E, dim=5, g_layers=g_layers, h_layers=h_layers)
    psi = torch.randn(6, E, 5)
    avail = torch.rand(6, E) > 0.3
    with torch.no_grad():
        torch.testing.assert_close(cg(psi, avail), _reference_gating(cg, psi, avail), rtol=1e-5, atol=1e-6)


def test_missing_partner_changes_nothing_it_must_not():
    torch.manual_seed(0)
    cg = CollaborativeGating(3, dim=4)
    psi = torch.randn(5, 3, 4)
    avail = torch.ones(5, 3, dtype=torch.bool)
    avail[:, 2] = False
    other = psi.clone()
    other[:, 2] = torch.randn(5, 4) * 100  # whatever the missing expert holds
    with torch.no_grad():
        a, b = cg(psi, avail), cg(other, avail)
    torch.testing.assert_close(a[:, :2], b[:, :2])
    # …and equals gating over the two available experts alone
    two = CollaborativeGating(2, dim=4)
    two.load_state_dict(cg.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(a[:, :2], two(psi[:, :2], avail[:, :2]))
