"""``mmx report --run RUN [--ablation DIR] [--fine FINE] --out DIR``: the paper's tables and figures as one page."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the paper's tables and figures for a run as one HTML page (+ CSV/JSON tables, PNG figures)",
        description="Tbl. 2, 4, 5 and Fig. 1, 4, 5, 6, 8, 9 for RUN, beside the paper's numbers. A section "
        "whose inputs are missing says which command makes them. Needs the `report` extra (matplotlib).",
    )
    p.add_argument("--run", required=True, help="coarse run folder (mmx train)")
    p.add_argument("--ablation", metavar="DIR", help="folder of `mmx ablate` (Tbl. 2 rows, Tbl. 5, Fig. 9)")
    p.add_argument("--fine", metavar="FINE", help="fine-tuned run of RUN (`mmx finetune`; Fig. 1, 5, 6)")
    p.add_argument("--out", required=True, help="output folder (report.html, figures/, tables/)")
    p.add_argument("--split", default="test", help="split of the evaluation and examples (default: test)")
    p.add_argument("--seed", type=int, default=0, help="seed of t-SNE and of the example trailers (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx_report.render import build_report

    t0 = time.time()
    page = build_report(args.run, args.ablation, args.out, fine_run=args.fine, seed=args.seed, split=args.split,
                        log=lambda s: print(s, flush=True))
    print(f"report written in {time.time() - t0:.0f} s: {page}")
    return 0
