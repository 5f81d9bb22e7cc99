"""The network's layers: NetVLAD against the paper's sums clip by clip (values and gradients), and Linear's padded
rows under CPU bf16 that keep the product."""

from __future__ import annotations

import pytest
import torch

from mmx.model.layers import Linear, NetVLAD, bucket_rows


@pytest.mark.parametrize("unused", [0, 2])
def test_netvlad_matches_per_clip_loop(unused):
    torch.manual_seed(0)
    vlad = NetVLAD(dim=3, clusters=4)
    with torch.no_grad():  # `unused` clusters no window is assigned to (softmax underflows): their blocks are zero
        vlad.assign.bias[4 - unused:] = -300.0
    x = torch.randn(7, 3, requires_grad=True)
    seg = torch.tensor([0, 0, 0, 2, 2, 2, 2])  # clip 1 has no window
    out = vlad(x, seg, 3)
    assert out.shape == (3, 12)

    def reference(c: int) -> torch.Tensor:  # the paper's sums and normalisations, clip by clip
        rows = x[seg == c]
        if len(rows) == 0:
            return torch.zeros(12)
        a = torch.softmax(vlad.assign(rows), dim=-1)  # (w, K)
        v = torch.stack([(a[:, k : k + 1] * (rows - vlad.centroids[k])).sum(0) for k in range(4)])
        assert (v.norm(dim=1) > 0).sum() == 4 - unused
        return torch.nn.functional.normalize(torch.nn.functional.normalize(v, dim=-1).flatten(), dim=0)

    expected = torch.stack([reference(c) for c in range(3)])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert torch.all(out[1] == 0)
    weights = torch.randn(3, 12)  # and the same gradients (finite, too, where a clip has no window)
    inputs = (x, vlad.centroids, vlad.assign.weight)
    got = torch.autograd.grad((out * weights).sum(), inputs)
    for g, want in zip(got, torch.autograd.grad((expected * weights).sum(), inputs)):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, want, rtol=1e-4, atol=1e-6)


def test_linear_pads_rows_to_a_few_shapes_under_cpu_bf16_and_keeps_the_product():
    sizes = [bucket_rows(m) for m in range(17, 4097)]
    assert all(m <= b <= m * 9 / 8 for m, b in zip(range(17, 4097), sizes))
    assert len(set(sizes)) <= 8 * 8 + 1  # eight sizes per doubling: oneDNN builds each once
    torch.manual_seed(0)
    layer = Linear(8, 5)
    x = torch.randn(3, 241, 8, requires_grad=True)  # 723 rows → 768
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = layer(x)
        want = torch.nn.functional.linear(x, layer.weight, layer.bias)
    assert got.shape == want.shape == (3, 241, 5) and got.dtype == want.dtype == torch.bfloat16
    # rows are independent: the same bf16 products, up to how another row count blocks the sums (2 bf16 units)
    torch.testing.assert_close(got.float(), want.float(), rtol=2 ** -7, atol=1e-3)
    g = torch.randn(3, 241, 5)
    grads = [torch.autograd.grad((y.float() * g).sum(), (x, layer.weight)) for y in (got, want)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)  # bf16 sums over other row counts
