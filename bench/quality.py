"""Does the deep model earn its keep? The default network, Naive Concat and the paper's recipe
against a tuned linear probe and random scores, over a grid of generated per-clip collections.

SYNTHETIC DATA (``mmx.synthetic.features``: MovieNet's real genre co-occurrence, made-up features).
Every cell is a ``Cell``: a collection size and the generator's knobs (``SyntheticConfig``
fields), so a harder cell is one line in ``CELLS``. All cells have scene-level genre signal
(``SCENE_LEVEL``: a third of the scenes show none of the trailer's genres, genres look two ways,
features are rectified projections, the trailer-wide look is weak); *unreliable* cells also have
one expert of 30 % of the trailers replaced by noise with that expert's real per-dim mean and
spread (a broken decoder, a dubbed track) and 20 % of the trailers without audio; *dead* cells are
unreliable ones whose broken experts give zeros instead (a dead decoder, a silent track).

A collection of N trailers is split 80/10/10 by ``mmx``'s own hash rule; its test split is
scored together with ``--test-extra`` more trailers from the same generator (default 400), so
that small cells are not scored on 20 trailers. Each seed generates a new collection and seeds
every fit. Rows: ``default`` (``RunConfig()`` as shipped), ``concat`` (the same with
``model.fusion=concat``), ``paper`` (``configs/paper.yaml`` — the paper's network and recipe —
for ``PAPER_EPOCHS`` epochs instead of 200), ``probe`` (``mmx.probe.tune_probe``: C and scaling
picked on the validation split, fitted on train) and ``random``; ``unmasked``, ``masked`` and
``masked-noise`` are the defaults reading no broken expert as missing, the dead stretches the
store recorded (``data.mask_broken_experts``), and those and the experts found noise-like when the
run is made (``data.mask_noise_like`` too); a masked fit also says how many (trailer, expert)
pairs it masked and how many of the generator's broken ones they hold. Test AUPRC_w and F1w
(threshold 0.3) as mean ± sd over seeds, with the seconds of each fit (one torch thread per fit).

``--precision fp32,bf16`` trains every row in each number format (``train.precision``; rows
``NAME@fp32``, ``NAME@bf16``; by default each config's own, ``auto``) and adds the checks
``bf16_minus_fp32_auprc_w`` (and ``…_p_at_10``): the mean over seeds of the paired differences, with
their sd. ``--finetune N`` fine-tunes every fit for N NT-Xent epochs after it (``FinetuneConfig``
with N epochs, a fifth of them warm-up, in the row's precision) and scores the fine run's genre
retrieval: precision@10 of the test trailers as queries among every labelled trailer
(``mmx.retrieval.evaluate_retrieval``), ``p_at_10`` mean ± sd (the coarse run's beside it in each
fit's record). The parity figures of
docs/training.md "Precision":

    python bench/quality.py --cells unreliable-600 --seeds 5 --variants default --precision fp32,bf16 \
                            --finetune 10 --jobs 2

    python bench/quality.py [--quick] [--cells clean-600,...] [--seeds 3] [--jobs 1] [--precision fp32,bf16]
                            [--variants default,concat,paper] [--variant NAME:KEY=VALUE;...] [--finetune N]

``--quick``: the 600-trailer cells, 2 seeds, default and concat for ``QUICK_EPOCHS`` epochs and
the paper recipe for ``QUICK_PAPER_EPOCHS`` (its cost, not its quality): 9.8 min from a fresh
clone and an empty ``--work`` with ``--jobs 2`` on 2 cores at load ~1 (default 0.688 / 0.665
against the probe's 0.649 / 0.619 on clean / unreliable). The default often peaks at its 30th
epoch, so ``--quick``'s 15 are a smoke test and a cost figure, not the verdict. The full grid (3 seeds, paper 20 epochs) takes about 6 hours with ``--jobs 2``
on 2 cores: ~11 core-hours from the seconds per fit measured (README), the paper rows at 2,000
trailers (not run) estimated at ~1 h each. Results of finished fits are kept under ``--work``
(keyed by cell, seed and resolved config), so an interrupted grid continues where it stopped;
``--fresh`` ignores them. The last line of the output is JSON. Whether gating singles out the
broken experts of an unreliable cell, and what that could be worth: ``bench/gates.py``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from _common import load, print_result  # noqa: E402  (bench/ is the script folder)

from mmx.config import RunConfig, config_to_dict, load_config, merge, parse_override
from mmx.data.importer import import_folder
from mmx.data.splits import hash_split
from mmx.data.store import FeatureStore
from mmx.metrics import classification_metrics, random_baseline
from mmx.probe import ProbeConfig, linear_probe, pooled_features, tune_probe
from mmx.progress import Reporter
from mmx.synthetic.faults import ExpertFault, plant_in_file
from mmx.synthetic.features import SyntheticConfig, generate

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIG = ROOT / "configs" / "paper.yaml"
PAPER_EPOCHS = 20  # the paper trains 200 epochs; a fixed, stated budget here (2 CPU cores)
QUICK_EPOCHS = 15  # --quick: epochs of default and concat (at most their configured count)
QUICK_PAPER_EPOCHS = 2  # --quick: the paper recipe's cost (~43 s an epoch at 600 trailers, one thread); at lr 3e-5 it is near random after 2
ALL_EXPERTS = ["appearance", "motion", "scene", "audio"]

SCENE_LEVEL: dict[str, Any] = {  # every cell: genre signal lives in scenes, not in every clip
    "neutral_fraction": 0.3,  # a third of the scenes show none of the trailer's genres
    "trailer_tint": 0.25,  # half the demo's trailer-wide genre look
    "modes": 2,  # every genre looks two ways
    "render": "relu",  # experts see the scene through a rectified projection
}
UNRELIABLE: dict[str, Any] = {
    "corrupt_fraction": 0.3,  # one expert of 30 % of the trailers replaced by noise
    "corrupt_experts": ALL_EXPERTS,  # any expert can break
    "no_audio_fraction": 0.2,  # a fifth of the trailers have no audio track
}


@dataclasses.dataclass(frozen=True)
class Cell:
    name: str
    trailers: int  # collection size N (split 80/10/10 as mmx splits it)
    knobs: dict[str, Any]  # SyntheticConfig fields (on top of its defaults)
    unreliable: bool = False  # experts unreliable: cg should be >= concat here
    dead: bool = False  # the broken experts give zeros (a dead decoder) instead of noise

    def synthetic(self, seed: int, test_extra: int) -> SyntheticConfig:
        return SyntheticConfig(n_trailers=self.trailers + test_extra, seed=seed, id_prefix="q", **self.knobs)


CELLS = {
    c.name: c
    for n in (200, 600, 2000)
    for c in (
        Cell(f"clean-{n}", n, dict(SCENE_LEVEL)),
        Cell(f"unreliable-{n}", n, {**SCENE_LEVEL, **UNRELIABLE}, unreliable=True),
        Cell(f"dead-{n}", n, {**SCENE_LEVEL, **UNRELIABLE}, unreliable=True, dead=True),
    )
}


def default_config() -> RunConfig:
    return RunConfig()


def concat_config() -> RunConfig:
    return merge(RunConfig(), {"model": {"fusion": "concat"}})


def paper_config() -> RunConfig:
    return merge(load_config(PAPER_CONFIG), {"train": {"epochs": PAPER_EPOCHS}})


def masked_config(dead: bool = True, noise: bool = False) -> RunConfig:
    """The defaults with broken experts read as missing: dead stretches (``data.mask_broken_experts``),
    noise-like experts (``data.mask_noise_like``)."""
    return merge(RunConfig(), {"data": {"mask_broken_experts": dead, "mask_noise_like": noise}})


VARIANTS = {"default": default_config, "concat": concat_config, "paper": paper_config, "masked": masked_config,
            "masked-noise": lambda: masked_config(True, True), "unmasked": lambda: masked_config(False, False)}


def build_store(work: Path, cell: Cell, seed: int, test_extra: int) -> FeatureStore:
    """The cell's collection for ``seed`` (generated and imported once, then reused)."""
    root = work / "data" / f"{cell.name}-s{seed}-t{test_extra}"
    if (root / "done").exists():
        return FeatureStore(root / "store")
    shutil.rmtree(root, ignore_errors=True)
    features = generate(root / "features", cell.synthetic(seed, test_extra))
    labels = features / "labels.csv"
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    if cell.dead:
        kill_broken(features, rows)
    for i, row in enumerate(rows):  # the collection split as mmx splits it; the extra trailers are test
        row["split"] = hash_split(row["trailer_id"], 0, [0.8, 0.1, 0.1]) if i < cell.trailers else "test"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    store = FeatureStore.create(root / "store")
    report = import_folder(features, store)
    if not report.ok:
        raise SystemExit(f"importing {features} failed: {report.problems[:3]}")
    (root / "done").write_text("")
    return FeatureStore(root / "store")


