"""``mmx check STORE|RUN [--json] [--only duplicates,leaks,experts,labels]``: the collection's health report."""

from __future__ import annotations

import argparse

from mmx_cli.common import print_json

CHECK_NAMES = "duplicates,leaks,experts,labels"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="find duplicates, split leaks, broken experts and label issues")
    p.add_argument("path", help="a store folder or a run folder (a run of imported embeddings: duplicates by cosine)")
    p.add_argument("--only", default=CHECK_NAMES, help=f"comma-separated checks to run (default: {CHECK_NAMES})")
    p.add_argument("--limit", type=int, default=20, help="findings printed per check (default 20; --json has all)")
    p.add_argument("--json", action="store_true", help="print one JSON object with every finding")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.health.report import check, finding_line, summary_lines

    report = check(args.path, [c.strip() for c in args.only.split(",") if c.strip()])
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
