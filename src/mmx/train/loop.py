"""The one training loop: a run folder started or resumed, epochs seeded, checkpointed and reported.

A training stage — coarse genre training (``coarse.py``), NT-Xent fine-tuning (``finetune.py``) —
brings two things: a ``StageSpec`` (what to run: the run folder, the settings, where it starts
from, how its run folder is made and checked on resume) and a ``Stage`` (the modules it trains
and saves — ``parts``, the network under ``"model"`` —, its optimizer, one epoch of its own
step, its validation figure and its rule for the best epoch). ``run_stage(spec)`` drives either
— the CLI commands build a spec and call it — and everything else is done here, the same way
for both:

* ``start`` — a new run folder (refusing an existing one), or the resumed one (refusing another
  recipe; only the epoch count may grow), written by the main process after every process has read it;
* ``restore`` — the parts and the optimizer back from the last whole checkpoint;
* ``fit`` — the epochs: each reseeded from (seed, epoch), so a run killed at any moment and resumed
  ends at the same weights as an uninterrupted one; after each, its checkpoint files, then
  ``best.safetensors`` when the epoch is the best, then the state pointer, then the previous
  checkpoint is pruned — a kill (or a full disk) never loses a finished epoch;
* ``finish`` — a lean run: once the last epoch is done the optimizer state is dropped (unless
  ``keep_optimizer``) and the last epoch's network weights too when they are the best ones.

Every finished epoch's record also goes to the experiment tracker ``train.log`` names (``mmx.train.tracking``:
TensorBoard, MLflow or none), and the finished run's test figures (``Stage.test_figures``) after it.
``run_stage`` then writes the embeddings of every trailer of the store (``mmx.embeddings``).
Under ``torchrun`` every process runs the same loop; only the main one writes the run folder and
reports (``mmx.distributed``). Called without a ``DistInfo``, ``run_stage`` sets the process's
threads and joins (and leaves) the torchrun job itself, as a command's process wants.
"""

from __future__ import annotations

import abc
import ctypes
import errno
import importlib.util
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from mmx.config import RunConfig, recipe, schedule, with_schedule
from mmx.distributed import DistInfo, barrier, close_distributed, init_distributed
from mmx.durable import atomic_write
from mmx.embeddings import embed_run
from mmx.errors import RunError, TrainError
from mmx.precision import resolve_precision
from mmx.progress import QUIET, Reporter
from mmx.run import RunDir, RunInfo, TrainingState
from mmx.train.tracking import Tracker, numbers, tracked, tracker

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class Stage(abc.ABC):
    """What one kind of training brings to the loop."""

    name: str  # in log lines: "coarse", "fine-tune"
    metric: str  # the validation figure: a key of every epoch's record, and what ``is_best`` compares
    parts: dict[str, nn.Module]  # saved with every checkpoint; "model" is the network (best.safetensors)
    optimizer: torch.optim.Optimizer
    precision: str  # what its steps and validation compute in ("bf16" or "fp32"; ``RunInfo.precision``)
    announces_best: bool = True  # say "(best)" in the log when an epoch becomes the best one

    @abc.abstractmethod
    def train_epoch(self, epoch: int, reporter: Reporter) -> dict:
        """One epoch of training; the record's fields (``train_loss``, ``lr``, …)."""

    @abc.abstractmethod
    def validate(self) -> dict:
        """The validation figures after an epoch (``self.metric`` among them)."""

    @abc.abstractmethod
    def is_best(self, score: float, state: TrainingState) -> bool:
        """Whether an epoch scoring ``score`` becomes the run's best (``best.safetensors``)."""

    def should_stop(self, state: TrainingState) -> bool:
        """Whether training ends before the planned epochs (early stopping); decided from the state alone,
        so a resumed run stops where an uninterrupted one did."""
        return False

    def first_state(self, run: RunDir, dist: DistInfo, reporter: Reporter) -> TrainingState:
        """The state a new run starts from (a stage may record an epoch 0 first)."""
        return TrainingState()

    def test_figures(self, run: RunDir) -> dict[str, float]:
        """The finished run's kept network on the test split (``test_…`` figures), for the experiment tracker."""
        return {}


