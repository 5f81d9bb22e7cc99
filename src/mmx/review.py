"""Label review: a curator's decisions on a run's labels, kept in a journal, exported in the import format.

Every decision is one JSON line appended to ``RUN/reviews.jsonl``::

    {"trailer_id": "t001", "genre": "Horror", "decision": "accept", "previous": ["Drama"],
     "labels": ["Drama", "Horror"], "time": "2026-12-01T10:00:00.123456+00:00", "user": "ana"}

``user`` is who decided (``mmx users``); null on a server without accounts, and absent from lines
written before accounts existed (read as null).

Decisions (``DECISIONS``):

* ``accept`` — a suggested change (Tbl. 4) is right: a suggested addition is added, a suggested
  drop (a genre the trailer has) is removed;
* ``reject`` — the suggestion is wrong: the labels stay as they are, and the trailer counts as reviewed;
* ``add`` / ``remove`` — any genre of the vocabulary, suggested or not.

A trailer's labels are its given labels until its first decision, then the ``labels`` of its last
one. An append holds an exclusive lock on the journal (``fcntl.flock``, so two browser tabs, two
threads or two servers on one run are serialised), reads the trailer's current labels *under the
lock* (so no decision is lost or applied to stale labels), writes the line with one ``write`` call
and ``fsync``s before answering. A line torn by a crash mid-write was never acknowledged; the
next append cuts it off, and readers skip it.

**Conflicts**: two reviewers disagree on a (trailer, genre) when their last decisions on it leave
the genre on for one and off for the other (``conflicts``). The rule is that the latest decision
wins (a trailer's labels are its last decision's); the conflicts are shown in the explorer and
listed by the export, for someone to settle with one more decision.

``export_labels`` writes the reviewed labels as a ``labels.csv`` of the import format
(``trailer_id, genres, title, year, split``), which ``mmx import`` and ``mmx extract --labels``
read to relabel a store, so the next training uses them; ``with_reviewer`` adds the columns
``reviewers`` (who decided on the trailer, in order) and ``conflicts`` (the genres reviewers disagree on),
which the importer ignores.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from mmx.data.labels_csv import write_labels
from mmx.durable import journal_append
from mmx.errors import InputError

if TYPE_CHECKING:
    from mmx.run import Run

JOURNAL_FILE = "reviews.jsonl"
DECISIONS = ("accept", "reject", "add", "remove")
REVIEWER_COLUMNS = ("reviewers", "conflicts")  # with_reviewer: who decided, and the genres they disagree on


class ReviewConflict(InputError):
    """A decision that does not apply to the trailer's current labels (adding a genre it already has, ...)."""


@dataclass(frozen=True)
class Decision:
    trailer_id: str
    genre: str
    decision: str  # one of DECISIONS
    previous: list[str]  # the trailer's labels before the decision
    labels: list[str]  # its labels after it
    time: str  # ISO 8601, UTC
    user: str | None = None  # who decided; None: a server without accounts, or a line from before them


def apply_decision(labels: list[str], genre: str, decision: str) -> list[str]:
    """The labels after ``decision`` on ``genre`` (sorted); ``ReviewConflict`` when it does not apply."""
    have = genre in labels
    if decision == "add" and have:
        raise ReviewConflict(f"the trailer already has {genre!r}; nothing to add")
    if decision == "remove" and not have:
        raise ReviewConflict(f"the trailer does not have {genre!r}; nothing to remove")
    if decision == "reject":
        return sorted(labels)
    if decision == "add" or (decision == "accept" and not have):
        return sorted({*labels, genre})
    return sorted(g for g in labels if g != genre)


def _parse(lines: Iterable[bytes]) -> list[Decision]:
    out = []
    for line in lines:
        if not line.endswith(b"\n"):
            continue  # a write torn by a crash (only ever the last line): it was never acknowledged
        record = json.loads(line)
        out.append(Decision(**record))
    return out


def conflicts(decisions: list[Decision]) -> dict[str, list[Decision]]:
    """genre → the last decision of each reviewer on it, for the genres of one trailer's ``decisions``
    (in the order made) on which reviewers' last decisions disagree (the genre kept by one, not by another)."""
    last: dict[str, dict[str | None, Decision]] = {}
    for d in decisions:
        last.setdefault(d.genre, {})[d.user] = d
    return {g: sorted(by_user.values(), key=lambda d: d.time) for g, by_user in last.items()
            if len({g in d.labels for d in by_user.values()}) > 1}


