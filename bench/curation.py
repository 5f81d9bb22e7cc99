"""The curation loop, measured: how much of what dirty labels cost does a curator's review of the top findings win back?

SYNTHETIC DATA. Per seed, a generated collection of ``--n`` trailers (the knobs of ``bench/health.py``) is made
dirty as there: 20 trailers copied and trimmed (the copies keep their labels), ``--flips`` of the genre labels
flipped (half a genre added, half removed); ``--test-extra`` more trailers from the same generator, with their
true labels, never copied nor flipped, are the test set every network is scored on. Then, as a curator would:

1. ``dirty`` — train on the dirty store (``mmx train``);
2. ``mmx check`` on that run: its label findings (most likely wrong first) and its duplicate pairs;
3. a simulated curator reviews the top K label findings (``--ks``), each a decision in the run's review journal
   (``mmx.review.ReviewJournal``, the explorer's): *accept* when the label is truly wrong (the flip is undone),
   *reject* when it is right; and removes one trailer of every flagged duplicate pair (the one with fewer clips);
4. ``K=…`` — train again on the store without those duplicates, with the run's decisions up to K
   (``mmx train --reviews``: the store's files are not rewritten);
5. ``clean`` — train on the true labels without the planted copies (what a perfect curator reaches).

Each run's test AUPRC_w on the extra trailers, the share of the dirty → clean gap each K closes
((K − dirty) / (clean − dirty), from the means over seeds), the flips each K fixed and the curator's minutes at
``--seconds`` a decision (label decisions and duplicate pairs). Networks: ``--model`` preset for ``--epochs``
epochs, one torch thread each, ``--jobs`` at a time (2 shared cores: a small budget, stated in the JSON); the
tuned linear probe fitted on each run's training labels is scored beside them (seconds).

    python bench/curation.py [--n 600] [--flips 0.05] [--seeds 5] [--ks 10,30,100] [--model default]
                             [--epochs 15] [--test-extra 400] [--jobs 2] [--work DIR]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from _common import load, print_result  # noqa: E402  (bench/ is the script folder)
from health import read_rows  # noqa: E402  (bench/ is the script folder)

from mmx.config import RunConfig, config_from_dict, config_to_dict, merge
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.health import run_collection
from mmx.health.report import check
from mmx.metrics import classification_metrics
from mmx.presets import MODELS
from mmx.probe import ProbeConfig, linear_probe, pooled_features, tune_probe
from mmx.review import ReviewedLabels, ReviewJournal, reviewed_labels
from mmx.run import Run
from mmx.synthetic.faults import flip_labels, is_copy, plant_copies
from mmx.synthetic.features import SyntheticConfig, generate

CURATOR = "bench-curator"


def dirty_collection(root: Path, n: int, seed: int, flips: float, test_extra: int) -> tuple[FeatureStore, dict]:
    """The dirty store of one seed (made once, then reused) and what was planted: ``true`` genres of every trailer,
    the ``flips`` (trailer, genre), the planted ``copies`` and the clean ``test`` trailers."""
    truth_file = root / "truth.json"
    if truth_file.exists():
        return FeatureStore(root / "store"), json.loads(truth_file.read_text())
    shutil.rmtree(root, ignore_errors=True)
    cfg = SyntheticConfig(n_trailers=n + test_extra, seed=seed, dropped_label_fraction=0.0, neutral_fraction=1 / 3,
                          modes=2, render="relu", trailer_tint=0.25)
    folder = generate(root / "features", cfg)
    rows = read_rows(folder)
    collection, test = rows[:n], rows[n:]
    for r in test:
        r["split"] = "test"
    rng = np.random.default_rng(seed)
    copies = plant_copies(folder, collection, 20, rng)  # appends the copies to ``collection``
    true = {r["trailer_id"]: r["genres"].split("|") for r in collection + test}
    flipped = flip_labels(collection, flips, rng)
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(collection[0]) + ["split"])
        writer.writeheader()
        writer.writerows(collection + test)
    store = FeatureStore.create(root / "store")
    import_folder(folder, store)
    truth = {"true": true, "flips": sorted(flipped), "test": [r["trailer_id"] for r in test],
             "copies": sorted({t for pair in copies for t in pair if is_copy(t)})}
    truth_file.write_text(json.dumps(truth))
    return store, truth


def linked(store: FeatureStore, out: Path, keep: list[str], genres: dict[str, list[str]] | None = None) -> FeatureStore:
    """``keep`` of ``store`` as hard links in a new store at ``out`` (with ``genres`` when given)."""
    shutil.rmtree(out, ignore_errors=True)
    target = FeatureStore.create(out)
    for t in keep:
        target.link_entry(store, t, **({"genres": genres[t]} if genres else {}))
    return target


def fit(store_root: str, reviews: dict | None, run_root: str, cfg_dict: dict, test: list[str]) -> dict:
    """Train one run (one torch thread; with reviewed labels when given) and score it on ``test``."""
    import torch

    from mmx.inference import predict_ids
    from mmx.train.coarse import train

    torch.set_num_threads(1)
    shutil.rmtree(run_root, ignore_errors=True)
    t0 = time.time()
    train(FeatureStore(store_root), run_root, config_from_dict(cfg_dict), write_embeddings=False,
          reviews=ReviewedLabels(**reviews) if reviews else None)
    run = Run.open(run_root)
    probs, labels = predict_ids(run, test)
    return {"auprc_w": classification_metrics(labels, probs, run.info.genres)["auprc_weighted"],
            "seconds": round(time.time() - t0, 1), "probe": probe_score(run, test)}


def probe_score(run, test: list[str]) -> float:
    """Test AUPRC_w of the tuned linear probe fitted on the run's training labels (as ``mmx evaluate`` tunes it)."""
    store, info = run.store, run.info
    ids = {s: info.splits[s] for s in ("train", "val")} | {"test": test}
    x = {s: pooled_features(store, v, list(info.experts)) for s, v in ids.items()}
    y = {s: np.array([[g in store.meta(t).genres for g in info.genres] for t in v], dtype=int) for s, v in ids.items()}
    setting, _ = tune_probe(x["train"], y["train"], x["val"], y["val"], info.genres, ProbeConfig())
    probs = linear_probe(x["train"], y["train"], x["test"], setting=setting)
    return classification_metrics(y["test"], probs, info.genres)["auprc_weighted"]


