"""Coarse genre training (§3.2, §4.2): weighted BCE, Adam + AMSGrad, best epoch on validation.

Short named loop functions — ``train_one_epoch``, ``predict``, ``evaluate`` — and ``train``, which
prepares a run folder, resumes it when asked, and keeps a checkpoint per epoch. Every epoch
reseeds from (seed, epoch), so a run killed at any moment and resumed ends at the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mmx.config import RunConfig, config_to_dict
from mmx.data.dataset import TRAIN_VIEWS, TrailerDataset, ViewRule, evenly_spaced, make_collate
from mmx.data.splits import assign_splits
from mmx.data.store import ExpertInfo, FeatureStore
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.metrics import classification_metrics
from mmx.model.mmx import MMX, create_model
from mmx.train.run import RunDir, RunError, RunInfo


class TrainError(Exception):
    """Training cannot start on this data; the message says why and what to change."""


def select_experts(store: FeatureStore, names: list[str] | None) -> dict[str, ExpertInfo]:
    if not store.experts:
        raise TrainError(f"store {store.root} has no experts; import or extract features first")
    if not names:
        return dict(sorted(store.experts.items()))
    unknown = [n for n in names if n not in store.experts]
    if unknown:
        raise TrainError(
            f"expert(s) {', '.join(unknown)} not in store {store.root}; it has {', '.join(sorted(store.experts))}"
        )
    return {n: store.experts[n] for n in names}


def prepare_run_info(store: FeatureStore, cfg: RunConfig) -> RunInfo:
    """Experts, genre vocabulary and splits for a new run, with clear errors for unusable data."""
    experts = select_experts(store, cfg.data.experts)
    entries = store.entries()
    if not entries:
        raise TrainError(f"store {store.root} holds no trailers; import or extract some first")
    split = assign_splits(entries, cfg.data.split_seed, cfg.data.split_fractions, cfg.data.min_clips)
    if not split.ids["train"]:
        raise TrainError(
            f"the training split is empty ({len(entries)} trailers, {len(split.too_short)} with fewer "
            f"than data.min_clips={cfg.data.min_clips} clips); import more trailers or lower data.min_clips"
        )
    if not split.ids["val"]:
        raise TrainError(
            "the validation split is empty, so no epoch can be selected; give trailers split=val in "
            "labels.csv or import more trailers"
        )
    genres = sorted({g for tid in split.ids["train"] for g in entries[tid].genres})
    if len(genres) < 2:
        raise TrainError(
            f"the training split has a single genre ({', '.join(genres)}); multi-label genre "
            "classification needs at least two"
        )
    return RunInfo(
        kind="coarse",
        store=str(store.root.resolve()),
        experts={n: vars(i).copy() for n, i in experts.items()},
        genres=genres,
        splits=split.ids,
        excluded={"too_short": split.too_short, "no_genre": split.no_genre},
    )


def make_loader(
    store: FeatureStore,
    info: RunInfo,
    ids: list[str],
    batch_size: int,
    views: list[ViewRule],
    shuffle_seed: int | None = None,
    seed: int = 0,
    epoch: int = 0,
) -> DataLoader:
    """Loader over ``ids``; shuffled with ``shuffle_seed`` when given (one generator per epoch)."""
    experts = info.expert_infos()
    ds = TrailerDataset(store, ids, list(experts), info.genres, views, seed=seed)
    ds.set_epoch(epoch)
    gen = None
    if shuffle_seed is not None:
        gen = torch.Generator().manual_seed(shuffle_seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle_seed is not None,
        generator=gen,
        collate_fn=make_collate(list(experts), {n: e.dim for n, e in experts.items()}),
        drop_last=False,
    )


def train_one_epoch(
    model: MMX, loader: DataLoader, loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer,
    progress: bool = True, desc: str = "train",
) -> float:
    """One pass over ``loader``; returns the mean loss per trailer."""
    model.train()
    total, count = 0.0, 0
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, unit="batch")
    for batch in bar:
        logits = model(batch)  # (B, G)
        loss = loss_fn(logits, batch.labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch.ids)
        count += len(batch.ids)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


@torch.no_grad()
def predict(model: MMX, loader: DataLoader) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Trailer ids, genre probabilities (N, G) and given labels (N, G) for every trailer of ``loader``."""
    model.eval()
    ids, probs, labels = [], [], []
    for batch in loader:
        ids.extend(batch.ids)
        probs.append(torch.sigmoid(model(batch)).numpy())
        labels.append(batch.labels.numpy())
    return ids, np.concatenate(probs), np.concatenate(labels)


def evaluate(model: MMX, loader: DataLoader, genres: list[str], threshold: float) -> dict:
    """Tbl. 2 metrics of ``model`` on the trailers of ``loader``."""
    _, probs, labels = predict(model, loader)
    return classification_metrics(labels, probs, genres, threshold)


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % 2**31


