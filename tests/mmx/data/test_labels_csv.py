"""labels.csv as the dataset builder writes it reads back through the importer: ids, genres, splits, titles
with commas and quotes, years."""

from __future__ import annotations

from helpers import catalog_entries
from mmx.catalog import SplitConfig, assign_splits
from mmx.data.labels_csv import read_labels, write_labels


def test_labels_csv_reads_back_through_the_importer(tmp_path):
    out, _ = assign_splits(catalog_entries(40), SplitConfig(seed=0))
    out[0].title, out[0].year = 'Title, with "quotes"', 1999
    path = write_labels(tmp_path / "labels.csv", [e.label_row() for e in out])
    problems = []
    rows = read_labels(path, problems)
    assert problems == []
    assert [(r.trailer_id, r.genres, r.split) for r in rows] == [(e.trailer_id, e.genres, e.split) for e in out]
    assert (rows[0].title, rows[0].year) == ('Title, with "quotes"', 1999)
