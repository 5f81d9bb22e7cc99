"""The k-fold protocol of an anchor: train on each fold of a release, score each fold's test split
with the anchor's own metrics (``mmx.metrics.PROTOCOLS``), report mean ± sd over folds.

Trailers12k gives three folds (columns ``split0..2`` of its csv); ``mmx import --format
trailers12k`` keeps every trailer's split in each fold in ``meta.source["folds"]``. Fold k is
trained on a store of its own whose entries are hard links to the imported one's files with
``split`` set from fold k (seconds, no array copied), in ``OUT/fold<k>/store``; its run is
``OUT/fold<k>/run``. The sd is the sample sd (ddof 1), as DIViTA's ``compute_mean_std``. A run
that was interrupted continues where it stopped (the store links and finished runs are kept);
the summary is ``OUT/kfold.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from mmx.config import RunConfig
from mmx.data.store import FeatureStore
from mmx.durable import atomic_write
from mmx.errors import TrainError
from mmx.inference import evaluate_protocol
from mmx.metrics import PROTOCOL_KEYS
from mmx.progress import QUIET, Reporter
from mmx.run import RunDir
from mmx.train.coarse import train


def n_folds(store: FeatureStore) -> int:
    """How many folds the store's entries carry (all must carry the same number)."""
    counts = {len(m.source.get("folds") or []) for m in store.entries().values()}
    if counts == {0} or not counts:
        raise TrainError(f"store {store.root} records no folds; import a release that has them "
                         "(Trailers12k: mmx import DIR --format trailers12k)")
    if len(counts) > 1:
        raise TrainError(f"entries of {store.root} record different numbers of folds ({sorted(counts)}); re-import")
    return counts.pop()


def fold_store(store: FeatureStore, fold: int, out: Path) -> FeatureStore:
    """``out``: the entries of ``store`` as hard links, each with its split in fold ``fold``."""
    target = FeatureStore.create(out)
    have = target.entries()
    for tid, meta in sorted(store.entries().items()):
        split = meta.source["folds"][fold]
        old = have.get(tid)
        if old is None or old.split != split or old.source.get("sha256") != meta.source.get("sha256"):
            target.link_entry(store, tid, split=split)
    return target


def run_kfold(
    store: FeatureStore, out: str | Path, cfg: RunConfig, protocol: str = "trailers12k",
    folds: list[int] | None = None, reporter: Reporter = QUIET,
) -> dict:
    """Train and score every fold; {"folds": [per-fold metrics], "mean": {...}, "sd": {...}}."""
    if protocol not in PROTOCOL_KEYS:
        raise TrainError(f"protocol {protocol!r} is unknown; use one of {', '.join(PROTOCOL_KEYS)}")
    out = Path(out)
    total = n_folds(store)
    folds = list(range(total)) if folds is None else folds
    bad = [k for k in folds if not 0 <= k < total]
    if bad:
        raise TrainError(f"fold(s) {bad} do not exist; {store.root} has folds 0..{total - 1}")
    results = []
    for k in folds:
        start = time.perf_counter()
        reporter.line(f"fold {k}: linking the store, training {cfg.train.epochs} epoch(s)")
        fs = fold_store(store, k, out / f"fold{k}" / "store")
        run = out / f"fold{k}" / "run"
        train(fs, run, cfg, resume=RunDir(run).exists(), reporter=reporter, write_embeddings=False)
        metrics = evaluate_protocol(run, protocol, "test")
        metrics.update(fold=k, run=str(run), seconds=round(time.perf_counter() - start, 1))
        reporter.line(f"fold {k}: " + ", ".join(f"{key} {metrics[key]:.2f}" for key in PROTOCOL_KEYS[protocol]))
        results.append(metrics)
    keys = PROTOCOL_KEYS[protocol]
    summary = {
        "protocol": protocol, "folds": results,
        "mean": {key: statistics.fmean(r[key] for r in results) for key in keys},
        "sd": {key: statistics.stdev(r[key] for r in results) if len(results) > 1 else 0.0 for key in keys},
    }
    atomic_write(out / "kfold.json", json.dumps(summary, indent=1, default=str) + "\n")
    return summary