@dataclass
class StageSpec(abc.ABC):
    """What to run: built by the CLI (or a script), run by ``run_stage``; one subclass per stage."""

    out: str | Path  # the run folder to create (or to resume)
    cfg: Any = None  # the settings (RunConfig, FinetuneConfig); None to resume a run with its own
    resume: bool = False  # continue the run in ``out`` when it exists (checked against ``cfg``)
    epochs: int | None = None  # with ``cfg`` None: the grown epoch count of the resumed run
    log: str | None = None  # with ``cfg`` None: the resumed run's experiment tracker (``train.log``), when given
    embed: bool = True  # write the embeddings of every trailer of the store when the last epoch is done

    kind: ClassVar[str]  # the kind of run it makes (mmx.run.KINDS)
    title: ClassVar[str]  # its name in messages ("coarse", "fine-tuning")
    what: ClassVar[str]  # its settings in messages ("config", "fine-tuning config")

    @abc.abstractmethod
    def saved_config(self, run: RunDir) -> Any:
        """The settings a run of this stage was started with."""

    @abc.abstractmethod
    def make_info(self, cfg: Any) -> RunInfo:
        """The info of a new run (its data, splits and genres)."""

    @abc.abstractmethod
    def run_config(self, cfg: Any) -> RunConfig | None:
        """The RunConfig kept as ``config.json`` (the network's config: the parent's for a fine run)."""

    @abc.abstractmethod
    def make_stage(self, info: RunInfo, cfg: Any, dist: DistInfo, reporter: Reporter) -> Stage:
        """The stage's modules and optimizer, on ``dist``'s device."""

    def extra_files(self, cfg: Any) -> dict[str, str]:
        """Files written beside ``config.json`` (name → text)."""
        return {}

    def other_source(self, info: RunInfo) -> str | None:
        """Why a resumed run started from somewhere else than this spec asks (None when it did not)."""
        return None

    def settings(self, run: RunDir) -> Any:
        """``cfg``, or the resumed run's own settings (with ``epochs`` when given)."""
        if self.cfg is not None:
            return self.cfg
        if not (self.resume and run.exists()):
            raise RunError(f"{run.root} holds no run to resume; give the settings of a new {self.title} run")
        return with_schedule(self.saved_config(run), epochs=self.epochs, log=self.log)

    def other_recipe(self, run: RunDir, cfg: Any) -> str | None:
        """Why the run in ``run`` is another recipe than ``cfg`` (None when only epochs/threads differ)."""
        info = run.read_info()
        if info.kind != self.kind:
            return f"another kind of training (it is a {info.kind} run, not a {self.title} run)"
        return self.other_source(info) or (
            None if recipe(self.saved_config(run)) == recipe(cfg) else f"another {self.what}")


@dataclass(frozen=True)
class StageResult:
    state: TrainingState  # where the run stands: history, best epoch, finished
    cfg: Any  # the settings it ran with (a resumed run's own)
    main: bool  # this process is the main one: it wrote the run folder and reports


def run_stage(spec: StageSpec, reporter: Reporter = QUIET, dist: DistInfo | None = None) -> StageResult:
    """Start or resume the run ``spec`` asks for, train its epochs, finish it lean and embed its trailers.

    Without ``dist`` this process sets its threads (``threads`` of the settings), keeps freed memory
    (``keep_freed_memory``) and joins the torchrun job of its environment (a world of one without
    torchrun) for the stage, leaving it after; with ``dist`` the caller has done that (several stages
    in one job).
    """
    run = RunDir(spec.out)
    cfg = spec.settings(run)
    own = dist is None
    if own:
        if schedule(cfg).threads:
            torch.set_num_threads(schedule(cfg).threads)
        keep_freed_memory()
        dist = init_distributed()
    ok = False
    try:
        state = _drive(spec, run, cfg, reporter if dist.is_main else reporter.silent(), dist)
        ok = True
    finally:
        if own:
            close_distributed(ok)
    return StageResult(state, cfg, dist.is_main)


