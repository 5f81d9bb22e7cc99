"""Splits: iterative stratification (Sechidis et al. 2011) against a random split, given splits and split files,
the real MovieNet list's own split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import catalog_entries, random_labels
from mmx.catalog import SplitConfig, assign_splits, iterative_stratification, read_split_file
from mmx.catalog.stratify import companion_split_file
from mmx.data.labels_csv import read_labels
from mmx.data.splits import SPLITS, hash_split
from mmx.errors import InputError


def test_every_genre_lands_in_every_split_in_proportion():
    y = random_labels()
    subset = iterative_stratification(y, [0.8, 0.1, 0.1], seed=3)
    assert subset.shape == (len(y),) and set(subset) == {0, 1, 2}
    per_split = np.stack([y[subset == k].sum(0) for k in range(3)])  # (3, G)
    assert (per_split > 0).all(), per_split  # rare genres (10 and 12 trailers) are in every split
    want = np.outer([0.8, 0.1, 0.1], y.sum(0))  # (3, G)
    assert np.abs(per_split - want).max() <= 1.5  # within one or two examples of r_j · N_i
    assert np.abs(np.bincount(subset) - np.array([480, 60, 60])).max() <= 3


def test_stratified_beats_a_random_split_on_label_proportions():
    y = random_labels(seed=1)
    want = np.outer([0.8, 0.1, 0.1], y.sum(0))

    def error(subset):
        return np.abs(np.stack([y[subset == k].sum(0) for k in range(3)]) - want).sum()

    hashed = np.array([SPLITS.index(hash_split(str(i), 0, [0.8, 0.1, 0.1])) for i in range(len(y))])
    assert error(iterative_stratification(y, [0.8, 0.1, 0.1], 0)) < 0.25 * error(hashed)


def test_stratification_is_deterministic_for_a_seed():
    y = random_labels()
    a = iterative_stratification(y, [0.8, 0.1, 0.1], seed=7)
    assert np.array_equal(a, iterative_stratification(y, [0.8, 0.1, 0.1], seed=7))
    assert not np.array_equal(a, iterative_stratification(y, [0.8, 0.1, 0.1], seed=8))


def test_examples_without_labels_fill_subsets_by_size():
    y = np.zeros((20, 3), dtype=bool)
    assert np.bincount(iterative_stratification(y, [0.5, 0.25, 0.25], 0)).tolist() == [10, 5, 5]
    with pytest.raises(ValueError, match="fractions"):
        iterative_stratification(y, [0.8, -0.1, 0.3], 0)


def test_assign_splits_given_wins_and_order_does_not_matter():
    es = catalog_entries()
    es[0].split = "test"
    given = {"t0001": "val", "t0002": "train", "nope": "test"}
    out, summary = assign_splits(es, SplitConfig(seed=0), given)
    by_id = {e.trailer_id: e.split for e in out}
    assert (by_id["t0000"], by_id["t0001"], by_id["t0002"]) == ("test", "val", "train")
    assert all(e.split in SPLITS for e in out) and es[3].split is None  # inputs are not changed
    assert sum(summary.given.values()) == 3 and sum(summary.stratified.values()) == len(es) - 3
    assert summary.not_in_list == 1 and sum(summary.counts().values()) == len(es)
    for g in ("Western", "Sport"):  # rare genres in every split
        assert {e.split for e in out if g in e.genres} == set(SPLITS)
    shuffled, _ = assign_splits(list(reversed(es)), SplitConfig(seed=0), given)
    assert {e.trailer_id: e.split for e in shuffled} == by_id


def test_split_file_reading(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"trn": ["a", "b"], "val": ["c"], "tst": ["d"]}))
    assert read_split_file(path) == {"a": "train", "b": "train", "c": "val", "d": "test"}
    assert companion_split_file(tmp_path / "list.csv", "movienet") == path
    assert companion_split_file(tmp_path / "list.csv", "csv") is None
    path.write_text(json.dumps({"train": ["a"], "test": ["a"]}))
    with pytest.raises(InputError, match="in both train and test"):
        read_split_file(path)
    path.write_text(json.dumps({"dev": ["a"]}))
    with pytest.raises(InputError, match="splits.json: 'dev' must be one of"):
        read_split_file(path)


@pytest.mark.slow
def test_movienet_split_from_its_split_file(shared_data, tmp_path):
    from mmx_cli.main import main

    out = tmp_path / "labels.csv"
    movienet = shared_data / "movienet" / "trailers_genres_clean.csv"
    assert main(["dataset", "split", str(movienet), "--out", str(out)]) == 0
    rows = read_labels(out, [])
    assert len(rows) == 26390
    counts = {s: sum(r.split == s for r in rows) for s in SPLITS}
    assert counts == {"train": 18471, "val": 2642, "test": 5277}
