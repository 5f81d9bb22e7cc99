"""Fixtures several library test files share: a finished run, files of imported embeddings."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from helpers import random_collection, tiny_cfg
from mmx.data.vectors import write_npz
from mmx.progress import QUIET
from mmx.train.coarse import train


@pytest.fixture
def emb_files(tmp_path):
    """emb.npz (30 trailers, then a duplicate, one without metadata, a NaN row, a zero row) and meta.csv."""
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


@pytest.fixture(scope="session")
def trained(small_store, tmp_path_factory) -> Path:
    """A finished 3-epoch coarse run on the small store (its scenes are made by the test of run files)."""
    out = tmp_path_factory.mktemp("runs") / "run"
    train(small_store, out, tiny_cfg(3), reporter=QUIET)
    return out
