"""``mmx import DIR --store STORE``: per-clip features in the import format → feature store."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import labels.csv + <trailer_id>.npz per-clip features into a store",
        description="Import a folder in the import format (docs/data.md: 'Import format') into a feature store. "
        "Problems are reported per file or row; the rest is imported; exit status 1 when anything was skipped.",
    )
    p.add_argument("folder", help="folder with labels.csv and one <trailer_id>.npz per trailer")
    p.add_argument("--store", required=True, help="feature store folder (created when missing)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.data.importer import import_folder
    from mmx.data.store import FeatureStore

    store = FeatureStore.create(args.store)
    report = import_folder(args.folder, store)
    print(
        f"imported {len(report.imported)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"skipped {len(report.problems)} → {store.root} ({len(store)} trailers)"
    )
    if report.problems:
        print(f"{len(report.problems)} problem(s):", file=sys.stderr)
        for p in report.problems:
            print(f"  {p.where}: {p.reason}", file=sys.stderr)
        return 1
    return 0
