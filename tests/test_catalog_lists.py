"""Label lists → catalogue: formats, genre map, dirt reports, Fig. 4 statistics, `mmx dataset check`."""

from __future__ import annotations

import ast
import csv
import json
from collections import Counter

import pytest

from mmx.catalog import (
    DEFAULT_MAP_FILE,
    LIST_FORMATS,
    GenreMap,
    build_catalog,
    detect_format,
    load_catalog,
    read_list,
    statistics,
)
from mmx.catalog.genre_map import parse_alias
from mmx.errors import ConfigError, InputError
from mmx.genres import PAPER_GENRES
from mmx_cli.main import main


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


MOVIENET = """imdb_id,youtube_id,genres,title,duration
tt1,aaaaaaaaaaa,"['Drama', 'History']",Intolerance (1916),126.1
tt2,-bbbbbbbbbb,"['Action', '-1ru6xV7SOMDrama']",Scarface (1932),158.3
tt3,ccccccccccc,[],Ninja Bachelor Party (1991),68.9
tt4,ddddddddddd,"['Romance', 'Musical']",How the Grinch Stole Christmas! (TV Movie 1966),1.0
tt5,eeeeeeeeeee,"Drama, Comedy",Broken (2004/I),1.0
tt6,aaaaaaaaaaa,"['Comedy']",Again (2004/I),1.0
tt7,fffffffffff,"['Sci-Fi', 'Sci-Fi', 'Thriller']",World on a Wire (TV Mini,1.0
"""


def test_movienet_rows_titles_years_urls(tmp_path):
    rows, spec = read_list(write(tmp_path / "list.csv", MOVIENET))
    assert spec.name == "movienet" and len(rows) == 7
    r = rows[0]
    assert (r.line, r.trailer_id, r.genres) == (2, "aaaaaaaaaaa", ["Drama", "History"])
    assert (r.title, r.year) == ("Intolerance", 1916)
    assert r.url == "https://www.youtube.com/watch?v=aaaaaaaaaaa"
    assert (rows[3].title, rows[3].year) == ("How the Grinch Stole Christmas!", 1966)
    assert (rows[5].title, rows[5].year) == ("Again", 2004)
    assert (rows[6].title, rows[6].year) == ("World on a Wire (TV Mini", None)  # truncated in the source
    assert rows[4].problem and "not a Python list" in rows[4].problem  # "Drama, Comedy" is no list
    assert rows[2].genres == [] and rows[2].problem is None


def test_catalog_sorts_out_the_dirt(tmp_path):
    cat = load_catalog(write(tmp_path / "list.csv", MOVIENET))
    assert cat.rows == 7
    assert [(i.line, i.value) for i in cat.malformed] == [(3, "-1ru6xV7SOMDrama"), (6, "")]
    assert "looks like 'Drama'" in cat.malformed[0].reason
    assert [(i.line, i.trailer_id) for i in cat.no_genre] == [(4, "ccccccccccc")]
    assert [(i.line, i.trailer_id, i.value) for i in cat.duplicates] == [(7, "aaaaaaaaaaa", "2")]
    assert [e.trailer_id for e in cat.entries] == ["aaaaaaaaaaa", "ddddddddddd", "fffffffffff"]
    assert cat.entries[2].genres == ["Sci-Fi", "Thriller"]  # deduplicated
    assert cat.unknown == Counter({"Romance": 1, "Musical": 1})
    assert cat.entries[1].genres == ["Romance", "Musical"]  # kept, but reported


def test_genre_map_aliases_musical_only_when_asked(tmp_path):
    path = write(tmp_path / "list.csv", MOVIENET)
    plain = load_catalog(path)
    assert "Musical" in plain.unknown
    asked = load_catalog(path, genre_map=GenreMap.load(extra=dict([parse_alias("Musical=Music"),
                                                                     parse_alias("-1ru6xV7SOMDrama=Drama")])))
    by_id = {e.trailer_id: e.genres for e in asked.entries}
    assert by_id["ddddddddddd"] == ["Romance", "Music"]
    assert by_id["-bbbbbbbbbb"] == ["Action", "Drama"]  # a listed key is never malformed
    only_paper = load_catalog(path, keep_unknown=False)
    assert "ddddddddddd" in {i.trailer_id for i in only_paper.no_genre}
    assert "outside the paper's 20 (Romance, Musical)" in only_paper.no_genre[-1].reason


