"""Broken experts per trailer: recorded when features enter a store, masked when a run reads them.

Two kinds of breakage, found where the evidence is:

* **dead stretches** — zero rows (a decoder that gave nothing: a silent or missing audio track
  decoded as zeros) and rows repeating the previous one (a decoder stuck on one vector, a frozen or
  black picture) — need only the trailer's own arrays. Both are judged within ``DEAD_TOL`` of the
  expert's scale in that trailer, never by float equality: one vector computed twice is bit-identical
  on one CPU and not on another (oneDNN picks other kernels; musicnn's rows for a silent track differ
  by 3e-7 on an AMD EPYC), and the record must not depend on the machine. ``FeatureStore.write_entry`` records them
  in the entry's ``meta.json`` (``EntryMeta.broken``, see ``dead_record``), written with the entry
  (one atomic swap), so every way into a store records them: extraction, ``mmx import`` and the
  import formats, ``mmx add``, the temporary stores of search queries; linked entries (k-fold
  folds) keep the record.
* **noise-like** features (the coherence statistic of ``mmx.health.experts``) need the
  collection's per-dimension mean and spread, which a single entry cannot know. They are found
  over the whole store when a run is made with ``data.mask_noise_like`` (``mmx.health.experts.noise_like``,
  ``coherence`` here) and kept
  in the run's ``run.json`` (``RunInfo.noise_like``), so that training and every later read of the
  run mask the same trailers.

``BrokenMask`` is what the loaders apply (``mmx.data.dataset``): with ``data.mask_broken_experts``
a dead row, with ``data.mask_noise_like`` every row of a noise-like (trailer, expert), is read as
missing — zero features and the availability mask off, exactly as an expert the trailer does not
have; the model's gating already handles those.
"""

from __future__ import annotations

import numpy as np

MIN_RUN = 3  # a dead stretch is at least this many rows (``mmx check``'s ``ExpertCheckConfig.min_run``)
# a row is zero, or repeats the previous one, when no value differs by more than this share of the largest |value| of
# the trailer's rows of that expert: two roundings of bf16 (2 × 2⁻⁸ ≈ 0.8 %; the experts compute in bf16 where the CPU
# has it, and another CPU's kernels round a repeated input's values otherwise) and far below what distinct clips differ
# by (the real clips' consecutive rows: ≥ 13 % for musicnn's 1-s windows overlapping by 2 s, ≥ 58 % for clip experts)
DEAD_TOL = 0.01
RULE = {"min_run": MIN_RUN, "tolerance": DEAD_TOL}  # what a record was made under (``current``)


def coherence(x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> float:
    """n · mean_d (mean over the n rows of the standardised features)²  (≈ 1 for i.i.d. noise)."""
    z = (np.asarray(x, np.float32) - mean) / sd  # (n, d)
    return float(len(z) * (z.mean(0) ** 2).mean())


def runs(flags: np.ndarray, min_run: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) of every stretch of True at least ``min_run`` long."""
    out, start = [], None
    for i, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if i - start >= min_run:
                out.append((start, i - 1))
            start = None
    return out


def dead_flags(x: np.ndarray, tol: float = DEAD_TOL) -> tuple[np.ndarray, np.ndarray]:
    """(n,) zero rows and (n,) rows repeating the previous (non-zero) one of ``x`` (n, d), both within ``tol`` of
    the largest |value| of ``x`` (where every row is zero: exact zeros)."""
    x = np.asarray(x, np.float64)
    bound = tol * (float(np.abs(x).max()) if x.size else 0.0)
    zero = np.abs(x).max(1, initial=0.0) <= bound
    repeated = np.r_[False, np.abs(np.diff(x, axis=0)).max(1, initial=0.0) <= bound] & ~zero
    return zero, repeated


def snap_dead(x: np.ndarray, tol: float = DEAD_TOL) -> np.ndarray:
    """``x`` (n, d) with the rows ``dead_flags`` finds made exact: zero rows all 0, a repeating row a copy of the row
    it repeats. What every CPU agrees on, so that decisions on it (a clip's best match among repeated clips, a
    stuck trailer's centred clips) do not turn on the last bits of the machine's kernels."""
    x = np.asarray(x)
    if not len(x):
        return x
    zero, repeated = dead_flags(x, tol)
    source = np.maximum.accumulate(np.where(repeated, 0, np.arange(len(x))))  # (n,) the row each row repeats
    out = x[source]
    out[zero] = 0
    return out


def dead_stretches(x: np.ndarray, min_run: int, tol: float = DEAD_TOL) -> list[tuple[str, int, int]]:
    """(kind, first row, last row) of stretches of at least ``min_run`` zero rows and of rows repeating the
    previous one (``dead_flags``)."""
    zero, repeated = dead_flags(x, tol)
    repeated[:-1] |= repeated[1:]  # the row that is repeated belongs to the stretch too
    repeated &= ~zero
    return [("zero", a, b) for a, b in runs(zero, min_run)] + [("constant", a, b) for a, b in runs(repeated, min_run)]


def dead_record(arrays: dict[str, np.ndarray], clip_suffix: str = "__clip") -> dict:
    """What ``EntryMeta.broken`` holds for an entry's ``arrays`` (experts and ``<expert>__clip``).

    ``{"min_run": 3, "tolerance": 0.01, "dead": {expert: [{"kind": "zero" | "constant", "rows": [a, b],
    "clips": [c, d]}]}}`` — the rule (``RULE``), inclusive row and clip ranges; experts without a dead stretch are left out.
    """
    dead = {}
    for name, x in arrays.items():
        if name.endswith(clip_suffix):
            continue
        x = np.asarray(x)
        clip_of = np.asarray(arrays[name + clip_suffix]) if name + clip_suffix in arrays else np.arange(len(x))
        found = [{"kind": kind, "rows": [int(a), int(b)], "clips": [int(clip_of[a]), int(clip_of[b])]}
                 for kind, a, b in dead_stretches(x.reshape(len(x), -1), MIN_RUN)] if len(x) else []
        if found:
            dead[name] = found
    return {**RULE, "dead": dead}


def current(record: dict | None, min_run: int = MIN_RUN) -> bool:
    """Whether ``record`` (``EntryMeta.broken``) was made under today's rule with stretches of ``min_run``: an older
    entry (no record, or one found by float equality) is checked anew from its arrays."""
    return record is not None and record.get("min_run") == min_run and record.get("tolerance") == DEAD_TOL
