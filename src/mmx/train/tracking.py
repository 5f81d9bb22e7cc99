"""Experiment tracking: every epoch's figures, the resolved config and the run's name, where ML engineers look.

``train.log`` (``FinetuneConfig.log`` for fine-tuning) names a backend of ``TRACKERS``; the training loop
(``mmx.train.loop``) asks it for a ``Tracker`` before the run folder is touched (so a missing library stops the
command before any work), opens it once the run has started or resumed, hands it each finished epoch's record
(``train_loss``, the validation figures, ``lr``, ``seconds``) and, when the last epoch is done, the kept network's
figures on the test split; ``metrics.jsonl`` is written as always. Only the main process of a torchrun job tracks.

* ``none`` — nothing besides ``metrics.jsonl``.
* ``tensorboard`` — TensorBoard event files in the run folder itself, so ``tensorboard --logdir RUNS`` shows each
  run under its folder's name: scalars ``train/loss``, ``val/<figure>``, ``test/<figure>``, ``lr`` and
  ``seconds`` by epoch, the resolved config as the HParams plugin's hyper-parameters (and as text), the run
  folder's path as text. A resumed run purges events past its last finished epoch and goes on from there.
* ``mlflow`` — an MLflow run named after the run folder, in the experiment ``$MLFLOW_EXPERIMENT_NAME`` (default
  ``mmx``) of ``$MLFLOW_TRACKING_URI``, else of a local file store ``mlruns/`` beside the run folder: the figures
  as metrics by epoch (their record names: ``train_loss``, ``val_auprc_weighted``, …), the resolved config as
  parameters, the folder as the tag ``mmx.run_dir``. ``RUN/mlflow.json`` remembers the MLflow run, which a
  resumed run continues. MLflow 3 keeps its file store in "maintenance mode" behind ``MLFLOW_ALLOW_FILE_STORE``;
  mmx sets that for a local store (a database store is ``MLFLOW_TRACKING_URI=sqlite:///…`` with full MLflow).

Both libraries are the ``track`` extra (``pip install 'mmx[track]'``).
"""

from __future__ import annotations

import abc
import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

from mmx.artifacts import MLFLOW_RECORD
from mmx.config import config_to_dict
from mmx.durable import atomic_write
from mmx.registry import Registry
from mmx.run import RunDir, TrainingState

Figures = dict[str, float]


def hyperparameters(cfg: Any) -> dict[str, str | int | float | bool]:
    """A config (RunConfig, FinetuneConfig) as flat ``section.field`` → value; lists and None as text."""
    flat: dict[str, str | int | float | bool] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:
            flat[prefix] = json.dumps(value)

    walk("", config_to_dict(cfg))
    return flat


def numbers(record: dict) -> Figures:
    """The figures of an epoch's record: its finite numbers but the epoch itself (an undefined silhouette is NaN)."""
    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch" and math.isfinite(v)}


class Tracker(abc.ABC):
    """One backend. Made before the run folder is touched (its library imported: a missing one stops the command
    there), then ``open``-ed on the run, given every epoch's figures, and ``close``-d with the run's status."""

    @abc.abstractmethod
    def open(self, run: RunDir, params: dict[str, Any], metric: str, first_epoch: int) -> None:
        """Start (or, from ``first_epoch`` > 1, continue) tracking ``run`` trained with ``params``; ``metric``: the
        record's figure that picks the best epoch."""

    @abc.abstractmethod
    def log(self, epoch: int, figures: Figures) -> None:
        """The figures of one finished epoch (or, at the end, of the test split)."""

    def final(self, epoch: int, figures: Callable[[], Figures]) -> None:
        """The finished run's test figures, computed only when something is tracked."""
        self.log(epoch, figures())

    @abc.abstractmethod
    def close(self, status: str) -> None:
        """``status``: "FINISHED", "FAILED" or "KILLED"."""


TRACKERS: Registry[Tracker] = Registry("experiment tracker (train.log)")


@TRACKERS.register("none")
class NoTracker(Tracker):
    """Nothing besides metrics.jsonl."""

    def open(self, run: RunDir, params: dict[str, Any], metric: str, first_epoch: int) -> None:
        pass

    def log(self, epoch: int, figures: Figures) -> None:
        pass

    def final(self, epoch: int, figures: Callable[[], Figures]) -> None:
        pass  # the test figures are not even computed

    def close(self, status: str) -> None:
        pass


