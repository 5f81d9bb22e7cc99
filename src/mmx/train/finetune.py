"""Fine-grained stage (§3.3, §4.2): NT-Xent fine-tuning of a coarse run's bottleneck.

Two views of each trailer form a positive pair — by default the two halves of its clips, each
half giving its own ``n_seqs`` windows (§3.3); the other rule, two random window sets of the whole
trailer (the authors' later code), is registered beside it in ``PAIR_RULES``. Both views go through
the network up to the 2048-d bottleneck, then a projection head m, n → 128-d, and NT-Xent pulls
the pair together against the 2(N − 1) other views of the batch. Adam at lr 1e-4 with 10 linear
warm-up epochs then cosine annealing, 50 epochs. Every epoch logs the cosine silhouette of the
validation trailers' bottleneck embeddings by primary genre (Fig. 6), epoch 0 being the coarse
starting point.

The run folder is a run like ``train``'s (kind ``"fine"``, ``parent`` = the coarse run, the
parent's config.json so the network loads the same way) plus ``finetune.json``. Each epoch writes
``checkpoints/epoch-NNNN`` (network, projection head, optimizer) and ``best.safetensors`` — for a
fine run the weights of the last finished epoch, without the projection head, which exists only to
train. Every epoch reseeds from (seed, epoch), so a run killed at any moment and resumed ends at
the same weights as an uninterrupted one. When the last epoch is done, ``embeddings.npz`` is written.

Under ``torchrun`` (``mmx.train.distributed``) each process embeds its share of every global batch
and NT-Xent runs on the views of all processes gathered together, so every anchor still has the
2(N − 1) negatives of the whole global batch; only the main process writes the run folder.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mmx.config import merge
from mmx.data.dataset import ViewRule
from mmx.data.store import FeatureStore
from mmx.data.windows import window_indices
from mmx.embeddings import embed_ids, embed_run
from mmx.errors import RunError, TrainError
from mmx.losses import NTXentLoss
from mmx.model.mmx import MMX
from mmx.registry import Registry
from mmx.retrieval import silhouette
from mmx.train.coarse import autocast, make_loader
from mmx.train.distributed import (
    DistInfo,
    Step,
    barrier,
    batch_steps,
    gather_with_grad,
    init_distributed,
    wrap_model,
)
from mmx.train.run import RunDir, RunInfo
from mmx.utils import atomic_write_text

FINETUNE_FILE = "finetune.json"



@dataclass
class FinetuneConfig:
    epochs: int = 50  # §4.2
    warmup_epochs: int = 10  # linear warm-up epochs before cosine annealing (§4.2)
    lr: float = 1e-4  # peak learning rate, Adam (§4.2)
    weight_decay: float = 0.0  # the paper uses none
    batch_size: int = 32  # trailers per batch, 2(N − 1) negatives per anchor; the paper's coarse batch (§4.2)
    temperature: float = 0.5  # τ of NT-Xent (§4.2)
    proj_hidden: int = 2048  # hidden width of projection layer m; not given in the paper (SimCLR: the input size)
    proj_dim: int = 128  # output of projection layer n (§4.2: 2048 → 128)
    positive_pair: str = "halves"  # "halves" (§3.3) or "random-windows" (two random window sets, authors' later code)
    seed: int = 0  # seeds the projection head, batch order and random windows
    eval_batch_size: int = 32  # batch size for the silhouette and the final embeddings
    threads: int = 0  # torch CPU threads; 0 = torch's default


def load_finetune_config(values: dict, base: FinetuneConfig | None = None) -> FinetuneConfig:
    """``base`` (or the defaults) with ``values`` merged in, names and types checked."""
    cfg = merge(base or FinetuneConfig(), values)
    if not (cfg.temperature > 0 and cfg.lr > 0 and cfg.epochs >= 1 and 0 <= cfg.warmup_epochs):
        raise TrainError(
            f"fine-tuning needs temperature > 0, lr > 0, epochs ≥ 1 and warmup_epochs ≥ 0 "
            f"(got {cfg.temperature}, {cfg.lr}, {cfg.epochs}, {cfg.warmup_epochs})"
        )
    if cfg.positive_pair not in PAIR_RULES:
        raise TrainError(
            f"positive_pair {cfg.positive_pair!r} is unknown; use one of {', '.join(PAIR_RULES.names())}"
        )
    return cfg


# ---------------------------------------------------------------------------- positive pairs
PAIR_RULES: Registry[list[ViewRule]] = Registry("positive-pair rule")


@PAIR_RULES.register("halves")
def halves(n_seqs: int, seq_len: int) -> list[ViewRule]:
    """First and second half of the clips, each with its own evenly spaced windows (§3.3).

    A trailer of a single clip has no halves; both views are then that clip.
    """

    def half(which: int) -> ViewRule:
        def rule(n: int, rng: np.random.Generator | None) -> np.ndarray:
            if n < 2:
                return window_indices(n, n_seqs, seq_len)
            lo, hi = (0, n // 2) if which == 0 else (n // 2, n)
            return window_indices(n, n_seqs, seq_len, lo, hi)  # (S, L)

        return rule

    return [half(0), half(1)]


@PAIR_RULES.register("random-windows")
def random_windows(n_seqs: int, seq_len: int) -> list[ViewRule]:
    """Two independent random window sets over the whole trailer, redrawn every epoch."""
    rule: ViewRule = lambda n, rng: window_indices(n, n_seqs, seq_len, rng=rng)  # noqa: E731
    return [rule, rule]


# ---------------------------------------------------------------------------- model parts
class ProjectionHead(nn.Module):
    """m, n: the bottleneck (…, 2048) → (…, 128) space where NT-Xent is applied (§3.3)."""

    def __init__(self, embed_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.m = nn.Sequential(nn.Linear(embed_dim, hidden), nn.ReLU())
        self.n = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.n(self.m(x))  # (…, 2048) → (…, hidden) → (…, 128)


def lr_at(epoch: int, cfg: FinetuneConfig) -> float:
    """Learning rate of 1-based ``epoch``: linear warm-up to ``lr``, then cosine annealing to 0."""
    if epoch <= cfg.warmup_epochs:
        return cfg.lr * epoch / cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (epoch - cfg.warmup_epochs - 1) / span))


class ContrastiveNet(nn.Module):
    """The network up to the bottleneck, then the projection head: what NT-Xent trains (one DDP module)."""

    def __init__(self, model: MMX, proj: ProjectionHead):
        super().__init__()
        self.model, self.proj = model, proj

    def forward(self, batch) -> torch.Tensor:
        return self.proj(self.model.embed(batch))  # (B, V, proj_dim)


def trainable_parameters(model: MMX, proj: ProjectionHead) -> list[nn.Parameter]:
    """Everything up to the bottleneck, and the projection head; the genre head l stays as it is."""
    return [p for n, p in model.named_parameters() if not n.startswith("head.")] + list(proj.parameters())


def train_one_epoch(
    net: nn.Module, loader: DataLoader, loss_fn: NTXentLoss, optimizer: torch.optim.Optimizer,
    progress: bool = True, desc: str = "finetune", dist: DistInfo = DistInfo(),
) -> float:
    """One pass of NT-Xent over ``loader`` (two views per trailer); mean loss per trailer.

    ``net`` is a ``ContrastiveNet`` (DDP-wrapped in a world > 1). A global batch of a single
    trailer (the last one of an epoch) has no negatives and is skipped.
    """
    net.train()
    total, count = 0.0, 0
    steps = batch_steps(loader)
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, unit="batch")
    for i, batch in enumerate(bar):
        step = steps[i] if steps else Step(len(batch.ids), len(batch.ids))
        if step.total < 2:
            continue
        with autocast(dist):
            z = net(batch.to(dist.device)).float()[: step.local]  # (b, 2, proj_dim): this process's share
        z = gather_with_grad(z, dist)  # (B, 2, proj_dim): the whole global batch, in batch order
        # every process computes the same loss; the gather's backward sums the gradients of the shares
        # and DDP averages them over processes, which gives the gradient of this one loss
        loss = loss_fn(z[:, 0], z[:, 1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * step.total
        count += step.total
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def val_silhouette(model: MMX, store: FeatureStore, info: RunInfo, batch_size: int) -> float:
    """Cosine silhouette of the validation trailers' bottleneck embeddings by primary genre (Fig. 6)."""
    ids = info.splits["val"]
    vectors = embed_ids(model, store, info, ids, batch_size)
    return silhouette(vectors, [store.meta(t).genres for t in ids])