class ReviewJournal:
    """The review journal of one run folder (``RUN/reviews.jsonl``)."""

    def __init__(self, run_root: str | Path):
        self.path = Path(run_root) / JOURNAL_FILE
        self._read: tuple[int, int] = (-1, 0)  # (inode, bytes) of the journal parsed into _found
        self._found: list[Decision] = []
        self._lock = threading.Lock()

    def _all(self) -> list[Decision]:
        return self.read()[0]

    def read(self) -> tuple[list[Decision], int]:
        """Every complete line's decision, and the bytes of the journal they fill (its offset: a decision made
        later starts there); only lines appended since the last call are read and parsed (a server answers each
        review from memory, not by reading the whole journal)."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._read, self._found = (-1, 0), []
                return [], 0
            inode, done = self._read
            if inode != st.st_ino or st.st_size < done:  # another file, or one cut shorter: read it all again
                done, self._found = 0, []
            if st.st_size > done:
                with open(self.path, "rb") as f:
                    f.seek(done)
                    chunk = f.read(st.st_size - done)
                complete = chunk[: chunk.rfind(b"\n") + 1]  # a torn last line is left for later (or cut)
                self._found = self._found + _parse(complete.splitlines(keepends=True))
                done += len(complete)
            self._read = (st.st_ino, done)
            return self._found, done

    def made_after(self, offset: int) -> int:
        """How many decisions the journal holds past byte ``offset`` (all of them when it is shorter: another journal)."""
        decisions, size = self.read()
        if size <= offset:
            return len(decisions) if size < offset else 0
        with open(self.path, "rb") as f:
            f.seek(offset)
            return len(_parse(f.read(size - offset).splitlines(keepends=True)))

    def decisions(self, trailer_id: str | None = None) -> list[Decision]:
        """Every decision in the order made (of one trailer when given)."""
        return [d for d in self._all() if trailer_id is None or d.trailer_id == trailer_id]

    def reviewed(self) -> dict[str, list[str]]:
        """trailer id → current labels, for every trailer with at least one decision."""
        return {d.trailer_id: d.labels for d in self.decisions()}

    def labels(self, trailer_id: str, given: list[str]) -> list[str]:
        """The trailer's current labels: ``given`` until its first decision, then its last decision's."""
        own = self.decisions(trailer_id)
        return list(own[-1].labels) if own else sorted(given)

    def decide(self, trailer_id: str, genre: str, decision: str, given: list[str], vocabulary: list[str],
               user: str | None = None) -> Decision:
        """Append ``user``'s decision on ``genre`` for ``trailer_id`` whose given labels are ``given``."""
        if decision not in DECISIONS:
            raise InputError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        if genre not in vocabulary:
            raise InputError(f"genre {genre!r} is not in the run's vocabulary ({', '.join(vocabulary)})")
        with journal_append(self.path) as append:
            own = self.decisions(trailer_id)  # read under the lock: every earlier decision is in
            previous = list(own[-1].labels) if own else sorted(given)
            labels = apply_decision(previous, genre, decision)
            made = Decision(trailer_id, genre, decision, previous, labels, datetime.now(timezone.utc).isoformat(), user)
            append((json.dumps(asdict(made), ensure_ascii=False) + "\n").encode("utf-8"))
            return made


@dataclass
class TrailerLabels:
    trailer_id: str
    genres: list[str]
    title: str
    year: int | None
    split: str | None


def export_labels(journal: ReviewJournal, rows: list[TrailerLabels], out: str | Path, only_reviewed: bool = False,
                  with_reviewer: bool = False) -> dict:
    """Write ``rows`` with their reviewed labels as an import-format ``labels.csv`` (``with_reviewer``: and who
    decided, and the genres reviewers disagree on); returns counts."""
    decisions: dict[str, list[Decision]] = {}
    for d in journal.decisions():
        decisions.setdefault(d.trailer_id, []).append(d)
    reviewed = {t: ds[-1].labels for t, ds in decisions.items()}  # the latest decision wins
    known = {r.trailer_id for r in rows}
    unknown = sorted(set(reviewed) - known)
    changed = 0
    out = Path(out)
    written: list[dict] = []
    for r in rows:
        if only_reviewed and r.trailer_id not in reviewed:
            continue
        genres = reviewed.get(r.trailer_id, r.genres)
        changed += sorted(genres) != sorted(r.genres)
        row = {"trailer_id": r.trailer_id, "genres": genres, "title": r.title, "year": r.year, "split": r.split}
        if with_reviewer:
            own = decisions.get(r.trailer_id, [])
            row["reviewers"] = "|".join(dict.fromkeys(d.user or "" for d in own))
            row["conflicts"] = "|".join(sorted(conflicts(own)))
        written.append(row)
    write_labels(out, written, REVIEWER_COLUMNS if with_reviewer else ())
    return {"path": str(out), "rows": len(written), "reviewed": len(reviewed) - len(unknown), "changed": changed,
            "not_in_run": unknown}


