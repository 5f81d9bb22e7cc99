"""Genre vocabulary: the paper's 20 genres and the aliases real label files use.

The vocabulary of a collection comes from its data (``FeatureStore.genres``); this module only
maps spellings onto one name per genre, e.g. TMDb's "Science Fiction" → "Sci-Fi", and tells the
placeholders a label file writes where it knows no genre (``none``) from genres: ``split_genres``
returns them apart, so the importers can report them and record them per trailer.
"""

from __future__ import annotations

# MMX-Trailer-20's genres (§4.1), in the order of the paper's list of 20 (DESIGN §2).
PAPER_GENRES = [
    "Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama",
    "Family", "Fantasy", "History", "Horror", "Music", "Mystery", "Sci-Fi", "Short", "Sport",
    "Thriller", "War", "Western",
]

# Spellings seen in IMDb / TMDb / MovieNet exports → the paper's names. Keys are lower-case.
DEFAULT_ALIASES = {
    "science fiction": "Sci-Fi",
    "science-fiction": "Sci-Fi",
    "sci fi": "Sci-Fi",
    "scifi": "Sci-Fi",
    "sports": "Sport",
    "biopic": "Biography",
    "documentaries": "Documentary",
}


def normalize_genre(name: str, aliases: dict[str, str] | None = None) -> str:
    """One canonical spelling for ``name``: alias table first, then the paper's capitalisation.

    Names outside the paper's 20 are kept (stripped), so a collection's own genres survive.
    """
    table = DEFAULT_ALIASES if aliases is None else aliases
    key = " ".join(name.split()).lower()
    if key in table:
        return table[key]
    for genre in PAPER_GENRES:
        if genre.lower() == key:
            return genre
    return " ".join(name.split())


# Values label files put where a genre is unknown ("Horror|none|none|none|none"): not genres. Lower-case.
PLACEHOLDERS = frozenset({"none", "unknown", "n/a", "na", "null", "nan", "-", "?"})


def split_genres(text: str, aliases: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """``"Horror|none|Science Fiction|none"`` → ``(["Horror", "Sci-Fi"], ["none"])``: the genres (deduplicated,
    order kept) and the placeholder values left out (deduplicated, as written), so a caller can report them."""
    genres: list[str] = []
    dropped: list[str] = []
    for part in text.split("|"):
        name = " ".join(part.split())
        if not name:
            continue
        if name.lower() in PLACEHOLDERS:
            if name not in dropped:
                dropped.append(name)
            continue
        g = normalize_genre(name, aliases)
        if g not in genres:
            genres.append(g)
    return genres, dropped


def parse_genres(text: str, aliases: dict[str, str] | None = None) -> list[str]:
    """``"Action|Science Fiction"`` → ``["Action", "Sci-Fi"]`` (deduplicated, order kept, placeholders left out)."""
    return split_genres(text, aliases)[0]