# ---------------------------------------------------------------------------- the run
def finetune(
    parent: str | Path,
    out: str | Path,
    cfg: FinetuneConfig,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    dist: DistInfo | None = None,
) -> dict:
    """Fine-tune the coarse run ``parent`` into ``out`` (or resume ``out``); returns the final state.

    ``dist`` defaults to the torchrun job of the environment (``init_distributed``); with several
    processes every process runs this with the same arguments and the main one writes the run.
    """
    dist = dist or init_distributed()
    log = log if dist.is_main else _silent
    progress = progress and dist.is_main
    run = RunDir(out)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if resume and run.exists():
        info = run.info()
        _check_resume(run, info, parent, cfg)
        parent_run = RunDir(info.parent)
    else:
        if run.exists():
            raise RunError(f"{run.root} already holds a run; pass --resume to continue it or pick a new --out")
        parent_run = RunDir(parent)
        info = _fine_info(parent_run, cfg)
    store, run_cfg = parent_run.store(), parent_run.config()
    state = run.state() if resume else None
    barrier(dist)  # every process has read the folder before the main one writes it
    if dist.is_main:
        run.write_info(info, run_cfg)
        atomic_write_text(run.root / FINETUNE_FILE, json.dumps(asdict(cfg), indent=2) + "\n")

    torch.manual_seed(cfg.seed)
    model = parent_run.load_model("best")
    proj = ProjectionHead(run_cfg.model.embed_dim, cfg.proj_hidden, cfg.proj_dim)
    if state is not None and state["checkpoint"]:
        ckpt = run.root / state["checkpoint"]
        model.load_state_dict(load_file(f"{ckpt}.safetensors"))
        proj.load_state_dict(load_file(f"{ckpt}.proj.safetensors"))
    net = wrap_model(ContrastiveNet(model, proj), dist)  # on the device; DDP in a world > 1
    optimizer = torch.optim.Adam(trainable_parameters(model, proj), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if state is None:
        score = val_silhouette(model, store, info, cfg.eval_batch_size)
        state = {"epoch": 0, "checkpoint": None, "best_epoch": 0, "best_score": score, "history": []}
        _finish_epoch(run, model, proj, optimizer, state, 0, {"epoch": 0, "val_silhouette": score}, dist)
        log(f"epoch 0 (coarse start): val silhouette {score:.4f}")
    elif state["checkpoint"]:
        optimizer.load_state_dict(torch.load(f"{run.root / state['checkpoint']}.optim.pt", weights_only=True))
        log(f"resuming {run.root} after epoch {state['epoch']}")

    views = PAIR_RULES.create(cfg.positive_pair, run_cfg.model.n_seqs, run_cfg.model.seq_len)
    loss_fn = NTXentLoss(cfg.temperature)
    epochs = range(state["epoch"] + 1, cfg.epochs + 1)
    bar = tqdm(epochs, desc="epochs", disable=not progress, unit="epoch", initial=state["epoch"], total=cfg.epochs)
    for epoch in bar:
        t0 = time.time()
        seed = epoch_seed(cfg.seed, epoch)
        torch.manual_seed(seed)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch, cfg)
        loader = make_loader(
            store, info, info.splits["train"], cfg.batch_size, views, shuffle_seed=seed, seed=cfg.seed, dist=dist,
        )
        loader.dataset.set_epoch(epoch)
        loss = train_one_epoch(net, loader, loss_fn, optimizer, progress, desc=f"epoch {epoch}", dist=dist)
        score = val_silhouette(model, store, info, cfg.eval_batch_size)
        record = {"epoch": epoch, "train_loss": loss, "lr": lr_at(epoch, cfg), "val_silhouette": score,
                  "seconds": round(time.time() - t0, 2)}
        _finish_epoch(run, model, proj, optimizer, state, epoch, record, dist)
        bar.set_postfix(loss=f"{loss:.4f}", silhouette=f"{score:.3f}")
        log(f"epoch {epoch}/{cfg.epochs}: NT-Xent {loss:.4f}, val silhouette {score:.4f}")
    if state["epoch"] >= cfg.epochs and dist.is_main:
        embed_run(run)
    return state


