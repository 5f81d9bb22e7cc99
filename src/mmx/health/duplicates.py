"""Duplicates and near-duplicates, compared on clip sequences; split leaks.

A re-encoded, resized or trimmed copy of a trailer keeps its shots in order, so its clips match a
run of the original's clips at one offset: clip i of the copy ↔ clip i + d of the original. A
different trailer of the same film shares the film's look (its mean vector is close) and may reuse
a few shots, but in another order and not most of them. So a pair is a duplicate when one aligned
run of matching clips covers most of the shorter trailer — not when the mean vectors are close.

Candidates are each trailer's nearest trailers by mean clip vector; each candidate pair is then
aligned clip by clip. Clips are compared per expert on features standardised over the collection
(so no dimension's scale dominates), and two clips match when the *median* over the experts both
trailers have of their cosines reaches ``clip_match`` — cosines taken after removing the look the
two trailers share (``shot_cosines``), so that what is compared is the shots (a replaced audio mix changes one expert and
does not hide the copy). A run of imported trailer embeddings has no clips: there the check falls
back to the cosine of the trailer vectors (``embedding_cosine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mmx.data.store import FeatureStore
from mmx.health import Collection, Finding, run_collection
from mmx.run import Run

STATS_SAMPLE = 300  # trailers whose clips estimate each expert's per-dimension mean and sd


@dataclass(frozen=True)
class DuplicateConfig:
    neighbours: int = 8  # candidate pairs: each trailer with its nearest trailers by mean clip vector
    candidate_cosine: float = 0.5  # ... whose mean vectors have at least this cosine
    clip_match: float = 0.8  # two clips match: median over shared experts of their cosine ≥ this
    min_coverage: float = 0.5  # duplicate: one aligned run covers at least this share of the shorter trailer
    min_matched: int = 5  # ... and at least this many clips
    # trailer vectors only (no clips): on the 7,594 real trailer embeddings the median trailer's nearest
    # neighbour lies at cosine 0.957 and the 99th percentile at 0.990; 0.985 flags the top 223 of 28.8 M
    # pairs (0.0008 %), a list a curator can review (docs: notes of issue 22)
    embedding_cosine: float = 0.985


@dataclass
class Pair:
    a: str
    b: str
    score: float  # share of the shorter trailer's clips in the aligned run (cosine for trailer vectors)
    evidence: dict


def standardiser(store: FeatureStore, ids: list[str], expert: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and sd of ``expert`` over the clips of an even sample of ``ids``."""
    step = max(1, len(ids) // STATS_SAMPLE)
    rows = [np.asarray(x, np.float32) for t in ids[::step] if (x := store.load(t, expert)) is not None and len(x)]
    if not rows:
        dim = store.experts[expert].dim
        return np.zeros(dim, np.float32), np.ones(dim, np.float32)
    stacked = np.concatenate(rows)
    return stacked.mean(0), stacked.std(0) + 1e-6


class ClipSignatures:
    """Per trailer and clip-level expert: clip features standardised over the collection."""

    def __init__(self, store: FeatureStore, ids: list[str], cache: int = 4096):
        self.store = store
        self.experts = sorted(e for e, info in store.experts.items() if info.level == "clip")
        self.moments = {e: standardiser(store, ids, e) for e in self.experts}
        self.clips = lru_cache(maxsize=cache)(self._clips)

    def _clips(self, trailer_id: str) -> dict[str, np.ndarray]:
        out = {}
        for e in self.experts:
            x = self.store.load(trailer_id, e)
            if x is None or not len(x):
                continue
            mean, sd = self.moments[e]
            out[e] = (np.asarray(x, np.float32) - mean) / sd  # (n, d)
        return out

    def mean_vector(self, trailer_id: str) -> np.ndarray:
        """(Σ d,) the unit mean clip vector of every expert, zeros for a missing one; unit length overall."""
        clips = self.clips(trailer_id)
        parts = []
        for e in self.experts:
            dim = self.store.experts[e].dim
            m = clips[e].mean(0) if e in clips else np.zeros(dim, np.float32)  # (d,)
            parts.append(m / (np.linalg.norm(m) + 1e-8))
        v = np.concatenate(parts)
        return v / (np.linalg.norm(v) + 1e-8)


def top_pairs(unit: np.ndarray, k: int, floor: float, block: int = 1024) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for each row's ``k`` nearest other rows at cosine ≥ ``floor``."""
    pairs: dict[tuple[int, int], float] = {}
    k = min(k, len(unit) - 1)
    if k < 1:
        return []
    for start in range(0, len(unit), block):
        sims = unit[start:start + block] @ unit.T  # (b, N)
        for r in range(len(sims)):
            sims[r, start + r] = -np.inf
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (b, k)
        for r, cols in enumerate(nearest):
            i = start + r
            for j in cols:
                if sims[r, j] >= floor:
                    pairs[(min(i, j), max(i, j))] = float(sims[r, j])
    return [(i, j, s) for (i, j), s in sorted(pairs.items())]


def shot_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(na, nb) cosines of two trailers' clips after taking away the look they share (the mean of their
    two mean clips): a copy's clips still match the original's one by one, while another trailer of the
    same film — same look, other shots — is left with clips that do not."""
    centre = (a.mean(0) + b.mean(0)) / 2  # (d,)
    a, b = a - centre, b - centre
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-8)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-8)
    return a @ b.T


def align(a: dict[str, np.ndarray], b: dict[str, np.ndarray], clip_match: float) -> dict | None:
    """The best run of matching clips at one offset (±1 clip): its span in each trailer, length and cosine."""
    shared = [e for e in a if e in b]
    if not shared:
        return None
    sim = np.median(np.stack([shot_cosines(a[e], b[e]) for e in shared]), axis=0)  # (na, nb)
    match = sim >= clip_match
    na, nb = match.shape
    offsets = np.arange(-(na - 1), nb)
    diag = np.array([np.diagonal(match, offset=int(d)).sum() for d in offsets])  # matches per offset j - i
    band = diag + np.r_[0, diag[:-1]] + np.r_[diag[1:], 0]
    d = int(offsets[int(np.argmax(band * (na + nb) + diag))])  # the widest band, then its best diagonal
    rows, cols = [], []
    for i in range(na):
        lo, hi = max(0, i + d - 1), max(0, i + d + 2)
        hits = np.flatnonzero(match[i, lo:hi])
        if len(hits):
            rows.append(i)
            cols.append(int(lo + hits[np.argmax(sim[i, lo + hits])]))
    if not rows:
        return None
    return {
        "matched_clips": len(rows),
        "clips": [na, nb],
        "span_a": [rows[0], rows[-1]],
        "span_b": [min(cols), max(cols)],
        "offset": d,
        "clip_cosine": round(float(np.mean([sim[i, j] for i, j in zip(rows, cols)])), 4),
    }


def clip_pairs(coll: Collection, cfg: DuplicateConfig) -> list[Pair]:
    """Duplicate pairs of a collection with per-clip features."""
    sig = ClipSignatures(coll.store, coll.ids)
    ids = [t for t in coll.ids if sig.clips(t)]
    if len(ids) < 2:
        return []
    unit = np.stack([sig.mean_vector(t) for t in ids])  # (N, Σ d)
    found = []
    for i, j, cos in top_pairs(unit, cfg.neighbours, cfg.candidate_cosine):
        al = align(sig.clips(ids[i]), sig.clips(ids[j]), cfg.clip_match)
        if al is None:
            continue
        coverage = al["matched_clips"] / min(al["clips"])
        if coverage >= cfg.min_coverage and al["matched_clips"] >= cfg.min_matched:
            al.update(coverage=round(coverage, 4), mean_cosine=round(cos, 4))
            found.append(Pair(ids[i], ids[j], coverage, al))
    return found


def embedding_pairs(coll: Collection, cfg: DuplicateConfig) -> list[Pair]:
    """Pairs of trailer vectors at cosine ≥ ``embedding_cosine`` (a run of imported embeddings)."""
    emb = coll.embeddings
    unit = emb.unit.astype(np.float32)
    return [Pair(emb.ids[i], emb.ids[j], cos, {"cosine": round(cos, 4), "clips": "none (trailer vectors only)"})
            for i, j, cos in top_pairs(unit, cfg.neighbours, cfg.embedding_cosine)]


def duplicate_pairs(coll: Collection, cfg: DuplicateConfig = DuplicateConfig()) -> list[Pair]:
    """Duplicate pairs, most certain first: by clip alignment when the collection has clips, else by cosine."""
    pairs = clip_pairs(coll, cfg) if coll.store is not None else embedding_pairs(coll, cfg)
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def describe(p: Pair) -> str:
    ev = p.evidence
    if "span_a" in ev:
        return (f"clips {ev['span_a'][0]}–{ev['span_a'][1]} of {p.a} match clips {ev['span_b'][0]}–{ev['span_b'][1]} "
                f"of {p.b} in order ({ev['matched_clips']} clips, mean clip cosine {ev['clip_cosine']})")
    return f"trailer vectors at cosine {ev['cosine']}"


def duplicate_findings(coll: Collection, pairs: list[Pair]) -> list[Finding]:
    return [Finding("duplicates", "warning", "near-duplicate", [p.a, p.b], p.evidence,
                    f"{describe(p)}: keep one of the two ids (or relabel both alike) and remove the other",
                    score=round(p.score, 4)) for p in pairs]


def leak_findings(coll: Collection, pairs: list[Pair]) -> list[Finding]:
    """A duplicate pair whose trailers sit in different splits: an error (the test score is inflated)."""
    out = []
    for p in pairs:
        sa, sb = coll.splits.get(p.a), coll.splits.get(p.b)
        if sa and sb and sa != sb:
            out.append(Finding("leaks", "error", f"split leak {sa}/{sb}", [p.a, p.b], dict(p.evidence, splits=[sa, sb]),
                               f"{describe(p)}: put both in one split (or drop one) before trusting a "
                               f"{sb if sb != 'train' else sa} score",
                               score=round(p.score, 4)))
    return out


def split_leaks(coll: Collection, pairs: list[Pair], split: str = "test") -> dict:
    """How many leak pairs touch ``split`` and how many of its trailers they touch."""
    touched, n = set(), 0
    for p in pairs:
        sa, sb = coll.splits.get(p.a), coll.splits.get(p.b)
        if sa and sb and sa != sb and split in (sa, sb):
            n += 1
            touched |= {t for t, s in ((p.a, sa), (p.b, sb)) if s == split}
    return {"pairs": n, "trailers": len(touched), "split": split}


def run_leaks(run: Run, split: str = "test", cfg: DuplicateConfig = DuplicateConfig()) -> dict:
    """``split_leaks`` of a run's ``split``: what ``mmx evaluate`` warns about."""
    coll = run_collection(run)
    return split_leaks(coll, duplicate_pairs(coll, cfg), split)
