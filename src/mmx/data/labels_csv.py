"""The import format's ``labels.csv``, read and written in one place.

Columns: ``trailer_id``, ``genres`` (``|``-separated; placeholder values such as ``none`` are left out:
``mmx.genres.split_genres``), optional ``title``, ``year`` and ``split`` (train / val / test). A writer may add
columns of its own after these (``extra``: a reviewer, a generator's truth); readers ignore them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.splits import SPLITS
from mmx.data.store import validate_trailer_id
from mmx.durable import atomic_write
from mmx.errors import InputError, Problem
from mmx.genres import split_genres

COLUMNS = ("trailer_id", "genres", "title", "year", "split")
REQUIRED = ("trailer_id", "genres")


@dataclass
class LabelRow:
    row: int  # 1-based line number in labels.csv (header is line 1)
    trailer_id: str
    genres: list[str]
    title: str
    year: int | None
    split: str | None
    placeholders: list[str] = field(default_factory=list)  # values like "none" left out of ``genres``


def placeholder_note(placeholders: dict[str, list[str]]) -> str | None:
    """One sentence on the placeholder genres left out of a labels file (trailer → values), or None when none were."""
    if not placeholders:
        return None
    values = Counter(v for vs in placeholders.values() for v in vs)
    which = ", ".join(f"'{v}' ({n})" for v, n in values.most_common())
    return (f"{len(placeholders)} row(s) carry placeholder genre(s) {which}, left out of their genres "
            "(the trailers keep the rest, and `mmx check` counts them: give those trailers their genres)")


def read_labels(path: Path, problems: list[Problem] | None = None) -> list[LabelRow]:
    """Parse labels.csv; malformed rows go to ``problems`` (a batch goes on with the rest); first row of a
    duplicated id wins. Without ``problems`` a malformed row is an ``InputError`` naming it (a file mmx wrote
    itself and rewrites whole)."""
    if problems is None:
        found: list[Problem] = []
        rows = read_labels(path, found)
        if found:
            raise InputError("; ".join(f"{p.where}: {p.reason}" for p in found[:3]))
        return rows
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = set(REQUIRED) - set(header)
        if missing:
            raise InputError(
                f"{path} needs columns trailer_id and genres (missing: {', '.join(sorted(missing))})"
            )
        rows: list[LabelRow] = []
        seen: dict[str, int] = {}
        for i, rec in enumerate(reader, start=2):
            where = f"{path.name} row {i}"
            if None in rec:  # more fields than the header
                problems.append(Problem(where, "more fields than the header; quote fields with commas"))
                continue
            tid = (rec.get("trailer_id") or "").strip()
            why = validate_trailer_id(tid)
            if why:
                problems.append(Problem(where, why))
                continue
            if tid in seen:
                problems.append(Problem(where, f"duplicate trailer_id {tid!r} (first on row {seen[tid]}); row skipped"))
                continue
            seen[tid] = i
            genres, placeholders = split_genres(rec.get("genres") or "")
            if not genres:
                only = f" (only the placeholder(s) {', '.join(placeholders)})" if placeholders else ""
                problems.append(Problem(where, f"trailer {tid!r} has no genres{only}; add at least one"))
                continue
            year_text = (rec.get("year") or "").strip()
            year = None
            if year_text:
                try:
                    year = int(float(year_text))
                except ValueError:
                    problems.append(Problem(where, f"year {year_text!r} of {tid!r} is not a number"))
                    continue
            split = (rec.get("split") or "").strip().lower() or None
            if split is not None and split not in SPLITS:
                problems.append(Problem(where, f"split {split!r} of {tid!r} is not one of {', '.join(SPLITS)}"))
                continue
            rows.append(LabelRow(i, tid, genres, (rec.get("title") or "").strip(), year, split, placeholders))
    return rows


def write_labels(path: str | Path, rows: Iterable[dict], extra: Sequence[str] = ()) -> Path:
    """``labels.csv`` of ``rows`` (dicts keyed by ``COLUMNS`` and ``extra``; ``genres`` a list or a ``|`` string,
    ``None`` written empty), written atomically; returns the path."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=[*COLUMNS, *extra], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        genres = row.get("genres", "")
        cells = {**row, "genres": genres if isinstance(genres, str) else "|".join(genres)}
        writer.writerow({k: "" if cells.get(k) is None else cells[k] for k in writer.fieldnames})
    return atomic_write(Path(path), buf.getvalue())