def curate(run_root: Path, truth: dict, ks: list[int]) -> tuple[dict[int, dict], list[str], dict]:
    """The simulated curator on ``mmx check``'s findings of the dirty run: per K the reviewed labels after the top K
    label decisions, the trailers removed as duplicates, and what the review found."""
    coll = run_collection(Run.open(run_root))
    coll.ids = [t for t in coll.ids if t not in set(truth["test"])]  # the curated collection: not the extra test set
    report = check(coll, ["duplicates", "labels"])
    issues = [f for f in report.findings if f.kind == "label to review"]
    pairs = [f.trailers for f in report.findings if f.check == "duplicates"]
    run = Run.open(run_root)
    store = run.store
    removed = sorted({max(p, key=lambda t: (-store.meta(t).n_clips, t)) for p in pairs})  # fewer clips, later id
    journal = ReviewJournal(run_root)
    flips = {tuple(x) for x in truth["flips"]}
    vocabulary = sorted({g for gs in truth["true"].values() for g in gs})
    out, done, fixed = {}, 0, 0
    for k in sorted(ks):
        for f in issues[done:k]:
            tid, genre = f.trailers[0], f.genre
            wrong = (tid, genre) in flips
            journal.decide(tid, genre, "accept" if wrong else "reject", store.meta(tid).genres, vocabulary, CURATOR)
            fixed += wrong
        done = min(k, len(issues))
        out[k] = {"reviews": vars(reviewed_labels(run)), "decisions": done, "fixed": fixed}
    copies = set(truth["copies"])
    found = {"label_findings": len(issues), "duplicate_pairs": len(pairs), "removed": len(removed),
             "removed_planted_copies": len(copies & set(removed))}
    return out, removed, found


