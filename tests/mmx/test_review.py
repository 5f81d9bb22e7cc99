"""The review journal: decisions, restarts, concurrent writers, torn lines, and the import-format export."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from mmx.data.labels_csv import read_labels
from mmx.errors import InputError
from mmx.review import ReviewConflict, ReviewJournal, TrailerLabels, apply_decision, export_labels

VOCAB = ["Action", "Comedy", "Drama", "Horror"]


def test_decisions_change_labels_as_described():
    assert apply_decision(["Drama"], "Horror", "accept") == ["Drama", "Horror"]  # a suggested addition
    assert apply_decision(["Drama", "Horror"], "Horror", "accept") == ["Drama"]  # a suggested drop
    assert apply_decision(["Drama"], "Horror", "reject") == ["Drama"]
    assert apply_decision(["Drama"], "Action", "add") == ["Action", "Drama"]
    assert apply_decision(["Action", "Drama"], "Drama", "remove") == ["Action"]
    with pytest.raises(ReviewConflict, match="already has"):
        apply_decision(["Drama"], "Drama", "add")
    with pytest.raises(ReviewConflict, match="does not have"):
        apply_decision(["Drama"], "Horror", "remove")


def test_journal_survives_a_restart_and_records_previous_labels(tmp_path):
    j = ReviewJournal(tmp_path)
    j.decide("t1", "Horror", "accept", ["Drama"], VOCAB)
    j.decide("t1", "Comedy", "add", ["Drama"], VOCAB)  # given labels are ignored after the first decision
    j.decide("t2", "Drama", "reject", ["Drama"], VOCAB)
    again = ReviewJournal(tmp_path)  # a restarted server
    assert again.labels("t1", ["Drama"]) == ["Comedy", "Drama", "Horror"]
    assert again.labels("t3", ["Action"]) == ["Action"]  # never reviewed: its given labels
    assert again.reviewed() == {"t1": ["Comedy", "Drama", "Horror"], "t2": ["Drama"]}
    first, second = again.decisions("t1")
    assert (first.previous, first.labels) == (["Drama"], ["Drama", "Horror"])
    assert second.previous == first.labels and second.decision == "add" and second.time >= first.time
    with pytest.raises(InputError, match="vocabulary"):
        again.decide("t1", "Western", "add", [], VOCAB)
    with pytest.raises(InputError, match="not one of"):
        again.decide("t1", "Drama", "maybe", [], VOCAB)
    assert len(again.decisions()) == 3


def _toggle(root: str, genre: str, n: int) -> None:
    j = ReviewJournal(root)
    for i in range(n):
        j.decide("shared", genre, "add" if i % 2 == 0 else "remove", [], VOCAB)


def test_two_writers_at_once_lose_nothing(tmp_path):
    """Two processes (two servers) and two threads (two tabs) toggle genres of one trailer at once."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_toggle, args=(str(tmp_path), g, 20)) for g in ("Action", "Comedy")]
    threads = [threading.Thread(target=_toggle, args=(str(tmp_path), g, 20)) for g in ("Drama", "Horror")]
    for w in procs + threads:
        w.start()
    for w in procs + threads:
        w.join()
    assert all(p.exitcode == 0 for p in procs)
    decisions = ReviewJournal(tmp_path).decisions("shared")
    assert len(decisions) == 80
    for before, after in zip(decisions, decisions[1:]):  # every decision saw the one before it
        assert after.previous == before.labels
    assert decisions[-1].labels == []  # each genre was added and removed 10 times


def test_a_line_torn_by_a_crash_is_skipped_and_cut(tmp_path):
    j = ReviewJournal(tmp_path)
    j.decide("t1", "Horror", "add", [], VOCAB)
    with open(j.path, "ab") as f:
        f.write(b'{"trailer_id": "t1", "genre": "Dra')  # killed mid-write: never acknowledged
    assert [d.genre for d in j.decisions()] == ["Horror"]
    j.decide("t1", "Drama", "add", [], VOCAB)
    assert [d.genre for d in j.decisions()] == ["Horror", "Drama"]
    assert j.path.read_bytes().count(b"\n") == 2 and b"Dra'" not in j.path.read_bytes()


def test_export_is_the_import_format(tmp_path):
    j = ReviewJournal(tmp_path / "run")
    j.decide("t1", "Horror", "accept", ["Drama"], VOCAB)
    j.decide("gone", "Drama", "add", [], VOCAB)  # a trailer no longer in the run
    rows = [TrailerLabels("t1", ["Drama"], "One", 2001, "train"), TrailerLabels("t2", ["Comedy"], "Two", None, None)]
    out = export_labels(j, rows, tmp_path / "labels.csv")
    assert out == {"path": str(tmp_path / "labels.csv"), "rows": 2, "reviewed": 1, "changed": 1, "not_in_run": ["gone"]}
    problems = []
    parsed = {r.trailer_id: r for r in read_labels(tmp_path / "labels.csv", problems)}
    assert not problems
    assert parsed["t1"].genres == ["Drama", "Horror"] and parsed["t1"].title == "One" and parsed["t1"].year == 2001
    assert parsed["t1"].split == "train" and parsed["t2"].genres == ["Comedy"] and parsed["t2"].year is None
    only = export_labels(j, rows, tmp_path / "reviewed.csv", only_reviewed=True)
    assert only["rows"] == 1
