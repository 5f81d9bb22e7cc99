"""``check``: run the health checks by name on a store or run folder, and the report they make."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.store import FeatureStore
from mmx.errors import MmxError
from mmx.health import SEVERITIES, Collection, Finding, open_collection
from mmx.health.duplicates import DuplicateConfig, duplicate_findings, duplicate_pairs, leak_findings, split_leaks
from mmx.health.experts import ExpertCheckConfig, expert_findings
from mmx.health.label_issues import LabelCheckConfig, OutOfFold, ProbeFit, label_findings
from mmx.run import Run

CHECKS = ("duplicates", "leaks", "experts", "labels")  # in the order they run and print


@dataclass(frozen=True)
class HealthConfig:
    duplicates: DuplicateConfig = field(default_factory=DuplicateConfig)
    experts: ExpertCheckConfig = field(default_factory=ExpertCheckConfig)
    labels: LabelCheckConfig = field(default_factory=LabelCheckConfig)


@dataclass
class HealthReport:
    source: str
    n_trailers: int
    checks: list[str]
    findings: list[Finding]
    seconds: dict[str, float]  # check → wall time
    test_leaks: dict | None = None  # pairs and test trailers touched by split leaks (when leaks were checked)
    kept: list[str] = field(default_factory=list)  # checks whose findings were kept from the previous report
    probe: ProbeFit | None = field(default=None, repr=False)  # the label check's probe, for a re-check (``check``)

    def counts(self) -> dict[str, dict[str, int]]:
        """check → severity → number of findings."""
        out = {c: {s: 0 for s in SEVERITIES} for c in self.checks}
        for f in self.findings:
            out[f.check][f.severity] += 1
        return out

    def to_frame(self):
        """A pandas DataFrame, one row per finding, most serious first: ``check`` (duplicates, leaks, experts,
        labels), ``severity`` (error, warning, info), ``kind`` (what is wrong, e.g. "near-duplicate", "label
        issue"), ``trailers`` (list of the trailers concerned), ``expert`` and ``genre`` (the one concerned, or None),
        ``score`` (how sure: higher is more certainly a problem), ``action`` (what to do), ``evidence`` (a dict of
        the numbers behind it)."""
        from mmx.frames import data_frame

        columns = ["check", "severity", "kind", "trailers", "expert", "genre", "score", "action", "evidence"]
        return data_frame([{c: getattr(f, c) for c in columns} for f in self.findings], columns)

    def to_dict(self) -> dict:
        return {"source": self.source, "n_trailers": self.n_trailers, "checks": self.checks, "counts": self.counts(),
                "test_leaks": self.test_leaks, "seconds": self.seconds, "findings": [f.to_dict() for f in self.findings]}


def check(path: str | Path | FeatureStore | Run | Collection, only: list[str] | None = None,
          cfg: HealthConfig = HealthConfig(), label_probs: OutOfFold | None = None,
          previous: HealthReport | None = None) -> HealthReport:
    """The findings of ``only`` (default: every check) on a store or a run (``mmx check``), most serious first; the
    label check scores ``label_probs`` (a cross-fitted network's) when given, else the out-of-fold probe's.

    ``previous``: the report of an earlier check of the same trailers and features (the explorer's, before review
    decisions changed labels). The checks that read no labels — duplicates, leaks, experts — keep its findings,
    and the label check refits only the genres whose labels changed (``mmx.health.label_issues.fit_probe``).
    """
    only = list(only or CHECKS)
    unknown = [c for c in only if c not in CHECKS]
    if unknown:
        raise MmxError(f"unknown check(s) {', '.join(unknown)}; choose among {', '.join(CHECKS)}")
    coll = path if isinstance(path, Collection) else open_collection(path)
    kept = [c for c in only if c != "labels" and previous is not None and c in previous.checks]
    findings = [f for f in previous.findings if f.check in kept] if previous is not None else []
    seconds = {c: s for c, s in previous.seconds.items() if c in kept} if previous is not None else {}
    leaks = previous.test_leaks if "leaks" in kept else None
    todo = [c for c in only if c not in kept]
    t0 = time.perf_counter()
    if "duplicates" in todo or "leaks" in todo:
        pairs = duplicate_pairs(coll, cfg.duplicates)
        seconds["duplicates"] = round(time.perf_counter() - t0, 2)
        if "duplicates" in todo:
            findings += duplicate_findings(coll, pairs)
        if "leaks" in todo:
            findings += leak_findings(coll, pairs)
            leaks = split_leaks(coll, pairs)
    probe = None
    if "experts" in todo:
        t0 = time.perf_counter()
        findings += expert_findings(coll, cfg.experts)
        seconds["experts"] = round(time.perf_counter() - t0, 2)
    if "labels" in todo:
        t0 = time.perf_counter()
        found, probe = label_findings(coll, cfg.labels, label_probs, previous.probe if previous is not None else None)
        findings += found
        seconds["labels"] = round(time.perf_counter() - t0, 2)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (CHECKS.index(f.check), rank[f.severity], -f.score))
    return HealthReport(str(coll.source), len(coll.ids), [c for c in CHECKS if c in only], findings, seconds, leaks,
                        kept, probe)


def summary_lines(report: HealthReport) -> list[str]:
    """One line per check: how many findings of each severity, and of which kinds."""
    lines = []
    for c, by in report.counts().items():
        kinds = Counter(f.kind for f in report.findings if f.check == c)
        what = ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "nothing found"
        lines.append(f"{c:<10} {by['error']} error(s), {by['warning']} warning(s), {by['info']} note(s): {what}")
    if report.test_leaks is not None:
        t = report.test_leaks
        lines.append(f"test split: {t['pairs']} leak pair(s) touching {t['trailers']} test trailer(s)")
    return lines


def finding_line(f: Finding) -> str:
    who = " ~ ".join(f.trailers) or "(collection)"
    about = "/".join(x for x in (f.expert, f.genre) if x)
    clips = f.evidence.get("clips") if f.check == "experts" else None
    where = f"{about} clips {clips[0]}–{clips[1]}".strip() if isinstance(clips, list) else about
    parts = [where] if where else []
    parts += [f"{k} {f.evidence[k]}" for k in ("coherence", "n_clips", "probability", "wrong") if k in f.evidence]
    detail = f" [{', '.join(parts)}]" if parts else ""
    return f"[{f.severity}] {f.check}: {f.kind}: {who}{detail}: {f.action}"
