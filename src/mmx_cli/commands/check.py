"""``mmx check STORE|RUN [--json] [--only duplicates,leaks,experts,labels] [--network-folds K]``: the collection's
health report; with ``--network-folds`` the label check scores a run's K-fold cross-fitted network, not the probe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mmx_cli.common import add_progress_args, print_json, reporter

if TYPE_CHECKING:
    from mmx.health import Collection
    from mmx.health.label_issues import OutOfFold

CHECK_NAMES = "duplicates,leaks,experts,labels"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="find duplicates, split leaks, broken experts and label issues")
    p.add_argument("path", help="a store folder or a run folder (a run of imported embeddings: duplicates by cosine)")
    p.add_argument("--only", default=CHECK_NAMES, help=f"comma-separated checks to run (default: {CHECK_NAMES})")
    p.add_argument("--limit", type=int, default=20, help="findings printed per check (default 20; --json has all)")
    p.add_argument("--json", action="store_true", help="print one JSON object with every finding")
    p.add_argument("--network-folds", type=int, default=0, metavar="K",
                   help="label check on out-of-fold probabilities of the RUN's own network: trains K copies (K ≥ 2), "
                        "each without one fold (default: off, the tuned linear probe)")
    p.add_argument("--network-epochs", type=int, default=None, metavar="N",
                   help="cap each cross-fitted network's epochs (default: the run's)")
    p.add_argument("--network-dir", default=None, metavar="DIR",
                   help="folder for the K temporary fold runs, removed afterwards (default: the system's temp folder)")
    add_progress_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.health import open_collection
    from mmx.health.report import check, finding_line, summary_lines

    only = [c.strip() for c in args.only.split(",") if c.strip()]
    coll = open_collection(args.path)
    report = check(coll, only, label_probs=network_probs(args, coll, only))
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{report.source}: {report.n_trailers} trailers checked ({', '.join(report.checks)})")
        for line in summary_lines(report):
            print("  " + line)
        for c in report.checks:
            mine = [f for f in report.findings if f.check == c]
            for f in mine[:args.limit]:
                print(finding_line(f))
            if len(mine) > args.limit:
                print(f"… {len(mine) - args.limit} more {c} finding(s) (--limit, or --json for all)")
    return 1 if any(f.severity == "error" for f in report.findings) else 0


def network_probs(args: argparse.Namespace, coll: Collection, only: list[str]) -> OutOfFold | None:
    """The run's cross-fitted network probabilities for the label check (None: --network-folds not given)."""
    if not args.network_folds:
        return None
    from mmx.errors import MmxError
    from mmx.health.label_issues import labelled_ids
    from mmx.run import ModelRun, Run
    from mmx.train.crossfit import CrossfitConfig, network_out_of_fold

    if "labels" not in only:
        raise MmxError("--network-folds feeds the label check; add labels to --only")
    if (Path(args.path) / "manifest.json").exists():
        raise MmxError(f"--network-folds: {args.path} is a feature store; give a trained RUN folder (its network is "
                       "what is cross-fitted), or drop --network-folds")
    run = Run.open(args.path)
    if not isinstance(run, ModelRun):
        raise MmxError(f"--network-folds: {args.path} is a run of imported embeddings, without a network to cross-fit; "
                       "drop --network-folds (the label check then cross-fits the probe on its vectors)")
    cfg = CrossfitConfig(folds=args.network_folds, epochs=args.network_epochs)
    return network_out_of_fold(run, labelled_ids(coll), cfg, args.network_dir, reporter(args))
