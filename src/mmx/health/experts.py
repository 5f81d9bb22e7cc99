"""Broken experts per trailer: dead (zero or constant) features, noise-like features, a missing
audio track, too few clips — each with the clips it concerns.

Noise-like features are found by the training-free *coherence* statistic of ``bench/gates.py``:
standardise an expert's features over the collection, average a trailer's n rows, and take
n · mean over dimensions of the squared mean. Rows that are independent noise give about 1 (the
mean of n unit-variance values has variance 1/n); real features follow their trailer (its look,
its scenes), so they give much more. It needs no training, and a replaced audio track or a broken
decoder that keeps the expert's mean and spread is still found — where the expert is strong enough:
a trailer is noise-like only when its coherence is both near noise's (below ``coherence``) and a
robust outlier of that expert's own coherence over the collection (``robust_z``). The healthy
trailers of a weak expert sit near 1 too (the demo's real experts on 10-clip trailers go as low as
0.5; bench/health.py's generated motion and audio overlap planted noise), and there it flags nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmx.data.broken import MIN_RUN, coherence, current, dead_stretches
from mmx.data.store import FeatureStore
from mmx.health import Collection, Finding
from mmx.health.duplicates import STATS_SAMPLE, standardiser

MIN_SAMPLE = 8  # trailers needed to estimate an expert's own spread of coherence (fewer: the absolute bound alone)


@dataclass(frozen=True)
class ExpertCheckConfig:
    coherence: float = 2.0  # noise-like: coherence below this (≈ 1 for clip-independent noise) …
    robust_z: float = 3.5  # … and this many robust sds (1.4826 × MAD) of log coherence below the expert's median
    # over the collection: an outlier of its own expert, so an expert whose healthy features all sit near noise
    # (a weak one) flags nothing, and a spread-out one only its extremes
    min_run: int = MIN_RUN  # report a stretch of dead (zero or repeated) clips this long or longer
    min_rows: int = 4  # the coherence statistic needs at least this many rows


def clip_of_rows(store: FeatureStore, trailer_id: str, expert: str, n_rows: int) -> np.ndarray:
    """(n_rows,) the clip each feature row belongs to (window-level experts map windows to clips)."""
    if store.experts[expert].level == "window":
        return np.asarray(store.load_window_clips(trailer_id, expert))
    return np.arange(n_rows)


ACTIONS = {
    "silent": "the sound is silent here (a broken or muted mix) or its decoder gave one vector: listen to the "
              "track, re-extract, or mark the audio missing",
    "zero": "the decoder gave zeros: re-extract this expert for the trailer (or mark it missing)",
    "constant": "the decoder repeated one vector: re-extract this expert for the trailer (or mark it missing)",
    "noise-like": "the features do not follow the trailer (noise, a replaced or dubbed track): check the source, "
                  "re-extract or mark the expert missing",
}


def dead_rows(store: FeatureStore, tid: str, expert: str, x: np.ndarray, min_run: int) -> list[tuple[str, int, int]]:
    """(kind, first row, last row) of the dead stretches of a trailer's ``expert`` (features ``x``): the store's
    record of them (``EntryMeta.broken``, written with the entry) when it was made with ``min_run``, else found anew."""
    record = store.meta(tid).broken
    if current(record, min_run):
        return [(s["kind"], *s["rows"]) for s in record["dead"].get(expert, [])]
    return dead_stretches(x, min_run)


def trailer_expert_findings(store: FeatureStore, tid: str, expert: str, moments, threshold: float,
                            cfg: ExpertCheckConfig) -> list[Finding]:
    x = store.load(tid, expert)
    if x is None or not len(x):
        kind = "missing audio track" if "audio" in expert else "missing expert"
        return [Finding("experts", "info", kind, [tid], {"n_clips": store.meta(tid).n_clips}, "nothing to fix when the "
                        "video has no such track; re-extract if it should have one", expert=expert, score=0.5)]
    x = np.asarray(x, np.float32)
    clip_of = clip_of_rows(store, tid, expert, len(x))
    out = []
    for kind, a, b in dead_rows(store, tid, expert, x, cfg.min_run):
        share = (b - a + 1) / len(x)
        out.append(Finding("experts", "warning", f"{kind} features", [tid],
                           {"clips": [int(clip_of[a]), int(clip_of[b])], "rows": [a, b], "share": round(share, 3)},
                           ACTIONS["silent" if "audio" in expert else kind], expert=expert, score=round(share, 3)))
    if not out and len(x) >= cfg.min_rows:
        c = coherence(x, *moments)
        if c < threshold:
            out.append(Finding("experts", "warning", "noise-like features", [tid],
                               {"coherence": round(c, 3), "threshold": round(threshold, 3), "clips": [0, int(clip_of[-1])]},
                               ACTIONS["noise-like"], expert=expert, score=round(threshold - c, 3)))
    return out


def noise_threshold(store: FeatureStore, ids: list[str], expert: str, moments, cfg: ExpertCheckConfig) -> float:
    """The coherence below which a trailer's ``expert`` is noise-like: ``cfg.coherence``, or lower where the
    expert's own log coherence over an even sample of ``ids`` puts its ``robust_z`` outliers lower."""
    step = max(1, len(ids) // STATS_SAMPLE)
    values = [coherence(x, *moments) for t in ids[::step]
              if (x := store.load(t, expert)) is not None and len(x) >= cfg.min_rows]
    if len(values) < MIN_SAMPLE:
        return cfg.coherence
    logs = np.log(np.maximum(values, 1e-6))
    median = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - median)))
    return float(min(cfg.coherence, np.exp(median - cfg.robust_z * spread)))


def noise_like(store: FeatureStore, experts: list[str]) -> dict[str, list[str]]:
    """trailer → its ``experts`` whose features look like noise, judged over every trailer of ``store``.

    ``mmx check``'s rule (coherence below ``noise_threshold``, computed on an even sample of the store);
    an expert with a dead stretch is left to the dead record. Training masks these with ``data.mask_noise_like``.
    """
    cfg = ExpertCheckConfig()
    ids = sorted(store.entries())
    out: dict[str, list[str]] = {}
    for e in experts:
        moments = standardiser(store, ids, e)
        threshold = noise_threshold(store, ids, e, moments, cfg)
        for tid in ids:
            x = store.load(tid, e)
            if x is None or len(x) < cfg.min_rows or e in store.dead(tid):
                continue
            if coherence(x, *moments) < threshold:
                out.setdefault(tid, []).append(e)
    return out


def expert_findings(coll: Collection, cfg: ExpertCheckConfig = ExpertCheckConfig()) -> list[Finding]:
    """Per trailer and expert what looks broken; trailers with fewer clips than training needs."""
    store = coll.store
    if store is None:
        return []
    moments = {e: standardiser(store, coll.ids, e) for e in store.experts}
    thresholds = {e: noise_threshold(store, coll.ids, e, moments[e], cfg) for e in store.experts}
    out = []
    for tid in coll.ids:
        n = store.meta(tid).n_clips
        if n < coll.min_clips:
            out.append(Finding("experts", "warning", "too few clips", [tid], {"n_clips": n, "min_clips": coll.min_clips},
                               "training leaves it out: re-extract with shorter clips or drop it",
                               score=1 - n / coll.min_clips))
        for e in store.experts:
            out.extend(trailer_expert_findings(store, tid, e, moments[e], thresholds[e], cfg))
    return out
