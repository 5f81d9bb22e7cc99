"""``mmx import SOURCE --store STORE [--format auto|…]``: a feature release → feature store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_HELP = """formats (--format; auto detects the layout):
  mmx             labels.csv + one <trailer_id>.npz per trailer (docs/data.md: 'Import format')
  trailers12k     Trailers12k: <backbone>.zarr groups + trailers12k_mgtc.csv; --fold picks split0/1/2
  movienet        MovieNet features of Sulun et al.: features.pkl (+ splits.json beside it)
  video-features  v-iashin/video_features outputs <feature_type>[/<model>]/<stem>_<key>.npy; needs --labels
  parquet         a folder written by `mmx export` (bit-exact round trip)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import a feature release (mmx folder, Trailers12k, MovieNet, video_features, mmx export) into a store",
        description="Import a folder of per-clip features into a feature store. Problems are reported per "
        "file, row or entry; the rest is imported; importing again changes nothing; exit status 1 when "
        "anything was skipped.",
        epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folder", metavar="SOURCE", help="the release's folder (or features.pkl)")
    p.add_argument("--store", required=True, help="feature store folder (created when missing)")
    p.add_argument("--format", default="auto", help="auto (default), mmx, trailers12k, movienet, video-features, parquet")
    p.add_argument("--fold", type=int, default=0, help="trailers12k: which split column gives train/val/test (0, 1, 2)")
    p.add_argument("--labels", type=Path, help="video-features: labels.csv (trailer_id = file stem, genres, …)")
    p.add_argument("--clip-seconds", type=float, default=2.0, help="video-features: clip grid length (default 2 s)")
    p.add_argument("--splits", type=Path, help="movienet: splits.json (default: beside features.pkl)")
    p.add_argument("--experts", help="trailers12k, video-features: comma-separated experts to import (default all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.data.formats import ImportOptions, import_source
    from mmx.data.labels_csv import placeholder_note
    from mmx.data.store import FeatureStore

    options = ImportOptions(fold=args.fold, labels=args.labels, clip_seconds=args.clip_seconds, splits=args.splits,
                            experts=args.experts.split(",") if args.experts else None)
    store = FeatureStore.create(args.store)
    fmt, report = import_source(args.folder, store, args.format, options)
    print(
        f"{fmt}: imported {len(report.imported)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"skipped {len(report.problems)} → {store.root} ({len(store)} trailers)"
    )
    note = placeholder_note(report.placeholders)
    if note:
        print(f"note: labels.csv: {note}")
    dead = store.dead_summary(report.imported + report.updated)
    if dead:
        print(dead)
    if report.problems:
        print(f"{len(report.problems)} problem(s):", file=sys.stderr)
        for p in report.problems:
            print(f"  {p.where}: {p.reason}", file=sys.stderr)
        return 1
    return 0
