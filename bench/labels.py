"""Do the label findings of ``mmx check`` put the wrong labels first? Precision in the top 30, recall in the top 100.

SYNTHETIC DATA: the planted collections of ``bench/health.py`` (scene-level genre signal, copies, broken
experts) at each ``--sizes`` trailers, ``--seeds`` seeds, with flipped (trailer, genre) labels — half a genre
added, half one removed — ``--flips`` of them: a share of the labels, or a count (≥ 1), one per size (``10,0.05``
…). Each ranking is read as a curator reads the findings, from the top: hits among the first 30 (precision@30)
and the share of the flips among the first 100 (recall@100), over every (trailer, genre) it ranks (``ranked``)
and over what ``mmx check`` reports (``reported``: its cut). Rankings:

* ``command`` — what ``mmx check`` does (``mmx.health.label_issues``): the probe on the codebook of clips
  (``mmx.health.codebook``), calibrated per genre, the posterior that the label is wrong (``wrong_labels``);
* ``pooled+posterior`` — the same posterior on the probe of the mean-pooled features (the codebook's share);
* ``codebook+cleanlab`` — cleanlab's label quality (self-confidence) of the codebook probe (the posterior's share);
* ``before`` — the check before this change: the pooled probe (its old C grid), cleanlab's per-genre filter and
  label quality, reported below quality 0.1;
* ``random`` — a random order of every (trailer, genre).

And per posterior cut of ``command`` (``CUTS``): how many it lists and how many of those are flips.

    python bench/labels.py [--sizes 300,600,2000] [--flips 10,0.05,0.05] [--seeds 3] [--work DIR]

The last line of the output is JSON (and ``--out FILE`` writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _common import load, print_result  # noqa: E402  (bench/ is the script folder)
from health import planted_collection  # noqa: E402  (bench/ is the script folder)

from mmx.health import open_collection
from mmx.health.codebook import CodebookConfig
from mmx.health.label_issues import (
    LabelCheckConfig,
    collection_features,
    collection_findings,
    fit_probe,
    labelled_ids,
    wrong_labels,
)
from mmx.probe import ProbeConfig

TOP, RECALL_AT = 30, 100
CUTS = (0.05, 0.1, 0.2, 0.3, 0.5)  # posterior cuts of the command's list: how long it is, how many of it are flips
BEFORE = LabelCheckConfig(codebook=CodebookConfig(clusters=0),
                          probe=ProbeConfig(C=[0.1, 1.0, 10.0, 100.0], scalings=["standard"], max_iter=500))
BEFORE_MAX_QUALITY = 0.1  # the old cut: cleanlab flags it and its label quality is below this


def cleanlab_scores(y: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, G) cleanlab's label quality (low: likely wrong) and its per-genre filter."""
    from cleanlab.multilabel_classification.filter import find_multilabel_issues_per_class
    from cleanlab.multilabel_classification.rank import get_label_quality_scores_per_class

    labels = [list(np.flatnonzero(row)) for row in y]
    return get_label_quality_scores_per_class(labels, probs), find_multilabel_issues_per_class(labels, probs, n_jobs=1)


def read_top(order: list[tuple[str, str]], planted: set) -> dict:
    """Hits and precision among the first TOP, recall among the first RECALL_AT of a ranked list."""
    hits = sum(x in planted for x in order[:TOP])
    return {"listed": len(order), f"hits@{TOP}": hits, f"precision@{TOP}": round(hits / max(1, min(TOP, len(order))), 3),
            f"recall@{RECALL_AT}": round(sum(x in planted for x in order[:RECALL_AT]) / len(planted), 3)}


def ranked(cells: list[tuple[str, str]], score: np.ndarray, cut: np.ndarray | None = None) -> list[tuple[str, str]]:
    """The (trailer, genre) cells by ``score`` (N·G, higher = more likely wrong), only those in ``cut`` when given."""
    order = np.argsort(-score, kind="stable")
    return [cells[i] for i in order if cut is None or cut[i]]


