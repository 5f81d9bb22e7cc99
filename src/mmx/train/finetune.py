"""Fine-grained stage (§3.3, §4.2): NT-Xent fine-tuning of a coarse run's bottleneck.

Two views of each trailer form a positive pair — by default the two halves of its clips, each
half giving its own ``n_seqs`` windows (§3.3); the other rule, two random window sets of the whole
trailer (the authors' later code), is registered beside it in ``PAIR_RULES``. Both views go through
the network up to the bottleneck (512-d by default, 2048-d in the paper), then a projection head m, n → 128-d, and NT-Xent pulls
the pair together against the 2(N − 1) other views of the batch. Adam at lr 1e-4 with 10 linear
warm-up epochs then cosine annealing, 50 epochs. Every epoch logs the cosine silhouette of the
validation trailers' bottleneck embeddings by primary genre (Fig. 6), epoch 0 being the coarse
starting point.

``FinetuneStage`` hands the NT-Xent step to the shared loop and ``FineSpec`` says how its run
folder is made (``mmx.train.loop.run_stage``: start-up, resume, seeding, checkpoints, lean
finish). The run folder is a run like ``train``'s (kind ``"fine"``, ``parent`` = the coarse run,
the parent's config.json so the network loads the same way) plus ``finetune.json``. Each epoch
writes ``checkpoints/epoch-NNNN`` (network, projection head, optimizer) and ``best.safetensors`` —
for a fine run the weights of the last finished epoch (its rule for the best epoch), without the
projection head, which exists only to train. When the last epoch is done, ``embeddings.npz`` is
written.

Under ``torchrun`` (``mmx.distributed``) each process embeds its share of every global batch
and NT-Xent runs on the views of all processes gathered together, so every anchor still has the
2(N − 1) negatives of the whole global batch; only the main process writes the run folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from mmx.config import FinetuneConfig, RunConfig, merge
from mmx.data.dataset import ViewRule
from mmx.data.loader import make_loader
from mmx.data.store import FeatureStore
from mmx.data.windows import window_indices
from mmx.distributed import DistInfo, Step, batch_steps, gather_with_grad, wrap_model
from mmx.embeddings import embed_ids
from mmx.errors import RunError, TrainError
from mmx.losses import NTXentLoss
from mmx.metrics import silhouette
from mmx.model.layers import Linear
from mmx.model.mmx import MMX
from mmx.precision import autocast, resolve_precision
from mmx.progress import QUIET, Reporter
from mmx.registry import Registry
from mmx.run import COARSE, FINE, ModelRun, Run, RunDir, RunInfo, TrainingState
from mmx.train.loop import Stage, StageSpec, adam, compiled, epoch_seed, run_stage, save_epoch

FINETUNE_FILE = "finetune.json"


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
    """m, n: the bottleneck (…, embed_dim) → (…, 128) space where NT-Xent is applied (§3.3)."""

    def __init__(self, embed_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.m = nn.Sequential(Linear(embed_dim, hidden), nn.ReLU())
        self.n = Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.n(self.m(x))  # (…, embed_dim) → (…, hidden) → (…, 128)


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
    """Everything up to the bottleneck, and the projection head; the genre head l and the scene path stay as they are."""
    return [p for n, p in model.named_parameters() if not n.startswith(("head.", "scenes."))] + list(proj.parameters())


def train_one_epoch(
    net: nn.Module, loader: DataLoader, loss_fn: NTXentLoss, optimizer: torch.optim.Optimizer,
    reporter: Reporter = QUIET, desc: str = "finetune", dist: DistInfo = DistInfo(), precision: str = "fp32",
) -> float:
    """One pass of NT-Xent over ``loader`` (two views per trailer); mean loss per trailer.

    ``net`` is a ``ContrastiveNet`` (DDP-wrapped in a world > 1). A global batch of a single
    trailer (the last one of an epoch) has no negatives and is skipped. The network computes in
    ``precision`` (bf16: autocast); the projections, NT-Xent and the update are fp32.
    """
    net.train()
    total, count = 0.0, 0
    steps = batch_steps(loader)
    for i, batch in enumerate(reporter.bar(loader, desc=desc, total=len(loader), unit="batch")):
        step = steps[i] if steps else Step(len(batch.ids), len(batch.ids))
        if step.total < 2:
            continue
        with autocast(dist.device, precision):
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
    return total / max(count, 1)


def val_silhouette(model: MMX, store: FeatureStore, info: RunInfo, batch_size: int, precision: str = "fp32",
                   split: str = "val") -> float:
    """Cosine silhouette of the ``split`` trailers' bottleneck embeddings by primary genre (Fig. 6)."""
    ids = info.splits[split]
    vectors = embed_ids(model, store, info, ids, batch_size, precision)
    return silhouette(vectors, [store.meta(t).genres for t in ids])


