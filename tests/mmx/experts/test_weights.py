"""Weight files: the NumPy unpickler reads arrays and refuses code."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mmx.errors import WeightsCorrupt
from mmx.experts.weights import load_numpy_pickle


def test_numpy_unpickler_reads_arrays_and_refuses_code(tmp_path):
    ok = tmp_path / "ok.pkl"
    ok.write_bytes(pickle.dumps({"a": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "b": [np.ones(2)]}))
    back = load_numpy_pickle(ok)
    np.testing.assert_array_equal(back["a"]["w"], np.arange(6).reshape(2, 3))
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"x": print}))  # any global other than numpy's array rebuilders
    with pytest.raises(WeightsCorrupt, match="refusing to load builtins.print"):
        load_numpy_pickle(evil)
