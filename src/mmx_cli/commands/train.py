"""``mmx train --store STORE --out RUN [--reviews RUN0]``: coarse genre training (BCE, §3.2) with resume (``mmx.fit``),
on the store's labels or on those a run's review decisions give."""

from __future__ import annotations

import argparse

from mmx.config import TRACKING
from mmx_cli.common import add_config_args, add_progress_args, reporter


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
    add_log_arg(p)
    p.add_argument("--reviews", metavar="RUN",
                   help="train on the store's labels with RUN's review decisions applied (RUN/reviews.jsonl, the "
                        "explorer's); the store is not rewritten, the new run records which decisions it used; "
                        "--store defaults to RUN's")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_progress_args(p)
    add_config_args(p)
    p.set_defaults(func=run)


def add_log_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log", choices=TRACKING, help="experiment tracking of every epoch besides metrics.jsonl "
                   "(config train.log): tensorboard = event files in the run folder, mlflow = $MLFLOW_TRACKING_URI "
                   "or mlruns/ beside it (the `track` extra)")


def run(args: argparse.Namespace) -> int:
    from mmx.distributed import launched_as_main
    from mmx.train.fit import fit

    settings = {"model": {"fusion": args.fusion} if args.fusion else {},
                "data": {"experts": args.experts} if args.experts else {}}
    done = fit(args.store, args.out, model=args.model, config=args.config, overrides=args.set, settings=settings,
               epochs=args.epochs, seed=args.seed, log=args.log, resume=args.resume, reviews=args.reviews,
               progress=reporter(args))
    if not launched_as_main():  # under torchrun only the main process reports
        return 0
    state = done.state
    print(
        f"done: {state.epoch} epoch(s), best epoch {state.best_epoch} "
        f"(validation {done.config.train.select_metric} {state.best_score:.4f}) → {args.out}"
    )
    return 0