def test_genre_map_file_lists_and_drops(tmp_path):
    gm = GenreMap.load(write(tmp_path / "map.yaml", "aliases:\n  Action & Adventure: [action, ADVENTURE]\n"
                             "  tv movie: null\n  SCIENCE FICTION: Fantasy\n"))
    assert gm.map("action  &  adventure") == ["Action", "Adventure"]
    assert gm.map("TV Movie") == []
    assert gm.map("Science Fiction") == ["Fantasy"]  # the file overrides mmx.genres.DEFAULT_ALIASES
    assert gm.map("sports") == ["Sport"] and gm.map("western") == ["Western"] and gm.map("Film-Noir") == ["Film-Noir"]
    assert gm.problem("Sci-Fi") is None and gm.problem("TV Movie") is None and gm.problem("Drama2") is not None
    with pytest.raises(InputError, match="map.yaml"):
        GenreMap.load(write(tmp_path / "map.yaml", "aliases:\n  drama: 3\n"))
    with pytest.raises(InputError, match="one key, 'aliases'"):
        GenreMap.load(write(tmp_path / "map.yaml", "genres: {}\n"))


def test_shipped_genre_map_maps_into_the_paper_vocabulary():
    gm = GenreMap.load(DEFAULT_MAP_FILE)
    assert gm.source == str(DEFAULT_MAP_FILE)
    assert all(g in PAPER_GENRES for genres in gm.aliases.values() for g in genres)
    assert gm.map("Musical") == ["Musical"]  # merged into Music only when the user asks


def test_tmdb_imdb_and_csv_formats(tmp_path):
    tmdb = write(tmp_path / "tmdb.csv", 'id,title,release_date,genres\n'
                 '11,Star Wars,1977-05-25,"[{""id"": 12, ""name"": ""Adventure""}, '
                 '{""id"": 878, ""name"": ""Science Fiction""}]"\n'
                 '12,Nemo,2003-05-30,Animation|Family|none\n13,Blank,,none\n')
    imdb = write(tmp_path / "title.basics.tsv", "tconst\ttitleType\tprimaryTitle\tstartYear\tgenres\n"
                 "tt0076759\tmovie\tStar Wars\t1977\tAction,Adventure,Fantasy\ntt9\tmovie\tX\t\\N\t\\N\n")
    labels = write(tmp_path / "labels.csv", "trailer_id,genres,title,year,split,url\n"
                   "a,Drama|science fiction,A,2001,val,http://127.0.0.1/a.mp4\nb,Comedy,B,abc,,\nc,Comedy,C,,dev,\n")
    assert [detect_format(p) for p in (tmdb, imdb, labels)] == ["tmdb", "imdb", "csv"]
    cat = load_catalog(tmdb)
    assert [(e.trailer_id, e.genres, e.year) for e in cat.entries] == [
        ("11", ["Adventure", "Sci-Fi"], 1977), ("12", ["Animation", "Family"], 2003)]
    assert [i.trailer_id for i in cat.no_genre] == ["13"]  # "none" is TMDb's no-genre tag
    cat = load_catalog(imdb)
    assert [(e.trailer_id, e.genres, e.title, e.year) for e in cat.entries] == [
        ("tt0076759", ["Action", "Adventure", "Fantasy"], "Star Wars", 1977)]
    assert len(cat.no_genre) == 1
    cat = load_catalog(labels)
    assert [(e.trailer_id, e.genres, e.split, e.url) for e in cat.entries] == [
        ("a", ["Drama", "Sci-Fi"], "val", "http://127.0.0.1/a.mp4")]
    assert [(i.line, i.reason) for i in cat.malformed] == [
        (3, "year 'abc' is not a number"), (4, "split 'dev' is not one of train, val, test")]


def test_list_file_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="cannot tell the list format"):
        read_list(write(tmp_path / "odd.csv", "a,b\n1,2\n"))
    with pytest.raises(InputError, match=r"odd.csv is not a movienet list.*youtube_id"):
        read_list(tmp_path / "odd.csv", "movienet")
    with pytest.raises(InputError, match="cannot read"):
        read_list(tmp_path / "missing.csv", "csv")
    with pytest.raises(ConfigError, match="unknown list format"):
        LIST_FORMATS.create("letterboxd")
    rows, _ = read_list(write(tmp_path / "l.csv", "trailer_id,genres\na,Drama,extra\n ,Drama\n"))
    assert [r.problem for r in rows] == ["more fields than the header; quote fields that hold the delimiter",
                                         "empty trailer_id"]


def test_statistics_match_a_direct_count(tmp_path):
    cat = load_catalog(write(tmp_path / "list.csv", MOVIENET))
    stats = statistics(cat.entries)
    assert stats["genres"] == {"Drama": 1, "History": 1, "Musical": 1, "Romance": 1, "Sci-Fi": 1, "Thriller": 1}
    assert stats["labels_per_trailer"] == {2: 3}
    assert stats["years"] == {1916: 1, 1966: 1} and stats["no_year"] == 1


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


def test_visualiser_metadata_reads_as_tmdb_style(shared_data):
    rows, spec = read_list(shared_data / "mmx-visualiser" / "metadata.csv", "tmdb")
    cat = build_catalog(rows, GenreMap.load(), "metadata.csv", spec.name)
    assert cat.rows == 7594 and not cat.malformed and not cat.duplicates
    assert "Science Fiction" not in statistics(cat.entries)["genres"]
    assert cat.unknown["TV Movie"] > 0 and "none" not in cat.unknown