def _silent(message: str) -> None:
    """The log of processes other than the main one."""


def _finish_epoch(
    run: RunDir, model: MMX, proj: ProjectionHead, optimizer, state: dict, epoch: int, record: dict, dist: DistInfo,
) -> None:
    """The main process saves the epoch; the others only record it."""
    if dist.is_main:
        _save_epoch(run, model, proj, optimizer, state, epoch, record)
    else:
        _advance_state(state, epoch, RunDir.checkpoint_name(epoch), record)


def _advance_state(state: dict, epoch: int, name: str, record: dict) -> None:
    state.update(epoch=epoch, checkpoint=name, best_epoch=epoch, best_score=record["val_silhouette"])
    state["history"] = [h for h in state["history"] if h["epoch"] < epoch] + [record]


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % 2**31


def _fine_info(parent: RunDir, cfg: FinetuneConfig) -> RunInfo:
    """The fine run's info: the parent's data, with clear errors when NT-Xent cannot run on it."""
    info = parent.info()
    if info.kind not in ("coarse", "fine"):
        raise TrainError(f"{parent.root} is of kind {info.kind!r}, without a network; fine-tune a coarse run")
    n_train = len(info.splits["train"])
    if n_train < 2 or cfg.batch_size < 2:
        raise TrainError(
            f"NT-Xent needs at least 2 trailers per batch (the other trailers are the negatives); "
            f"{parent.root} has {n_train} training trailer(s) and batch_size is {cfg.batch_size}"
        )
    if not info.splits["val"]:
        raise TrainError(f"{parent.root} has no validation trailers, so the silhouette cannot be tracked")
    return RunInfo(
        kind="fine", store=info.store, experts=info.experts, genres=info.genres, splits=info.splits,
        excluded=info.excluded, parent=str(parent.root.resolve()),
    )


