"""``mmx ablate --store STORE --out DIR``: train and evaluate the paper's variants (Tbl. 2, Tbl. 5)."""

from __future__ import annotations

import argparse
import time

from mmx.config import METRIC_KEYS
from mmx_cli.common import add_config_args, add_progress_args, reporter, resolve_config, set_threads, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ablate",
        help="train the paper's ablation variants (experts, fusion, sequence length) and tabulate them",
        description="Trains one coarse run per variant of Tbl. 2 (random, each expert, image pairs, naive "
        "concat, gating) and Tbl. 5 (sequence length 1, 5, 9, 20) into DIR/<variant>; variants already "
        "trained are not trained again. `mmx report --ablation DIR` puts them beside the paper's numbers.",
    )
    p.add_argument("--store", required=True, help="feature store")
    p.add_argument("--out", required=True, help="ablation folder (created, or continued)")
    p.add_argument("--epochs", type=int, help="training epochs per variant (default: the config's)")
    p.add_argument("--split", default="test", help="split the variants are evaluated on (default: test)")
    p.add_argument("--tables", default="tbl2,tbl5", help="which tables' variants: tbl2, tbl5 or both (default)")
    p.add_argument(
        "--expert", metavar="PAPER=STORE", action="append", default=[],
        help="store expert name for one of the paper's experts image/motion/scene/audio "
        "(default image=appearance, motion=motion, scene=scene, audio=audio; repeatable)",
    )
    p.add_argument("--keep-weights", action="store_true",
                   help="keep every variant's network (by default a variant keeps its scores and metrics only)")
    add_progress_args(p)
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.ablation import AblationConfig, parse_expert_names, run_ablation
    from mmx.data.store import FeatureStore
    from mmx.errors import TrainError
    from mmx.metrics import SHORT_NAMES

    t0 = time.time()
    cfg = resolve_config(args, {"train": {"epochs": args.epochs}} if args.epochs is not None else None)
    set_threads(cfg.train.threads)
    tables = [t for t in args.tables.split(",") if t]
    if not set(tables) <= {"tbl2", "tbl5"}:
        raise TrainError(f"--tables {args.tables!r}: use tbl2, tbl5 or tbl2,tbl5")
    acfg = AblationConfig(expert_names=parse_expert_names(args.expert), split=args.split, tables=tables,
                          keep_weights=args.keep_weights)
    out = run_ablation(FeatureStore(args.store), args.out, cfg, acfg, reporter(args))
    rows = [[row["label"]] + [out["results"][name][k] for k in METRIC_KEYS]
            for name, row in out["variants"].items() if name in out["results"]]
    print(f"\n{args.split} split, {cfg.train.epochs} epochs per variant")
    print(table(["variant"] + [SHORT_NAMES[k] for k in METRIC_KEYS], rows))
    print(f"\nablation finished in {time.time() - t0:.0f} s → {args.out}; next: mmx report --run RUN --ablation {args.out}")
    return 0
