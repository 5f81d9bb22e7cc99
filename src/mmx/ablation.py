"""The paper's ablations (Tbl. 2 experts and fusion, Tbl. 5 sequence length) on any feature store.

Every variant is a row of ``VARIANTS``: the paper's label, which of the paper's experts it uses
(Image, Motion, Scene, Audio — mapped to the store's expert names by ``AblationConfig.expert_names``),
its fusion and, for Tbl. 5, its sequence length. ``run_ablation`` trains each variant as an ordinary
coarse run (``mmx.train.coarse.train``) in ``OUT/<variant>/`` and evaluates it on one split:

    OUT/ablation.json            the resolved variant table: run folder, experts, status per variant
    OUT/results.json             variant → metrics on the split (Tbl. 2 keys, per-genre AUPRC + support)
    OUT/<variant>/               a coarse run folder: config.json, run.json, state.json, metrics.jsonl
    OUT/<variant>/scores.npz     trailer ids, genres, (N, G) probabilities and labels on the split (Fig. 9)

A variant keeps its scores and metrics, not its weights (``AblationConfig.keep_weights`` keeps
them): twelve paper-size networks would weigh 1.7 GB.

Resumable: a variant whose run already reached the requested epochs is not trained again, and its
evaluation is reused; a larger ``--epochs`` continues it (from its last epoch when its weights were
kept, else anew — every epoch is seeded from (seed, epoch), so the result is the same).
Variants that resolve to the same config (e.g. "sequence length 9" and the gating row when the
model's sequence length is 9) share one run. The Random row is not trained: it is the metrics of
uniform random scores on the same split (``mmx.metrics.random_baseline``). A variant that needs an
expert the store lacks is skipped, with the reason recorded.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmx import artifacts
from mmx.config import RunConfig, config_from_dict, config_to_dict, merge, recipe
from mmx.data.store import FeatureStore
from mmx.durable import atomic_write
from mmx.errors import TrainError
from mmx.inference import predict_ids
from mmx.metrics import auprc_difference_interval, classification_metrics, random_baseline
from mmx.progress import QUIET, Reporter
from mmx.run import ModelRun, Run, RunDir
from mmx.train.coarse import prepare_run_info, train

RESULTS_FILE = "results.json"
TABLE_FILE = "ablation.json"
SCORES_FILE = artifacts.SCORES

PAPER_EXPERTS = ("image", "motion", "scene", "audio")  # the paper's four experts (§4.2)


@dataclass
class AblationConfig:
    # paper expert → the store's expert name; the synthetic demo and the extractor use these names
    expert_names: dict[str, str] = field(
        default_factory=lambda: {"image": "appearance", "motion": "motion", "scene": "scene", "audio": "audio"}
    )
    split: str = "test"  # split every variant is evaluated on (§4.2: the test split)
    tables: list[str] = field(default_factory=lambda: ["tbl2", "tbl5"])  # which tables' variants to run
    keep_weights: bool = False  # keep every variant's network (144 MB at the paper's size) after its evaluation


@dataclass(frozen=True)
class Variant:
    name: str  # folder name under the ablation output
    label: str  # the paper's row label
    table: str  # "tbl2" or "tbl5"
    experts: tuple[str, ...] | None = None  # paper experts used; None = every expert of the store
    fusion: str = "cg"  # ModelConfig.fusion: "cg" (collaborative gating) or "concat" (Naive Concat)
    seq_len: int | None = None  # ModelConfig.seq_len; None = the base config's
    trained: bool = True  # False for the Random row


# Tbl. 2 rows in the paper's order, then Tbl. 5's sequence lengths.
VARIANTS: list[Variant] = [
    Variant("random", "Random", "tbl2", trained=False),
    Variant("scene", "Scene", "tbl2", ("scene",)),
    Variant("audio", "Audio", "tbl2", ("audio",)),
    Variant("motion", "Motion", "tbl2", ("motion",)),
    Variant("image", "Image", "tbl2", ("image",)),
    Variant("image+audio", "Image + Audio", "tbl2", ("image", "audio")),
    Variant("image+motion", "Image + Motion", "tbl2", ("image", "motion")),
    Variant("image+scene", "Image + Scene", "tbl2", ("image", "scene")),
    Variant("naive-concat", "Naive Concat", "tbl2", fusion="concat"),
    Variant("gating", "MMX-Trailer-20", "tbl2"),
    Variant("seq-1", "1", "tbl5", seq_len=1),
    Variant("seq-5", "5", "tbl5", seq_len=5),
    Variant("seq-9", "9", "tbl5", seq_len=9),
    Variant("seq-20", "20", "tbl5", seq_len=20),
]


def list_variants(tables: list[str] | None = None) -> list[Variant]:
    return [v for v in VARIANTS if tables is None or v.table in tables]



def store_experts(variant: Variant, store: FeatureStore, cfg: AblationConfig) -> list[str] | None:
    """The store's expert names for ``variant`` (None = all); raises TrainError when one is missing."""
    if variant.experts is None:
        return None
    unknown = [e for e in variant.experts if e not in cfg.expert_names]
    if unknown:
        raise TrainError(f"no store expert is mapped to the paper's {', '.join(unknown)}; set expert_names")
    names = [cfg.expert_names[e] for e in variant.experts]
    missing = [n for n in names if n not in store.experts]
    if missing:
        raise TrainError(
            f"store {store.root} has no expert {', '.join(missing)} (it has {', '.join(sorted(store.experts))}); "
            "map the paper's experts to the store's names with --expert image=NAME"
        )
    return names


