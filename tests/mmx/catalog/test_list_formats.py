"""Label list formats (MovieNet, TMDb, IMDb, mmx's csv): detected, parsed into rows with titles, years and URLs;
errors that name the file; the authors' visualiser metadata read as TMDb."""

from __future__ import annotations

import pytest

from helpers import write
from mmx.catalog import LIST_FORMATS, GenreMap, build_catalog, detect_format, load_catalog, read_list, statistics
from mmx.errors import ConfigError, InputError


def test_movienet_rows_titles_years_urls(movienet_list):
    rows, spec = read_list(movienet_list)
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


def test_visualiser_metadata_reads_as_tmdb_style(shared_data):
    rows, spec = read_list(shared_data / "mmx-visualiser" / "metadata.csv", "tmdb")
    cat = build_catalog(rows, GenreMap.load(), "metadata.csv", spec.name)
    assert cat.rows == 7594 and not cat.malformed and not cat.duplicates
    assert "Science Fiction" not in statistics(cat.entries)["genres"]
    assert cat.unknown["TV Movie"] > 0 and "none" not in cat.unknown