def _check_resume(run: RunDir, info: RunInfo, parent: str | Path | None, cfg: FinetuneConfig) -> None:
    if info.kind != "fine":
        raise RunError(f"{run.root} is a {info.kind} run, not a fine-tuning run")
    if parent is not None and Path(parent).resolve() != Path(info.parent):
        raise RunError(f"{run.root} was fine-tuned from {info.parent}, not {parent}")
    saved = asdict(load_finetune_config(json.loads((run.root / FINETUNE_FILE).read_text())))
    now = asdict(cfg)
    for d in (saved, now):
        d.pop("epochs")
        d.pop("threads")
    if saved != now:
        raise RunError(
            f"{run.root} was started with another fine-tuning config; resume it with the same settings "
            "(only epochs may grow) or fine-tune into a new --out folder"
        )


def _save_epoch(
    run: RunDir, model: MMX, proj: ProjectionHead, optimizer, state: dict, epoch: int, record: dict
) -> None:
    """Checkpoint files first, then best.safetensors and the state pointer, then prune."""
    name = RunDir.checkpoint_name(epoch)
    run.save_checkpoint(name, model, optimizer, {"proj": proj})
    run.promote_best(name)
    previous = state["checkpoint"]
    _advance_state(state, epoch, name, record)
    run.write_state(state)
    if previous and previous != name:
        run.remove_checkpoint(previous)
