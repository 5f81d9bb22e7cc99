"""The catalogue built from a label list: dirt sorted out (malformed, genre-less, duplicate rows), Fig. 4
statistics against a direct count, and `mmx dataset check` on the real MovieNet list."""

from __future__ import annotations

import ast
import csv
import json
from collections import Counter

import pytest

from mmx.catalog import load_catalog, statistics
from mmx_cli.main import main


def test_catalog_sorts_out_the_dirt(movienet_list):
    cat = load_catalog(movienet_list)
    assert cat.rows == 7
    assert [(i.line, i.value) for i in cat.malformed] == [(3, "-1ru6xV7SOMDrama"), (6, "")]
    assert "looks like 'Drama'" in cat.malformed[0].reason
    assert [(i.line, i.trailer_id) for i in cat.no_genre] == [(4, "ccccccccccc")]
    assert [(i.line, i.trailer_id, i.value) for i in cat.duplicates] == [(7, "aaaaaaaaaaa", "2")]
    assert [e.trailer_id for e in cat.entries] == ["aaaaaaaaaaa", "ddddddddddd", "fffffffffff"]
    assert cat.entries[2].genres == ["Sci-Fi", "Thriller"]  # deduplicated
    assert cat.unknown == Counter({"Romance": 1, "Musical": 1})
    assert cat.entries[1].genres == ["Romance", "Musical"]  # kept, but reported


def test_statistics_match_a_direct_count(movienet_list):
    cat = load_catalog(movienet_list)
    stats = statistics(cat.entries)
    assert stats["genres"] == {"Drama": 1, "History": 1, "Musical": 1, "Romance": 1, "Sci-Fi": 1, "Thriller": 1}
    assert stats["labels_per_trailer"] == {2: 3}
    assert stats["years"] == {1916: 1, 1966: 1} and stats["no_year"] == 1


@pytest.mark.slow
def test_movienet_check_reports_its_dirt_exactly(shared_data, capsys):
    path = shared_data / "movienet" / "trailers_genres_clean.csv"
    assert main(["dataset", "check", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["rows"], rep["usable"]) == (26412, 26390)
    malformed = [(m["line"], m["trailer_id"], m["value"]) for m in rep["malformed"]]
    assert malformed == [(8, "XRmWftEjit0", "-1ru6xV7SOMDrama")]
    assert len(rep["no_genre"]) == 21 and rep["duplicates"] == []
    assert rep["counts"] == {"malformed": 1, "no_genre": 21, "duplicates": 0}
    # A direct count of the file: every row's list, minus the one malformed row.
    with open(path, newline="", encoding="utf-8") as f:
        recs = list(csv.DictReader(f))
    direct = Counter(g for r in recs if "1ru6xV7SOM" not in r["genres"] for g in ast.literal_eval(r["genres"]))
    assert rep["genres"] == dict(direct)
    assert rep["unknown_genres"] == {"Romance": 4267, "Musical": 498}
    assert sum(rep["labels_per_trailer"].values()) == 26390
    assert sum(rep["years"].values()) + rep["no_year"] == 26390
    assert {k: rep["splits"][k] for k in ("train", "val", "test", "unassigned")} == {
        "train": 18471, "val": 2642, "test": 5277, "unassigned": 0}
