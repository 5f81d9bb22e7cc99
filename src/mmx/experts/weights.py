"""Where expert weights come from, and reading them safely. Nothing here downloads.

Two kinds of weight files exist:

- files shipped inside installed registry packages (``package_file``: found with
  ``importlib.util.find_spec``, never by importing the package);
- files the user already has (``WeightSpec``): looked up by file name in the weights folder
  (``$MMX_WEIGHTS``, default ``~/.cache/mmx/weights``) unless a path is given, and checked against a
  sha256 checksum before loading.

Readers: ``load_state_dict`` (``torch.load(weights_only=True)`` or safetensors) and
``load_numpy_pickle`` (a restricted unpickler that rebuilds numpy arrays in plain dicts/lists and
nothing else).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from mmx.errors import WeightsCorrupt, WeightsMissing
from mmx.experts.packages import install_hint

WEIGHTS_ENV = "MMX_WEIGHTS"  # environment variable naming the weights folder
DEFAULT_WEIGHTS_DIR = Path("~/.cache/mmx/weights")  # used when $MMX_WEIGHTS is not set



def weights_dir() -> Path:
    """The folder where user-provided weight files are looked up by name."""
    return Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS_DIR).expanduser()


def package_file(package: str, relpath: str) -> Path:
    """A data file inside an installed package, found without importing the package.

    When the package is not installed, the returned path names the package so that
    ``Expert.check_weights`` reports what to install.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return Path(f"<package {package} is not installed: {install_hint(package)}>") / relpath
    return Path(list(spec.submodule_search_locations)[0]) / relpath


@dataclass(frozen=True)
class WeightSpec:
    """A weight file the user provides: its usual name, where it comes from, its checksum.

    ``sha256`` is a full hex digest or a prefix of one (torch hub file names such as
    ``r2plus1d_18-91a641e6.pth`` carry the first 8 hex digits of the file's sha256); empty = unknown,
    in which case the user may pass one (``sha256=`` of the expert) and it is checked.
    """

    filename: str  # name looked up in the weights folder
    source: str  # where a user gets the file (shown by `mmx experts` and in errors)
    sha256: str = ""  # known digest or digest prefix; "" = not known

    def resolve(self, path: str | Path | None = None) -> Path:
        """The explicit path if one is given, else the file of this name in ``weights_dir()``."""
        return Path(path).expanduser() if path else weights_dir() / self.filename


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksum(path: Path, expected: str) -> None:
    """Raise ``WeightsCorrupt`` when the file's sha256 does not start with ``expected`` ("" = skip)."""
    if not expected:
        return
    actual = sha256_of(path)
    if not actual.startswith(expected.lower()):
        raise WeightsCorrupt(
            f"{path}: sha256 {actual} does not match the expected {expected}; the file is damaged or is "
            "another checkpoint — download it again, or pass its own checksum if it is a different release"
        )


def require(path: Path, expert: str, source: str) -> None:
    """Raise ``WeightsMissing`` naming the file, where it is expected and where to get it."""
    if not path.exists():
        raise WeightsMissing(
            f"expert {expert!r} needs the weight file {path.name}, expected at {path} "
            f"(set ${WEIGHTS_ENV} or pass a path to put it elsewhere); get it from: {source}"
        )


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint into a flat {name: tensor} dict, never running pickled code.

    ``.safetensors`` files are read with safetensors; anything else with ``torch.load(weights_only=True)``.
    A checkpoint that wraps its weights (``{"state_dict": ...}``, ``{"model": ...}``) is unwrapped.
    """
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except SafetensorError as e:
            raise WeightsCorrupt(f"{path}: not a readable safetensors file ({e})") from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        raise WeightsCorrupt(
            f"{path}: not a PyTorch checkpoint that loads without running pickled code ({e}); if you trust the "
            "file, save its state dict again with torch.save or as .safetensors"
        ) from e
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsCorrupt(f"{path}: expected a dict of tensors (a state dict), found {type(obj).__name__}")
    return obj


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop a key prefix that wrappers add (``module.`` from DataParallel)."""
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}


def on_meta(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build an architecture without allocating or initialising its weights (``load_into`` fills them)."""
    with torch.device("meta"):
        return build()


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """``load_state_dict(strict=True)`` with an error that names the file and the first mismatches.

    A model built ``on_meta`` takes the checkpoint's tensors as they are (``assign``); any other is
    copied into. BatchNorm's ``num_batches_tracked`` counters (absent from checkpoints older than
    PyTorch 0.4.1, unused in eval mode) are added when missing. The result is float32.
    """
    counters = {k: torch.zeros((), dtype=torch.long) for k in model.state_dict() if k.endswith("num_batches_tracked")}
    try:
        model.load_state_dict({**counters, **state}, strict=True, assign=any(p.is_meta for p in model.parameters()))
    except RuntimeError as e:
        first = str(e).splitlines()[:3]
        raise WeightsCorrupt(f"{path}: the checkpoint does not fit the expected architecture: {' '.join(first)}") from e
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        raise WeightsCorrupt(f"{path}: the checkpoint left some of the network's tensors unset")
    return model.float()


def _reconstruct() -> Any:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _NumpyUnpickler(pickle.Unpickler):
    """Allows exactly the three globals a pickled numpy array needs; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _reconstruct()
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def load_numpy_pickle(path: Path) -> Any:
    """Read a pickle of (nested dicts of) numpy arrays with the restricted unpickler."""
    with open(path, "rb") as f:
        try:
            return _NumpyUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise WeightsCorrupt(f"{path}: not a pickle of numpy arrays ({e})") from e
