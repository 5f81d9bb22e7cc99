"""``mmx predict --run RUN ID...``: genre probabilities and suggested label changes (Tbl. 4)."""

from __future__ import annotations

import argparse

from mmx.inference import label_suggestions
from mmx.train.run import RunDir
from mmx_cli.common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="genres of trailers, with labels to add or drop")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("ids", nargs="+", metavar="TRAILER_ID", help="trailer ids of the run's store")
    p.add_argument("--threshold", type=float, help="sigmoid threshold (default: the run's, 0.3)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = label_suggestions(RunDir(args.run), args.ids, args.threshold)
    if args.json:
        print_json(results)
        return 0
    for r in results:
        print(f"{r['trailer_id']}  {r['title']}")
        print(f"  given:     {', '.join(r['genres']) or '-'}")
        print(f"  predicted: {', '.join(r['predicted']) or '-'}")
        if r["added"] or r["missing"]:
            print(f"  suggest:   add {', '.join(r['added']) or '-'}; drop {', '.join(r['missing']) or '-'}")
        top = sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:8]
        print("  " + "  ".join(f"{g} {p:.2f}" for g, p in top))
    return 0
