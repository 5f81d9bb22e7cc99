"""Coarse genre training (§3.2, §4.2): weighted BCE, Adam + AMSGrad, best epoch on validation.

``train_one_epoch`` is the coarse step; ``CoarseStage`` hands it to the shared loop
(``mmx.train.loop``) with its rule for the best epoch — the highest validation
``train.select_metric`` (AUPRC_w by default); ``CoarseSpec`` says how its run folder is made,
for ``run_stage`` (``train`` is that for a store and a config).

Under ``torchrun`` each process trains on its share of every global batch of ``train.batch_size``
trailers, every process evaluates the whole validation split, and only the main process writes
the run folder. The steps and the validation compute in ``train.precision`` (``mmx.precision``: bf16
autocast on a GPU and on a CPU with bf16 units by default); on a GPU the batches come from pinned memory.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from mmx.config import METRIC_KEYS, RunConfig
from mmx.data.broken import current
from mmx.data.dataset import TRAIN_VIEWS, evenly_spaced
from mmx.data.loader import make_loader
from mmx.data.splits import split_entries
from mmx.data.store import FeatureStore
from mmx.distributed import DistInfo, Step, all_sum, batch_steps, share_weight, wrap_model
from mmx.errors import RunError, TrainError
from mmx.health.experts import noise_like
from mmx.inference import evaluate, predict_ids
from mmx.inputs import Batch, ExpertInfo
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.metrics import classification_metrics
from mmx.model.mmx import MMX, PathLogits, create_model
from mmx.precision import autocast, resolve_precision
from mmx.progress import QUIET, Reporter
from mmx.review import ReviewedLabels
from mmx.run import COARSE, Run, RunDir, RunInfo, TrainingState
from mmx.train.loop import Stage, StageSpec, adam, compiled, epoch_seed, run_stage, seed_everything


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
    split = split_entries(entries, cfg.data.split_seed, cfg.data.split_fractions, cfg.data.min_clips)
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
        kind=COARSE,
        store=str(store.root.resolve()),
        experts={n: vars(i).copy() for n, i in experts.items()},
        genres=genres,
        splits=split.ids,
        excluded={"too_short": split.too_short, "no_genre": split.no_genre},
        mask_broken=cfg.data.mask_broken_experts,
        noise_like=noise_like(store, list(experts)) if cfg.data.mask_noise_like else {},
    )


def masked_line(store: FeatureStore, info: RunInfo) -> str | None:
    """What the broken-expert masks read as missing in this run, in one line (None: nothing).

    Counts from the records (no array is read): entries written before records were kept are
    counted apart, and checked as the loader first reads them.
    """
    metas = [store.meta(t) for t in info.split_ids("all")]
    unrecorded = sum(not current(m.broken) for m in metas) if info.mask_broken else 0
    dead = sum(e in info.experts for m in metas if current(m.broken) for e in m.broken["dead"]) if info.mask_broken else 0
    noise = sum(e in info.experts for m in metas for e in info.noise_like.get(m.trailer_id, ()))
    if not (dead or noise or unrecorded):
        return None
    older = f"; {unrecorded} older entries without a current record are checked as they are read" if unrecorded else ""
    return (f"broken experts read as missing: {dead} (trailer, expert) with dead stretches (zero or repeated rows, "
            f"data.mask_broken_experts), {noise} noise-like (data.mask_noise_like){older}; "
            f"`mmx check {store.root} --only experts` lists them")


def drop_experts(batch: Batch, p: float) -> Batch:
    """The batch with each trailer's experts hidden with probability ``p`` (expert dropout).

    Hidden experts are marked unavailable for all of the trailer's clips, exactly as a trailer
    without that expert is (the gating sums over available partners only, the pooled path skips
    them); every trailer keeps at least one of the experts it has. Draws from torch's global
    generator, which the training loop reseeds every epoch.
    """
    B, E = batch.windows.shape[0], batch.avail.shape[1]
    owner = batch.clip_trailers()  # (C,)
    has = torch.zeros(B, E, device=owner.device).index_add_(0, owner, batch.avail.float()) > 0  # (B, E)
    keep = torch.rand(B, E).to(owner.device) >= p
    keep |= ~(has & keep).any(1, keepdim=True)  # a trailer that would lose everything keeps all
    return dataclasses.replace(batch, avail=batch.avail & keep[owner])


class WeightAverage:
    """An exponential moving average of a network's weights (Polyak averaging), over ``horizon`` steps.

    ``average`` is a copy of the network; after optimizer step t (counted over the whole run) its
    parameters move towards the trained ones with decay ``min(1 − 1/horizon, (1 + t)/(10 + t))`` —
    the warm-up keeps the first steps from being averaged with the initial weights — and its
    buffers (batch-norm statistics) are copied. The step count comes from the epoch and the batch,
    so a resumed run averages exactly as an uninterrupted one.
    """

    def __init__(self, model: nn.Module, horizon: float):
        if horizon < 1:
            raise TrainError(f"an average over {horizon:g} steps is no average; raise train.ema_epochs")
        self.average = copy.deepcopy(model).requires_grad_(False)
        self.decay = 1.0 - 1.0 / horizon

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for mine, theirs in zip(self.average.parameters(), model.parameters()):
            mine.lerp_(theirs, 1.0 - decay)
        for mine, theirs in zip(self.average.buffers(), model.buffers()):
            mine.copy_(theirs)


def train_one_epoch(
    model: MMX, loader: DataLoader, loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer,
    reporter: Reporter = QUIET, desc: str = "train", dist: DistInfo = DistInfo(), expert_dropout: float = 0.0,
    after_step: Callable[[int], None] | None = None, path_losses: bool = False, precision: str = "fp32",
) -> float:
    """One pass over ``loader``; returns the mean loss per trailer (over all processes).

    The forward pass computes in ``precision`` (bf16: autocast); the logits, the loss and the
    weights' gradients and update are fp32.

    ``after_step(i)`` runs after the optimizer step of batch i (the weight average's update).
    With ``path_losses`` ``model`` is a ``PathLogits`` and the loss is that of the summed logits plus
    that of every path alone (deep supervision; ``train.path_losses``).
    """
    model.train()
    total, count = 0.0, 0
    steps = batch_steps(loader)
    for i, batch in enumerate(reporter.bar(loader, desc=desc, total=len(loader), unit="batch")):
        step = steps[i] if steps else Step(len(batch.ids), len(batch.ids))
        batch = batch.to(dist.device)
        if expert_dropout:
            batch = drop_experts(batch, expert_dropout)
        with autocast(dist.device, precision):
            if path_losses:
                logits = model(batch).float()  # (1 + P, B, G): the sum, then each path (PathLogits)
                loss = sum(loss_fn(part, batch.labels) for part in logits)
            else:
                loss = loss_fn(model(batch).float(), batch.labels)  # logits (B, G)
        optimizer.zero_grad(set_to_none=True)
        (loss * share_weight(step, dist)).backward()
        optimizer.step()
        if after_step is not None:
            after_step(i)
        total += loss.item() * step.local
        count += step.local
    total, count = all_sum([total, count], dist)
    return total / max(count, 1)


def genre_labels(store: FeatureStore, info: RunInfo, ids: list[str]) -> torch.Tensor:
    """(N, G) multi-hot labels of ``ids`` over the run's genre vocabulary."""
    index = {g: i for i, g in enumerate(info.genres)}
    y = torch.zeros(len(ids), len(info.genres))
    for r, tid in enumerate(ids):
        for g in store.meta(tid).genres:
            if g in index:
                y[r, index[g]] = 1.0
    return y


class CoarseStage(Stage):
    """Weighted-BCE genre training of the whole network; the best epoch has the highest validation metric."""

    name = "coarse"

    def __init__(self, store: FeatureStore, info: RunInfo, cfg: RunConfig, dist: DistInfo):
        self.store, self.info, self.cfg, self.dist = store, info, cfg, dist
        self.precision = info.precision or resolve_precision(cfg.train.precision, dist.device)
        tc = cfg.train
        self.metric = f"val_{tc.select_metric}"
        seed_everything(tc.seed)
        self.model = create_model(info.expert_infos(), len(info.genres), cfg.model)
        pos_weight = positive_weights(genre_labels(store, info, info.splits["train"]), tc.max_pos_weight)
        self.loss_fn = WeightedBCELoss(pos_weight).to(dist.device)
        paths = cfg.train.path_losses and cfg.model.scene_path  # every path's logits (train_one_epoch)
        net = wrap_model(PathLogits(self.model) if paths else self.model, dist)  # the model itself in a world of one
        self.net = compiled(net, tc.compile, dist.device)
        self.optimizer = adam(self.net.parameters(), tc.lr, tc.weight_decay, tc.amsgrad)
        n_seqs, seq_len = cfg.model.n_seqs, cfg.model.seq_len
        self.train_views = TRAIN_VIEWS[cfg.data.train_windows](n_seqs, seq_len)
        self.val_loader = make_loader(store, info.reading, info.splits["val"], tc.eval_batch_size,
                                      evenly_spaced(n_seqs, seq_len), dist=dist)
        self.steps_per_epoch = len(self._train_loader(1))
        self.average = WeightAverage(self.model, tc.ema_epochs * self.steps_per_epoch) if tc.ema_epochs else None
        # "model" is the network that is validated, kept as best.safetensors and used afterwards
        self.parts = {"model": self.model} if self.average is None else {"model": self.average.average, "online": self.model}

    def _train_loader(self, epoch: int) -> DataLoader:
        tc = self.cfg.train
        return make_loader(
            self.store, self.info.reading, self.info.splits["train"], tc.batch_size, self.train_views,
            shuffle_seed=epoch_seed(tc.seed, epoch), seed=tc.seed, epoch=epoch, dist=self.dist,
        )

    def train_epoch(self, epoch: int, reporter: Reporter) -> dict:
        tc = self.cfg.train
        after_step = None
        if self.average is not None:
            first = (epoch - 1) * self.steps_per_epoch
            after_step = lambda i: self.average.update(self.model, first + i)  # noqa: E731
        loss = train_one_epoch(self.net, self._train_loader(epoch), self.loss_fn, self.optimizer, reporter,
                               f"epoch {epoch}", self.dist, expert_dropout=tc.expert_dropout, after_step=after_step,
                               path_losses=tc.path_losses and self.cfg.model.scene_path, precision=self.precision)
        return {"train_loss": loss}

    def validate(self) -> dict:
        metrics = evaluate(self.parts["model"], self.val_loader, self.info.genres, self.cfg.train.threshold, self.dist,
                           self.precision)
        return {f"val_{k}": v for k, v in metrics.items() if k not in ("per_genre", "n", "threshold")}

    def is_best(self, score: float, state: TrainingState) -> bool:
        return state.best_score is None or score > state.best_score

    def test_figures(self, run: RunDir) -> dict[str, float]:
        """Tbl. 2's summary metrics of the kept network (``best.safetensors``) on the test split."""
        ids = self.info.splits["test"]
        if not ids:
            return {}
        probs, labels = predict_ids(Run.open(run.root), ids)
        metrics = classification_metrics(labels, probs, self.info.genres, self.cfg.train.threshold)
        return {f"test_{k}": metrics[k] for k in METRIC_KEYS}

    def should_stop(self, state: TrainingState) -> bool:
        patience = self.cfg.train.early_stop
        return bool(patience) and state.best_epoch is not None and state.epoch - state.best_epoch >= patience


@dataclass
class CoarseSpec(StageSpec):
    """Coarse genre training on ``store`` (a FeatureStore or its folder; a resumed run's own by default), with
    ``reviews`` — a run's reviewed labels (``mmx.review.reviewed_labels``) — over the store's when given: the run
    records them (``RunInfo.reviews``) and reads its store with them; the store is not rewritten."""

    store: FeatureStore | str | Path | None = None
    reviews: ReviewedLabels | None = None

    kind = COARSE
    title = "coarse"
    what = "config"

    def feature_store(self, info: RunInfo | None = None) -> FeatureStore:
        """The store as training reads it: with the run's recorded reviewed labels, or the spec's."""
        given = self.store if self.store is not None else (info.store if info is not None else None)
        if given is None:
            raise RunError("--store is required to start a new run")
        store = given if isinstance(given, FeatureStore) else FeatureStore(given)
        labels = info.reviews["labels"] if info is not None and info.reviews else \
            self.reviews.labels if self.reviews is not None else None
        return store.relabelled(labels) if labels else store

    def saved_config(self, run: RunDir) -> RunConfig:
        return run.read_config()

    def make_info(self, cfg: RunConfig) -> RunInfo:
        info = prepare_run_info(self.feature_store(), cfg)
        if self.reviews is not None:
            raw = FeatureStore(self.feature_store().root).entries()  # the genres of the store's files
            info.reviews = asdict(self.reviews.against({t: m.genres for t, m in raw.items()}))
        return info

    def other_source(self, info: RunInfo) -> str | None:
        if self.reviews is None:
            return None
        had = (info.reviews or {}).get("run"), (info.reviews or {}).get("offset")
        return None if had == (self.reviews.run, self.reviews.offset) else "other labels (--reviews)"

    def run_config(self, cfg: RunConfig) -> RunConfig:
        return cfg

    def make_stage(self, info: RunInfo, cfg: RunConfig, dist: DistInfo, reporter: Reporter) -> CoarseStage:
        n_excl = sum(len(v) for v in info.excluded.values())
        reporter.line(
            f"trailers: train {len(info.splits['train'])}, val {len(info.splits['val'])}, "
            f"test {len(info.splits['test'])}; excluded {n_excl} "
            f"({len(info.excluded.get('too_short', []))} with < {cfg.data.min_clips} clips)"
        )
        masked = masked_line(self.feature_store(info), info)
        if masked:
            reporter.line(masked)
        if info.reviews:
            reporter.line(ReviewedLabels(**info.reviews).line())
        return CoarseStage(self.feature_store(info), info, cfg, dist)


def train(
    store: FeatureStore,
    out: str | Path,
    cfg: RunConfig,
    resume: bool = False,
    reporter: Reporter = QUIET,
    dist: DistInfo = DistInfo(),
    write_embeddings: bool = True,
    reviews: ReviewedLabels | None = None,
) -> TrainingState:
    """Train (or resume) a coarse run in ``out``; returns the final state (history, best epoch).

    ``run_stage`` of a ``CoarseSpec``: when the last epoch is done the run is made lean and, with
    ``write_embeddings``, the embeddings of every trailer of the store are written
    (``RUN/embeddings.npz``). With several processes (``dist``, from
    ``mmx.distributed.init_distributed``) every process runs this with the same arguments; the
    main one writes the run folder and reports. ``reviews``: reviewed labels over the store's (``CoarseSpec``).
    """
    spec = CoarseSpec(out, cfg, resume, embed=write_embeddings, store=store, reviews=reviews)
    return run_stage(spec, reporter, dist).state
