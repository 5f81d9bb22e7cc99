"""The collection's health in the explorer: ``mmx check``'s findings as badges on the trailers they concern.

``mmx.health.report.check`` over 10,000 trailers takes about a minute on 2 cores, so no request waits for it:
the first ``GET /api/findings…`` starts it on a thread and answers ``status: "computing"``. Its
result is kept for one *state* of the run — the main space's snapshot (a new one when a trailer is
ingested, as the map's cache in ``Explorer.map``) and the number of review decisions — and the
check sees every reviewed trailer with its current labels (the journal's, as ``mmx labels export``
writes them). When the state moves on, the next request starts the check again (one at a time)
and meanwhile answers the last findings as ``status: "stale"``; a label badge whose (trailer, genre)
has a decision in the journal is marked ``reviewed`` at once, without waiting for the check.

A re-check is kind to a busy server. It waits until the state has stayed the same for
``ServeConfig.recheck_delay`` seconds, so a burst of decisions (or of ingests) gives one re-check,
and a decision that arrives while a check runs gives one more when it ends, however many came.
When only decisions changed (the same snapshot), the duplicates, leaks and experts findings are
kept — they read no labels — and the label check refits only the genres whose labels changed
(``check``'s ``previous``): 0.3–0.4 s instead of a 6 s full check on the 7,594 real trailers.

Each finding becomes one badge per trailer it names (``BADGES``, by check): "possible duplicate of
…", "label to review: Horror", "audio looks broken"; badges are of three ``KINDS``, the explorer's filter.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mmx.health import Finding, run_collection
from mmx.health.report import HealthConfig, HealthReport, check
from mmx.review import Decision, ReviewJournal
from mmx_serve.collection import Collection, ServeConfig, Snapshot

KINDS = ("duplicate", "label", "broken")  # what a badge says is wrong: the explorer filters by it
BROKEN_FEATURES = ("zero features", "constant features", "noise-like features")  # experts' kinds of dead features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class State:
    """What the findings were computed for: the trailers (a snapshot) and the labels (decisions so far)."""

    snapshot: Snapshot
    decisions: int

    def same(self, other: State | None) -> bool:
        return other is not None and other.snapshot is self.snapshot and other.decisions == self.decisions


@dataclass
class Computed:
    state: State
    report: HealthReport
    badges: dict[str, list[dict]]  # trailer → its badges, most serious first


def _other(f: Finding, tid: str) -> str | None:
    return next((t for t in f.trailers if t != tid), None)


def _duplicate(f: Finding, tid: str, titles: dict[str, str]) -> dict:
    other = _other(f, tid)
    return {"text": f"possible duplicate of {titles.get(other) or other}", "other": other}


def _leak(f: Finding, tid: str, titles: dict[str, str]) -> dict:
    other = _other(f, tid)
    return {"text": f"split leak ({'/'.join(f.evidence.get('splits', []))}): duplicate of {titles.get(other) or other}",
            "other": other}


def _expert(f: Finding, tid: str, titles: dict[str, str]) -> dict:
    what = "audio" if f.expert and "audio" in f.expert else f"{f.expert} features"
    return {"text": f"{what} looks broken" if f.kind in BROKEN_FEATURES else f.kind, "expert": f.expert}


def _label(f: Finding, tid: str, titles: dict[str, str]) -> dict:
    return {"text": f"label to review: {f.genre}" if f.genre else f.kind, "genre": f.genre,
            "given": f.evidence.get("given")}


# check → (the kind of its badges, what a badge on one of the finding's trailers says)
BADGES: dict[str, tuple[str, Callable[[Finding, str, dict[str, str]], dict]]] = {
    "duplicates": ("duplicate", _duplicate), "leaks": ("duplicate", _leak),
    "experts": ("broken", _expert), "labels": ("label", _label),
}


def badges_of(report: HealthReport, titles: dict[str, str]) -> dict[str, list[dict]]:
    """trailer → one badge per finding naming it (``index``: the finding's place in ``report.findings``)."""
    out: dict[str, list[dict]] = {}
    for i, f in enumerate(report.findings):
        kind, say = BADGES[f.check]
        for tid in f.trailers:
            out.setdefault(tid, []).append({"kind": kind, **say(f, tid, titles), "check": f.check,
                                            "severity": f.severity, "score": f.score, "action": f.action, "index": i})
    return out


class Findings:
    """The served run's health findings, computed in the background once per state of the run."""

    def __init__(self, collection: Collection, journal: ReviewJournal, cfg: HealthConfig = HealthConfig(),
                 recheck_delay: float = ServeConfig().recheck_delay):
        self.collection, self.journal, self.cfg = collection, journal, cfg
        self.recheck_delay = recheck_delay  # a re-check starts once the state has been the same this long (seconds)
        self._done: Computed | None = None  # the latest finished check
        self._failed: tuple[State, str] | None = None  # the state whose check failed, and why
        self._running: State | None = None
        self._lock = threading.Lock()
        self._encoded: tuple[tuple, Computed | None, bytes] | None = None  # the last badges answer and what it was for

    def _now(self) -> tuple[State, list[Decision]]:
        """The run's state and the journal's decisions, read once."""
        decisions = self.journal.decisions()
        return State(self.collection.main.snapshot, len(decisions)), decisions

    def state(self) -> State:
        return self._now()[0]

    def current(self, state: State | None = None) -> tuple[str, Computed | None, str | None]:
        """(status, the latest findings or None, why the check failed); starts the check when the run's
        state (``state``: now) has none yet. Status: ready, computing (nothing yet), stale (older findings), failed."""
        state = self.state() if state is None else state
        with self._lock:
            done, failed = self._done, self._failed
            if done is not None and state.same(done.state):
                return "ready", done, None
            if failed is not None and state.same(failed[0]):
                return "failed", done, failed[1]
            if self._running is None:
                self._running = state
                # ``check`` as it is now: a worker that outlives its server (in tests) keeps the one it started with
                threading.Thread(target=self._work, args=(state, check), name="mmx-check", daemon=True).start()
        return ("stale" if done is not None else "computing"), done, None

    def _work(self, state: State, run_check: Callable[..., HealthReport]) -> None:
        """Check ``state``, then once more while the run's state moved on meanwhile (one re-check for all that came)."""
        while True:
            if self._done is not None:
                state = self._settled(state)
            if not self._compute(state, run_check):
                return
            with self._lock:
                now = self.state()
                if now.same(state):
                    self._running = None
                    return
                self._running = state = now

    def _settled(self, state: State) -> State:
        """The run's state once it has stayed the same for ``recheck_delay`` seconds."""
        while True:
            time.sleep(self.recheck_delay)
            now = self.state()
            if now.same(state):
                return state
            state = now

    def _compute(self, state: State, run_check: Callable[..., HealthReport]) -> bool:
        """Check the run as it is in ``state``; False when the check failed (recorded for the page)."""
        try:
            coll = run_collection(self.collection.run)
            reviewed = {d.trailer_id: d.labels for d in self.journal.decisions()[:state.decisions]}
            coll.genres.update({t: list(labels) for t, labels in reviewed.items() if t in coll.genres})
            done = self._done
            previous = done.report if done is not None and done.state.snapshot is state.snapshot else None
            report = run_check(coll, cfg=self.cfg, previous=previous)
            emb = state.snapshot.emb
            with self._lock:
                self._done = Computed(state, report, badges_of(report, dict(zip(emb.ids, emb.titles))))
            return True
        except Exception as e:  # a background thread: the page must hear why, not wait for ever
            log.exception("mmx check of %s failed", self.collection.run.root)
            with self._lock:
                self._failed, self._running = (state, f"{type(e).__name__}: {e}"), None
            return False

    # ------------------------------------------------------------------ answers
    @staticmethod
    def _reviewed(decisions: list[Decision]) -> set[tuple[str, str]]:
        return {(d.trailer_id, d.genre) for d in decisions}

    def badges(self) -> bytes:
        """The encoded badges answer: status, counts, the kinds' trailer counts, every trailer's badges and the
        collection-wide findings (placeholder genres, genres too rare to learn)."""
        state, decisions = self._now()
        status, done, error = self.current(state)
        reviewed = self._reviewed(decisions) if done is not None else set()
        key = (status, error, len(reviewed))
        cached = self._encoded
        if cached is not None and cached[0] == key and cached[1] is done:
            return cached[2]  # the same findings and decisions: the same 2 MB answer (7,594 trailers)
        body: dict = {"status": status, "error": error, "kinds": {k: 0 for k in KINDS}, "trailers": {},
                      "collection": [], "counts": None, "checked": None}
        if done is not None:
            trailers = {t: [dict(b, reviewed=(t, b.get("genre")) in reviewed) for b in bs]
                        for t, bs in done.badges.items()}
            for k in KINDS:  # trailers with a badge of the kind still to look at
                body["kinds"][k] = sum(any(b["kind"] == k and not b["reviewed"] for b in bs)
                                       for bs in trailers.values())
            report = done.report
            body.update(trailers=trailers, counts=report.counts(), checked={
                "trailers": report.n_trailers, "seconds": report.seconds, "decisions": done.state.decisions,
                "kept": report.kept},
                collection=[f.to_dict() for f in report.findings if not f.trailers])
        encoded = json.dumps(body, separators=(",", ":")).encode()
        self._encoded = (key, done, encoded)
        return encoded

    def findings(self, check_name: str | None, kind: str | None, trailer: str | None, limit: int, offset: int) -> dict:
        """One page of the findings (of one check, of one badge kind, naming one trailer), most serious first."""
        state, decisions = self._now()
        status, done, error = self.current(state)
        rows: list[dict] = []
        if done is not None:
            reviewed = self._reviewed(decisions)
            for i, f in enumerate(done.report.findings):
                if check_name and f.check != check_name or trailer and trailer not in f.trailers:
                    continue
                if kind and BADGES[f.check][0] != kind:
                    continue
                rows.append({**f.to_dict(), "index": i,
                             "reviewed": any((t, f.genre) in reviewed for t in f.trailers) if f.genre else False})
        return {"status": status, "error": error, "total": len(rows), "offset": offset, "limit": limit,
                "findings": rows[offset: offset + limit]}
