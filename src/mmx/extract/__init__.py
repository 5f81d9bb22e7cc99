"""The extraction front end (§4.1): trailer video files → scene clips → expert vectors → feature store.

``extract_videos(paths, store, ExtractConfig())`` is the batch entry point (``mmx extract``);
``Extractor.extract`` does one file; ``decode``, ``cuts``, ``audio``, ``flow`` and ``keyframes``
are its stages, ``schedule`` runs the experts, ``profiles`` names sampling profiles. The names
below load on first use, so ``mmx.extract.settings`` and ``mmx.extract.profiles`` can be imported
without PyTorch, PyAV or OpenCV.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "ExtractConfig": "settings", "ExtractReport": "batch", "Extraction": "pipeline", "Extractor": "pipeline",
    "extract_videos": "batch", "find_videos": "batch", "load_experts": "pipeline",
    "ExtractError": "mmx.errors", "VideoError": "mmx.errors",
}

__all__ = [
    "ExtractConfig", "ExtractError", "ExtractReport", "Extraction", "Extractor", "VideoError",
    "extract_videos", "find_videos", "load_experts",
]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'mmx.extract' has no attribute {name!r}")
    where = _WHERE[name]
    module = importlib.import_module(where if "." in where else f"mmx.extract.{where}")
    return getattr(module, name)
