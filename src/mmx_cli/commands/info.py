"""``mmx info STORE|RUN [--json]``: what a feature store or a run holds."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from mmx_cli.common import print_json, table

if TYPE_CHECKING:
    from mmx.config import RunConfig
    from mmx.data.store import FeatureStore
    from mmx.run import Run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a feature store or a run")
    p.add_argument("path", help="a store folder or a run folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def store_summary(store: "FeatureStore", cfg: "RunConfig") -> dict:
    import numpy as np

    from mmx.data.splits import split_entries

    entries = store.entries()
    split = split_entries(entries, cfg.data.split_seed, cfg.data.split_fractions, cfg.data.min_clips)
    clips = np.array([m.n_clips for m in entries.values()]) if entries else np.zeros(0)
    missing = Counter(e for m in entries.values() for e in store.experts if e not in m.experts)
    return {
        "kind": "store",
        "path": str(store.root),
        "n_trailers": len(entries),
        "experts": {n: {"dim": e.dim, "level": e.level, "source": e.source, "missing_in": missing.get(n, 0)}
                    for n, e in sorted(store.experts.items())},
        "genres": dict(sorted(Counter(g for m in entries.values() for g in m.genres).items())),
        "splits": split.counts(),
        "excluded": {"too_short": len(split.too_short), "no_genre": len(split.no_genre)},
        "min_clips": cfg.data.min_clips,
        "clips": {
            "total": int(clips.sum()),
            "min": int(clips.min()) if len(clips) else 0,
            "median": float(np.median(clips)) if len(clips) else 0,
            "max": int(clips.max()) if len(clips) else 0,
        },
        "bytes": store.nbytes(),
    }


def run_summary(run: "Run") -> dict:
    from mmx.derived import stale_files
    from mmx.review import ReviewedLabels, decisions_since, reviewed_count
    from mmx.run import ModelRun

    info = run.info
    out = {
        "kind": info.kind,
        "path": str(run.root),
        "store": info.store,
        "n_trailers": sum(len(v) for v in info.splits.values()),
        "experts": {n: {"dim": e["dim"], "level": e["level"]} for n, e in info.experts.items()},
        "genres": {g: 0 for g in info.genres},
        "splits": {s: len(v) for s, v in info.splits.items()},
        "excluded": {k: len(v) for k, v in info.excluded.items()},
        "reviewed": reviewed_count(run.root),  # trailers with a label decision in the explorer (RUN/reviews.jsonl)
        "trained_with_reviews": ReviewedLabels(**info.reviews).summary() if info.reviews else None,
        "since_training": decisions_since(run),  # label decisions the network has not seen, and how to retrain
        "stale": stale_files(run),  # derived files that are out of date, each with the command that refreshes it
    }
    if not isinstance(run, ModelRun):
        emb = run.embeddings()
        counts = Counter(g for gs in emb.genres for g in gs)
        out["genres"] = {g: counts.get(g, 0) for g in info.genres}
        out["dim"] = emb.dim
        return out
    if info.store and Path(info.store).exists():
        store = run.store
        counts = Counter(g for ids in info.splits.values() for t in ids if t in store for g in store.meta(t).genres)
        out["genres"] = {g: counts.get(g, 0) for g in info.genres}
    cfg = run.config
    out["config"] = {"fusion": cfg.model.fusion, "epochs": cfg.train.epochs, "lr": cfg.train.lr,
                     "batch_size": cfg.train.batch_size, "seed": cfg.train.seed, "precision": cfg.train.precision}
    out["precision"] = info.precision  # what training computed in (train.precision resolved where it trained)
    state = run.state
    if state:
        out.update(epoch=state.epoch, best_epoch=state.best_epoch, best_score=state.best_score,
                   finished=state.finished)
    out["bytes"] = run.dir.nbytes()
    return out


def run(args: argparse.Namespace) -> int:
    from mmx.config import RunConfig
    from mmx.data.store import FeatureStore
    from mmx.errors import StoreError
    from mmx.run import Run

    path = Path(args.path)
    if (path / "run.json").exists():
        summary = run_summary(Run.open(path))
    elif (path / "manifest.json").exists():
        summary = store_summary(FeatureStore(path), RunConfig())
    else:
        raise StoreError(f"{path} is neither a feature store (manifest.json) nor a run (run.json)")
    if args.json:
        print_json(summary)
        return 0
    print(f"{summary['kind']}: {summary['path']}  ({summary['n_trailers']} trailers)")
    if summary.get("store") and summary["kind"] != "store":
        print(f"store: {summary['store']}")
    print(table(["expert", "dim", "level"], [[n, e["dim"], e["level"]] for n, e in summary["experts"].items()]))
    print("splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items())
          + "; excluded: " + ", ".join(f"{k} {v}" for k, v in summary["excluded"].items()))
    print("genres: " + ", ".join(f"{g} {n}" for g, n in summary["genres"].items()))
    for why in summary.get("stale", []):
        print(f"stale: {why}")
    if summary.get("reviewed"):
        print(f"reviewed: {summary['reviewed']} trailer(s) have label decisions (`mmx labels export` writes them)")
    if summary.get("trained_with_reviews"):
        from mmx.review import ReviewedLabels

        print(ReviewedLabels(**summary["trained_with_reviews"], labels={}).line())
    since = summary.get("since_training")
    if since and since["decisions"]:
        print(f"{since['decisions']} label decision(s) since this run trained — retrain with `{since['retrain']}`")
    if "clips" in summary:
        c = summary["clips"]
        print(f"clips: {c['total']} (per trailer min {c['min']}, median {c['median']:g}, max {c['max']}); "
              f"{summary['bytes'] / 2**20:.1f} MiB of features")
    if "epoch" in summary:
        trained_in = f" in {summary['precision']}" if summary.get("precision") else ""
        print(f"trained {summary['epoch']} epoch(s){trained_in}; best epoch {summary['best_epoch']} "
              f"(validation {summary['best_score']:.4f}); the run folder weighs {summary['bytes'] / 2**20:.1f} MiB")
    return 0
