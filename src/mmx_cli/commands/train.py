"""``mmx train --store STORE --out RUN``: coarse genre training (BCE, §3.2) with resume."""

from __future__ import annotations

import argparse

from mmx.config import merge
from mmx.data.store import FeatureStore
from mmx.errors import RunError
from mmx.train.coarse import train
from mmx.train.distributed import init_distributed
from mmx.train.run import RunDir
from mmx_cli.common import add_config_args, resolve_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the coarse genre model",
        description="Train the collaborative-gating genre model on a feature store. A checkpoint is "
        "written every epoch; --resume continues a killed run and ends where an uninterrupted one would.",
    )
    p.add_argument("--store", help="feature store (not needed with --resume)")
    p.add_argument("--out", required=True, help="run folder to create (or to resume)")
    p.add_argument("--epochs", type=int, help="number of epochs (config train.epochs)")
    p.add_argument("--seed", type=int, help="random seed (config train.seed)")
    p.add_argument("--fusion", choices=["cg", "concat"], help="cg = collaborative gating, concat = Naive Concat")
    p.add_argument("--experts", help="comma-separated subset of the store's experts")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rd = RunDir(args.out)
    if args.resume and rd.exists():
        cfg = rd.config()
        if args.epochs is not None:
            cfg = merge(cfg, {"train": {"epochs": args.epochs}})
        store_path = args.store or rd.info().store
    else:
        if not args.store:
            raise RunError("--store is required to start a new run")
        cfg = resolve_config(args)
        flags = {
            "train": {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None},
            "model": {"fusion": args.fusion} if args.fusion else {},
            "data": {"experts": args.experts} if args.experts else {},
        }
        cfg = merge(cfg, flags)
        store_path = args.store
    dist = init_distributed()
    state = train(FeatureStore(store_path), args.out, cfg, resume=args.resume, progress=not args.quiet, dist=dist)
    if not dist.is_main:  # under torchrun only the main process reports
        return 0
    print(
        f"done: {state['epoch']} epoch(s), best epoch {state['best_epoch']} "
        f"(validation {cfg.train.select_metric} {state['best_score']:.4f}) → {args.out}"
    )
    return 0