def disputed(journal: ReviewJournal) -> list[tuple[str, str]]:
    """Every (trailer id, genre) whose reviewers' last decisions disagree (see ``conflicts``)."""
    decisions: dict[str, list[Decision]] = {}
    for d in journal.decisions():
        decisions.setdefault(d.trailer_id, []).append(d)
    return [(t, g) for t, ds in decisions.items() for g in sorted(conflicts(ds))]


def run_label_rows(run: Run) -> list[TrailerLabels]:
    """Every trailer of an opened run with its given labels, title, year and split."""
    from mmx.run import ModelRun

    splits = {t: s for s, ids in run.info.splits.items() for t in ids}
    if isinstance(run, ModelRun):
        metas = run.store.entries()
        return [TrailerLabels(t, list(m.genres), m.title, m.year, m.split or splits.get(t)) for t, m in sorted(metas.items())]
    emb = run.embeddings()
    return [TrailerLabels(t, list(g), title, year, splits.get(t))
            for t, g, title, year in zip(emb.ids, emb.genres, emb.titles, emb.years)]


def export_run_labels(run: Run, out: str | Path, only_reviewed: bool = False, with_reviewer: bool = False) -> dict:
    """``mmx labels export``: the run's trailers with their reviewed labels, as an import-format labels.csv."""
    return export_labels(ReviewJournal(run.root), run_label_rows(run), out, only_reviewed, with_reviewer)


def reviewed_count(run_root: str | Path) -> int:
    """How many trailers of the run folder have at least one review decision (``mmx info``)."""
    return len(ReviewJournal(run_root).reviewed())


@dataclass(frozen=True)
class ReviewedLabels:
    """The labels a run's review journal gives its trailers, as a new training reads them (``mmx train --reviews``),
    and where they came from; a run trained with them keeps this record (``RunInfo.reviews``)."""

    run: str  # the run folder whose journal (RUN/reviews.jsonl) was read
    decisions: int  # its decisions applied: every complete line up to ``offset``
    offset: int  # bytes of the journal read: a decision made after the training starts there
    reviewers: list[str]  # who decided, in the order they first did ("" for a server without accounts)
    labels: dict[str, list[str]]  # trailer → its genres after review (the latest decision wins), and those the
    # run was itself trained with from earlier reviews
    inherited: int = 0  # trailers whose labels come from the reviews the run was itself trained with
    changed: int = 0  # trailers whose genres differ from the store's (``against``)
    not_in_store: list[str] = field(default_factory=list)  # reviewed trailers the store lacks (left out)

    def against(self, given: dict[str, list[str]]) -> "ReviewedLabels":
        """These labels for a store whose trailers have the genres ``given`` (its files'): what changes, what is
        not there."""
        labels = {t: g for t, g in self.labels.items() if t in given}
        changed = sum(sorted(g) != sorted(given[t]) for t, g in labels.items())
        return replace(self, labels=labels, changed=changed, not_in_store=sorted(set(self.labels) - set(given)))

    def summary(self) -> dict:
        """The record without the labels themselves (``mmx info``)."""
        return {k: v for k, v in asdict(self).items() if k != "labels"}

    def line(self) -> str:
        who = ", ".join(r or "(no account)" for r in self.reviewers) or "nobody"
        line = (f"trained with {self.decisions} review decision(s) of {self.run} (journal up to byte {self.offset}; "
                f"by {who}): {self.changed} trailer(s) relabelled")
        return line + (f", {len(self.not_in_store)} reviewed trailer(s) not in the store" if self.not_in_store else "")


def reviewed_labels(run: Run) -> ReviewedLabels:
    """The reviewed labels of ``run``: the decisions of its journal, over the labels it was itself trained with
    when those were reviewed ones."""
    decisions, offset = ReviewJournal(run.root).read()
    before = run.info.reviews["labels"] if run.info.reviews else {}
    own = {d.trailer_id: list(d.labels) for d in decisions}
    reviewers = list(dict.fromkeys(d.user or "" for d in decisions))
    return ReviewedLabels(str(run.root.resolve()), len(decisions), offset, reviewers, {**before, **own},
                          inherited=len(set(before) - set(own)))


def decisions_since(run: Run, journal: ReviewJournal | None = None) -> dict:
    """How many label decisions were made since ``run`` trained: those in its own journal (``journal``: that one,
    already open), and, when it was trained with another run's reviews, those that journal gained after the part
    it read; and the command that retrains with them."""
    own = len((journal or ReviewJournal(run.root)).decisions())
    record = run.info.reviews
    source = record["run"] if record else None
    later = ReviewJournal(source).made_after(record["offset"]) if source and Path(source).is_dir() else 0
    reviews = run.root if own or not later else Path(source)
    store = f"--store {run.info.store} " if run.info.store else "--store STORE "
    return {"decisions": own + later, "own": own, "source": later if source else None,
            "retrain": f"mmx train {store}--reviews {reviews} --out NEW_RUN" if own + later else None}
