"""What an import format is (``ImportFormat``: a name, a layout test, a reader), its options, and the registry
of formats (``FORMATS``) each format module registers itself in; ``mmx.data.formats`` detects and runs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mmx.data.importer import ImportReport
from mmx.data.store import FeatureStore
from mmx.registry import Registry


@dataclass
class ImportOptions:
    fold: int = 0  # trailers12k: the split column (split0/1/2) that gives train/val/test
    labels: Path | None = None  # video-features: labels.csv in the import format's columns (the outputs hold no genres)
    clip_seconds: float = 2.0  # video-features: length of the clip grid the features are aligned onto
    splits: Path | None = None  # movienet: splits.json (default: the one beside features.pkl)
    experts: list[str] | None = None  # trailers12k, video-features: import only these experts (default: all)


@dataclass(frozen=True)
class ImportFormat:
    name: str
    summary: str  # one line for --help
    detect: Callable[[Path], bool]  # does ``source`` have this layout (cheap: names and headers only)
    run: Callable[[Path, FeatureStore, ImportOptions], ImportReport]


FORMATS: Registry[ImportFormat] = Registry("import format")


def register_format(fmt: ImportFormat) -> ImportFormat:
    FORMATS.register(fmt.name)(lambda: fmt)
    return fmt
