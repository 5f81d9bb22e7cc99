"""mmx: multi-modal movie-trailer genre classification and fine-grained retrieval.

The importable library: feature store, model, losses, metrics and training loops. Command-line,
plotting and serving code live in the separate ``mmx_cli``, ``mmx_report`` and ``mmx_serve`` packages.

The Python API (docs/python.md) — the functions the ``mmx`` commands call — is named here and loaded on first use,
so ``import mmx`` (and ``mmx --help``) stays instant::

    import mmx
    store = mmx.open_store("store", create=True)
    mmx.extract_videos(["videos/"], store, mmx.ExtractConfig(profile="fast"), labels="videos/labels.csv")
    run = mmx.fit(store, "run", model="tiny", epochs=10)      # `mmx train`; log="tensorboard" or "mlflow"
    mmx.predict(run, split="test").to_frame()                   # genres (pandas: the `notebook` extra)
    mmx.predict_video(run, "new.mp4").to_frame()
    mmx.trailer_timeline(run, "t001").to_frame()                # Fig. 8; mmx.webvtt(...) for players
    mmx.search(run, "t001", k=5).to_frame()
    mmx.index_scenes(run); mmx.search_scenes(run, "t001", seconds=3.0).to_frame()
    mmx.check("store").to_frame()                               # `mmx check`
    mmx.export_iiif(run, "iiif/")                               # IIIF Presentation 3 manifests
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name → the module that defines it (imported on first use)
_API = {
    "open_store": "mmx.api", "open_run": "mmx.api", "trailers": "mmx.api",
    "predict": "mmx.api", "predict_video": "mmx.api", "search": "mmx.api", "index_scenes": "mmx.api",
    "search_scenes": "mmx.api",
    "trailer_timeline": "mmx.timeline", "webvtt": "mmx.timeline",
    "check": "mmx.health.report",
    "export_iiif": "mmx.iiif",
    "ExtractConfig": "mmx.extract.settings", "extract_videos": "mmx.extract.batch",
    "RunConfig": "mmx.config", "FinetuneConfig": "mmx.config",
    "fit": "mmx.train.fit", "finetune": "mmx.train.fit",  # the training half (mmx.train is the package's name)
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'mmx' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # found once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
