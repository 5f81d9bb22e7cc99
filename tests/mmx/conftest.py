"""Fixtures several library test files share."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from helpers import random_collection
from mmx.data.vectors import write_npz


# ---------------------------------------------------------------------------- imported embeddings
@pytest.fixture
def emb_files(tmp_path):
    x, genres = random_collection(30, 8, 5)
    ids = [f"t{i:02d}" for i in range(30)]
    bad_ids = ids + ["t00", "nometa", "nan-row", "zero-row"]
    bad_x = np.concatenate([x, x[:1], x[:1], np.full((1, 8), np.nan), np.zeros((1, 8))]).astype(np.float32)
    write_npz(tmp_path / "emb.npz", bad_ids, bad_x)
    with open(tmp_path / "meta.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trailer_id", "genres", "title", "year"])
        for tid, gs in zip(ids, genres):
            w.writerow([tid, "|".join(gs), f"Title {tid}", 2000])
        w.writerow(["nan-row", "Drama", "", ""])
        w.writerow(["zero-row", "Drama", "", ""])
    return tmp_path, ids, x, genres
