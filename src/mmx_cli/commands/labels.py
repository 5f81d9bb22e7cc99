"""``mmx labels export --run RUN --out labels.csv``: the labels reviewed in the explorer, in the import format."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "labels",
        help="the label review journal of a run (decisions made in `mmx serve`)",
        description="Curators accept or reject suggested labels and add or remove genres in the explorer; every "
        "decision is kept in RUN/reviews.jsonl.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = actions.add_parser(
        "export", help="write the reviewed labels as labels.csv in the import format",
        description="Every trailer of the run with its current labels (reviewed ones as decided, the rest as "
        "given), columns trailer_id, genres, title, year, split: `mmx import DIR` or `mmx extract --labels "
        "labels.csv` relabel a store with it, so the next training uses them.",
    )
    e.add_argument("--run", required=True, help="run folder (coarse, fine or imported embeddings)")
    e.add_argument("--out", required=True, metavar="FILE", help="labels.csv to write")
    e.add_argument("--only-reviewed", action="store_true", help="only the trailers with a decision")
    e.add_argument("--with-reviewer", action="store_true", help="add the columns reviewers (who decided on the "
                   "trailer) and conflicts (genres whose reviewers disagree; the latest decision wins)")
    e.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    from mmx.review import ReviewJournal, disputed, export_run_labels
    from mmx.run import Run

    run = Run.open(args.run)
    out = export_run_labels(run, args.out, args.only_reviewed, args.with_reviewer)
    print(f"{out['rows']} trailers ({out['reviewed']} reviewed, {out['changed']} with changed labels) → {out['path']}")
    if out["not_in_run"]:
        print(f"{len(out['not_in_run'])} reviewed trailer(s) are no longer in the run and were left out: "
              f"{', '.join(out['not_in_run'][:5])}")
    conflicts = disputed(ReviewJournal(run.root))
    if conflicts:
        print(f"{len(conflicts)} (trailer, genre) with disagreeing reviewers, the latest decision kept: "
              + ", ".join(f"{t} {g}" for t, g in conflicts[:5]) + (" (--with-reviewer lists them all)"
                                                                  if len(conflicts) > 5 else ""))
    return 0
