"""``mmx export --store STORE [--run RUN] --out DIR``: a collection as a dataset others load in one line;
``mmx export --run RUN --iiif DIR``: IIIF Presentation 3 manifests of its trailers' genre timelines (``mmx.iiif``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a store (and a run's embeddings and predictions) as a Parquet dataset with a dataset card, "
        "or a run's genre timelines as IIIF manifests",
        description="--out DIR: Parquet shards of a 'trailers' and a 'clips' config and a README.md dataset card "
        "(YAML configs + datasheet), loadable with datasets.load_dataset(DIR, 'clips', split='train') and read "
        "back bit-exactly by `mmx import DIR --format parquet`. A run of imported embeddings exports trailers only. "
        "--iiif DIR: one IIIF Presentation 3 Manifest per trailer of a trained run (its video as a Canvas with its "
        "duration, W3C Web Annotations of the trailer's and every scene's genres on time ranges #t=start,end, and "
        "the WebVTT track), and a Collection of them, for IIIF AV viewers and archives.",
    )
    p.add_argument("--store", help="feature store (default: the run's)")
    p.add_argument("--run", help="add the run's trailer embeddings and genre probabilities (clips: the scene timeline)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", help="new folder to write the Parquet dataset into")
    what.add_argument("--iiif", metavar="DIR", help="folder to write IIIF manifests into (needs --run)")
    p.add_argument("--public-features-only", action="store_true", help="leave keyframes (pictures) out")
    p.add_argument("--title", default="", help="the dataset card's title (default: the folder's name)")
    p.add_argument("--base-url", default="", help="--iiif: the URL DIR will be published at (the manifests' ids; "
                   "default: DIR's file: URI)")
    p.add_argument("--video-base", default="", help="--iiif: the URL of the folder serving the videos by file name "
                   "(default: each video file's file: URI)")
    p.add_argument("--ids", help="--iiif: comma-separated trailer ids (default: every trailer of the run's store)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.iiif:
        return export_iiif(args)
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


def export_iiif(args: argparse.Namespace) -> int:
    from mmx.errors import InputError
    from mmx.iiif import IiifConfig, export_iiif
    from mmx_cli.common import reporter

    if not args.run or args.store:
        raise InputError("--iiif exports a trained run's genre timelines: give --run RUN (its store is the run's)")
    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else None
    s = export_iiif(args.run, args.iiif, ids, IiifConfig(args.base_url, args.video_base), reporter(args))
    print(f"{len(s.manifests)} IIIF manifests ({len(s.without_video)} without a video file) and collection.json "
          f"→ {s.out}")
    for tid, why in s.skipped.items():
        print(f"  skipped {tid}: {why}")
    return 0
