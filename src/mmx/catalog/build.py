"""From the rows of a list to a clean catalogue: genres mapped, dirt sorted out, Fig. 4 statistics.

A row is *usable* when it can be read, has an id not seen before and at least one genre after
mapping. Everything else is reported with its line: ``malformed`` (a field that cannot be read, or
a genre value that is not a genre name — the row is left out rather than kept with a label
missing), ``no_genre``, ``duplicates`` (later rows of an id; the first row wins). Genres outside
the paper's 20 after mapping are *unknown*: counted and kept as the collection's own genres, or
dropped when ``keep_unknown`` is False.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mmx.catalog.genre_map import GenreMap
from mmx.catalog.list_formats import ListRow, read_list
from mmx.genres import PAPER_GENRES


@dataclass
class Entry:
    """One usable trailer of the catalogue."""

    line: int  # line in the list file
    trailer_id: str
    genres: list[str]  # mapped, deduplicated, in list order
    title: str = ""
    year: int | None = None
    split: str | None = None  # train/val/test once given or assigned
    url: str | None = None  # where fetch downloads it from

    def label_row(self) -> dict:
        """Its row of the import format's labels.csv (``mmx.data.labels_csv.write_labels``)."""
        return {"trailer_id": self.trailer_id, "genres": self.genres, "title": self.title, "year": self.year,
                "split": self.split}


@dataclass
class Issue:
    line: int
    trailer_id: str
    reason: str
    value: str = ""  # the offending value: the malformed genre or field, the first line of a duplicate

    def as_dict(self) -> dict:
        return {"line": self.line, "trailer_id": self.trailer_id, "reason": self.reason, "value": self.value}


@dataclass
class Catalog:
    path: Path
    format: str
    rows: int  # data rows in the list
    entries: list[Entry] = field(default_factory=list)
    malformed: list[Issue] = field(default_factory=list)
    no_genre: list[Issue] = field(default_factory=list)
    duplicates: list[Issue] = field(default_factory=list)
    unknown: Counter = field(default_factory=Counter)  # genre outside the paper's 20 → usable rows with it


def build_catalog(
    rows: list[ListRow], genre_map: GenreMap, path: str | Path, fmt: str, keep_unknown: bool = True
) -> Catalog:
    """Sort ``rows`` into usable entries and reported issues (see the module docstring)."""
    cat = Catalog(Path(path), fmt, len(rows))
    first_line: dict[str, int] = {}
    for row in rows:
        if row.trailer_id and row.trailer_id in first_line:
            first = first_line[row.trailer_id]
            cat.duplicates.append(Issue(row.line, row.trailer_id, f"duplicate id (first on line {first})", str(first)))
            continue
        if row.trailer_id:
            first_line[row.trailer_id] = row.line
        if row.problem:
            cat.malformed.append(Issue(row.line, row.trailer_id, row.problem))
            continue
        bad = next(((g, why) for g in row.genres if (why := genre_map.problem(g))), None)
        if bad:
            cat.malformed.append(Issue(row.line, row.trailer_id, bad[1], bad[0]))
            continue
        genres = list(dict.fromkeys(g for name in row.genres for g in genre_map.map(name)))
        unknown = [g for g in genres if g not in PAPER_GENRES]
        if not keep_unknown:
            genres = [g for g in genres if g in PAPER_GENRES]
        if not genres:
            reason = f"only genres outside the paper's 20 ({', '.join(unknown)})" if unknown else "no genre"
            cat.no_genre.append(Issue(row.line, row.trailer_id, reason, "|".join(row.genres)))
            continue
        cat.unknown.update(unknown)
        cat.entries.append(Entry(row.line, row.trailer_id, genres, row.title, row.year, row.split, row.url))
    return cat


def load_catalog(
    path: str | Path, fmt: str | None = None, genre_map: GenreMap | None = None, keep_unknown: bool = True
) -> Catalog:
    """``read_list`` + ``build_catalog`` with the shipped genre map by default."""
    rows, spec = read_list(path, fmt)
    return build_catalog(rows, genre_map or GenreMap.load(), path, spec.name, keep_unknown)


def statistics(entries: list[Entry]) -> dict:
    """The numbers of the paper's Fig. 4 over usable entries: genre frequency (a), labels per
    trailer (b) and years (d); (c), scene length, needs extracted clips (``mmx info`` on a store)."""
    genres = Counter(g for e in entries for g in e.genres)
    years = Counter(e.year for e in entries if e.year is not None)
    per_trailer = Counter(len(e.genres) for e in entries)
    return {
        "genres": dict(sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))),
        "labels_per_trailer": dict(sorted(per_trailer.items())),
        "years": dict(sorted(years.items())),
        "no_year": sum(e.year is None for e in entries),
    }
