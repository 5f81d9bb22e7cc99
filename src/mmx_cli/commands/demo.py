"""``mmx demo``: synthetic collection → import → train → evaluate → label suggestions.

Needs no download and nothing outside the package: the features are generated (SYNTHETIC, with
MovieNet's real genre co-occurrence), so the numbers show that the pipeline works, not how well
the paper's model does on real trailers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmx.config import merge
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.demo.synthetic import SyntheticConfig, generate
from mmx.inference import evaluate_run, label_suggestions
from mmx.train.coarse import train
from mmx.train.run import RunDir
from mmx_cli.commands.evaluate import print_tables
from mmx_cli.common import add_config_args, resolve_config

BANNER = (
    "mmx demo — SYNTHETIC DATA: per-clip features generated on this machine with real genre "
    "co-occurrence (MovieNet); the metrics below show the pipeline working, not the paper's results."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on a generated (synthetic) collection")
    p.add_argument("--out", default="mmx-demo", help="working folder (default: ./mmx-demo)")
    p.add_argument("--trailers", type=int, default=300, help="size of the synthetic collection")
    p.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.time()
    print(BANNER)
    out = Path(args.out)
    features = generate(out / "features", SyntheticConfig(n_trailers=args.trailers))
    print(f"[1/4] generated {args.trailers} synthetic trailers in {features}")
    store = FeatureStore.create(out / "store")
    report = import_folder(features, store)
    print(f"[2/4] imported {len(report.imported)} (unchanged {len(report.unchanged)}) → {store.root}")
    for p in report.problems:
        print(f"      problem: {p.where}: {p.reason}")
    cfg = merge(resolve_config(args), {"train": {"epochs": args.epochs}})
    run_dir = out / "run"
    print(f"[3/4] training the collaborative-gating model for {cfg.train.epochs} epochs → {run_dir}")
    train(store, run_dir, cfg, resume=RunDir(run_dir).exists(), progress=not args.quiet)
    print("[4/4] test split: model vs linear probe vs random scores")
    result = evaluate_run(RunDir(run_dir), "test")
    print_tables(result)
    print("\nlabel suggestions (Tbl. 4) for three test trailers:")
    for r in label_suggestions(RunDir(run_dir), RunDir(run_dir).info().splits["test"][:3]):
        print(f"  {r['trailer_id']}: given {', '.join(r['genres'])}; predicted {', '.join(r['predicted']) or '-'}"
              f"; add {', '.join(r['added']) or '-'}; drop {', '.join(r['missing']) or '-'}")
    print(f"\ndemo finished in {time.time() - t0:.0f} s (SYNTHETIC DATA). Next: mmx info {run_dir}; "
          f"mmx evaluate --run {run_dir}; mmx predict --run {run_dir} <id>")
    return 0
