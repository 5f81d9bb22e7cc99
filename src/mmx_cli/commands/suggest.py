"""``mmx suggest --run RUN --out FILE.csv``: labels to add or drop for a whole collection (Tbl. 4)."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from mmx_cli.common import table

COLUMNS = ["trailer_id", "title", "action", "genre", "probability", "confidence", "given", "predicted"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suggest",
        help="write the label changes the model suggests for every trailer (CSV for curators)",
        description="For every trailer of the split, the genres the model would add (probability ≥ threshold, "
        "not given) or drop (given, probability < threshold), one row per change, most confident first: "
        "an addition is as confident as its probability p, a drop as 1 − p.",
    )
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--split", default="all", help="train, val, test or all (default: all)")
    p.add_argument("--threshold", type=float, help="sigmoid threshold (default: the run's, 0.3)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="CSV file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.durable import atomic_write
    from mmx.inference import label_suggestions, model_run, ranked_label_changes

    run = model_run(args.run)
    ids = run.split_ids(args.split)
    rows = ranked_label_changes(label_suggestions(run, ids, args.threshold))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(Path(args.out), buf.getvalue())
    n_add = sum(r["action"] == "add" for r in rows)
    touched = len({r["trailer_id"] for r in rows})
    print(f"{len(ids)} trailers: {n_add} label(s) to add, {len(rows) - n_add} to drop, "
          f"on {touched} trailer(s) → {args.out}")
    if rows:
        print("most confident:")
        top = [[r["trailer_id"], r["action"], r["genre"], r["probability"]] for r in rows[:10]]
        print(table(["trailer_id", "action", "genre", "p"], top))
    return 0