def _drive(spec: StageSpec, run: RunDir, cfg: Any, reporter: Reporter, dist: DistInfo) -> TrainingState:
    plan = schedule(cfg)
    track = tracker(plan.log, dist.is_main)  # before the folder is touched: a missing library stops here
    precision = resolve_precision(plan.precision, dist.device)
    info, state = start(run, spec.resume, lambda: spec.make_info(cfg), lambda r: spec.other_recipe(r, cfg),
                        spec.run_config(cfg), dist, spec.extra_files(cfg), precision)
    reporter.line(f"{spec.title} training in {precision} (precision {plan.precision} on {dist.device.type})")
    stage = spec.make_stage(info, cfg, dist, reporter)
    if state is None:
        state = stage.first_state(run, dist, reporter)
    else:
        restore(run, state, stage, reporter)
    with tracked(track, run, cfg, stage.metric, state):
        state = fit(run, stage, state, plan.epochs, plan.seed, dist, reporter, track)
        done = finish(run, state, plan.epochs, plan.keep_optimizer, dist, stopped=stage.should_stop(state))
        if done is not state:
            track.final(done.epoch, lambda: stage.test_figures(run))
    if done is not state and spec.embed:
        embed_run(run.root)
    return done


def keep_freed_memory() -> bool:
    """Keep the memory a training step frees for the next one (glibc ``mallopt``); whether it was set.

    glibc hands every freed block above its mmap threshold (at most 32 MB) back to the kernel, and a
    step's large activations (the gating's pairs, NetVLAD's windows: 25–50 MB each) come back page by
    page on the next step: ~70,000 page faults and 0.1–0.2 s of system time per default-network step
    on a CPU, none with the blocks kept in the heap (the peak is reached every step anyway). A
    process-wide setting, for the process of a training command; elsewhere than glibc, nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 31))


def compiled(net: nn.Module, on: bool, device: torch.device) -> nn.Module:
    """``net`` under ``torch.compile`` when ``on`` (``train.compile``): inductor, with dynamic shapes (batches differ
    in their clip and window counts); the parameters stay ``net``'s, so checkpoints are the eager network's."""
    if not on:
        return net
    if device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            raise TrainError("train.compile on a GPU needs triton (pip install triton), or set train.compile=false")
    elif not shutil.which(os.environ.get("CXX", "g++")):
        raise TrainError(f"train.compile on a CPU needs a C++ compiler ({os.environ.get('CXX', 'g++')} is not on the "
                         "PATH; install g++ or name one in CXX), or set train.compile=false")
    return torch.compile(net, dynamic=True)


def adam(params, lr: float, weight_decay: float = 0.0, amsgrad: bool = False) -> torch.optim.Adam:
    """Adam (§4.2) with its fused kernel: one pass over all parameters instead of a dozen elementwise
    ones (about 4 % of a paper-size training step on a CPU, bench/train.py; the same update)."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, amsgrad=amsgrad, fused=True)


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % 2**31


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def start(
    run: RunDir, resume: bool, make_info: Callable[[], RunInfo], same_recipe: Callable[[RunDir], str | None],
    cfg: RunConfig | None, dist: DistInfo, extra_files: dict[str, str] | None = None, precision: str | None = None,
) -> tuple[RunInfo, TrainingState | None]:
    """The run's info and, when resuming, its training state; the folder written (main process).

    ``same_recipe(run)`` says why a resumed run's recipe differs from the requested one (None when
    it is the same); ``extra_files`` (name → text) are written beside ``config.json``; ``precision``
    (the resolved format training computes in) is recorded in the info.
    """
    if resume and run.exists():
        why = same_recipe(run)
        if why:
            raise RunError(
                f"{run.root} was started with {why}; resume it with the same settings "
                "(only the number of epochs may grow) or train into a new --out folder"
            )
        info, state = run.read_info(), run.read_state()
    else:
        if run.exists():
            raise RunError(f"{run.root} already holds a run; pass --resume to continue it or pick a new --out")
        info, state = make_info(), None
    info = replace(info, precision=precision)
    barrier(dist)  # every process has read the folder before the main one writes it
    if dist.is_main:
        run.write_info(info, cfg)  # on resume: records a grown epoch count
        for name, text in (extra_files or {}).items():
            atomic_write(run.root / name, text)
    return info, state


