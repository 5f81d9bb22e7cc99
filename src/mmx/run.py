"""Runs: the folder a training (or an import of embeddings) writes, and the opened run everything reads.

Every file a run folder holds — what it is, what it is derived from, the command that builds it —
is declared in ``mmx.artifacts.ARTIFACTS``; every file is written with ``durable.atomic_write``.
The sources of a run are ``run.json`` (written last), ``config.json``, ``state.json``,
``metrics.jsonl``, ``best.safetensors`` and ``checkpoints/``; ``embeddings.npz`` is derived
from the weights and the store (``mmx embed``).

``RunDir`` knows the paths and writes the files (the writer side: training, imports). ``Run.open``
gives the reader side a typed run — ``ModelRun`` for coarse and fine runs, ``EmbeddingsRun`` for
imported embeddings — whose info, config, store, network and embeddings are read once and kept.
Reading never writes: embeddings that are not fresh (``artifacts.problem``) raise ``RunError``
saying how to compute them (``mmx.embeddings.embed_run`` is that explicit step).
"""

from __future__ import annotations

import abc
import json
import shutil
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mmx import artifacts
from mmx.config import RunConfig, config_from_dict, save_config
from mmx.data.loader import Reading
from mmx.data.store import FeatureStore
from mmx.data.vectors import EmbeddingSet, read_ids, read_npz, read_trailers_csv
from mmx.durable import atomic_write
from mmx.errors import RunError
from mmx.inputs import ExpertInfo

if TYPE_CHECKING:
    import torch

    from mmx.model.mmx import MMX

COARSE, FINE, IMPORTED = "coarse", "fine", "embeddings"  # run kinds; IMPORTED: embeddings imported, no network
KINDS = (COARSE, FINE, IMPORTED)
EMBEDDINGS_FILE, TRAILERS_FILE = artifacts.EMBEDDINGS, artifacts.TRAILERS


@dataclass
class RunInfo:
    kind: str  # "coarse", "fine" or "embeddings" (KINDS)
    store: str | None  # feature store the run was trained on (None for imported embeddings)
    experts: dict[str, dict]  # name → ExpertInfo fields
    genres: list[str]
    splits: dict[str, list[str]]  # split → trailer ids
    excluded: dict[str, list[str]] = field(default_factory=dict)  # reason → trailer ids
    parent: str | None = None  # the coarse run a fine run started from
    mask_broken: bool = False  # data.mask_broken_experts: the loaders read dead stretches as missing (mmx.data.broken)
    # trailer → its experts found noise-like over the store when the run was made (data.mask_noise_like)
    noise_like: dict[str, list[str]] = field(default_factory=dict)
    # trained with reviewed labels (``mmx train --reviews RUN``): ``mmx.review.ReviewedLabels`` as a dict — the
    # journal read (run, decisions, offset, reviewers) and the labels; its store is read with them (``ModelRun.store``)
    reviews: dict | None = None
    # the number format training computed in (train.precision resolved on the machine that trained: "bf16" or "fp32";
    # a resumed run: that of its last start; every epoch's record says its own); None: imported, or an older run
    precision: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RunError(f"run kind {self.kind!r} is unknown; expected one of {', '.join(KINDS)}")

    def expert_infos(self) -> dict[str, ExpertInfo]:
        return {n: ExpertInfo(**i) for n, i in self.experts.items()}

    @property
    def reading(self) -> Reading:
        """What the run's loaders read of each trailer: its experts, genres and masked broken experts."""
        return Reading(self.expert_infos(), list(self.genres), self.noise_like, self.mask_broken)

    def split_ids(self, split: str) -> list[str]:
        """Trailer ids of ``split`` (``all``: of every split, sorted)."""
        if split == "all":
            return sorted(i for ids in self.splits.values() for i in ids)
        if split not in self.splits:
            raise RunError(f"unknown split {split!r}; use one of {', '.join(self.splits)} or all")
        return self.splits[split]