def kill_broken(features: Path, rows: list[dict]) -> None:
    """Rewrite each trailer's broken expert (``corrupted_expert``) as zeros: a dead decoder, not noise."""
    for row in rows:
        if row.get("corrupted_expert"):
            plant_in_file(features / f"{row['trailer_id']}.npz", ExpertFault(row["corrupted_expert"], "zero"))


def _labels(store: FeatureStore, ids: list[str], genres: list[str]) -> np.ndarray:
    return np.array([[g in store.meta(t).genres for g in genres] for t in ids], dtype=int)


def _scores(metrics: dict) -> dict:
    return {"auprc_w": metrics["auprc_weighted"], "f1w": metrics["f1_weighted"], "n_test": metrics["n"]}


def baselines(store: FeatureStore, seed: int) -> dict[str, dict]:
    """The tuned probe and random scores on the test split of the run ``mmx train`` would make."""
    from mmx.train.coarse import prepare_run_info

    info = prepare_run_info(store, RunConfig())
    experts, genres, ids = list(info.experts), info.genres, info.splits
    x = {s: pooled_features(store, ids[s], experts) for s in ("train", "val", "test")}
    y = {s: _labels(store, ids[s], genres) for s in ("train", "val", "test")}
    t0 = time.time()
    setting, _ = tune_probe(x["train"], y["train"], x["val"], y["val"], genres, ProbeConfig(), seed=seed)
    probs = linear_probe(x["train"], y["train"], x["test"], seed=seed, setting=setting)
    probe = _scores(classification_metrics(y["test"], probs, genres))
    probe.update(seconds=time.time() - t0, C=setting.C, scaling=setting.scaling)
    rand = _scores(random_baseline(y["test"], genres, seed=seed))
    return {"probe": probe, "random": {**rand, "seconds": 0.0}}


