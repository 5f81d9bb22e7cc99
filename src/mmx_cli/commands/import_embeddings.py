"""``mmx import-embeddings EMB.npz --labels META.csv --out RUN``: a run from trailer-level vectors."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-embeddings",
        help="make a searchable run from trailer embeddings and their metadata",
        description="EMB.npz holds trailer_id (N,) and embedding (N, D); META.csv has trailer_id, genres "
        "(|-separated) and optional title, year. Rows with no metadata, duplicate ids, NaN/inf values or "
        "all-zero vectors are reported and left out; the rest make a run of kind 'embeddings' usable by "
        "search, evaluate --retrieval and info.",
    )
    p.add_argument("npz", metavar="EMB.npz", help="embeddings file")
    p.add_argument("--labels", required=True, metavar="META.csv", help="metadata csv")
    p.add_argument("--out", required=True, help="run folder to create")
    p.add_argument("--pictures", metavar="DIR", help="a folder with a picture of each trailer, <trailer_id>.jpg "
                   "(or .jpeg, .png, .webp): the explorer's map shows them (needs Pillow, the extract extra)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.data.labels_csv import placeholder_note
    from mmx.embeddings import import_embeddings

    report = import_embeddings(args.npz, args.labels, args.out)
    for p in report.problems:
        print(f"problem: {p.where}: {p.reason}")
    note = placeholder_note(report.placeholders)
    if note:
        print(f"note: {Path(args.labels).name}: {note}")
    print(f"imported {len(report.kept)} trailer embeddings ({len(report.problems)} problem(s)) → {args.out}")
    if args.pictures:
        from mmx.atlas import import_pictures
        from mmx.run import Run

        kept, problems = import_pictures(Run.open(args.out), args.pictures)
        for why in problems[:20]:
            print(f"problem: {why}")
        more = f" ({len(problems) - 20} more problems not shown)" if len(problems) > 20 else ""
        print(f"imported {kept} picture(s) from {args.pictures}{more}")
    return 0