def train(
    store: FeatureStore,
    out: str | Path,
    cfg: RunConfig,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Train (or resume) a coarse run in ``out``; returns the final state (history, best epoch)."""
    run = RunDir(out)
    tc = cfg.train
    if tc.threads:
        torch.set_num_threads(tc.threads)
    state = run.state() if resume else None
    if resume and run.exists():
        if not _same_recipe(run.config(), cfg):
            raise RunError(
                f"{run.root} was started with another config; resume it with the same settings "
                "(only train.epochs may grow) or train into a new --out folder"
            )
        info = run.info()
        run.write_info(info, cfg)  # records a grown epoch count
    else:
        if run.exists() and not resume:
            raise RunError(f"{run.root} already holds a run; pass --resume to continue it or pick a new --out")
        info = prepare_run_info(store, cfg)
        run.write_info(info, cfg)

    n_excl = sum(len(v) for v in info.excluded.values())
    log(
        f"trailers: train {len(info.splits['train'])}, val {len(info.splits['val'])}, "
        f"test {len(info.splits['test'])}; excluded {n_excl} "
        f"({len(info.excluded.get('too_short', []))} with < {cfg.data.min_clips} clips)"
    )
    _seed_everything(tc.seed)
    model = create_model(info.expert_infos(), len(info.genres), cfg.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, amsgrad=tc.amsgrad)
    train_labels = _labels(store, info, info.splits["train"])
    loss_fn = WeightedBCELoss(positive_weights(train_labels, tc.max_pos_weight))

    if state is None:
        state = {"epoch": 0, "checkpoint": None, "best_epoch": None, "best_score": None, "history": []}
    else:
        ckpt = run.root / state["checkpoint"]
        model.load_state_dict(load_file(f"{ckpt}.safetensors"))
        optimizer.load_state_dict(torch.load(f"{ckpt}.optim.pt", weights_only=True))
        log(f"resuming {run.root} after epoch {state['epoch']}")

    if cfg.data.train_windows not in TRAIN_VIEWS:
        raise TrainError(f"data.train_windows must be one of {', '.join(TRAIN_VIEWS)}, not {cfg.data.train_windows!r}")
    views = evenly_spaced(cfg.model.n_seqs, cfg.model.seq_len)
    train_views = TRAIN_VIEWS[cfg.data.train_windows](cfg.model.n_seqs, cfg.model.seq_len)
    val_loader = make_loader(store, info, info.splits["val"], tc.eval_batch_size, views)
    epochs = range(state["epoch"] + 1, tc.epochs + 1)
    bar = tqdm(epochs, desc="epochs", disable=not progress, unit="epoch", initial=state["epoch"], total=tc.epochs)
    for epoch in bar:
        t0 = time.time()
        torch.manual_seed(_epoch_seed(tc.seed, epoch))
        loader = make_loader(
            store, info, info.splits["train"], tc.batch_size, train_views,
            shuffle_seed=_epoch_seed(tc.seed, epoch), seed=tc.seed, epoch=epoch,
        )
        train_loss = train_one_epoch(model, loader, loss_fn, optimizer, progress, desc=f"epoch {epoch}")
        metrics = evaluate(model, val_loader, info.genres, tc.threshold)
        score = metrics[tc.select_metric]
        record = {"epoch": epoch, "train_loss": train_loss, "seconds": round(time.time() - t0, 2)}
        record.update({f"val_{k}": metrics[k] for k in metrics if k not in ("per_genre", "n", "threshold")})
        _save_epoch(run, model, optimizer, state, epoch, record, score)
        bar.set_postfix(loss=f"{train_loss:.4f}", **{tc.select_metric: f"{score:.3f}"})
        log(
            f"epoch {epoch}/{tc.epochs}: loss {train_loss:.4f}, val {tc.select_metric} {score:.4f}"
            + (" (best)" if state["best_epoch"] == epoch else "")
        )
    return state


def _same_recipe(saved: RunConfig, cfg: RunConfig) -> bool:
    """Everything but the epoch count (and thread count) must match to resume a run."""
    a, b = config_to_dict(saved), config_to_dict(cfg)
    for d in (a, b):
        d["train"].pop("epochs")
        d["train"].pop("threads")
    return a == b


def _save_epoch(run: RunDir, model: MMX, optimizer, state: dict, epoch: int, record: dict, score: float) -> None:
    """Checkpoint files first, then the state pointer, then prune: a kill never loses an epoch."""
    name = f"checkpoints/epoch-{epoch:04d}"
    run.save_weights(model, run.root / f"{name}.safetensors")
    tmp = run.root / f"{name}.optim.pt.tmp"
    torch.save(optimizer.state_dict(), tmp)
    tmp.replace(run.root / f"{name}.optim.pt")
    if state["best_score"] is None or score > state["best_score"]:
        shutil.copyfile(run.root / f"{name}.safetensors", run.root / ".best.tmp")
        (run.root / ".best.tmp").replace(run.best_path)
        state["best_epoch"], state["best_score"] = epoch, score
    previous = state["checkpoint"]
    state.update(epoch=epoch, checkpoint=name)
    state["history"] = [h for h in state["history"] if h["epoch"] < epoch] + [record]
    run.write_state(state)
    if previous and previous != name:
        for suffix in (".safetensors", ".optim.pt"):
            (run.root / f"{previous}{suffix}").unlink(missing_ok=True)


def _labels(store: FeatureStore, info: RunInfo, ids: list[str]) -> torch.Tensor:
    index = {g: i for i, g in enumerate(info.genres)}
    y = torch.zeros(len(ids), len(info.genres))
    for r, tid in enumerate(ids):
        for g in store.meta(tid).genres:
            if g in index:
                y[r, index[g]] = 1.0
    return y
