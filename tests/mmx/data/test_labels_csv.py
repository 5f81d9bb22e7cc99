"""labels.csv as the dataset builder writes it reads back through the importer: ids, genres, splits, titles
with commas and quotes, years."""

from __future__ import annotations

import pytest

from helpers import catalog_entries
from mmx.catalog import SplitConfig, assign_splits
from mmx.data.labels_csv import read_labels, write_labels
from mmx.errors import InputError


def test_labels_csv_reads_back_through_the_importer(tmp_path):
    out, _ = assign_splits(catalog_entries(40), SplitConfig(seed=0))
    out[0].title, out[0].year = 'Title, with "quotes"', 1999
    path = write_labels(tmp_path / "labels.csv", [e.label_row() for e in out])
    problems = []
    rows = read_labels(path, problems)
    assert problems == []
    assert [(r.trailer_id, r.genres, r.split) for r in rows] == [(e.trailer_id, e.genres, e.split) for e in out]
    assert (rows[0].title, rows[0].year) == ('Title, with "quotes"', 1999)


def test_extra_columns_are_kept_and_a_bad_row_is_named(tmp_path):
    path = write_labels(tmp_path / "labels.csv", [
        {"trailer_id": "a", "genres": ["Drama", "Horror"], "true_genres": "Drama"},
        {"trailer_id": "b", "genres": "Comedy", "year": None, "split": "val"},
        {"trailer_id": "c", "genres": [], "year": 1999},
    ], extra=("true_genres",))
    assert path.read_text().splitlines()[:2] == ["trailer_id,genres,title,year,split,true_genres",
                                                 "a,Drama|Horror,,,,Drama"]
    problems = []
    assert [r.trailer_id for r in read_labels(path, problems)] == ["a", "b"]  # a batch goes on with the rest
    assert len(problems) == 1 and problems[0].where == "labels.csv row 4" and "'c' has no genres" in problems[0].reason
    with pytest.raises(InputError, match="labels.csv row 4: trailer 'c' has no genres"):
        read_labels(path)  # a file mmx rewrites whole refuses to drop a row