def variant_config(variant: Variant, base: RunConfig, experts: list[str] | None) -> RunConfig:
    """The coarse-run config of ``variant``: ``base`` with its experts, fusion and sequence length."""
    model = {"fusion": variant.fusion}
    if variant.seq_len is not None:
        model["seq_len"] = variant.seq_len
    return merge(base, {"data": {"experts": experts if experts is not None else base.data.experts}, "model": model})


def _recipe(cfg: RunConfig) -> str:
    return json.dumps(recipe(cfg), sort_keys=True)


def plan(store: FeatureStore, base: RunConfig, cfg: AblationConfig) -> dict[str, dict]:
    """Variant name → {label, table, run (folder name), experts, config, skipped (reason or None)}."""
    out: dict[str, dict] = {}
    by_recipe: dict[str, str] = {}
    for v in list_variants(cfg.tables):
        row = {"label": v.label, "table": v.table, "run": None, "experts": None, "config": None, "skipped": None}
        if v.trained:
            try:
                experts = store_experts(v, store, cfg)
            except TrainError as e:
                row["skipped"] = str(e)
                out[v.name] = row
                continue
            rc = variant_config(v, base, experts)
            recipe = _recipe(rc)
            row.update(run=by_recipe.setdefault(recipe, v.name), experts=experts, config=config_to_dict(rc))
        out[v.name] = row
    return out


def train_variant(store: FeatureStore, run: RunDir, cfg: RunConfig, reporter: Reporter) -> bool:
    """Train (or continue) one variant's run; False when it already reached ``cfg.train.epochs``."""
    state = run.read_state() if run.exists() else None
    done = state.epoch if state else 0
    if done >= cfg.train.epochs:
        reporter.line(f"{run.root.name}: already trained ({done} epochs)")
        return False
    if state is not None and not run.best_path.exists():  # a lean variant: its weights are gone, train it anew
        shutil.rmtree(run.root)
        done = 0
    reporter.line(f"{run.root.name}: training epochs {done + 1}–{cfg.train.epochs} → {run.root}")
    train(store, run.root, cfg, resume=run.exists(), reporter=reporter, write_embeddings=False)
    return True


def evaluate_variant(run: ModelRun, split: str) -> dict:
    """Metrics of the run's best epoch on ``split``, cached in ``scores.npz`` while the weights are unchanged."""
    path = run.root / SCORES_FILE
    info, threshold = run.info, run.config.train.threshold
    if artifacts.problem(run.root, artifacts.SCORES) is None:  # written since the weights last changed
        with np.load(path, allow_pickle=False) as z:
            if str(z["split"]) == split:
                return classification_metrics(z["labels"], z["probs"], info.genres, threshold)
    ids = run.split_ids(split)
    if not ids:
        raise TrainError(f"split {split!r} of {run.root} is empty; evaluate on another split (--split val)")
    probs, labels = predict_ids(run, ids)
    write_scores(path, split, ids, info.genres, probs, labels)
    return classification_metrics(labels, probs, info.genres, threshold)


def drop_weights(run: RunDir) -> None:
    """What a variant needs no more once its scores are written: its network and checkpoints."""
    run.best_path.unlink(missing_ok=True)
    run.embeddings_path.unlink(missing_ok=True)
    shutil.rmtree(run.root / "checkpoints", ignore_errors=True)