def one_seed(args, seed: int, cfg: RunConfig, pool: ProcessPoolExecutor) -> dict:
    root = Path(args.work) / f"n{args.n}-f{args.flips:g}-t{args.test_extra}-s{seed}"
    store, truth = dirty_collection(root / "data", args.n, seed, args.flips, args.test_extra)
    cfg_dict = config_to_dict(cfg)
    test = truth["test"]
    everyone = sorted(store.entries())
    clean = linked(store, root / "clean-store", [t for t in everyone if t not in set(truth["copies"])], truth["true"])
    runs = root / "runs"
    jobs = {"dirty": pool.submit(fit, str(store.root), None, str(runs / "dirty"), cfg_dict, test),
            "clean": pool.submit(fit, str(clean.root), None, str(runs / "clean"), cfg_dict, test)}
    dirty = jobs["dirty"].result()  # the check reads the dirty run
    reviews, removed, found = curate(runs / "dirty", truth, args.ks)
    dedup = linked(store, root / "dedup-store", [t for t in everyone if t not in set(removed)])
    for k, r in reviews.items():
        jobs[f"K={k}"] = pool.submit(fit, str(dedup.root), r["reviews"], str(runs / f"k{k}"), cfg_dict, test)
    out = {"dirty": dirty, **{name: j.result() for name, j in jobs.items() if name != "dirty"}}
    for k, r in reviews.items():
        dup_decisions = found["duplicate_pairs"]
        out[f"K={k}"].update(decisions=r["decisions"], fixed=r["fixed"],
                             minutes=round((r["decisions"] + dup_decisions) * args.seconds / 60, 1))
    return {"seed": seed, "flips": len(truth["flips"]), "test_trailers": len(test), "check": found, "runs": out}


def summarise(rows: list[dict], ks: list[int]) -> dict:
    """Per run: mean ± sd over seeds of test AUPRC_w (network and probe) and of its difference from ``dirty`` on the
    same seed; per K the share of the dirty → clean gap it closes (from the means), fixes and minutes."""
    names = ["dirty", *[f"K={k}" for k in ks], "clean"]
    out: dict = {}
    for model, label in (("auprc_w", "network"), ("probe", "probe")):
        means = {n: statistics.mean(r["runs"][n][model] for r in rows) for n in names}
        gap = means["clean"] - means["dirty"]
        for n in names:
            vals = [r["runs"][n][model] for r in rows]
            diffs = [r["runs"][n][model] - r["runs"]["dirty"][model] for r in rows]
            row = out.setdefault(n, {})
            row[label] = f"{statistics.mean(vals):.4f} ± {statistics.pstdev(vals):.4f}"
            if n != "dirty":
                row[f"{label} − dirty"] = f"{statistics.mean(diffs):+.4f} ± {statistics.pstdev(diffs):.4f}"
            if n.startswith("K="):
                row[f"{label} gap closed"] = round((means[n] - means["dirty"]) / gap, 2) if gap else None
    for k in ks:
        for key in ("decisions", "fixed", "minutes"):
            out[f"K={k}"][key] = statistics.mean(r["runs"][f"K={k}"][key] for r in rows)
    out["seconds_per_fit"] = round(statistics.mean(r["runs"][n]["seconds"] for r in rows for n in names), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=600, help="generated trailers of the collection (before the copies)")
    p.add_argument("--flips", type=float, default=0.05, help="flipped labels: a share (< 1) or a count")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ks", default="10,30,100", help="label findings the curator reviews, from the top")
    p.add_argument("--model", default="default", help=f"network preset ({', '.join(MODELS.names())})")
    p.add_argument("--epochs", type=int, default=15, help="epochs of every network")
    p.add_argument("--test-extra", type=int, default=400, help="clean generated trailers every run is scored on")
    p.add_argument("--seconds", type=float, default=10.0, help="a curator's seconds per decision")
    p.add_argument("--jobs", type=int, default=2, help="networks trained at a time (one thread each)")
    p.add_argument("--work", default="/tmp/mmx-bench-curation")
    args = p.parse_args(argv)
    args.ks = [int(k) for k in args.ks.split(",")]
    cfg = merge(RunConfig(), {"model": vars(MODELS.create(args.model)), "train": {"epochs": args.epochs, "threads": 1}})
    t0, load_at_start = time.time(), load(1)
    rows = []
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        for seed in range(args.seeds):
            rows.append(one_seed(args, seed, cfg, pool))
            print(json.dumps(rows[-1]), flush=True)
    summary = summarise(rows, args.ks)
    print(json.dumps(summary, indent=1))
    budget = {"model": args.model, "epochs": args.epochs, "jobs": args.jobs, "cpus": os.cpu_count(),
              "load_at_start": load_at_start, "load_at_end": load(1),
              "minutes": round((time.time() - t0) / 60, 1)}
    print_result({"collection": {"trailers": args.n, "flips": args.flips, "test_extra": args.test_extra},
                  "budget": budget, "summary": summary, "seeds": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
