"""The musicnn port against TensorFlow's musicnn on the recorded reference (tests/data, recorded by
scripts/record_musicnn_reference.py from the same seeds)."""

from __future__ import annotations

import numpy as np
import torch
from record_musicnn_reference import reference_input as musicnn_input

from helpers import TESTS
from mmx.experts import EXPERTS

DATA = TESTS / "data"


def test_musicnn_port_matches_tensorflow():
    ref = np.load(DATA / "musicnn_reference.npz")
    net = EXPERTS.create("audio").net
    with torch.inference_mode():
        x = torch.from_numpy(musicnn_input())  # (2, 187, 96)
        penultimate, logits = net.embed(x).numpy(), net(x).numpy()
    np.testing.assert_allclose(penultimate, ref["penultimate"], atol=1e-4)
    np.testing.assert_allclose(logits, ref["logits"], atol=1e-4)
