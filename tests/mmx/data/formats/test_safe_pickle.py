"""Pickles read without running code: NumPy arrays and scalars come back; a pickle that asks to run anything is
refused with the file named."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from mmx.data.formats.safe_pickle import load as safe_load
from mmx.errors import InputError


def test_a_pickle_that_asks_to_run_code_is_refused_and_arrays_are_read(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"samples": Exploit()}))
    with pytest.raises(InputError, match=r"evil.pkl asks to run posix.system.*a pickle is code"):
        safe_load(bad)
    np_only = tmp_path / "ok.pkl"
    np_only.write_bytes(pickle.dumps({"a": [np.arange(3.0), np.float32(2)]}, protocol=2))
    assert safe_load(np_only)["a"][1] == 2