class FinetuneStage(Stage):
    """NT-Xent on two views of every trailer; every epoch is the best (the last one is kept)."""

    name = "fine-tune"
    metric = "val_silhouette"
    announces_best = False

    def __init__(self, parent: ModelRun, info: RunInfo, cfg: FinetuneConfig, dist: DistInfo):
        self.store, self.info, self.cfg, self.dist = parent.store, info, cfg, dist
        self.precision = info.precision or resolve_precision(cfg.precision, dist.device)
        self.model_cfg = parent.config.model
        torch.manual_seed(cfg.seed)
        self.model = parent.load_model("best")  # a copy of its own: the parent's stays as it is
        proj = ProjectionHead(self.model_cfg.embed_dim, cfg.proj_hidden, cfg.proj_dim)
        self.net = compiled(wrap_model(ContrastiveNet(self.model, proj), dist), cfg.compile, dist.device)  # DDP in a world > 1
        self.parts = {"model": self.model, "proj": proj}
        self.optimizer = adam(trainable_parameters(self.model, proj), cfg.lr, cfg.weight_decay)
        self.views = PAIR_RULES.create(cfg.positive_pair, self.model_cfg.n_seqs, self.model_cfg.seq_len)
        self.loss_fn = NTXentLoss(cfg.temperature)

    def train_epoch(self, epoch: int, reporter: Reporter) -> dict:
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(epoch, cfg)
        loader = make_loader(
            self.store, self.info.reading, self.info.splits["train"], cfg.batch_size, self.views,
            shuffle_seed=epoch_seed(cfg.seed, epoch), seed=cfg.seed, epoch=epoch, dist=self.dist,
        )
        loss = train_one_epoch(self.net, loader, self.loss_fn, self.optimizer, reporter, f"epoch {epoch}", self.dist,
                               self.precision)
        return {"train_loss": loss, "lr": lr_at(epoch, cfg)}

    def validate(self) -> dict:
        return {"val_silhouette": val_silhouette(self.model, self.store, self.info, self.cfg.eval_batch_size,
                                                 self.precision)}

    def is_best(self, score: float, state: TrainingState) -> bool:
        return True

    def test_figures(self, run: RunDir) -> dict[str, float]:
        """The silhouette of the test trailers in the fine-tuned space (the kept network is the last epoch's)."""
        if len(self.info.splits["test"]) < 2:
            return {}
        return {"test_silhouette": val_silhouette(self.model, self.store, self.info, self.cfg.eval_batch_size,
                                                  self.precision, "test")}

    def first_state(self, run: RunDir, dist: DistInfo, reporter: Reporter) -> TrainingState:
        """Epoch 0: the coarse starting point, validated and kept like any epoch."""
        record = {"epoch": 0, "precision": self.precision, **self.validate()}
        state = save_epoch(run, self, TrainingState(), 0, record, dist)
        reporter.line(f"epoch 0 (coarse start): val silhouette {record['val_silhouette']:.4f}")
        return state


@dataclass
class FineSpec(StageSpec):
    """NT-Xent fine-tuning of the coarse run ``parent`` (a resumed run's own by default)."""

    parent: str | Path | None = None

    kind = FINE
    title = "fine-tuning"
    what = "fine-tuning config"

    @cached_property
    def parent_run(self) -> Run:
        parent, run = self.parent, RunDir(self.out)
        if parent is None and self.resume and run.exists():
            parent = run.read_info().parent
        if parent is None:
            raise RunError(f"{run.root} holds no fine-tuning run to resume; give the coarse run to start from")
        return Run.open(parent)

    def saved_config(self, run: RunDir) -> FinetuneConfig:
        return read_finetune_config(run)

    def make_info(self, cfg: FinetuneConfig) -> RunInfo:
        return _fine_info(self.parent_run, cfg)

    def run_config(self, cfg: FinetuneConfig) -> RunConfig | None:
        return self.parent_run.config if isinstance(self.parent_run, ModelRun) else None

    def extra_files(self, cfg: FinetuneConfig) -> dict[str, str]:
        return {FINETUNE_FILE: json.dumps(asdict(cfg), indent=2) + "\n"}

    def other_source(self, info: RunInfo) -> str | None:
        if self.parent is not None and Path(self.parent).resolve() != Path(info.parent):
            return f"another coarse run ({info.parent}, not {self.parent})"
        return None

    def make_stage(self, info: RunInfo, cfg: FinetuneConfig, dist: DistInfo, reporter: Reporter) -> FinetuneStage:
        return FinetuneStage(self.parent_run, info, cfg, dist)


def finetune(
    parent: str | Path | None,
    out: str | Path,
    cfg: FinetuneConfig,
    resume: bool = False,
    reporter: Reporter = QUIET,
    dist: DistInfo = DistInfo(),
) -> TrainingState:
    """Fine-tune the coarse run ``parent`` into ``out`` (or resume ``out``); returns the final state.

    With several processes (``dist``) every process runs this with the same arguments and the main
    one writes the run.
    """
    return run_stage(FineSpec(out, cfg, resume, parent=parent), reporter, dist).state


def read_finetune_config(run: RunDir) -> FinetuneConfig:
    """The fine-tuning settings a fine run was started with (``finetune.json``)."""
    path = run.root / FINETUNE_FILE
    if not path.exists():
        raise RunError(f"{path} is missing; {run.root} is not a fine-tuning run")
    return merge(FinetuneConfig(), json.loads(path.read_text()))


def _fine_info(parent: Run, cfg: FinetuneConfig) -> RunInfo:
    """The fine run's info: the parent's data, with clear errors when NT-Xent cannot run on it."""
    info = parent.info
    if info.kind not in (COARSE, FINE):
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
        kind=FINE, store=info.store, experts=info.experts, genres=info.genres, splits=info.splits,
        excluded=info.excluded, parent=str(parent.root.resolve()), mask_broken=info.mask_broken,
        noise_like=info.noise_like, reviews=info.reviews,
    )
