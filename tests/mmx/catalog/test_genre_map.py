"""The genre map: aliases from a file or the command line, dropped genres, the shipped map inside the paper's
vocabulary, Musical merged into Music only when asked."""

from __future__ import annotations

import pytest

from helpers import write
from mmx.catalog import DEFAULT_MAP_FILE, GenreMap, load_catalog
from mmx.catalog.genre_map import parse_alias
from mmx.errors import InputError
from mmx.genres import PAPER_GENRES


def test_genre_map_aliases_musical_only_when_asked(movienet_list):
    path = movienet_list
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
