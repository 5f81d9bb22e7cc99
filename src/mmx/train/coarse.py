"""Coarse genre training (§3.2, §4.2): weighted BCE, Adam + AMSGrad, best epoch on validation.

``train_one_epoch`` is the coarse step; ``CoarseStage`` hands it to the shared loop
(``mmx.train.loop``) with its rule for the best epoch — the highest validation
``train.select_metric`` (AUPRC_w by default) — and ``train`` prepares, resumes and finishes a run.

Under ``torchrun`` each process trains on its share of every global batch of ``train.batch_size``
trailers, every process evaluates the whole validation split, and only the main process writes
the run folder. On a GPU the steps run in bf16 autocast from pinned memory.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mmx.config import RunConfig, recipe
from mmx.data.dataset import TRAIN_VIEWS, evenly_spaced
from mmx.data.loader import make_loader
from mmx.data.splits import assign_splits
from mmx.data.store import ExpertInfo, FeatureStore
from mmx.distributed import DistInfo, Step, all_sum, batch_steps, share_weight, unwrap, wrap_model
from mmx.embeddings import embed_run
from mmx.errors import TrainError
from mmx.inference import autocast, evaluate
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.model.mmx import MMX, create_model
from mmx.progress import QUIET, Reporter
from mmx.run import COARSE, RunDir, RunInfo, TrainingState
from mmx.train.loop import Stage, epoch_seed, finish, fit, restore, seed_everything, start


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
        kind=COARSE,
        store=str(store.root.resolve()),
        experts={n: vars(i).copy() for n, i in experts.items()},
        genres=genres,
        splits=split.ids,
        excluded={"too_short": split.too_short, "no_genre": split.no_genre},
    )


def train_one_epoch(
    model: MMX, loader: DataLoader, loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer,
    reporter: Reporter = QUIET, desc: str = "train", dist: DistInfo = DistInfo(),
) -> float:
    """One pass over ``loader``; returns the mean loss per trailer (over all processes)."""
    model.train()
    total, count = 0.0, 0
    steps = batch_steps(loader)
    for i, batch in enumerate(reporter.bar(loader, desc=desc, total=len(loader), unit="batch")):
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
        tc = cfg.train
        self.metric = f"val_{tc.select_metric}"
        seed_everything(tc.seed)
        self.model = create_model(info.expert_infos(), len(info.genres), cfg.model)
        pos_weight = positive_weights(genre_labels(store, info, info.splits["train"]), tc.max_pos_weight)
        self.loss_fn = WeightedBCELoss(pos_weight).to(dist.device)
        self.net = wrap_model(self.model, dist)  # the model itself in a world of one
        self.parts = {"model": self.model}
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay,
                                          amsgrad=tc.amsgrad)
        n_seqs, seq_len = cfg.model.n_seqs, cfg.model.seq_len
        self.train_views = TRAIN_VIEWS[cfg.data.train_windows](n_seqs, seq_len)
        self.val_loader = make_loader(store, info, info.splits["val"], tc.eval_batch_size,
                                      evenly_spaced(n_seqs, seq_len), dist=dist)

    def train_epoch(self, epoch: int, reporter: Reporter) -> dict:
        tc = self.cfg.train
        loader = make_loader(
            self.store, self.info, self.info.splits["train"], tc.batch_size, self.train_views,
            shuffle_seed=epoch_seed(tc.seed, epoch), seed=tc.seed, epoch=epoch, dist=self.dist,
        )
        loss = train_one_epoch(self.net, loader, self.loss_fn, self.optimizer, reporter, f"epoch {epoch}", self.dist)
        return {"train_loss": loss}

    def validate(self) -> dict:
        metrics = evaluate(unwrap(self.net), self.val_loader, self.info.genres, self.cfg.train.threshold, self.dist)
        return {f"val_{k}": v for k, v in metrics.items() if k not in ("per_genre", "n", "threshold")}

    def is_best(self, score: float, state: TrainingState) -> bool:
        return state.best_score is None or score > state.best_score


def train(
    store: FeatureStore,
    out: str | Path,
    cfg: RunConfig,
    resume: bool = False,
    reporter: Reporter = QUIET,
    dist: DistInfo = DistInfo(),
    write_embeddings: bool = True,
) -> TrainingState:
    """Train (or resume) a coarse run in ``out``; returns the final state (history, best epoch).

    When the last epoch is done the run is made lean (``mmx.train.loop.finish``) and, with
    ``write_embeddings``, the embeddings of every trailer of the store are written
    (``RUN/embeddings.npz``). With several
    processes (``dist``, from ``mmx.distributed.init_distributed`` in the application) every
    process runs this with the same arguments; the main one writes the run folder and reports.
    """
    run = RunDir(out)
    reporter = reporter if dist.is_main else reporter.silent()
    info, state = start(run, resume, lambda: prepare_run_info(store, cfg), lambda r: _other_recipe(r, cfg), cfg, dist)
    n_excl = sum(len(v) for v in info.excluded.values())
    reporter.line(
        f"trailers: train {len(info.splits['train'])}, val {len(info.splits['val'])}, "
        f"test {len(info.splits['test'])}; excluded {n_excl} "
        f"({len(info.excluded.get('too_short', []))} with < {cfg.data.min_clips} clips)"
    )
    stage = CoarseStage(store, info, cfg, dist)
    if state is None:
        state = TrainingState()
    else:
        restore(run, state, stage, reporter)
    state = fit(run, stage, state, cfg.train.epochs, cfg.train.seed, dist, reporter)
    done = finish(run, state, cfg.train.epochs, cfg.train.keep_optimizer, dist)
    if done is not state and write_embeddings:
        embed_run(run.root)
    return done


def _other_recipe(run: RunDir, cfg: RunConfig) -> str | None:
    """Why the run's saved config is another recipe than ``cfg`` (None when only epochs/threads differ)."""
    return None if recipe(run.read_config()) == recipe(cfg) else "another config"