def write_scores(path: Path, split: str, ids: list[str], genres: list[str], probs: np.ndarray, labels: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez(buf, split=np.asarray(split), ids=np.asarray(ids, dtype=str), genres=np.asarray(genres, dtype=str),
             probs=probs.astype(np.float32), labels=labels.astype(np.int8))
    atomic_write(path, buf.getvalue())


def read_scores(path: str | Path) -> dict:
    """``ids``, ``genres``, ``probs`` (N, G) and ``labels`` (N, G) of a variant's ``scores.npz``."""
    with np.load(path, allow_pickle=False) as z:
        return {"split": str(z["split"]), "ids": [str(t) for t in z["ids"]], "genres": [str(g) for g in z["genres"]],
                "probs": z["probs"].astype(float), "labels": z["labels"].astype(int)}


def random_metrics(store: FeatureStore, base: RunConfig, split: str) -> dict:
    """The Random row: uniform random scores on ``split`` of the split every variant uses."""
    info = prepare_run_info(store, base)
    if split != "all" and split not in info.splits:
        raise TrainError(f"unknown split {split!r}; use one of {', '.join(info.splits)} or all")
    ids = sorted(i for ids in info.splits.values() for i in ids) if split == "all" else info.splits[split]
    labels = np.array([[g in store.meta(t).genres for g in info.genres] for t in ids], dtype=int)
    return random_baseline(labels, info.genres, base.train.threshold, seed=base.train.seed)


def run_ablation(
    store: FeatureStore,
    out: str | Path,
    base: RunConfig,
    cfg: AblationConfig | None = None,
    reporter: Reporter = QUIET,
) -> dict:
    """Train and evaluate the variants of ``cfg.tables`` into ``out``; returns ``{"variants", "results"}``.

    Rows of other tables from an earlier call on the same split are kept, so ``--tables tbl5`` after
    ``--tables tbl2`` gives both. ``results.json`` is rewritten after every variant.
    """
    cfg = cfg or AblationConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    new = plan(store, base, cfg)
    old_table, old_results = _previous(out, cfg.split)
    merged = {**old_table, **new}
    table = {v.name: merged[v.name] for v in VARIANTS if v.name in merged}
    results = {name: r for name, r in old_results.items() if name not in new}
    write_json(out / TABLE_FILE, {"split": cfg.split, "expert_names": cfg.expert_names, "variants": table})
    done: dict[str, dict] = {}  # run folder → its metrics (variants sharing a run)
    for name, row in new.items():
        if row["skipped"]:
            reporter.line(f"{name}: skipped ({row['skipped']})")
            continue
        if row["run"] is None:
            results[name] = random_metrics(store, base, cfg.split)
        else:
            if row["run"] not in done:
                folder = RunDir(out / row["run"])
                train_variant(store, folder, config_from_dict(row["config"]), reporter)
                done[row["run"]] = evaluate_variant(Run.open(folder.root), cfg.split)
                if not cfg.keep_weights:
                    drop_weights(folder)
            results[name] = done[row["run"]]
        write_json(out / RESULTS_FILE, {n: results[n] for n in table if n in results})
    return {"variants": table, "results": {n: results[n] for n in table if n in results}}


def _previous(out: Path, split: str) -> tuple[dict, dict]:
    """Variants and results of an earlier call into ``out`` on the same split (none otherwise)."""
    if not (out / TABLE_FILE).exists() or not (out / RESULTS_FILE).exists():
        return {}, {}
    old = load_ablation(out)
    return (old["variants"], old["results"]) if old["split"] == split else ({}, {})


def write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1, allow_nan=True) + "\n")


def load_ablation(out: str | Path) -> dict:
    """``{"split", "expert_names", "variants", "results"}`` of a finished ``run_ablation`` folder."""
    out = Path(out)
    for f in (TABLE_FILE, RESULTS_FILE):
        if not (out / f).exists():
            raise TrainError(f"{out / f} is missing; run `mmx ablate --store STORE --out {out}` first")
    table = json.loads((out / TABLE_FILE).read_text())
    return {**table, "results": json.loads((out / RESULTS_FILE).read_text())}


def paired_difference(out: str | Path, ablation: dict, a: str, b: str, level: float = 0.95) -> dict | None:
    """Variant ``a``'s AUPRC_w minus variant ``b``'s on the same trailers, with the paired bootstrap interval of
    that difference over those trailers (``mmx.metrics.auprc_difference_interval``): ``{"difference", "low",
    "high", "n"}``. None when either variant was not run or its scores are not on the same trailers."""
    runs = [ablation["variants"].get(v, {}).get("run") for v in (a, b)]
    if any(run is None or v not in ablation["results"] for v, run in zip((a, b), runs)):
        return None
    paths = [Path(out) / run / SCORES_FILE for run in runs]
    if not all(p.exists() for p in paths):
        return None
    sa, sb = (read_scores(p) for p in paths)
    if sa["ids"] != sb["ids"] or sa["genres"] != sb["genres"]:
        return None
    low, high = auprc_difference_interval(sa["labels"], sa["probs"], sb["probs"], level)
    diff = ablation["results"][a]["auprc_weighted"] - ablation["results"][b]["auprc_weighted"]
    return {"difference": diff, "low": low, "high": high, "n": len(sa["ids"])}


def parse_expert_names(pairs: list[str], base: dict[str, str] | None = None) -> dict[str, str]:
    """``["image=rgb", ...]`` merged over ``base`` (the defaults): paper expert → store expert."""
    names = dict(base if base is not None else AblationConfig().expert_names)
    for text in pairs:
        key, sep, value = text.partition("=")
        if not sep or key not in PAPER_EXPERTS or not value:
            raise TrainError(f"--expert {text!r}: expected PAPER=STORE with PAPER one of {', '.join(PAPER_EXPERTS)}")
        names[key] = value
    return names

