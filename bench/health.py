"""Does ``mmx check`` find what was planted, and what does it find in the real trailers?

SYNTHETIC DATA (``mmx.synthetic.features``, scene-level knobs as in ``bench/quality.py``, no label
dropping and no corruption of its own, so the only faults are the planted ones). Planted in the
generated per-clip collection before it is imported (``mmx.synthetic.faults.plant_feature_dirt``):

* duplicates: of ``--dups`` trailers an exact-length copy with re-encoding noise (0.1 sd on every
  feature) and a trimmed copy (a contiguous 60 % of the clips, noised alike); as negatives, the
  same number of "reshuffled" trailers: the source's clips in another order with new noise — the
  same shots, a different video (a teaser cut from the trailer), which must *not* be called a copy;
* broken experts: ``--broken`` of the trailers each get one expert (``motion``, clip level, or
  ``audio``, window level) made constant, zero, or noise with the expert's own per-dim mean and sd;
* labels: 5 % of the genre labels flipped (half a genre added, half a genre removed).

Then duplicates made from generated *videos* (``video_duplicates``: re-encoded at another size and
bitrate, trimmed, extracted with the real experts as ``mmx demo`` does; ``--videos 0`` skips it).

Precision and recall per check at the command's thresholds (``mmx.health`` defaults): duplicate
and leak pairs against the planted pairs (leaks: planted pairs in different splits), broken
experts per (trailer, expert) against the planted ones, label issues per (trailer, genre) against
the flipped ones. With ``--network-folds K`` the label check is also scored on a network's
out-of-fold probabilities, as ``mmx check RUN --network-folds K`` does: a coarse run (``RunConfig()``,
``--network-epochs`` epochs) trained on the planted store, then K copies cross-fitted; precision and
recall of the probe and of the network at several cuts of the probability that a label is wrong (the
command's is ``min_wrong``), on the run's trailers. (How the label findings rank, against the former ranking and
random, at 300, 600 and 2,000 trailers: ``bench/labels.py``.)
Then, with ``--real`` (the 7,594 trailer embeddings of
``../shared/data/mmx-visualiser``, imported with ``mmx import-embeddings``): the time of the
check, its top near-duplicate pairs and label issues, and whether two known pairs are found.

    python bench/health.py [--n 600] [--seed 0] [--videos 24] [--network-folds 3 --network-epochs 10]
                           [--real ../shared/data/mmx-visualiser] [--work DIR]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
from _common import print_result  # noqa: E402  (bench/ is the script folder)

from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.embeddings import import_embeddings
from mmx.extract import ExtractConfig
from mmx.health.label_issues import LabelCheckConfig, label_findings, labelled_ids
from mmx.health.report import check
from mmx.synthetic.faults import BROKEN_KINDS, FeatureDirt, pairs, plant_feature_dirt
from mmx.synthetic.features import SyntheticConfig, generate

WRONG_CUTS = (0.05, 0.1, 0.2, 0.3, 0.5)  # cuts of a label's probability of being wrong the network-fold comparison scores
KNOWN_PAIRS = [("TheNeverEndingStoryIII", "TheNeverendingStoryIII"), ("Break-In", "Breakin")]


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def precision_recall(found: set, planted: set) -> dict:
    hit = len(found & planted)
    return {"found": len(found), "planted": len(planted), "precision": round(hit / len(found), 3) if found else None,
            "recall": round(hit / len(planted), 3) if planted else None}


def precision_at_planted(ranked: list, planted: set) -> float | None:
    """Precision of the top len(planted) of a ranked list (how a curator reads it)."""
    top = ranked[:len(planted)]
    return round(sum(x in planted for x in top) / len(top), 3) if top else None


def planted_collection(work: Path, n: int, seed: int, dups: int, broken: float, flips: float = 0.05
                       ) -> tuple[FeatureStore, dict]:
    """A generated collection of ``n`` trailers with planted copies, broken experts and ``flips`` flipped labels
    (a share of the labels, or a count when ≥ 1); the store and what was planted."""
    root = work / (f"planted-n{n}-s{seed}" + ("" if flips == 0.05 else f"-f{flips:g}"))
    shutil.rmtree(root, ignore_errors=True)
    cfg = SyntheticConfig(n_trailers=n, seed=seed, dropped_label_fraction=0.0, neutral_fraction=1 / 3, modes=2,
                          render="relu", trailer_tint=0.25)
    folder = generate(root / "features", cfg)
    rows = read_rows(folder)
    truth = plant_feature_dirt(folder, rows, FeatureDirt(copies=dups, broken_share=broken, flips=flips),
                               np.random.default_rng(seed))
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    store = FeatureStore.create(root / "store")
    import_folder(folder, store)
    return store, truth


def score_planted(store: FeatureStore, truth: dict) -> dict:
    t0 = time.perf_counter()
    report = check(store.root)
    seconds = round(time.perf_counter() - t0, 1)
    by = {c: [f for f in report.findings if f.check == c] for c in report.checks}
    dups = {tuple(sorted(f.trailers)) for f in by["duplicates"]}
    leaks = {tuple(sorted(f.trailers)) for f in by["leaks"]}
    from mmx.health import open_collection

    splits = open_collection(store.root).splits
    planted_leaks = {p for p in truth["duplicates"] if splits.get(p[0]) and splits.get(p[1]) and splits[p[0]] != splits[p[1]]}
    broken_kinds = ("zero features", "constant features", "noise-like features")
    experts = {(f.trailers[0], f.expert) for f in by["experts"] if f.kind in broken_kinds}
    out = {"seconds": seconds, "check_seconds": report.seconds, "n_trailers": report.n_trailers,
           "duplicates": precision_recall(dups, truth["duplicates"]),
           "reshuffled_called_duplicate": sum(any(t.endswith("-reshuffled") for t in p) for p in dups),
           "leaks": precision_recall(leaks, planted_leaks),
           "experts": precision_recall(experts, set(truth["experts"]))}
    for fault in BROKEN_KINDS:
        mine = {k for k, v in truth["experts"].items() if v == fault}
        out["experts"][f"recall_{fault}"] = round(len(experts & mine) / len(mine), 3) if mine else None
    ranked = [(f.trailers[0], f.genre) for f in by["labels"] if f.kind == "label to review"]
    out["labels"] = precision_recall(set(ranked), truth["labels"])
    out["labels"]["precision_at_planted"] = precision_at_planted(ranked, truth["labels"])
    return out


def network_labels(store: FeatureStore, truth: dict, work: Path, folds: int, epochs: int) -> dict:
    """The label check on a trained run of the planted store: the probe's and the cross-fitted network's findings
    at each of ``WRONG_CUTS`` (precision, recall, precision over the top len(planted))."""
    from dataclasses import replace

    from mmx.config import RunConfig, with_epochs
    from mmx.health import run_collection
    from mmx.run import Run
    from mmx.train.coarse import train
    from mmx.train.crossfit import CrossfitConfig, network_out_of_fold

    folder = work / f"{store.root.parent.name}-run"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    train(store, folder, with_epochs(RunConfig(), epochs), write_embeddings=False)
    trained = round(time.perf_counter() - t0, 1)
    run = Run.open(folder)
    coll = run_collection(run)
    t0 = time.perf_counter()
    given = network_out_of_fold(run, labelled_ids(coll), CrossfitConfig(folds=folds, epochs=epochs), work)
    crossfit = round(time.perf_counter() - t0, 1)
    planted = {(t, g) for t, g in truth["labels"] if t in set(coll.ids)}

    def scored(cut: float, probs) -> dict:
        cfg = replace(LabelCheckConfig(), min_wrong=cut)
        found, _ = label_findings(coll, cfg, probs)
        issues = sorted((f for f in found if f.kind == "label to review"), key=lambda f: -f.score)
        ranked = [(f.trailers[0], f.genre) for f in issues]  # most certain first, as `mmx check` lists them
        return {**precision_recall(set(ranked), planted), "precision_at_planted": precision_at_planted(ranked, planted)}

    return {"trailers": len(coll.ids), "planted": len(planted), "folds": folds, "epochs": epochs,
            "train_seconds": trained, "crossfit_seconds": crossfit,
            "command_cut": LabelCheckConfig().min_wrong,
            "probe": {str(c): scored(c, None) for c in WRONG_CUTS},
            "network": {str(c): scored(c, given) for c in WRONG_CUTS}}


def video_duplicates(work: Path, n_videos: int, copies: int, seed: int) -> dict:
    """Duplicates made from generated *videos*, extracted with the real experts as ``mmx demo`` does.

    ``n_videos`` trailers like the demo's clean corpus (but 14–16 shots); of ``copies`` of them two copies each — re-encoded
    smaller at a lower quality (75 % size, crf 36), and re-encoded larger (125 %, crf 28) with the first
    and last second cut — and, as the negative, a *sibling*: another trailer of the same genres and the
    same looks, other shots (which must not be called a duplicate)."""
    from mmx.extract import extract_videos
    from mmx.synthetic.videos import VideoCorpusConfig, generate_videos, make_trailer, reencode
    from mmx_cli.commands.demo import DEMO_CORPUS, DEMO_PROFILE, DEMO_SIZES

    root = work / f"videos-n{n_videos}-s{seed}"
    shutil.rmtree(root, ignore_errors=True)
    frames = {k: v for k, v in DEMO_CORPUS.items() if k in ("shot_frames", "width", "height")}
    cfg = VideoCorpusConfig(n_videos=n_videos, seed=seed, shots=(14, 16), **frames)  # ~10 s: a trimmed copy keeps 10+ clips
    t0 = time.perf_counter()
    truths = generate_videos(root / "videos", cfg)
    rows, planted, siblings = read_rows(root / "videos"), set(), set()
    rng = np.random.default_rng(seed)
    for t in truths[:copies]:
        src = root / "videos" / t.file
        reencode(src, root / "videos" / f"{t.trailer_id}-small.mp4", scale=0.75, crf=36)
        reencode(src, root / "videos" / f"{t.trailer_id}-trim.mp4", scale=1.25, crf=28, trim=(1.0, 1.0))
        shots = [str(rng.choice(t.genres)) for _ in range(len(t.cuts) + 1)]
        make_trailer(root / "videos" / f"{t.trailer_id}-sibling.mp4", shots, [17] * len(shots), cfg, rng)
        planted |= pairs([t.trailer_id, f"{t.trailer_id}-small", f"{t.trailer_id}-trim"])
        siblings.add(f"{t.trailer_id}-sibling")
        base = next(r for r in rows if r["trailer_id"] == t.trailer_id)
        rows += [dict(base, trailer_id=f"{t.trailer_id}-{k}") for k in ("small", "trim", "sibling")]
    with open(root / "videos" / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    store = FeatureStore.create(root / "store")
    extract_videos([root / "videos"], store, ExtractConfig(profile=DEMO_PROFILE, sampling=DEMO_SIZES),
                   labels=root / "videos" / "labels.csv", progress=False)
    made = round(time.perf_counter() - t0, 1)
    report = check(store.root, ["duplicates"])
    found = {tuple(sorted(f.trailers)) for f in report.findings}
    return {"videos": len(rows), "generate_and_extract_seconds": made, "check_seconds": report.seconds,
            "duplicates": precision_recall(found, planted),
            "siblings_called_duplicate": sum(any(t in siblings for t in p) for p in found),
            "found": [[*f.trailers, f.score, f.evidence.get("expert_cosines")] for f in report.findings]}


def real_check(real: Path, work: Path) -> dict:
    run = work / "real-embeddings"
    shutil.rmtree(run, ignore_errors=True)
    import_embeddings(real / "embeddings.npz", real / "metadata.csv", run)
    t0 = time.perf_counter()
    report = check(run)
    seconds = round(time.perf_counter() - t0, 1)
    dups = [f for f in report.findings if f.check == "duplicates"]
    pairs = {tuple(sorted(f.trailers)) for f in dups}
    issues = [f for f in report.findings if f.kind == "label to review"]
    return {
        "seconds": seconds, "check_seconds": report.seconds, "n_trailers": report.n_trailers,
        "near_duplicate_pairs": len(dups), "leak_pairs": report.test_leaks,
        "known_pairs_found": {"/".join(p): tuple(sorted(p)) in pairs for p in KNOWN_PAIRS},
        "top_pairs": [[*f.trailers, f.evidence["cosine"]] for f in dups[:15]],
        "label_issues": len(issues),
        "top_label_issues": [[f.trailers[0], f.genre, f.evidence["given"], f.evidence["probability"]] for f in issues[:15]],
        "vocabulary": [f"{f.kind}: {f.genre or f.trailers[0]} {f.evidence}" for f in report.findings
                       if f.check == "labels" and f.kind in ("placeholder genre", "too few positives")],
        "no_genres": sum(f.kind == "no genres" for f in report.findings),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=600, help="generated trailers before planting")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dups", type=int, default=20, help="trailers copied (and trimmed, and reshuffled)")
    p.add_argument("--broken", type=float, default=0.06, help="share of trailers with one broken expert")
    p.add_argument("--videos", type=int, default=24, help="generated videos for the video duplicates (0: skip)")
    p.add_argument("--video-copies", type=int, default=4, help="of which copied twice and given a sibling")
    p.add_argument("--network-folds", type=int, default=0, metavar="K",
                   help="also score the label check on a K-fold cross-fitted network (0: skip; trains K + 1 networks)")
    p.add_argument("--network-epochs", type=int, default=10, help="epochs of the run and of each fold's network")
    p.add_argument("--real", help="folder of embeddings.npz + metadata.csv (the real trailers)")
    p.add_argument("--work", default="/tmp/mmx-bench-health")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store, truth = planted_collection(work, args.n, args.seed, args.dups, args.broken)
    result = {"planted": score_planted(store, truth)}
    print(json.dumps(result["planted"], indent=1))
    if args.network_folds:
        result["network_labels"] = network_labels(store, truth, work, args.network_folds, args.network_epochs)
        print(json.dumps(result["network_labels"], indent=1))
    if args.videos:
        result["videos"] = video_duplicates(work, args.videos, args.video_copies, args.seed)
        print(json.dumps(result["videos"], indent=1))
    if args.real:
        result["real"] = real_check(Path(args.real), work)
        print(json.dumps(result["real"], indent=1))
    print_result(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