def score_collection(n: int, seed: int, flips: float, work: Path) -> dict:
    store, truth = planted_collection(work, n, seed, dups=20, broken=0.06, flips=flips)
    coll = open_collection(store.root)
    cfg = LabelCheckConfig()
    _, genres = collection_findings(coll, cfg)
    ids = labelled_ids(coll)
    y = np.array([[g in coll.genres[t] for g in genres] for t in ids], dtype=int)  # (N, G)
    cells = [(t, g) for t in ids for g in genres]
    planted = {x for x in truth["labels"] if x[1] in genres}  # a flip into a genre too rare to score is unfindable
    out = {"trailers": len(ids), "genres": len(genres), "flips": len(truth["labels"]), "scorable": len(planted)}
    probs, seconds = {}, {}
    for name, c in (("codebook", cfg), ("pooled", replace(cfg, codebook=CodebookConfig(clusters=0))),
                    ("before", BEFORE)):
        t0 = time.perf_counter()
        probs[name] = fit_probe(ids, lambda c=c: collection_features(coll, ids, c), y, genres, c).probs
        seconds[name] = round(time.perf_counter() - t0, 1)
    wrong = wrong_labels(y, probs["codebook"], cfg.prior_share)
    pooled = wrong_labels(y, probs["pooled"], cfg.prior_share)
    quality, _ = cleanlab_scores(y, probs["codebook"])
    old_quality, old_flagged = cleanlab_scores(y, probs["before"])
    rng = np.random.default_rng(seed)
    rankings = {
        "command": (wrong.ravel(), wrong.ravel() >= cfg.min_wrong),
        "pooled+posterior": (pooled.ravel(), pooled.ravel() >= cfg.min_wrong),
        "codebook+cleanlab": (-quality.ravel(), None),
        "before": (-old_quality.ravel(), (old_flagged & (old_quality < BEFORE_MAX_QUALITY)).ravel()),
        "random": (rng.random(len(cells)), None),
    }
    for name, (score, cut) in rankings.items():
        out[name] = {"ranked": read_top(ranked(cells, score), planted)}
        if cut is not None:
            out[name]["reported"] = read_top(ranked(cells, score, cut), planted)
    out["cuts"] = {str(c): {"listed": int((wrong >= c).sum()),
                            "flips": sum(cells[i] in planted for i in np.flatnonzero(wrong.ravel() >= c))} for c in CUTS}
    out["wrong_share"] = round(len(planted) / y.sum(), 4)
    out["seconds"] = seconds
    return out


def summarise(rows: list[dict]) -> dict:
    """Per ranking and view: mean ± sd over seeds of hits@TOP, precision@TOP, recall@RECALL_AT."""
    out = {}
    for name in ("command", "pooled+posterior", "codebook+cleanlab", "before", "random"):
        for view in ("ranked", "reported"):
            if view not in rows[0][name]:
                continue
            vals = {k: [r[name][view][k] for r in rows] for k in rows[0][name][view]}
            out[f"{name} ({view})"] = {k: f"{statistics.mean(v):.2f} ± {statistics.pstdev(v):.2f}" for k, v in vals.items()}
    for c in CUTS:
        listed, flips = [r["cuts"][str(c)]["listed"] for r in rows], [r["cuts"][str(c)]["flips"] for r in rows]
        out[f"command, posterior ≥ {c}"] = {"listed": statistics.mean(listed), "flips": statistics.mean(flips),
                                             "precision": round(sum(flips) / max(1, sum(listed)), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="300,600,2000", help="generated trailers (before the copies)")
    p.add_argument("--flips", default="10,0.05,0.05", help="flipped labels per size: a share (< 1) or a count")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--work", default="/tmp/mmx-bench-labels")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",")]
    flips = [float(v) for v in args.flips.split(",")]
    if len(flips) != len(sizes):
        raise SystemExit(f"--flips needs one value per size ({len(sizes)}), not {args.flips}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result = {"machine": {"cpus": os.cpu_count(), "load_at_start": load(1)}, "cells": {}}
    for n, f in zip(sizes, flips):
        rows = []
        for seed in range(args.seeds):
            row = score_collection(n, seed, f, work)
            print(json.dumps({"n": n, "flips": f, "seed": seed, **row}), flush=True)
            rows.append(row)
        result["cells"][f"{n} trailers, {f:g} flipped"] = {"seeds": rows, "summary": summarise(rows)}
        print(json.dumps(result["cells"][f"{n} trailers, {f:g} flipped"]["summary"], indent=1), flush=True)
    result["machine"]["load_at_end"] = load(1)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print_result(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
