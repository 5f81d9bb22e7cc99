"""A run folder: the resolved config, what it was trained on, checkpoints and metrics.

Layout::

    config.json                 resolved RunConfig
    run.json                    kind, store, experts, genre vocabulary, trailer ids per split
    state.json                  last finished epoch, its checkpoint, best epoch, metric history
    metrics.jsonl               one line per epoch
    checkpoints/epoch-NNNN.safetensors (+ .optim.pt)   the last finished epoch (resume)
    best.safetensors            weights of the best validation epoch (config inside its metadata)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mmx.config import RunConfig, config_from_dict, save_config
from mmx.data.store import ExpertInfo, FeatureStore
from mmx.errors import RunError
from mmx.model.mmx import MMX, create_model
from mmx.utils import atomic_write_text


@dataclass
class RunInfo:
    kind: str  # "coarse", "fine" or "embeddings"
    store: str | None  # feature store the run was trained on (None for imported embeddings)
    experts: dict[str, dict]  # name → ExpertInfo fields
    genres: list[str]
    splits: dict[str, list[str]]  # split → trailer ids
    excluded: dict[str, list[str]] = field(default_factory=dict)  # reason → trailer ids
    parent: str | None = None  # the coarse run a fine run started from

    def expert_infos(self) -> dict[str, ExpertInfo]:
        return {n: ExpertInfo(**i) for n, i in self.experts.items()}


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # paths
    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def info_path(self) -> Path:
        return self.root / "run.json"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def best_path(self) -> Path:
        return self.root / "best.safetensors"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    def exists(self) -> bool:
        return self.info_path.exists()

    # config and info
    def write_info(self, info: RunInfo, cfg: RunConfig | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if cfg is not None:
            save_config(cfg, self.config_path)
        atomic_write_text(self.info_path, json.dumps(asdict(info), indent=1) + "\n")

    def info(self) -> RunInfo:
        if not self.info_path.exists():
            raise RunError(f"{self.root} is not an mmx run (no run.json); create one with `mmx train`")
        return RunInfo(**json.loads(self.info_path.read_text()))

    def config(self) -> RunConfig:
        if not self.config_path.exists():
            if self.exists() and self.info().kind == "embeddings":
                raise RunError(
                    f"{self.root} holds imported embeddings without a network; "
                    "use `mmx search` or `mmx evaluate --retrieval` on it"
                )
            raise RunError(f"{self.config_path} is missing; the run is incomplete")
        return config_from_dict(json.loads(self.config_path.read_text()))

    def store(self) -> FeatureStore:
        info = self.info()
        if info.store is None:
            raise RunError(f"{self.root} holds imported embeddings only; it has no feature store")
        return FeatureStore(info.store)

    # state
    def state(self) -> dict | None:
        if not self.state_path.exists():
            return None
        return json.loads(self.state_path.read_text())

    def write_state(self, state: dict) -> None:
        atomic_write_text(self.state_path, json.dumps(state, indent=1) + "\n")
        lines = "".join(json.dumps(h) + "\n" for h in state["history"])
        atomic_write_text(self.metrics_path, lines)

    # weights
    def _metadata(self) -> dict[str, str]:
        return {"config": self.config_path.read_text(), "run": self.info_path.read_text()}

    def save_weights(self, model: torch.nn.Module, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp), metadata=self._metadata())
        os.replace(tmp, path)

    @staticmethod
    def checkpoint_name(epoch: int) -> str:
        """Checkpoint files of ``epoch`` are ``<name>.safetensors``, ``<name>.optim.pt``, …"""
        return f"checkpoints/epoch-{epoch:04d}"

    def save_checkpoint(
        self, name: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
        parts: dict[str, torch.nn.Module] | None = None,
    ) -> None:
        """Checkpoint ``name``: model weights, other modules' weights (``<name>.<part>.safetensors``)
        and the optimizer state (read back with ``weights_only=True``), each file written atomically."""
        self.save_weights(model, self.root / f"{name}.safetensors")
        for part, module in (parts or {}).items():
            self.save_weights(module, self.root / f"{name}.{part}.safetensors")
        tmp = self.root / f"{name}.optim.pt.tmp"
        torch.save(optimizer.state_dict(), tmp)
        tmp.replace(self.root / f"{name}.optim.pt")

    def promote_best(self, name: str) -> None:
        """Checkpoint ``name``'s model weights become best.safetensors (atomically)."""
        tmp = self.root / ".best.tmp"
        shutil.copyfile(self.root / f"{name}.safetensors", tmp)
        tmp.replace(self.best_path)

    def remove_checkpoint(self, name: str) -> None:
        for path in self.root.glob(f"{name}.*"):
            path.unlink(missing_ok=True)

    def load_model(self, which: str = "best") -> MMX:
        """The trained network (``best`` or ``last`` epoch), in eval mode."""
        info, cfg = self.info(), self.config()
        model = create_model(info.expert_infos(), len(info.genres), cfg.model)
        if which == "best":
            path = self.best_path
        else:
            state = self.state()
            path = self.root / f"{state['checkpoint']}.safetensors" if state else self.best_path
        if not path.exists():
            raise RunError(f"{path} is missing; train the run first (`mmx train --out {self.root}`)")
        model.load_state_dict(load_file(str(path)))
        return model.eval()