def tensorboard_tag(name: str) -> str:
    """``train_loss`` → ``train/loss``, ``val_f1_weighted`` → ``val/f1_weighted``; other names as they are."""
    head, _, rest = name.partition("_")
    return f"{head}/{rest}" if head in ("train", "val", "test") and rest else name


@TRACKERS.register("tensorboard")
class TensorBoardTracker(Tracker):
    """Event files in the run folder (``events.out.tfevents.*``), written by PyTorch's SummaryWriter."""

    def __init__(self) -> None:
        import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it; its absence names the `track` extra)

        self.writer, self.end = None, None

    def open(self, run: RunDir, params: dict[str, Any], metric: str, first_epoch: int) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        resumed = first_epoch > 1
        self.writer = SummaryWriter(str(run.root), purge_step=first_epoch if resumed else None)
        experiment, start, self.end = hparams(params, {tensorboard_tag(metric): 0.0})  # the metric is a scalar tag
        if not resumed:
            for summary in (experiment, start):
                self.writer.file_writer.add_summary(summary)
            self.writer.add_text("config", "\n".join(f"    {k} = {v}" for k, v in params.items()))
            self.writer.add_text("run", f"    {run.root.resolve()}")
        self.writer.flush()

    def log(self, epoch: int, figures: Figures) -> None:
        for name, value in figures.items():
            self.writer.add_scalar(tensorboard_tag(name), value, epoch)
        self.writer.flush()

    def close(self, status: str) -> None:
        if self.writer is None:
            return
        if status == "FINISHED":
            self.writer.file_writer.add_summary(self.end)  # the HParams session ends: its metrics are final
        self.writer.close()


def mlflow_uri(run: RunDir) -> str:
    """``$MLFLOW_TRACKING_URI``, else a local file store ``mlruns/`` beside the run folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (run.root.resolve().parent / "mlruns").as_uri()


@TRACKERS.register("mlflow")
class MlflowTracker(Tracker):
    """An MLflow run per mmx run, through ``MlflowClient`` (no process-wide active run)."""

    def __init__(self) -> None:
        import mlflow  # noqa: F401  (its absence names the `track` extra)

        self.client, self.run_id = None, None

    def open(self, run: RunDir, params: dict[str, Any], metric: str, first_epoch: int) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Param

        uri = mlflow_uri(run)
        if uri.startswith("file:") or "://" not in uri:  # MLflow 3 wants this opt-in for its file store
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(uri)
        record = run.root / MLFLOW_RECORD
        kept = json.loads(record.read_text()) if first_epoch > 1 and record.exists() else {}
        if kept.get("tracking_uri") == uri:
            self.run_id = kept["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "mmx")
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found is not None else self.client.create_experiment(name)
        created = self.client.create_run(experiment, run_name=run.root.resolve().name,
                                         tags={"mmx.run_dir": str(run.root.resolve())})
        self.run_id = created.info.run_id
        self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])
        atomic_write(record, json.dumps({"tracking_uri": uri, "experiment": name, "run_id": self.run_id}) + "\n")

    def log(self, epoch: int, figures: Figures) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in figures.items()])

    def close(self, status: str) -> None:
        if self.client is not None and self.run_id is not None:
            self.client.set_terminated(self.run_id, status)


def tracker(name: str, main: bool) -> Tracker:
    """The backend ``name`` (``TRACKERS``) for the main process, nothing for the others."""
    return TRACKERS.create(name if main else "none")


@contextmanager
def tracked(track: Tracker, run: RunDir, cfg: Any, metric: str, state: TrainingState) -> Iterator[Tracker]:
    """``track`` open on ``run`` (trained with ``cfg``, from ``state``) for the ``with`` block, closed with its
    outcome: finished, failed, or killed (Ctrl-C). A new run's epoch 0 (fine-tuning's coarse start) is logged first."""
    track.open(run, hyperparameters(cfg), metric, state.epoch + 1)
    if state.epoch == 0:
        for record in state.history:
            track.log(0, numbers(record))
    status = "FAILED"
    try:
        yield track
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        track.close(status)
