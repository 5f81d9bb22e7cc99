"""The training half of the Python API: ``mmx.fit`` (coarse genre training, what ``mmx train`` runs) and
``mmx.finetune`` (NT-Xent fine-tuning, what ``mmx finetune`` runs); the commands call these functions. Each starts
(or resumes) a run folder through the one training loop (``mmx.train.loop.run_stage``) and returns the opened run.

(The coarse entry point is ``fit`` because ``mmx.train`` is this package's name.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmx.api import Progress, reporter_of
from mmx.config import FinetuneConfig, RunConfig, deep_update, resolve
from mmx.data.store import FeatureStore
from mmx.errors import RunError
from mmx.presets import run_config
from mmx.review import reviewed_labels
from mmx.run import ModelRun, Run, RunDir
from mmx.train.coarse import CoarseSpec
from mmx.train.finetune import FineSpec
from mmx.train.loop import run_stage


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def fit(store: str | Path | FeatureStore | None, out: str | Path, *, model: str | None = None,
        config: str | Path | RunConfig | None = None, overrides: Sequence[str] = (),
        settings: dict[str, Any] | None = None, epochs: int | None = None, seed: int | None = None,
        log: str | None = None, resume: bool = False, reviews: str | Path | Run | None = None,
        progress: Progress = False) -> ModelRun:
    """Train the coarse genre network on ``store`` into the new run folder ``out`` and open it (``mmx train``).

    Its RunConfig: the defaults (or ``config``, a RunConfig), the ``model`` preset (``mmx.presets.MODELS``:
    "default", "paper", "tiny", …), the ``config`` file (YAML/JSON), the ``overrides`` ("train.lr=1e-4"), the nested
    ``settings`` ({"model": {"fusion": "concat"}}), then ``epochs``, ``seed`` and ``log`` (experiment tracking:
    "tensorboard" or "mlflow"). ``resume``: continue the run in ``out`` with its own settings (``epochs`` may grow,
    ``log`` may change; ``store`` may be None). ``reviews``: a run whose review decisions (``RUN/reviews.jsonl``)
    apply to the store's labels (``mmx.review.reviewed_labels``; the store is not rewritten, the new run records
    them); ``store`` defaults to that run's. ``progress``: a line per epoch on stderr.
    """
    labels = None
    if reviews is not None:
        source = Run.open(reviews)
        labels = reviewed_labels(source)
        store = store if store is not None else source.info.store
        if store is None:
            raise RunError(f"{source.root} is a run of imported embeddings, without a feature store; give --store")
    cfg = None  # resuming: the run's own settings
    if not (resume and RunDir(out).exists()):
        base, file = (config, None) if isinstance(config, RunConfig) else (None, config)
        flags = deep_update(settings or {}, {"train": _given(epochs=epochs, seed=seed, log=log)})
        cfg = run_config(model, file, overrides, flags, base)
    run_stage(CoarseSpec(out, cfg, resume, epochs=epochs, log=log, store=store, reviews=labels), reporter_of(progress))
    return Run.open(out)


def finetune(parent: str | Path | Run | None, out: str | Path, *, config: str | Path | FinetuneConfig | None = None,
             overrides: Sequence[str] = (), settings: dict[str, Any] | None = None, epochs: int | None = None,
             seed: int | None = None, log: str | None = None, resume: bool = False, progress: Progress = False
             ) -> ModelRun:
    """Fine-tune the coarse run ``parent`` with NT-Xent into the new run folder ``out`` and open it (``mmx
    finetune``, §3.3). Its FinetuneConfig: the defaults (or ``config``, a FinetuneConfig), the ``config`` file, the
    ``key=value`` ``overrides``, the ``settings`` ({"positive_pair": "random-windows"}), then ``epochs``, ``seed``
    and ``log``. ``resume``: continue the run in ``out`` (``parent`` may be None)."""
    cfg = None
    if not (resume and RunDir(out).exists()):
        base, file = (config, None) if isinstance(config, FinetuneConfig) else (FinetuneConfig(), config)
        cfg = resolve(base, file, list(overrides), {**(settings or {}), **_given(epochs=epochs, seed=seed, log=log)})
    parent = parent.root if isinstance(parent, Run) else parent
    run_stage(FineSpec(out, cfg, resume, epochs=epochs, log=log, parent=parent), reporter_of(progress))
    return Run.open(out)
