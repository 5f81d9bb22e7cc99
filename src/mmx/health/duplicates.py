"""Duplicates and near-duplicates, compared on clip sequences; split leaks.

A re-encoded, resized or trimmed copy of a trailer keeps its shots in order, so its clips match a
run of the original's clips at one offset: clip i of the copy ↔ clip i + d of the original. A
different trailer of the same film or genre shares the look (its mean vector is close, and each of
its clips may resemble some clip of the other), but not shot for shot in the same order.

Candidates are each trailer's nearest trailers by mean clip vector; each candidate pair is then
aligned clip by clip (``align``): per expert (features standardised over the collection, a
window-level expert pooled into clips, each trailer less its own mean clip), every clip votes for
its best match in the other trailer, both ways; a pair is a duplicate when most of those votes, over
every expert both trailers have, fall on one offset. Votes and not a cosine threshold: a copy
re-encoded at another size and bitrate moves the features of some experts a lot (the demo's
EfficientNet features of a resized copy sit at cosine ≈ 0.2 to the original's), while the clips of
another trailer of the same genre can be closer than that — but they are close to clips scattered
over the other trailer, not to the ones in order. A run of imported trailer embeddings has no clips:
there the check falls back to the cosine of the trailer vectors (``embedding_cosine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mmx.data.broken import snap_dead
from mmx.data.store import FeatureStore
from mmx.health import Collection, Finding, run_collection
from mmx.run import Run

STATS_SAMPLE = 300  # trailers whose clips estimate each expert's per-dimension mean and sd


@dataclass(frozen=True)
class DuplicateConfig:
    neighbours: int = 8  # candidate pairs: each trailer with its nearest trailers by mean clip vector
    candidate_cosine: float = 0.5  # ... whose mean vectors have at least this cosine
    min_share: float = 0.55  # duplicate: more than half of the best-match votes of all experts fall on one
    # offset (``align``; "most experts match"): copies made from the demo's videos (re-encoded at 75 % size and
    # crf 36, or at 125 % and crf 28 with a second cut at each end) reach 0.56–0.86, the 663 other candidate
    # pairs of the demo's 120 trailers (same genres, same looks) at most 0.46 (bench/health.py measures it)
    min_matched: int = 5  # ... and at least this many clips are matched there
    # trailer vectors only (no clips): on the 7,594 real trailer embeddings the median trailer's nearest
    # neighbour lies at cosine 0.957 and the 99th percentile at 0.990; 0.985 flags the top 223 of 28.8 M
    # pairs (0.0008 %), a list a curator can review (docs: notes of issue 22)
    embedding_cosine: float = 0.985


@dataclass
class Pair:
    a: str
    b: str
    score: float  # share of the best-match votes on the aligned offset (``align``); cosine for trailer vectors
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
    """Per trailer and expert: clip features standardised over the collection (a window-level expert's
    windows pooled into the clip holding them)."""

    def __init__(self, store: FeatureStore, ids: list[str], cache: int = 4096):
        self.store = store
        self.experts = sorted(store.experts)
        self.moments = {e: standardiser(store, ids, e) for e in self.experts}
        self.clips = lru_cache(maxsize=cache)(self._clips)

    def _clips(self, trailer_id: str) -> dict[str, np.ndarray]:
        out = {}
        n_clips = self.store.meta(trailer_id).n_clips
        for e in self.experts:
            x = self.store.load(trailer_id, e)
            if x is None or not len(x):
                continue
            mean, sd = self.moments[e]
            z = (snap_dead(np.asarray(x, np.float32)) - mean) / sd  # (n, d); repeated clips exactly alike on any CPU
            if self.store.experts[e].level == "window":
                z = pool_windows(z, np.asarray(self.store.load_window_clips(trailer_id, e)), n_clips)
            out[e] = z
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


def pool_windows(z: np.ndarray, clip_of: np.ndarray, n_clips: int) -> np.ndarray:
    """(n_windows, d) → (n_clips, d): the mean of each clip's windows; a clip that holds no window's
    centre (windows last seconds, clips may not) takes the windows of the nearest clip that has some."""
    owners = np.unique(clip_of)  # sorted clips that hold a window
    means = np.stack([z[clip_of == c].mean(0) for c in owners])  # (n_owners, d)
    nearest = np.abs(np.arange(n_clips)[:, None] - owners[None, :]).argmin(1)  # (n_clips,)
    return means[nearest]


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
    """(na, nb) cosines of two trailers' clips, each trailer less its own mean clip: what is left is what
    tells its shots apart (a copy's codec shifts every clip alike, and that shift goes too)."""
    a, b = a - a.mean(0), b - b.mean(0)
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-8)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-8)
    return a @ b.T


def best_match_votes(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The experts both trailers have, their (E, na, nb) cosines, and (E, na, nb) votes: 1 where clip j is
    clip i's best match in ``b`` by that expert, 1 more where clip i is clip j's best match in ``a``."""
    shared = [e for e in a if e in b]
    cos = np.stack([shot_cosines(a[e], b[e]) for e in shared])  # (E, na, nb)
    e_, na, nb = cos.shape
    votes = np.zeros(cos.shape, np.int8)
    grid = np.indices((e_, na))
    votes[grid[0], grid[1], cos.argmax(2)] += 1
    grid = np.indices((e_, nb))
    votes[grid[0], cos.argmax(1), grid[1]] += 1
    return shared, cos, votes


def align(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict | None:
    """The offset at which the clips of ``a`` and ``b`` find their best matches in order, and how many do.

    Per expert, each clip votes for its best match in the other trailer; ``share`` is the part of all
    possible votes (2 × experts × clips of the shorter trailer) that fall on the one best diagonal
    (clip i ↔ clip i + offset). A copy's clips find their own counterparts, in every expert; the clips of
    another trailer in the same style find look-alikes scattered over it. A clip is matched when it
    collects at least half of its possible votes there."""
    if not any(e in b for e in a):
        return None
    shared, cos, votes = best_match_votes(a, b)
    total = votes.sum(0)  # (na, nb)
    na, nb = total.shape
    offsets = np.arange(-(na - 1), nb)
    per = np.array([np.diagonal(total, offset=int(d)).sum() for d in offsets])  # votes per offset j - i
    d = int(offsets[int(np.argmax(per))])
    rows = [i for i in range(max(0, -d), min(na, nb - d)) if total[i, i + d] >= len(shared)]
    cols = [i + d for i in rows]
    return {
        "share": round(float(per.max()) / (2 * len(shared) * min(na, nb)), 4),
        "matched_clips": len(rows),
        "clips": [na, nb],
        "span_a": [rows[0], rows[-1]] if rows else None,
        "span_b": [cols[0], cols[-1]] if rows else None,
        "offset": d,
        "expert_cosines": {e: round(float(np.mean(c[rows, cols])), 4) if rows else None for e, c in zip(shared, cos)},
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
        al = align(sig.clips(ids[i]), sig.clips(ids[j]))
        if al is not None and al["share"] >= cfg.min_share and al["matched_clips"] >= cfg.min_matched:
            al.update(coverage=round(al["matched_clips"] / min(al["clips"]), 4), mean_cosine=round(cos, 4))
            found.append(Pair(ids[i], ids[j], al["share"], al))
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
                f"of {p.b} in order ({ev['matched_clips']} clips; {ev['share']:.0%} of the experts' best-match votes "
                "on that alignment)")
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