def fit(store_root: str, run_root: str, cfg_dict: dict, finetune_epochs: int = 0) -> dict:
    """Train one run (one torch thread), score its best epoch on the test split, fine-tune it for
    ``finetune_epochs`` and score the fine run's retrieval; remove the run folders."""
    import torch

    from mmx.config import config_from_dict
    from mmx.inference import predict_ids
    from mmx.run import Run
    from mmx.train.coarse import train

    torch.set_num_threads(1)
    cfg = config_from_dict(cfg_dict)
    shutil.rmtree(run_root, ignore_errors=True)
    t0 = time.time()
    state = train(FeatureStore(store_root), run_root, cfg, write_embeddings=bool(finetune_epochs))
    seconds = time.time() - t0
    run = Run.open(run_root)
    probs, labels = predict_ids(run, run.info.splits["test"])
    out = _scores(classification_metrics(labels, probs, run.info.genres))
    out.update(
        seconds=seconds, epochs=state.epoch, best_epoch=state.best_epoch, val=state.best_score,
        val_curve=[round(h[f"val_{cfg.train.select_metric}"], 4) for h in state.history],
    )
    if run.info.mask_broken or run.info.noise_like:
        labels = Path(store_root).parent / "features" / "labels.csv"
        out["mask"] = mask_found(run.store if run.info.mask_broken else None, run.info.noise_like, labels)
    out["precision"] = run.info.precision
    if finetune_epochs:
        out.update(finetune_retrieval(run_root, finetune_epochs, cfg.train.precision, cfg.train.seed))
    run.forget()
    shutil.rmtree(run_root, ignore_errors=True)
    return out


