"""Who added which trailer to a run, and when: one JSON line per added video in ``RUN/ingests.jsonl``::

    {"trailer_id": "new film", "user": "ana", "source": "new film.mp4", "time": "2026-12-03T17:00:00.1+00:00"}

``user`` is null on a server without accounts. Appends are as the review journal's (``mmx.review``):
an exclusive ``flock``, a line torn by a crash cut off first, one ``write``, ``fsync`` before answering.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from mmx.artifacts import INGESTS
from mmx.durable import journal_append

INGESTS_FILE = INGESTS  # a run-folder file (mmx.artifacts)


@dataclass(frozen=True)
class Ingest:
    trailer_id: str
    user: str | None  # None: a server without accounts
    source: str  # the uploaded file's name or the path under --media-root
    time: str  # ISO 8601, UTC


class IngestLog:
    def __init__(self, run_root: str | Path):
        self.path = Path(run_root) / INGESTS_FILE

    def entries(self) -> list[Ingest]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            return [Ingest(**json.loads(line)) for line in f if line.endswith(b"\n")]  # a torn last line: skipped

    def record(self, trailer_id: str, user: str | None, source: str) -> Ingest:
        made = Ingest(trailer_id, user, source, datetime.now(timezone.utc).isoformat())
        line = (json.dumps(asdict(made), ensure_ascii=False) + "\n").encode("utf-8")
        with journal_append(self.path) as append:
            append(line)
        return made
