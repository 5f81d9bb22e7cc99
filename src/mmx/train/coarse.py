"""Coarse genre training (§3.2, §4.2): weighted BCE, Adam + AMSGrad, best epoch on validation.

Short named loop functions — ``train_one_epoch``, ``predict``, ``evaluate`` — and ``train``, which
prepares a run folder, resumes it when asked, and keeps a checkpoint per epoch. Every epoch
reseeds from (seed, epoch), so a run killed at any moment and resumed ends at the same weights
as an uninterrupted one.

Under ``torchrun`` (``mmx.train.distributed``) each process trains on its share of every global
batch of ``train.batch_size`` trailers, every process evaluates the whole validation split, and
only the main process writes the run folder. On a GPU the steps run in bf16 autocast from pinned
memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mmx.config import RunConfig, config_to_dict
from mmx.data.dataset import (
    TRAIN_VIEWS,
    TrailerDataset,
    ViewRule,
    evenly_spaced,
    make_collate,
)
from mmx.data.splits import assign_splits
from mmx.data.store import ExpertInfo, FeatureStore
from mmx.errors import RunError, TrainError
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.metrics import classification_metrics
from mmx.model.mmx import MMX, create_model
from mmx.train.distributed import (
    DistInfo,
    GlobalBatchSampler,
    Step,
    all_sum,
    barrier,
    batch_steps,
    init_distributed,
    share_weight,
    unwrap,
    wrap_model,
)
from mmx.train.run import RunDir, RunInfo


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
    dist: DistInfo = DistInfo(),
) -> DataLoader:
    """Loader over ``ids``; shuffled with ``shuffle_seed`` when given (one permutation per epoch).

    Shuffled loaders give this process's share of each global batch (``GlobalBatchSampler``; all
    of it in a world of one); their ``batch_sampler.steps`` say how the shares are weighted.
    """
    experts = info.expert_infos()
    ds = TrailerDataset(store, ids, list(experts), info.genres, views, seed=seed)
    ds.set_epoch(epoch)
    collate = make_collate(list(experts), {n: e.dim for n, e in experts.items()})
    pin = dist.device.type == "cuda"
    if shuffle_seed is None:
        return DataLoader(ds, batch_size=batch_size, collate_fn=collate, drop_last=False, pin_memory=pin)
    sampler = GlobalBatchSampler(len(ds), batch_size, shuffle_seed, dist)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, pin_memory=pin)


def train_one_epoch(
    model: MMX, loader: DataLoader, loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer,
    progress: bool = True, desc: str = "train", dist: DistInfo = DistInfo(),
) -> float:
    """One pass over ``loader``; returns the mean loss per trailer (over all processes)."""
    model.train()
    total, count = 0.0, 0
    steps = batch_steps(loader)
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, unit="batch")
    for i, batch in enumerate(bar):
        step = steps[i] if steps else Step(len(batch.ids), len(batch.ids))
        batch = batch.to(dist.device)
        with autocast(dist):
            logits = model(batch)  # (B, G)
            loss = loss_fn(logits.float(), batch.labels)
        optimizer.zero_grad(set_to_none=True)
        (loss * share_weight(step, dist)).backward()
        optimizer.step()
        total += loss.item() * step.local
        count += step.local
        bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
    total, count = all_sum([total, count], dist)
    return total / max(count, 1)


def autocast(dist: DistInfo) -> torch.autocast:
    """bf16 mixed precision on GPUs; full precision on CPUs (bf16 matmuls there are no faster)."""
    return torch.autocast(dist.device.type, dtype=torch.bfloat16, enabled=dist.device.type == "cuda")


@torch.no_grad()
def predict(model: MMX, loader: DataLoader, dist: DistInfo = DistInfo()) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Trailer ids, genre probabilities (N, G) and given labels (N, G) for every trailer of ``loader``."""
    model.eval()
    ids, probs, labels = [], [], []
    for batch in loader:
        ids.extend(batch.ids)
        with autocast(dist):
            logits = model(batch.to(dist.device)).float()
        probs.append(torch.sigmoid(logits).cpu().numpy())
        labels.append(batch.labels.numpy())
    return ids, np.concatenate(probs), np.concatenate(labels)


