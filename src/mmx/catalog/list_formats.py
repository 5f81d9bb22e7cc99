"""Label-list formats: each turns one row of a list file into a ``ListRow`` of raw genre names.

Registered formats (``LIST_FORMATS``):

- ``movienet``: MovieNet's ``trailers_genres_clean.csv`` — ``imdb_id, youtube_id, genres, title,
  duration``; genres are a Python-list string (``"['Drama', 'History']"``, read with
  ``ast.literal_eval``), the year is in the title (``"Napoleon (1927)"``). The trailer id is the
  YouTube id, as in MovieNet's ``splits.json`` (found beside the list).
- ``imdb``: IMDb's ``title.basics.tsv`` — ``tconst, primaryTitle, startYear, genres`` (comma-separated,
  ``\\N`` for none), tab-separated (the delimiter, tab or comma, is read from the header line).
- ``tmdb``: TMDb exports — ``trailer_id`` (or ``id``/``tmdb_id``), ``genres`` either ``|``-separated
  or TMDb's JSON list of ``{"id", "name"}`` objects, ``year`` (or ``release_date``); the tag
  ``none`` means no genre.
- ``csv``: mmx's own ``labels.csv`` — ``trailer_id, genres`` (``|``), optional ``title, year, split``.

Every format also reads optional ``url`` / ``youtube_id`` columns: where ``mmx dataset fetch``
downloads the trailer from.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mmx.data.labels_csv import REQUIRED
from mmx.data.splits import SPLITS
from mmx.data.store import validate_trailer_id
from mmx.errors import InputError
from mmx.registry import Registry

YOUTUBE_URL = "https://www.youtube.com/watch?v={}"
# "Title (1916)", "Title (TV Movie 1966)", "Title (Video 2008)", "Title (2004/I)", "Title (TV Series 2004– )"
TITLE_YEAR = re.compile(r"\s*\((?:[^()]*\s)?(\d{4})[^()\d]*\)\s*$")



class RowError(ValueError):
    """One row cannot be read; the message says which field and why."""


@dataclass
class ListRow:
    line: int  # line of the list file where the row ends (the header is line 1)
    trailer_id: str
    genres: list[str]  # genre names as written in the list (not yet mapped)
    title: str = ""
    year: int | None = None
    split: str | None = None  # train/val/test when the list gives one
    url: str | None = None  # where fetch downloads the trailer from
    problem: str | None = None  # why the row is malformed; then ``genres`` is empty


@dataclass
class ListFormat:
    name: str
    detect: Callable[[set[str]], bool]  # does a header with these columns look like this format?
    required: tuple[str, ...]  # columns the list must have (any one of a "a|b" group)
    parse: Callable[[dict[str, str]], ListRow]  # one record → row (line filled in by the reader)
    split_file: str | None = None  # companion split file looked for beside the list


LIST_FORMATS: Registry[ListFormat] = Registry("list format")


def _text(rec: dict[str, str], *names: str) -> str:
    """First non-empty value among the columns ``names`` (stripped), or ""."""
    for name in names:
        value = (rec.get(name) or "").strip()
        if value:
            return value
    return ""


def _year(text: str) -> int | None:
    if not text or text == "\\N":
        return None
    try:
        return int(float(text[:4] if re.match(r"\d{4}-\d\d", text) else text))
    except ValueError:
        raise RowError(f"year {text!r} is not a number") from None


def _pipe_genres(text: str) -> list[str]:
    """``"Action|Science Fiction"`` → names; ``none`` (TMDb's no-genre tag) and empty parts dropped."""
    return [p.strip() for p in text.split("|") if p.strip() and p.strip().lower() != "none"]


def _url(rec: dict[str, str]) -> str | None:
    url = _text(rec, "url")
    if url:
        return url
    youtube_id = _text(rec, "youtube_id")
    return YOUTUBE_URL.format(youtube_id) if youtube_id else None


def _movienet_genres(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RowError(f"genres {text!r} is not a Python list of strings like \"['Drama', 'History']\"")
    return [v.strip() for v in value]


def _title_year(text: str) -> tuple[str, int | None]:
    """``"Napoleon (1927)"`` → ``("Napoleon", 1927)``; titles without a year keep their text."""
    m = TITLE_YEAR.search(text)
    if not m:
        return text, None
    return text[: m.start()].strip(), int(m.group(1))


@LIST_FORMATS.register("movienet")
def movienet() -> ListFormat:
    def parse(rec: dict[str, str]) -> ListRow:
        youtube_id = _text(rec, "youtube_id")
        title, year = _title_year(_text(rec, "title"))
        return ListRow(0, youtube_id, _movienet_genres(_text(rec, "genres")), title, year,
                       url=_text(rec, "url") or (YOUTUBE_URL.format(youtube_id) if youtube_id else None))

    return ListFormat(
        "movienet", lambda h: {"imdb_id", "youtube_id", "genres"} <= h, ("youtube_id", "genres"), parse,
        split_file="splits.json",
    )


@LIST_FORMATS.register("imdb")
def imdb() -> ListFormat:
    def parse(rec: dict[str, str]) -> ListRow:
        text = _text(rec, "genres")
        genres = [] if text == "\\N" else [g.strip() for g in text.split(",") if g.strip()]
        title = _text(rec, "primaryTitle", "title")
        return ListRow(0, _text(rec, "tconst"), genres, title, _year(_text(rec, "startYear", "year")), url=_url(rec))

    return ListFormat("imdb", lambda h: {"tconst", "genres"} <= h, ("tconst", "genres"), parse)


def _tmdb_genres(text: str) -> list[str]:
    if not text.startswith("["):
        return _pipe_genres(text)
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise RowError(f"genres {text[:60]!r} is not valid JSON") from None
    names = [i.get("name") if isinstance(i, dict) else i for i in items] if isinstance(items, list) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise RowError(f"genres {text[:60]!r} is not a JSON list of names or {{\"id\", \"name\"}} objects")
    return [n.strip() for n in names if n.strip() and n.strip().lower() != "none"]


@LIST_FORMATS.register("tmdb")
def tmdb() -> ListFormat:
    def parse(rec: dict[str, str]) -> ListRow:
        return ListRow(
            0, _text(rec, "trailer_id", "tmdb_id", "id"), _tmdb_genres(_text(rec, "genres")),
            _text(rec, "title", "original_title"), _year(_text(rec, "year", "release_date")), url=_url(rec),
        )

    return ListFormat(
        "tmdb", lambda h: "genres" in h and bool({"id", "tmdb_id"} & h) and "trailer_id" not in h,
        ("trailer_id|tmdb_id|id", "genres"), parse,
    )


@LIST_FORMATS.register("csv")
def labels_csv() -> ListFormat:
    def parse(rec: dict[str, str]) -> ListRow:
        split = _text(rec, "split").lower() or None
        if split is not None and split not in SPLITS:
            raise RowError(f"split {split!r} is not one of {', '.join(SPLITS)}")
        return ListRow(0, _text(rec, "trailer_id"), _pipe_genres(_text(rec, "genres")), _text(rec, "title"),
                       _year(_text(rec, "year")), split, _url(rec))

    return ListFormat("csv", lambda h: set(REQUIRED) <= h, REQUIRED, parse)


def _header(path: Path) -> tuple[list[str], str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    delimiter = "\t" if "\t" in first else ","
    return next(csv.reader([first], delimiter=delimiter), []), delimiter


def detect_format(path: str | Path) -> str:
    """The registered format whose columns the list's header has (movienet, imdb, tmdb, csv)."""
    header, _ = _header(Path(path))
    columns = {c.strip() for c in header}
    for name in ("movienet", "imdb", "tmdb", "csv"):
        if LIST_FORMATS.create(name).detect(columns):
            return name
    raise InputError(
        f"{path}: cannot tell the list format from its header ({', '.join(header) or 'empty'}); "
        f"pass --format (one of {', '.join(LIST_FORMATS.names())})"
    )


def read_list(path: str | Path, fmt: str | None = None) -> tuple[list[ListRow], ListFormat]:
    """All rows of the list file ``path`` in format ``fmt`` (detected from the header when None).

    A row that cannot be read comes back with ``problem`` set, so that it can be reported; the
    file itself failing (unreadable, missing columns) raises ``InputError``.
    """
    path = Path(path)
    spec = LIST_FORMATS.create(fmt or detect_format(path))
    header, delimiter = _header(path)
    columns = {c.strip() for c in header}
    missing = [c for c in spec.required if not set(c.split("|")) & columns]
    if missing:
        raise InputError(
            f"{path} is not a {spec.name} list: it needs column(s) {', '.join(missing)} "
            f"(header: {', '.join(header) or 'empty'}); pass the right --format"
        )
    rows: list[ListRow] = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
        for rec in reader:
            rows.append(_parse_row(spec, rec, reader.line_num))
    return rows, spec


def _parse_row(spec: ListFormat, rec: dict, line: int) -> ListRow:
    if None in rec:
        return ListRow(line, "", [], problem="more fields than the header; quote fields that hold the delimiter")
    try:
        row = spec.parse(rec)
    except RowError as e:
        guess = _text(rec, "trailer_id", "youtube_id", "tconst", "tmdb_id", "id")
        return ListRow(line, guess, [], problem=str(e))
    row.line = line
    why = validate_trailer_id(row.trailer_id)
    if why:
        row.problem, row.genres = why, []
    return row
