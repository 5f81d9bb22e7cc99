"""``mmx finetune --run COARSE_RUN --out RUN``: NT-Xent fine-tuning of the genre space (§3.3)."""

from __future__ import annotations

import argparse

from mmx.config import POSITIVE_PAIRS
from mmx_cli.commands.train import add_log_arg
from mmx_cli.common import add_progress_args, reporter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a coarse run with NT-Xent (fine-grained genre space)",
        description="Self-supervised fine-tuning (§3.3): the two halves of each trailer are a positive pair, "
        "NT-Xent through a projection head that is dropped at the end. The validation silhouette is logged "
        "every epoch; a checkpoint is written every epoch and --resume continues a killed run.",
    )
    p.add_argument("--run", help="the coarse run to start from (not needed with --resume)")
    p.add_argument("--out", required=True, help="fine run folder to create (or to resume)")
    p.add_argument("--epochs", type=int, help="number of epochs (default 50)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--pairs", choices=POSITIVE_PAIRS, help="positive-pair rule (default: halves)")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON file of fine-tuning settings (FinetuneConfig fields)")
    p.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=[],
        help="override one fine-tuning setting, e.g. --set lr=3e-4 (repeatable)",
    )
    add_log_arg(p)
    p.add_argument("--resume", action="store_true", help="continue the fine run in --out")
    add_progress_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.distributed import launched_as_main
    from mmx.train.fit import finetune

    settings = {"positive_pair": args.pairs} if args.pairs else {}
    done = finetune(args.run, args.out, config=args.config, overrides=args.set, settings=settings, epochs=args.epochs,
                    seed=args.seed, log=args.log, resume=args.resume, progress=reporter(args))
    if not launched_as_main():  # under torchrun only the main process reports
        return 0
    first, last = done.state.history[0], done.state.history[-1]
    print(
        f"done: {done.state.epoch} epoch(s); val silhouette {first['val_silhouette']:.4f} (coarse) → "
        f"{last['val_silhouette']:.4f}; projection head dropped → {args.out}"
    )
    return 0