def evaluate(model: MMX, loader: DataLoader, genres: list[str], threshold: float, dist: DistInfo = DistInfo()) -> dict:
    """Tbl. 2 metrics of ``model`` on the trailers of ``loader``."""
    _, probs, labels = predict(model, loader, dist)
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
    dist: DistInfo | None = None,
) -> dict:
    """Train (or resume) a coarse run in ``out``; returns the final state (history, best epoch).

    ``dist`` defaults to the torchrun job of the environment (``init_distributed``): a world of
    one on the GPU or the CPU without torchrun. With several processes every process runs this with
    the same arguments; the main one writes the run folder and logs.
    """
    dist = dist or init_distributed()
    run = RunDir(out)
    log = log if dist.is_main else _silent
    progress = progress and dist.is_main
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
    else:
        if run.exists() and not resume:
            raise RunError(f"{run.root} already holds a run; pass --resume to continue it or pick a new --out")
        info = prepare_run_info(store, cfg)
    barrier(dist)  # every process has read the folder before the main one writes it
    if dist.is_main:
        run.write_info(info, cfg)  # on resume: records a grown epoch count

    n_excl = sum(len(v) for v in info.excluded.values())
    log(
        f"trailers: train {len(info.splits['train'])}, val {len(info.splits['val'])}, "
        f"test {len(info.splits['test'])}; excluded {n_excl} "
        f"({len(info.excluded.get('too_short', []))} with < {cfg.data.min_clips} clips)"
    )
    _seed_everything(tc.seed)
    model = create_model(info.expert_infos(), len(info.genres), cfg.model)
    train_labels = _labels(store, info, info.splits["train"])
    loss_fn = WeightedBCELoss(positive_weights(train_labels, tc.max_pos_weight)).to(dist.device)

    if state is None:
        state = {"epoch": 0, "checkpoint": None, "best_epoch": None, "best_score": None, "history": []}
    else:
        ckpt = run.root / state["checkpoint"]
        model.load_state_dict(load_file(f"{ckpt}.safetensors"))
        log(f"resuming {run.root} after epoch {state['epoch']}")
    net = wrap_model(model, dist)  # the model itself in a world of one
    optimizer = torch.optim.Adam(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, amsgrad=tc.amsgrad)
    if state["checkpoint"] is not None:
        optimizer.load_state_dict(torch.load(f"{run.root / state['checkpoint']}.optim.pt", weights_only=True))

    if cfg.data.train_windows not in TRAIN_VIEWS:
        raise TrainError(f"data.train_windows must be one of {', '.join(TRAIN_VIEWS)}, not {cfg.data.train_windows!r}")
    views = evenly_spaced(cfg.model.n_seqs, cfg.model.seq_len)
    train_views = TRAIN_VIEWS[cfg.data.train_windows](cfg.model.n_seqs, cfg.model.seq_len)
    val_loader = make_loader(store, info, info.splits["val"], tc.eval_batch_size, views, dist=dist)
    epochs = range(state["epoch"] + 1, tc.epochs + 1)
    bar = tqdm(epochs, desc="epochs", disable=not progress, unit="epoch", initial=state["epoch"], total=tc.epochs)
    for epoch in bar:
        t0 = time.time()
        torch.manual_seed(_epoch_seed(tc.seed, epoch))
        loader = make_loader(
            store, info, info.splits["train"], tc.batch_size, train_views,
            shuffle_seed=_epoch_seed(tc.seed, epoch), seed=tc.seed, epoch=epoch, dist=dist,
        )
        train_loss = train_one_epoch(net, loader, loss_fn, optimizer, progress, desc=f"epoch {epoch}", dist=dist)
        metrics = evaluate(unwrap(net), val_loader, info.genres, tc.threshold, dist)
        score = metrics[tc.select_metric]
        record = {"epoch": epoch, "train_loss": train_loss, "seconds": round(time.time() - t0, 2)}
        record.update({f"val_{k}": metrics[k] for k in metrics if k not in ("per_genre", "n", "threshold")})
        if dist.is_main:
            _save_epoch(run, model, optimizer, state, epoch, record, score)
        else:
            _advance_state(state, epoch, RunDir.checkpoint_name(epoch), record, score)
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


def _silent(message: str) -> None:
    """The log of processes other than the main one."""


def _advance_state(state: dict, epoch: int, name: str, record: dict, score: float) -> bool:
    """Record a finished epoch in ``state``; True when it is the new best."""
    best = state["best_score"] is None or score > state["best_score"]
    if best:
        state["best_epoch"], state["best_score"] = epoch, score
    state.update(epoch=epoch, checkpoint=name)
    state["history"] = [h for h in state["history"] if h["epoch"] < epoch] + [record]
    return best


def _save_epoch(run: RunDir, model: MMX, optimizer, state: dict, epoch: int, record: dict, score: float) -> None:
    """Checkpoint files first, then the state pointer, then prune: a kill never loses an epoch."""
    name = RunDir.checkpoint_name(epoch)
    run.save_checkpoint(name, model, optimizer)
    previous = state["checkpoint"]
    if _advance_state(state, epoch, name, record, score):
        run.promote_best(name)
    run.write_state(state)
    if previous and previous != name:
        run.remove_checkpoint(previous)


def _labels(store: FeatureStore, info: RunInfo, ids: list[str]) -> torch.Tensor:
    index = {g: i for i, g in enumerate(info.genres)}
    y = torch.zeros(len(ids), len(info.genres))
    for r, tid in enumerate(ids):
        for g in store.meta(tid).genres:
            if g in index:
                y[r, index[g]] = 1.0
    return y
