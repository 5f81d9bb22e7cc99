"""Out-of-fold genre probabilities of a run's own network, for the label check (``mmx check RUN --network-folds K``).

The trailers are cut into K folds as the label check's probe cuts them (``mmx.health.label_issues.fold_assignment``,
same seed). For fold k a copy of the run's network — its ``RunConfig``: experts, sizes, recipe, at most
``epochs`` epochs — is trained from scratch on a store of hard links (``FeatureStore.link_entry``, no array
copied) where fold k is the test split and every other trailer keeps its split in the run (val stays val, so
the best epoch is chosen without fold k; the run's test trailers train), and then predicts fold k through the
run's own inference path (``mmx.inference.predict_ids``). So each trailer's probabilities come from a network
that neither trained nor chose its epoch on it (a fine run is cross-fitted by its coarse recipe, ``config.json``;
its NT-Xent fine-tuning is not repeated). The K stores and runs live in a temporary folder (under
``work`` when given) that is removed when the cross-fit ends, fails or is interrupted; a killed process
leaves it there, never in the run folder.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmx.config import with_epochs
from mmx.data.store import FeatureStore
from mmx.errors import TrainError
from mmx.health.label_issues import OutOfFold, fold_assignment
from mmx.inference import predict_ids
from mmx.progress import QUIET, Reporter
from mmx.run import ModelRun, Run
from mmx.train.coarse import train


@dataclass(frozen=True)
class CrossfitConfig:
    folds: int = 3  # K networks are trained: each on the trailers outside one fold
    epochs: int | None = None  # cap on each network's epochs (None: the run's own)
    seed: int = 0  # the fold assignment (the label check's probe uses the same)


def fold_links(store: FeatureStore, ids: list[str], held: set[str], splits: dict[str, str], out: Path) -> FeatureStore:
    """``out``: ``ids`` of ``store`` as hard links; ``held`` is the test split, the others keep their split
    in the run (its test trailers train)."""
    target = FeatureStore.create(out)
    for tid in ids:
        split = "test" if tid in held else "val" if splits.get(tid) == "val" else "train"
        target.link_entry(store, tid, split=split)
    return target


def network_out_of_fold(run: Run, ids: list[str], cfg: CrossfitConfig = CrossfitConfig(),
                        work: str | Path | None = None, reporter: Reporter = QUIET) -> OutOfFold:
    """(N, G) out-of-fold probabilities of ``ids`` (trailers of the run's store) from K copies of the run's network."""
    if not isinstance(run, ModelRun):
        raise TrainError(f"{run.root} holds imported embeddings without a network; cross-fit its probe instead "
                         "(`mmx check` without --network-folds)")
    if cfg.folds < 2 or len(ids) < 2 * cfg.folds:
        raise TrainError(f"--network-folds {cfg.folds}: need K ≥ 2 and at least 2·K trailers "
                         f"({len(ids)} labelled in {run.root})")
    run_cfg = run.config if cfg.epochs is None else with_epochs(run.config, cfg.epochs)
    splits = {t: s for s, members in run.info.splits.items() for t in members}
    fold = fold_assignment(len(ids), cfg.folds, cfg.seed)  # (N,)
    genres: list[str] = sorted({g for t in ids for g in run.store.meta(t).genres})
    probs = np.zeros((len(ids), len(genres)), dtype=np.float64)  # a genre a fold's network never learnt: 0
    trained_on: list[list[str]] = []
    if work is not None:
        Path(work).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmx-crossfit-", dir=work) as tmp:
        for k in range(cfg.folds):
            rows = np.flatnonzero(fold == k)
            held = [ids[i] for i in rows]
            reporter.line(f"network fold {k + 1}/{cfg.folds}: training {run_cfg.train.epochs} epoch(s) without "
                          f"{len(held)} held-out trailer(s)")
            store = fold_links(run.store, ids, set(held), splits, Path(tmp) / f"fold{k}" / "store")
            folder = Path(tmp) / f"fold{k}" / "run"
            train(store, folder, run_cfg, reporter=reporter, write_embeddings=False)
            fold_run = Run.open(folder)
            trained_on.append(sorted(fold_run.info.splits["train"] + fold_run.info.splits["val"]))
            p, _ = predict_ids(fold_run, held)  # (len(held), G_k) in the fold run's genre order
            for j, g in enumerate(fold_run.info.genres):
                probs[rows, genres.index(g)] = p[:, j]
    return OutOfFold(list(ids), genres, probs, f"network ({cfg.folds}-fold out-of-fold)", fold, trained_on)
