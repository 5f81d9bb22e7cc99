"""``mmx export --store STORE [--run RUN] --out DIR``: a collection as a dataset others load in one line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a store (and a run's embeddings and predictions) as a Parquet dataset with a dataset card",
        description="Write DIR: Parquet shards of a 'trailers' and a 'clips' config and a README.md dataset card "
        "(YAML configs + datasheet), loadable with datasets.load_dataset(DIR, 'clips', split='train') and read "
        "back bit-exactly by `mmx import DIR --format parquet`. A run of imported embeddings exports trailers only.",
    )
    p.add_argument("--store", help="feature store (default: the run's)")
    p.add_argument("--run", help="add the run's trailer embeddings and genre probabilities (clips: the scene timeline)")
    p.add_argument("--out", required=True, help="new folder to write")
    p.add_argument("--public-features-only", action="store_true", help="leave keyframes (pictures) out")
    p.add_argument("--title", default="", help="the dataset card's title (default: the folder's name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.data.store import FeatureStore
    from mmx.export import ExportConfig, export
    from mmx.run import Run

    store = FeatureStore(args.store) if args.store else None
    opened = Run.open(args.run) if args.run else None
    cfg = ExportConfig(public_features_only=args.public_features_only, title=args.title)
    s = export(args.out, store, opened, cfg)
    parts = [f"trailers {sum(s.trailers.values())}"] + ([f"clips {sum(s.clips.values())}"] if s.clips else [])
    print(f"exported {', '.join(parts)} ({', '.join(sorted(s.trailers))}; keyframes {'in' if s.keyframes else 'out'}) → {s.out}")
    return 0
