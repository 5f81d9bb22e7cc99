"""``mmx train --store STORE --out RUN``: coarse genre training (BCE, §3.2) with resume."""

from __future__ import annotations

import argparse

from mmx_cli.common import add_config_args, add_progress_args, reporter, resolve_config, set_threads


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
    add_progress_args(p)
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.config import merge
    from mmx.data.store import FeatureStore
    from mmx.distributed import close_distributed, init_distributed
    from mmx.errors import RunError
    from mmx.run import RunDir
    from mmx.train.coarse import train

    folder = RunDir(args.out)
    if args.resume and folder.exists():
        cfg = folder.read_config()
        if args.epochs is not None:
            cfg = merge(cfg, {"train": {"epochs": args.epochs}})
        store_path = args.store or folder.read_info().store
    else:
        if not args.store:
            raise RunError("--store is required to start a new run")
        flags = {
            "train": {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None},
            "model": {"fusion": args.fusion} if args.fusion else {},
            "data": {"experts": args.experts} if args.experts else {},
        }
        cfg = resolve_config(args, flags)
        store_path = args.store
    set_threads(cfg.train.threads)
    dist = init_distributed()
    ok = False
    try:
        state = train(FeatureStore(store_path), args.out, cfg, resume=args.resume, reporter=reporter(args), dist=dist)
        ok = True
    finally:
        close_distributed(ok)
    if not dist.is_main:  # under torchrun only the main process reports
        return 0
    print(
        f"done: {state.epoch} epoch(s), best epoch {state.best_epoch} "
        f"(validation {cfg.train.select_metric} {state.best_score:.4f}) → {args.out}"
    )
    return 0