def restore(run: RunDir, state: TrainingState, stage: Stage, reporter: Reporter) -> None:
    """The stage's parts and optimizer as they were after ``state.epoch`` (its last whole checkpoint)."""
    for part, module in stage.parts.items():
        path = run.model_weights(state, "last") if part == "model" else run.checkpoint_path(state.checkpoint, part)
        module.load_state_dict(load_file(str(path)))
    optim = run.checkpoint_path(state.checkpoint, "optim", "pt")
    if optim.exists():
        stage.optimizer.load_state_dict(torch.load(optim, weights_only=True))
    else:
        reporter.line(f"{run.root}: the optimizer state of the finished run was not kept; continuing with a "
                      "fresh one (train with --set train.keep_optimizer=true to continue runs exactly)")
    reporter.line(f"resuming {run.root} after epoch {state.epoch}")


def save_epoch(
    run: RunDir, stage: Stage, state: TrainingState, epoch: int, record: dict, dist: DistInfo,
) -> TrainingState:
    """The state after ``epoch``; the main process writes its checkpoint, best weights and state pointer."""
    name = RunDir.checkpoint_name(epoch)
    score = record[stage.metric]
    new = state.advance(epoch, name, record, score, best=stage.is_best(score, state))
    if not dist.is_main:
        return new
    try:
        run.save_checkpoint(name, stage.parts, stage.optimizer)
        if new.best_epoch == epoch:
            run.promote_best(name)
        run.write_state(new)
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        run.remove_checkpoint(name)
        raise RunError(
            f"no space left on the disk of {run.root} while writing the checkpoint of epoch {epoch}; the run is "
            f"whole up to epoch {state.epoch}: free some space and continue it with --resume"
        ) from None
    if state.checkpoint and state.checkpoint != name:
        run.remove_checkpoint(state.checkpoint)
    return new


def fit(
    run: RunDir, stage: Stage, state: TrainingState, epochs: int, seed: int, dist: DistInfo, reporter: Reporter,
    track: Tracker = tracker("none", True),
) -> TrainingState:
    """Epochs ``state.epoch + 1 … epochs`` of ``stage``, each record also handed to ``track``; the final state."""
    todo = range(state.epoch + 1, epochs + 1)
    for epoch in reporter.bar(todo, desc=stage.name, total=epochs, unit="epoch", initial=state.epoch, leave=True):
        if stage.should_stop(state):
            reporter.line(f"{stage.name}: no better validation score since epoch {state.best_epoch}; stopping after "
                          f"epoch {state.epoch}")
            break
        t0 = time.time()
        torch.manual_seed(epoch_seed(seed, epoch))
        record = {"epoch": epoch, "precision": stage.precision, **stage.train_epoch(epoch, reporter)}
        record.update(stage.validate())
        record["seconds"] = round(time.time() - t0, 2)
        state = save_epoch(run, stage, state, epoch, record, dist)
        track.log(epoch, {"lr": stage.optimizer.param_groups[0]["lr"], **numbers(record)})
        figures = ", ".join(f"{k} {v:.4f}" for k, v in record.items() if isinstance(v, float) and k != "seconds")
        best = " (best)" if stage.announces_best and state.best_epoch == epoch else ""
        reporter.line(f"{stage.name} epoch {epoch}/{epochs}: {figures}{best} [{record['seconds']:.1f} s]")
    return state


def finish(
    run: RunDir, state: TrainingState, epochs: int, keep_optimizer: bool, dist: DistInfo, stopped: bool = False,
) -> TrainingState:
    """A finished run made lean: what is needed to use it, and to continue it, nothing twice.

    ``stopped``: the stage ended the run early (``Stage.should_stop``), so it is finished before ``epochs``.
    """
    if (state.epoch < epochs and not stopped) or state.finished or not dist.is_main:
        return state
    if not keep_optimizer:
        run.checkpoint_path(state.checkpoint, "optim", "pt").unlink(missing_ok=True)
    if state.best_epoch == state.epoch:  # the last epoch's network is best.safetensors
        run.checkpoint_path(state.checkpoint).unlink(missing_ok=True)
    done = replace(state, finished=True)
    run.write_state(done)
    return done