@dataclass(frozen=True)
class TrainingState:
    """Where a training run stands; ``state.json``. Updated by returning new values, never in place."""

    epoch: int = 0  # last finished epoch
    checkpoint: str | None = None  # checkpoint name of that epoch (``RunDir.checkpoint_name``)
    best_epoch: int | None = None
    best_score: float | None = None  # the stage's validation figure at the best epoch
    history: tuple[dict, ...] = ()  # one record per finished epoch (epoch, loss, validation figures, seconds)
    finished: bool = False  # the last planned epoch is done and the run was made lean (optimizer state dropped)

    def advance(self, epoch: int, checkpoint: str, record: dict, score: float, best: bool) -> "TrainingState":
        """The state after ``epoch`` finished with ``record``; ``best``: it is the new best epoch."""
        history = tuple(h for h in self.history if h["epoch"] < epoch) + (record,)
        best_epoch, best_score = (epoch, score) if best else (self.best_epoch, self.best_score)
        return TrainingState(epoch, checkpoint, best_epoch, best_score, history, finished=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["history"] = list(self.history)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingState":
        return cls(**{**d, "history": tuple(d.get("history", ()))})


class RunDir:
    """The paths of a run folder and the writes that make one (the writer side)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / artifacts.CONFIG

    @property
    def info_path(self) -> Path:
        return self.root / artifacts.RUN_INFO

    @property
    def state_path(self) -> Path:
        return self.root / artifacts.STATE

    @property
    def best_path(self) -> Path:
        return self.root / artifacts.BEST

    @property
    def metrics_path(self) -> Path:
        return self.root / artifacts.METRICS

    @property
    def embeddings_path(self) -> Path:
        return self.root / EMBEDDINGS_FILE

    def exists(self) -> bool:
        return self.info_path.exists()

    # ------------------------------------------------------------------ reading the files
    def read_info(self) -> RunInfo:
        if not self.info_path.exists():
            raise RunError(f"{self.root} is not an mmx run (no run.json); create one with `mmx train`")
        return RunInfo(**json.loads(self.info_path.read_text()))

    def read_config(self) -> RunConfig:
        if not self.config_path.exists():
            raise RunError(f"{self.config_path} is missing; the run is incomplete")
        return config_from_dict(json.loads(self.config_path.read_text()))

    def read_state(self) -> TrainingState | None:
        if not self.state_path.exists():
            return None
        return TrainingState.from_dict(json.loads(self.state_path.read_text()))

    # ------------------------------------------------------------------ writing
    def write_info(self, info: RunInfo, cfg: RunConfig | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if cfg is not None:
            save_config(cfg, self.config_path)
        record = asdict(info)
        if record["reviews"] is None:  # written only for a run trained with reviews: others stay as before
            record.pop("reviews")
        atomic_write(self.info_path, json.dumps(record, indent=1) + "\n")

    def write_state(self, state: TrainingState) -> None:
        atomic_write(self.state_path, json.dumps(state.to_dict(), indent=1) + "\n")
        atomic_write(self.metrics_path, "".join(json.dumps(h) + "\n" for h in state.history))

    def save_weights(self, module: "torch.nn.Module", path: Path) -> None:
        """``module``'s weights as safetensors with the run's config and info in the metadata (atomic)."""
        from safetensors.torch import save_file

        weights = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        metadata = {"config": self.config_path.read_text(), "run": self.info_path.read_text()}
        atomic_write(path, lambda tmp: save_file(weights, str(tmp), metadata=metadata))

    @staticmethod
    def checkpoint_name(epoch: int) -> str:
        """Checkpoint files of ``epoch`` are ``<name>.safetensors``, ``<name>.<part>.safetensors``, ``<name>.optim.pt``."""
        return f"checkpoints/epoch-{epoch:04d}"

    def checkpoint_path(self, name: str, part: str | None = None, suffix: str = "safetensors") -> Path:
        return self.root / (f"{name}.{part}.{suffix}" if part else f"{name}.{suffix}")

    def save_checkpoint(self, name: str, modules: dict[str, "torch.nn.Module"], optimizer) -> None:
        """Checkpoint ``name``: ``modules["model"]`` and every other part's weights, then the optimizer
        state (read back with ``weights_only=True``); each file written atomically."""
        import torch

        for part, module in modules.items():
            self.save_weights(module, self.checkpoint_path(name, None if part == "model" else part))
        atomic_write(self.checkpoint_path(name, "optim", "pt"), lambda tmp: torch.save(optimizer.state_dict(), tmp))

    def promote_best(self, name: str) -> None:
        """Checkpoint ``name``'s model weights become best.safetensors (atomically)."""
        atomic_write(self.best_path, lambda tmp: shutil.copyfile(self.checkpoint_path(name), tmp))

    def remove_checkpoint(self, name: str) -> None:
        for path in self.root.glob(f"{name}.*"):
            path.unlink(missing_ok=True)

    def model_weights(self, state: TrainingState | None, which: str) -> Path:
        """The model weights of the ``best`` or ``last`` epoch (a lean run keeps the last epoch's
        weights only when they differ from the best)."""
        if which not in ("best", "last"):
            raise RunError(f"weights {which!r} are unknown; use best or last")
        if which == "last" and state is not None and state.checkpoint is not None:
            path = self.checkpoint_path(state.checkpoint)
            if path.exists() or state.best_epoch != state.epoch:
                return path
        return self.best_path

    def nbytes(self) -> int:
        """What the run folder weighs on disk."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- opened runs
class Run(abc.ABC):
    """An opened run: what it is and holds, read once. ``Run.open(path)`` gives the right kind."""

    def __init__(self, folder: RunDir, info: RunInfo):
        self.dir, self.info = folder, info

    @staticmethod
    def open(path: "str | Path | RunDir | Run") -> "ModelRun | EmbeddingsRun":
        """The run in ``path`` (a ``ModelRun`` for coarse/fine runs, an ``EmbeddingsRun`` otherwise)."""
        if isinstance(path, Run):
            return path
        folder = path if isinstance(path, RunDir) else RunDir(path)
        info = folder.read_info()
        return EmbeddingsRun(folder, info) if info.kind == IMPORTED else ModelRun(folder, info)

    @property
    def root(self) -> Path:
        return self.dir.root

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def has_model(self) -> bool:
        return self.kind != IMPORTED

    def split_ids(self, split: str) -> list[str]:
        return self.info.split_ids(split)

    @abc.abstractmethod
    def embeddings(self) -> EmbeddingSet:
        """Every trailer of the run with its vector, genres, title and year."""


class EmbeddingsRun(Run):
    """A run of imported trailer embeddings (``mmx import-embeddings``): vectors and metadata, no network."""

    @cached_property
    def _embeddings(self) -> EmbeddingSet:
        ids, vectors = read_npz(self.dir.embeddings_path)
        meta = read_trailers_csv(self.root / TRAILERS_FILE)
        missing = [t for t in ids if t not in meta]
        if missing:
            raise RunError(f"{self.root / TRAILERS_FILE} lacks trailer(s) {', '.join(missing[:5])}")
        rows = [meta[t] for t in ids]
        return EmbeddingSet(ids, vectors, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def embeddings(self) -> EmbeddingSet:
        return self._embeddings


class ModelRun(Run):
    """A coarse or fine run: its config, feature store, trained network and trailer embeddings."""

    def __init__(self, folder: RunDir, info: RunInfo):
        super().__init__(folder, info)
        self._models: dict[str, MMX] = {}

    @cached_property
    def config(self) -> RunConfig:
        return self.dir.read_config()

    @cached_property
    def store(self) -> FeatureStore:
        if self.info.store is None:
            raise RunError(f"{self.root} names no feature store")
        return FeatureStore(self.info.store, self.info.reviews["labels"] if self.info.reviews else None)

    @property
    def state(self) -> TrainingState | None:
        """The training state as it is on disk now (it changes while a run trains)."""
        return self.dir.read_state()

    @cached_property
    def parent(self) -> "ModelRun | None":
        """The coarse run a fine run started from (None for a coarse run, or when it is gone)."""
        if self.kind != FINE or not self.info.parent or not RunDir(self.info.parent).exists():
            return None
        parent = Run.open(self.info.parent)
        return parent if isinstance(parent, ModelRun) else None

    @cached_property
    def precision(self) -> str:
        """What reading this run computes in here (on the CPU): its ``train.precision`` resolved for this machine."""
        from mmx.precision import resolve_precision

        return resolve_precision(self.config.train.precision, "cpu")

    def model(self, which: str = "best") -> "MMX":
        """The trained network (``best`` or ``last`` epoch) in eval mode, loaded once; for reading only."""
        if which not in self._models:
            self._models[which] = self.load_model(which)
        return self._models[which]

    def load_model(self, which: str = "best") -> "MMX":
        """A new instance of the trained network (``best`` or ``last`` epoch) in eval mode, e.g. to train on."""
        from safetensors.torch import load_file

        from mmx.model.mmx import create_model

        path = self.dir.model_weights(self.state, which)
        if not path.exists():
            raise RunError(f"{path} is missing; train the run first (`mmx train --out {self.root}`)")
        model = create_model(self.info.expert_infos(), len(self.info.genres), self.config.model)
        model.load_state_dict(load_file(str(path)))
        return model.eval()

    def embeddings_problem(self) -> str | None:
        """Why ``embeddings.npz`` cannot be used as this run's embeddings (``mmx.artifacts.problem``), or None."""
        path = self.dir.embeddings_path
        holds = read_ids(path) if path.exists() else None
        return artifacts.problem(self.root, artifacts.EMBEDDINGS, holds, sorted(self.store.entries()),
                                 f"store {self.store.root}")

    @cached_property
    def _embeddings(self) -> EmbeddingSet:
        problem = self.embeddings_problem()
        if problem:
            raise RunError(problem)
        ids, vectors = read_npz(self.dir.embeddings_path)
        metas = [self.store.meta(t) for t in ids]
        return EmbeddingSet(ids, vectors, [m.genres for m in metas], [m.title for m in metas], [m.year for m in metas])

    def embeddings(self) -> EmbeddingSet:
        return self._embeddings

    def forget(self, models: bool = True) -> None:
        """Drop what was read (after this process wrote to the run or its store); ``models``: the networks too."""
        for name in ("_embeddings", "store"):
            self.__dict__.pop(name, None)
        if models:
            self._models.clear()
