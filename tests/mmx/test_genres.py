"""Genre names: aliases and the paper's capitalisation give one spelling per genre, other genres are kept, and
placeholders ("none") are returned apart from the genres, each once, as written."""

from __future__ import annotations

from mmx.genres import DEFAULT_ALIASES, PAPER_GENRES, PLACEHOLDERS, normalize_genre, parse_genres, split_genres


def test_spellings_map_onto_the_papers_names_and_other_genres_are_kept():
    assert len(PAPER_GENRES) == len(set(PAPER_GENRES)) == 20
    assert [normalize_genre(g) for g in ("science  fiction", "SCI FI", "sports", "biopic")] == [
        "Sci-Fi", "Sci-Fi", "Sport", "Biography"]
    assert all(normalize_genre(g.upper()) == g for g in PAPER_GENRES)  # the paper's capitalisation
    assert normalize_genre("  Film   Noir ") == "Film Noir"  # not one of the 20: kept, spaces tidied
    assert normalize_genre("sports", aliases={}) == "sports"  # a table of one's own replaces the default one
    assert all(k == k.lower() and v in PAPER_GENRES for k, v in DEFAULT_ALIASES.items())


def test_placeholders_are_left_out_of_the_genres_and_returned_apart():
    genres, dropped = split_genres("Horror|none|Science Fiction| |horror|None|n/a|Western")
    assert genres == ["Horror", "Sci-Fi", "Western"]  # deduplicated, in order
    assert dropped == ["none", "None", "n/a"]  # each as written, once per spelling
    assert all(p == p.lower() for p in PLACEHOLDERS)
    assert parse_genres("none|unknown") == [] and split_genres("") == ([], [])
    assert parse_genres("Action|Science Fiction") == ["Action", "Sci-Fi"]
