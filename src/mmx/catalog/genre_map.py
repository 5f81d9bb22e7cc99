"""Genre mapping: list spellings → the project's vocabulary, from a file the user can edit.

The table is ``mmx.genres.DEFAULT_ALIASES`` extended (and overridden) by the ``aliases`` of a YAML
file — by default ``genre_map.yaml`` shipped beside this module — and by command-line entries.
A name maps to one genre, several genres, or none (dropped). A name outside the table that does
not look like a genre name at all (digits, leading punctuation: MovieNet's ``-1ru6xV7SOMDrama``)
is *malformed*: reported, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mmx.errors import InputError
from mmx.genres import DEFAULT_ALIASES, PAPER_GENRES, normalize_genre

DEFAULT_MAP_FILE = Path(__file__).with_name("genre_map.yaml")
# Letters first, then letters, spaces and & ' / . - ("Sci-Fi", "TV Movie", "Action & Adventure").
GENRE_NAME = re.compile(r"[^\W\d_](?:[^\W\d_]|[ &'/.-])*")


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


def _canonical(name: str) -> str:
    """The paper's spelling for its 20 genres, the stripped name otherwise (no alias lookup)."""
    return normalize_genre(name, {})


@dataclass
class GenreMap:
    aliases: dict[str, list[str]] = field(default_factory=dict)  # lower-case name → genres ([] = drop)
    source: str = "built-in"  # where the table came from, for reports

    @classmethod
    def load(cls, path: str | Path | None = DEFAULT_MAP_FILE, extra: dict[str, list[str]] | None = None) -> GenreMap:
        """Built-in aliases, then the file ``path`` (None: none), then ``extra`` (later wins)."""
        table = {k: [v] for k, v in DEFAULT_ALIASES.items()}
        source = "built-in"
        if path is not None:
            table.update(_read_map_file(Path(path)))
            source = str(path)
        for name, genres in (extra or {}).items():
            table[_key(name)] = [_canonical(g) for g in genres]
        return cls(table, source)

    def map(self, name: str) -> list[str]:
        """Genres that the list's ``name`` stands for (usually one)."""
        mapped = self.aliases.get(_key(name))
        return list(mapped) if mapped is not None else [_canonical(name)]

    def problem(self, name: str) -> str | None:
        """Why ``name`` is malformed, or None (names in the table are never malformed)."""
        if _key(name) in self.aliases or GENRE_NAME.fullmatch(name.strip()):
            return None
        if not name.strip():
            return "empty genre name"
        hint = next((g for g in PAPER_GENRES if name.strip().lower().endswith(g.lower())
                     or name.strip().lower().startswith(g.lower())), None)
        glued = f"; it looks like {hint!r} with other text glued on" if hint else ""
        return (f"genre {name!r} is not a genre name{glued} — fix the list, or map it in the genre map "
                f"(--alias='{name.strip()}={hint or 'GENRE'}')")


def _read_map_file(path: Path) -> dict[str, list[str]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise InputError(f"cannot read the genre map {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InputError(f"genre map {path} is not valid YAML ({e})") from None
    if not isinstance(doc, dict) or set(doc) - {"aliases"}:
        raise InputError(f"genre map {path} must be a mapping with one key, 'aliases' (see {DEFAULT_MAP_FILE})")
    aliases = doc.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise InputError(f"genre map {path}: 'aliases' must map names to a genre, a list of genres or null")
    table: dict[str, list[str]] = {}
    for name, value in aliases.items():
        genres = [] if value is None else [value] if isinstance(value, str) else value
        if not isinstance(name, str) or not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
            raise InputError(
                f"genre map {path}: entry {name!r}: {value!r} must be a genre, a list of genres or null"
            )
        table[_key(name)] = [_canonical(g) for g in genres]
    return table


def parse_alias(text: str) -> tuple[str, list[str]]:
    """``"Musical=Music"`` → ``("Musical", ["Music"])``; ``"A=B|C"`` → two genres; ``"TV Movie="`` drops."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"alias {text!r} must look like NAME=GENRE (GENRE may be A|B, or empty to drop NAME)")
    return name.strip(), [g.strip() for g in value.split("|") if g.strip()]
