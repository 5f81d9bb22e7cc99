"""``mmx add VIDEO... --run RUN``: new trailers join a trained run — the command-line twin of the explorer's ingest."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "add",
        help="add trailer videos to a trained run: extract, embed, and update its indexes, map and scenes",
        description="Extracts each video with the experts and settings the run's store was made with, writes it "
        "to the run's store, and brings the run's derived files up to date on disk (no retraining): the "
        "embeddings, the trailer indexes (`mmx index`), the map and the scene vectors (`mmx scenes`); for a fine "
        "run also those of the coarse run it started from. A file that was already out of date is left as it is "
        "and named with the command that refreshes it. Trailer ids are the file names without extension; "
        "a failed video is listed and the exit status is 1.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of them")
    p.add_argument("--run", required=True, help="run folder (coarse or fine)")
    p.add_argument("--labels", metavar="CSV", help="labels.csv in the import format (trailer_id = file name "
                   "without extension); videos without a row are added without genres")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.add import add_videos, exclusive, model_run
    from mmx.progress import Reporter

    opened = model_run(args.run)
    with exclusive(opened):
        report = add_videos(opened, args.videos, args.labels, Reporter.auto(args.quiet))
    for p in report.extract.warnings:
        print(f"mmx add: warning: {p.where}: {p.reason}", file=sys.stderr)
    for p in report.extract.failed:
        print(f"mmx add: failed: {p.where}: {p.reason}", file=sys.stderr)
    for line in report.updated:
        print(f"updated {line}")
    for line in report.stale:
        print(f"mmx add: stale: {line}", file=sys.stderr)
    print(f"added {len(report.added)} trailer(s) to {opened.root}")
    return 1 if report.extract.failed else 0
