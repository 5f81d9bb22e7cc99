"""Scene retrieval measured on a corpus with known shot genres (the demo's ``truth.json``): precision@k
(``mmx.metrics``) of the run's scene vectors beside the same search on a raw expert's clip features and beside
random ranking."""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx.errors import InputError
from mmx.metrics import precision_at_k
from mmx.scenes.scene_set import load_scenes

if TYPE_CHECKING:
    from mmx.run import ModelRun


def shot_genres(truth: list[dict], trailer_id: str, start: np.ndarray, end: np.ndarray) -> list[str | None]:
    """The genre of the shot covering each clip's midpoint, from ``truth.json``'s cuts (None: unknown)."""
    t = next((t for t in truth if t["trailer_id"] == trailer_id), None)
    if t is None or np.isnan(start).any():
        return [None] * len(start)
    frames = (start + end) / 2 * t["fps"]
    return [t["shot_genres"][bisect.bisect_right(t["cuts"], f)] for f in frames]


def scene_precision(vectors: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 10,
                    other_groups: bool = True) -> float:
    """``mmx.metrics.precision_at_k`` of scenes with one label each (their shot genre), leaving out the query
    itself (and its whole group — its trailer — when ``other_groups``)."""
    return precision_at_k(vectors, [[str(g)] for g in labels], k, groups=groups if other_groups else None)


def random_precision(labels: np.ndarray, groups: np.ndarray, other_groups: bool = True) -> float:
    """Expected precision@k of a random ranking: the share of eligible scenes carrying the query's label."""
    out = []
    for i in range(len(labels)):
        eligible = groups != groups[i] if other_groups else np.arange(len(labels)) != i
        out.append(np.mean(labels[eligible] == labels[i]))
    return float(np.mean(out))


def find_truth(run) -> Path:
    """``truth.json`` beside the videos the run's store was extracted from (the demo corpus writes it)."""
    folders = {Path(m.source["video"]).parent for m in run.store.entries().values() if m.source.get("video")}
    for folder in sorted(folders):
        if (folder / "truth.json").is_file():
            return folder / "truth.json"
    raise InputError(f"no truth.json beside the videos of {run.store.root}; scene evaluation needs a corpus with "
                     "known shot genres (the demo's generated videos): give it with --truth FILE")


def raw_comparison_expert(run: ModelRun, preferred: str = "appearance") -> str | None:
    """The clip-level expert whose raw features scene vectors are compared with: ``preferred`` when the
    run has it, else the clip-level expert that most trailers carry; None when no trailer has one."""
    carried = {n: sum(n in m.experts for m in run.store.entries().values())
               for n, e in run.info.experts.items() if e["level"] == "clip"}
    carried = {n: c for n, c in carried.items() if c}
    if not carried:
        return None
    return preferred if preferred in carried else max(carried, key=lambda n: (carried[n], n))


def evaluate_scenes(run: ModelRun, truth_path: str | Path, k: int = 10, raw_expert: str = "appearance",
                    other_trailers: bool = True) -> dict:
    """Scene precision@k by shot genre: the run's scene vectors, a raw expert's clip features, random.

    All three are measured on the same scenes: those with a known shot genre, of trailers that carry
    the raw expert (``trailers_without_raw`` counts the others). Without any clip-level raw features
    the raw row is None.
    """
    truth_path = Path(truth_path)
    if not truth_path.is_file():
        raise InputError(f"{truth_path} does not exist; scene evaluation needs the shot genres of a generated "
                         "corpus (`truth.json` beside the demo's videos)")
    truth = json.loads(truth_path.read_text())
    scenes = load_scenes(run.root)
    raw_expert = raw_comparison_expert(run, raw_expert)
    keep_rows, labels, raw, without = [], [], [], []
    for tid in scenes.trailer_ids:
        rows = scenes.rows_of(tid)
        feats = None if raw_expert is None else run.store.load(tid, raw_expert)
        if raw_expert is not None and feats is None:
            without.append(tid)
            continue
        genres = shot_genres(truth, tid, scenes.start[rows.start : rows.stop], scenes.end[rows.start : rows.stop])
        known = [i for i, g in enumerate(genres) if g is not None]
        keep_rows += [rows.start + i for i in known]
        labels += [genres[i] for i in known]
        if feats is not None:
            raw.append(np.asarray(feats, np.float32)[known])
    if len({scenes.trailer[r] for r in keep_rows}) < 2:
        raise InputError(f"fewer than two trailers of {run.root} appear in {truth_path} with clip times"
                         f"{f' and {raw_expert} features' if raw_expert else ''}; scene evaluation needs the "
                         "generated corpus the run was extracted from")
    rows = np.asarray(keep_rows)
    y, groups = np.asarray(labels), scenes.trailer[rows]
    k = min(k, len(rows) - 1)
    raw_precision = (None if raw_expert is None
                     else scene_precision(np.concatenate(raw), y, groups, k, other_trailers))
    return {
        "run": str(run.root), "truth": str(truth_path), "k": k, "other_trailers": other_trailers,
        "scenes": len(rows), "trailers": len(set(groups.tolist())),
        "shot_genres": {g: int(n) for g, n in zip(*np.unique(y, return_counts=True))},
        f"mmx_precision_at_{k}": scene_precision(scenes.vectors[rows], y, groups, k, other_trailers),
        "raw_expert": raw_expert, "trailers_without_raw": len(without),
        f"raw_precision_at_{k}": raw_precision,
        f"random_precision_at_{k}": random_precision(y, groups, other_trailers),
    }
