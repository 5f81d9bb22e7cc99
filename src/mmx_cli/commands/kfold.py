"""``mmx kfold --store STORE --out DIR``: an anchor's k-fold protocol (Trailers12k: 3 folds), mean ± sd."""

from __future__ import annotations

import argparse

from mmx_cli.common import add_config_args, add_progress_args, print_json, reporter, resolve_config, set_threads, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kfold",
        help="train and score every fold of a release (Trailers12k's split0..2), mean ± sd over folds",
        description="For each fold recorded at import (Trailers12k: columns split0..2), train a run on that "
        "fold's train/val split (a store of hard links in OUT/fold<k>/store, run in OUT/fold<k>/run) and "
        "score its test split with the anchor's metrics (--protocol). Interrupted: run it again, it continues.",
    )
    p.add_argument("--store", required=True, help="a store imported from a release with folds")
    p.add_argument("--out", required=True, help="folder for the fold stores, runs and kfold.json")
    p.add_argument("--folds", help="comma-separated folds to run (default: all)")
    p.add_argument("--protocol", default="trailers12k", choices=["trailers12k", "movienet"], help="metrics (default trailers12k)")
    p.add_argument("--epochs", type=int, help="number of epochs per fold (config train.epochs)")
    p.add_argument("--experts", help="comma-separated subset of the store's experts")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_progress_args(p)
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.data.store import FeatureStore
    from mmx.metrics import PROTOCOL_KEYS
    from mmx.train.kfold import run_kfold

    flags = {"train": {"epochs": args.epochs} if args.epochs else {},
             "data": {"experts": args.experts} if args.experts else {}}
    cfg = resolve_config(args, flags)
    set_threads(cfg.train.threads)
    folds = [int(k) for k in args.folds.split(",")] if args.folds else None
    summary = run_kfold(FeatureStore(args.store), args.out, cfg, args.protocol, folds, reporter(args))
    if args.json:
        print_json(summary)
        return 0
    keys = PROTOCOL_KEYS[args.protocol]
    rows = [[f"fold {r['fold']}"] + [r[k] for k in keys] + [r["seconds"]] for r in summary["folds"]]
    rows.append(["mean ± sd"] + [f"{summary['mean'][k]:.2f} ± {summary['sd'][k]:.2f}" for k in keys] + [""])
    print(f"{args.protocol} protocol, test split of each fold (×100)")
    print(table(["fold"] + keys + ["seconds"], rows))
    return 0
