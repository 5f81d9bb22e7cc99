"""``mmx extract PATH... --store STORE``: trailer video files → scene clips → expert features → store."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from mmx.extract.profiles import PROFILES
from mmx.extract.settings import VIDEO_SUFFIXES  # light: the heavy extraction modules load in run()

if TYPE_CHECKING:
    from mmx.data.store import FeatureStore
    from mmx.extract import ExtractConfig, ExtractReport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="extract expert features from trailer video files into a store",
        description="Decode each video (PyAV), cut it into scene clips (PySceneDetect), embed every clip with "
        "each expert and write one entry per trailer into the store. Folders are searched for "
        f"{', '.join(VIDEO_SUFFIXES)} files. A rerun skips trailers already extracted with the same settings; "
        "files that fail are listed at the end and the exit status is 1.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders of them")
    p.add_argument("--store", required=True, help="feature store folder (created when missing)")
    p.add_argument("--experts", help="comma-separated expert names (default: appearance,motion,scene,audio; "
                   "see `mmx experts`)")
    p.add_argument("--labels", metavar="CSV", help="labels.csv in the import format (trailer_id = file name "
                   "without extension); videos without a row are stored without genres")
    p.add_argument("--profile", choices=list(PROFILES), help="sampling profile (default: default): "
                   + "; ".join(f"{n}: {pr.summary}" for n, pr in PROFILES.items()))
    p.add_argument("--device", help="where the experts run: cpu, cuda or cuda:N (default: a GPU when one is visible)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="number format of the experts' forward passes (default: the profile's; auto = half "
                   "precision where the CPU or GPU computes it natively)")
    p.add_argument("--threads", type=int, help="expert threads per worker, each PyTorch single-threaded "
                   "(default: the CPU cores shared among the workers)")
    p.add_argument("--no-keyframes", action="store_true", help="do not keep one small JPEG per clip")
    p.add_argument("--workers", type=int, help="videos extracted in parallel processes (default 1)")
    p.add_argument("--flow-workers", type=int, help="processes for TV-L1 optical flow (default: one per core)")
    p.add_argument("--no-flow", action="store_true", help="leave out experts that need optical flow (slow)")
    p.add_argument("--scene-threshold", type=float, help="content-detector cut threshold (default 27)")
    p.add_argument("--min-scene-len", type=int, help="frames at least between two cuts (default 15)")
    p.add_argument("--keep-wav", metavar="DIR", help="also keep each trailer's 16 kHz mono WAV in DIR")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON file of extraction settings (ExtractConfig fields)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override one extraction setting, e.g. --set drop_frames=2 (repeatable)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="spread the videos over a Ray cluster: its ADDRESS (e.g. auto, or ray://host:10001), or "
                   "none to start Ray on this machine; one expert worker per GPU, else per CPU (needs the "
                   "`scale` extra; video paths must be readable on every node)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def resolve(args: argparse.Namespace) -> ExtractConfig:
    """Defaults → config file → --set overrides → the named options, checked once (``mmx.config.resolve``)."""
    from mmx.config import resolve
    from mmx.extract import ExtractConfig

    options = {
        "experts": [n.strip() for n in args.experts.split(",") if n.strip()] if args.experts else None,
        "workers": args.workers,
        "flow_workers": args.flow_workers,
        "flow": False if args.no_flow else None,
        "scene_threshold": args.scene_threshold,
        "min_scene_len": args.min_scene_len,
        "wav_dir": args.keep_wav,
        "profile": args.profile,
        "device": args.device,
        "precision": args.precision,
        "threads": args.threads,
        "keyframes": False if args.no_keyframes else None,
    }
    return resolve(ExtractConfig(), args.config, args.set, {k: v for k, v in options.items() if v is not None})


def ray_runner(address: str):
    from mmx.extract.ray_runner import runner  # Ray is an optional, heavy import

    return runner(address)


def run(args: argparse.Namespace) -> int:
    from mmx.data.store import FeatureStore
    from mmx.errors import ExtractError
    from mmx.extract import extract_videos

    cfg = resolve(args)
    store = FeatureStore.create(args.store)
    t0 = time.perf_counter()
    try:
        report = extract_videos(args.paths, store, cfg, labels=args.labels, progress=not args.quiet,
                                runner=ray_runner(args.ray) if args.ray else None)
    except ExtractError as e:
        print(f"mmx extract: error: {e}", file=sys.stderr)
        return 2
    print_summary(report, store, time.perf_counter() - t0)
    return 0 if report.ok else 1


def print_summary(report: ExtractReport, store: FeatureStore, seconds: float) -> None:

    print(
        f"extracted {len(report.extracted)}, relabelled {len(report.relabelled)}, keyframes added "
        f"{len(report.keyframed)}, unchanged {len(report.unchanged)}, "
        f"failed {len(report.failed)} → {store.root} ({len(store)} trailers); "
        f"{report.video_seconds:.1f} s of video in {seconds:.1f} s"
    )
    dead = store.dead_summary(report.extracted + report.relabelled)
    if dead:
        print(dead)
    if report.warnings:
        print(f"notes ({len(report.warnings)}):")
        for p in report.warnings:
            print(f"  {p.where}: {p.reason}")
    if report.failed:
        print(f"failed ({len(report.failed)}):", file=sys.stderr)
        for p in report.failed:
            print(f"  {p.where}: {p.reason}", file=sys.stderr)
