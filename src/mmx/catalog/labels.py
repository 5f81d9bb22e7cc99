"""Write a catalogue as the import format's ``labels.csv`` (``mmx.data.importer.read_labels``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mmx.catalog.build import Entry
from mmx.durable import atomic_write

COLUMNS = ["trailer_id", "genres", "title", "year", "split"]


def write_labels(path: str | Path, entries: list[Entry]) -> Path:
    """``labels.csv`` with columns trailer_id, genres (``|``), title, year, split; written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([e.trailer_id, "|".join(e.genres), e.title, "" if e.year is None else e.year, e.split or ""])
    atomic_write(Path(path), buf.getvalue())
    return Path(path)
