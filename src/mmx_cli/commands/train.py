"""``mmx train --store STORE --out RUN``: coarse genre training (BCE, §3.2) with resume."""

from __future__ import annotations

import argparse

from mmx_cli.common import add_config_args, add_progress_args, reporter, resolve_config


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
    from mmx.run import RunDir
    from mmx.train.coarse import CoarseSpec
    from mmx.train.loop import run_stage

    cfg = None  # resuming: the run's own settings, with --epochs when given
    if not (args.resume and RunDir(args.out).exists()):
        flags = {
            "train": {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None},
            "model": {"fusion": args.fusion} if args.fusion else {},
            "data": {"experts": args.experts} if args.experts else {},
        }
        cfg = resolve_config(args, flags)
    spec = CoarseSpec(args.out, cfg, args.resume, epochs=args.epochs, store=args.store)
    done = run_stage(spec, reporter(args))
    if not done.main:  # under torchrun only the main process reports
        return 0
    state = done.state
    print(
        f"done: {state.epoch} epoch(s), best epoch {state.best_epoch} "
        f"(validation {done.cfg.train.select_metric} {state.best_score:.4f}) → {args.out}"
    )
    return 0