def finetune_retrieval(run_root: str, epochs: int, precision: str, seed: int) -> dict:
    """NT-Xent fine-tuning of the coarse run for ``epochs`` (a fifth warm-up) in ``precision``; the genre
    precision@10 of the fine run and of the coarse one, with the test trailers as queries, and its seconds."""
    from mmx.config import FinetuneConfig
    from mmx.retrieval import evaluate_retrieval
    from mmx.train.finetune import finetune

    fine_root = f"{run_root}-fine"
    shutil.rmtree(fine_root, ignore_errors=True)
    cfg = FinetuneConfig(epochs=epochs, warmup_epochs=max(1, epochs // 5), precision=precision, seed=seed, threads=1)
    t0 = time.time()
    finetune(run_root, fine_root, cfg)
    seconds = time.time() - t0
    found = evaluate_retrieval(fine_root, "test", 10)
    shutil.rmtree(fine_root, ignore_errors=True)
    return {"p_at_10": found["precision_at_10"], "coarse_p_at_10": found["coarse"]["precision_at_10"],
            "finetune_seconds": seconds}


def mask_found(store: FeatureStore | None, noise_like: dict[str, list[str]], labels: Path) -> dict:
    """How the (trailer, expert) pairs a masked run reads as missing, wholly or in part (noise-like, or
    with a dead stretch recorded in ``store``), meet the generator's broken ones."""
    with open(labels, newline="") as f:
        planted = {(r["trailer_id"], r["corrupted_expert"]) for r in csv.DictReader(f) if r.get("corrupted_expert")}
    masked = {(t, e) for t, experts in noise_like.items() for e in experts}
    if store is not None:
        masked |= {(t, e) for t in store.entries() for e in store.dead(t)}
    return {"masked": len(masked), "planted": len(planted), "found": len(masked & planted)}


def variant_configs(args: argparse.Namespace) -> dict[str, RunConfig]:
    configs = {name: VARIANTS[name]() for name in args.variants}
    for spec in args.variant:  # NAME:section.key=value;section.key=value (on top of the default)
        name, _, overrides = spec.partition(":")
        cfg = default_config()
        for text in filter(None, overrides.split(";")):
            cfg = merge(cfg, parse_override(text))
        configs[name] = cfg
    for name, cfg in configs.items():
        epochs = cfg.train.epochs
        if args.quick:
            epochs = min(epochs, QUICK_PAPER_EPOCHS if name == "paper" else QUICK_EPOCHS)
        if args.epochs and name != "paper":
            epochs = args.epochs
        configs[name] = merge(cfg, {"train": {"epochs": epochs, "threads": 1}})
    if args.precision:  # every row in each number format: NAME@fp32, NAME@bf16
        configs = {f"{name}@{p}": merge(cfg, {"train": {"precision": p}}) for name, cfg in configs.items()
                   for p in args.precision}
    return configs


def _key(cell: Cell, seed: int, test_extra: int, cfg: RunConfig, finetune: int = 0) -> str:
    parts = [dataclasses.asdict(cell), seed, test_extra, config_to_dict(cfg)] + ([finetune] if finetune else [])
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summarise(results: dict[str, dict[str, list[dict]]], cells: list[Cell]) -> dict:
    """Per cell and row: mean ± sd of AUPRC_w and F1w over seeds, mean seconds; the issue's checks."""
    out = {}
    for cell in cells:
        rows = {}
        for name, runs in results[cell.name].items():
            if not runs:
                continue
            a, f = [r["auprc_w"] for r in runs], [r["f1w"] for r in runs]
            rows[name] = {
                "auprc_w": statistics.fmean(a), "auprc_w_sd": statistics.stdev(a) if len(a) > 1 else 0.0,
                "f1w": statistics.fmean(f), "f1w_sd": statistics.stdev(f) if len(f) > 1 else 0.0,
                "seconds": statistics.fmean(r["seconds"] for r in runs), "n_test": runs[0]["n_test"],
                "seeds": len(runs), "per_seed": [round(x, 4) for x in a],
            }
            if all("p_at_10" in r for r in runs):
                p10 = [r["p_at_10"] for r in runs]
                rows[name].update(p_at_10=statistics.fmean(p10), p_at_10_sd=statistics.stdev(p10) if len(p10) > 1 else 0.0,
                                  per_seed_p_at_10=[round(x, 4) for x in p10],
                                  finetune_seconds=statistics.fmean(r["finetune_seconds"] for r in runs))
        checks = {}
        if "default" in rows and "probe" in rows:
            checks["default_minus_probe"] = rows["default"]["auprc_w"] - rows["probe"]["auprc_w"]
        if cell.unreliable and "default" in rows and "concat" in rows:
            checks["cg_minus_concat"] = rows["default"]["auprc_w"] - rows["concat"]["auprc_w"]
        for name in ("masked", "masked-noise"):
            if name in rows and "unmasked" in rows:
                checks[f"{name}_minus_unmasked"] = rows[name]["auprc_w"] - rows["unmasked"]["auprc_w"]
                found = [r["mask"] for r in results[cell.name][name]]
                checks[f"{name}_precision"] = sum(m["found"] for m in found) / max(1, sum(m["masked"] for m in found))
                checks[f"{name}_recall"] = sum(m["found"] for m in found) / max(1, sum(m["planted"] for m in found))
        checks.update(precision_checks(results[cell.name]))
        out[cell.name] = {"trailers": cell.trailers, "rows": rows, "checks": checks}
    return out


def precision_checks(results: dict[str, list[dict]]) -> dict:
    """For every row trained in both formats: bf16 − fp32 of AUPRC_w (and P@10), mean and sd of the
    differences paired by seed (the same collection and seed in both)."""
    out = {}
    for name in results:
        if not name.endswith("@bf16") or name.replace("@bf16", "@fp32") not in results:
            continue
        pairs = list(zip(results[name], results[name.replace("@bf16", "@fp32")]))
        for key in ("auprc_w", "p_at_10"):
            if pairs and all(key in b and key in f for b, f in pairs):
                d = [b[key] - f[key] for b, f in pairs]
                stem = name.removesuffix("@bf16")
                out[f"{stem}_bf16_minus_fp32_{key}"] = statistics.fmean(d)
                out[f"{stem}_bf16_minus_fp32_{key}_sd"] = statistics.stdev(d) if len(d) > 1 else 0.0
    return out


def print_table(summary: dict) -> None:
    print(f"{'cell':<16} {'row':<12} {'AUPRC_w':>15} {'F1w':>15} {'n test':>6} {'s/fit':>7}")
    for name, cell in summary.items():
        for row, r in cell["rows"].items():
            p10 = f"   P@10 {r['p_at_10']:.3f} ± {r['p_at_10_sd']:.3f}" if "p_at_10" in r else ""
            print(f"{name:<16} {row:<12} {r['auprc_w']:.3f} ± {r['auprc_w_sd']:.3f}   "
                  f"{r['f1w']:.3f} ± {r['f1w_sd']:.3f} {r['n_test']:>6} {r['seconds']:>7.1f}{p10}")
        for check, value in cell["checks"].items():
            print(f"{name:<16} {check:<12} {value:+.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="600-trailer cells, 2 seeds, short epoch budgets")
    p.add_argument("--cells", help=f"comma-separated cells (default: all; {', '.join(CELLS)})")
    p.add_argument("--seeds", type=int, help="seeds per cell (default 3, --quick 2)")
    p.add_argument("--variants", default="default,concat,paper", help=f"rows to train ({', '.join(VARIANTS)})")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE;...",
                   help="an extra row: the default config with these overrides (repeatable)")
    p.add_argument("--epochs", type=int, help="epochs of every row but paper (default: each config's own)")
    p.add_argument("--precision", help="train every row in each of these train.precision values (fp32,bf16)")
    p.add_argument("--finetune", type=int, default=0, metavar="N", help="fine-tune every fit N NT-Xent epochs, "
                   "score its P@10")
    p.add_argument("--test-extra", type=int, default=400, help="generated trailers added to each test split")
    p.add_argument("--jobs", type=int, default=1, help="fits run in parallel (one torch thread each)")
    p.add_argument("--work", default="/tmp/mmx-bench-quality", help="collections and finished fits")
    p.add_argument("--fresh", action="store_true", help="refit even when a finished fit is kept")
    args = p.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    args.precision = [x for x in (args.precision or "").split(",") if x]
    if any(x not in ("auto", "fp32", "bf16") for x in args.precision):
        p.error(f"--precision {args.precision}: use auto, fp32 and/or bf16")
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    names = args.cells.split(",") if args.cells else [n for n in CELLS if not args.quick or n.endswith("-600")]
    if any(n not in CELLS for n in names):
        p.error(f"unknown cell in {names}; known: {', '.join(CELLS)}")
    cells = [CELLS[n] for n in names]
    seeds = range(args.seeds or (2 if args.quick else 3))
    configs = variant_configs(args)
    work = Path(args.work)
    (work / "fits").mkdir(parents=True, exist_ok=True)
    report = Reporter.auto()
    t_start = time.time()

    results: dict[str, dict[str, list[dict]]] = {c.name: {n: [] for n in [*configs, "probe", "random"]} for c in cells}
    pending = []
    for cell in cells:
        for seed in seeds:
            store = build_store(work, cell, seed, args.test_extra)
            for name, value in baselines(store, seed).items():
                results[cell.name][name].append(value)
            for name, cfg in configs.items():
                cfg = merge(cfg, {"train": {"seed": seed}})
                kept = work / "fits" / f"{_key(cell, seed, args.test_extra, cfg, args.finetune)}.json"
                if kept.exists() and not args.fresh:
                    results[cell.name][name].append(json.loads(kept.read_text()))
                    continue
                run_root = work / "runs" / f"{cell.name}-s{seed}-{name}"
                pending.append((cell.name, name, seed, kept, str(store.root), str(run_root), config_to_dict(cfg),
                                args.finetune))
    report.line(f"{len(pending)} fits to run ({args.jobs} at a time); load {load():.2f}")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = [(job, pool.submit(fit, *job[4:])) for job in pending]
        for (cell_name, name, seed, kept, *_), future in report.bar(futures, desc="fits", unit="fit"):
            out = future.result()
            kept.write_text(json.dumps(out))
            results[cell_name][name].append(out)
            p10 = f", P@10 {out['p_at_10']:.3f} after {out['finetune_seconds']:.0f} s" if "p_at_10" in out else ""
            report.line(f"{cell_name} seed {seed} {name}: test AUPRC_w {out['auprc_w']:.3f}, F1w {out['f1w']:.3f}, "
                        f"best epoch {out['best_epoch']}/{out['epochs']}, {out['seconds']:.0f} s{p10}")
    summary = summarise(results, cells)
    print_table(summary)
    meta = {
        "seconds": round(time.time() - t_start, 1), "load_end": load(),
        "seeds": len(seeds), "test_extra": args.test_extra, "quick": args.quick, "jobs": args.jobs,
        "epochs": {n: c.train.epochs for n, c in configs.items()}, "fits_run": len(pending),
        "finetune_epochs": args.finetune, "precisions": {n: c.train.precision for n, c in configs.items()},
    }
    print_result({"bench": "quality", **meta, "cells": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
