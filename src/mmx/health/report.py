"""``check``: run the health checks by name on a store or run folder, and the report they make."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mmx.errors import MmxError
from mmx.health import SEVERITIES, Collection, Finding, open_collection
from mmx.health.duplicates import DuplicateConfig, duplicate_findings, duplicate_pairs, leak_findings, split_leaks
from mmx.health.experts import ExpertCheckConfig, expert_findings
from mmx.health.labels import LabelCheckConfig, OutOfFold, label_findings

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

    def counts(self) -> dict[str, dict[str, int]]:
        """check → severity → number of findings."""
        out = {c: {s: 0 for s in SEVERITIES} for c in self.checks}
        for f in self.findings:
            out[f.check][f.severity] += 1
        return out

    def to_dict(self) -> dict:
        return {"source": self.source, "n_trailers": self.n_trailers, "checks": self.checks, "counts": self.counts(),
                "test_leaks": self.test_leaks, "seconds": self.seconds, "findings": [f.to_dict() for f in self.findings]}


def check(path: str | Path | Collection, only: list[str] | None = None, cfg: HealthConfig = HealthConfig(),
          label_probs: OutOfFold | None = None) -> HealthReport:
    """The findings of ``only`` (default: every check) on a store or run folder, most serious first; the label
    check scores ``label_probs`` (a cross-fitted network's) when given, else the out-of-fold probe's."""
    only = list(only or CHECKS)
    unknown = [c for c in only if c not in CHECKS]
    if unknown:
        raise MmxError(f"unknown check(s) {', '.join(unknown)}; choose among {', '.join(CHECKS)}")
    coll = path if isinstance(path, Collection) else open_collection(path)
    findings: list[Finding] = []
    seconds: dict[str, float] = {}
    leaks = None
    t0 = time.perf_counter()
    if "duplicates" in only or "leaks" in only:
        pairs = duplicate_pairs(coll, cfg.duplicates)
        seconds["duplicates"] = round(time.perf_counter() - t0, 2)
        if "duplicates" in only:
            findings += duplicate_findings(coll, pairs)
        if "leaks" in only:
            findings += leak_findings(coll, pairs)
            leaks = split_leaks(coll, pairs)
    later = (("experts", lambda: expert_findings(coll, cfg.experts)),
             ("labels", lambda: label_findings(coll, cfg.labels, label_probs)))
    for name, run in later:
        if name in only:
            t0 = time.perf_counter()
            findings += run()
            seconds[name] = round(time.perf_counter() - t0, 2)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (CHECKS.index(f.check), rank[f.severity], -f.score))
    return HealthReport(str(coll.source), len(coll.ids), [c for c in CHECKS if c in only], findings, seconds, leaks)


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
    parts += [f"{k} {f.evidence[k]}" for k in ("coherence", "n_clips", "probability") if k in f.evidence]
    detail = f" [{', '.join(parts)}]" if parts else ""
    return f"[{f.severity}] {f.check}: {f.kind}: {who}{detail}: {f.action}"
