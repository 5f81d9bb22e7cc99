"""Genre vocabulary: the paper's 20 genres and the aliases real label files use.

The vocabulary of a collection comes from its data (``FeatureStore.genres``); this module only
maps spellings onto one name per genre, e.g. TMDb's "Science Fiction" → "Sci-Fi".
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


def parse_genres(text: str, aliases: dict[str, str] | None = None) -> list[str]:
    """``"Action|Science Fiction"`` → ``["Action", "Sci-Fi"]`` (deduplicated, order kept)."""
    out: list[str] = []
    for part in text.split("|"):
        if part.strip() and part.strip().lower() != "none":
            g = normalize_genre(part, aliases)
            if g not in out:
                out.append(g)
    return out
