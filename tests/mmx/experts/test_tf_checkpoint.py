"""The TensorFlow checkpoint reader: musicnn's shipped checkpoint read tensor by tensor; a damaged index named."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mmx.errors import WeightsCorrupt
from mmx.experts.tf_checkpoint import read_checkpoint


def test_tf_checkpoint_reader(tmp_path):
    folder = Path(list(importlib.util.find_spec("musicnn").submodule_search_locations)[0]) / "MSD_musicnn"
    tensors = read_checkpoint(f"{folder}/")
    assert tensors["conv2d/kernel"].shape == (7, 38, 1, 204) and tensors["conv2d/kernel"].dtype == np.float32
    assert tensors["dense_1/kernel"].shape == (200, 50)
    assert (tensors["batch_normalization_10/moving_variance"] > 0).all()
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(WeightsCorrupt, match="x.index"):
        read_checkpoint(tmp_path / "x")
