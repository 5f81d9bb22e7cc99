"""Trailers join a trained run: videos → store entries → every derived artifact of the run brought up to date.

``add_videos(run, videos)`` — ``mmx add`` and the explorer's ingest — extracts the videos with the
experts and settings the run's store was made with (``mmx.extract.extract_videos``), then
``refresh_added(run, ids)`` brings each derived file of the run, and of the coarse run a fine run
started from (they share the store), up to date on disk (``mmx.derived``: embeddings, trailer
indexes, the map, scenes); one that cannot be is named in ``AddReport.stale`` with the command that
refreshes it. Additions to one run go one at a time: ``exclusive(run)`` is a file lock
beside the run that the CLI and every server share.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmx import artifacts
from mmx.data.store import FeatureStore
from mmx.derived import bring_up_to_date
from mmx.errors import InputError, RunError
from mmx.extract.batch import ExtractReport, extract_videos, store_config
from mmx.progress import QUIET, Reporter
from mmx.run import ModelRun, Run

NO_NETWORK = ("{root} holds imported embeddings without a network or a feature store, so new videos cannot be "
              "embedded into it; add them to a coarse or fine run")


@dataclass
class AddReport:
    extract: ExtractReport = field(default_factory=ExtractReport)  # what the extraction did, failures included
    added: list[str] = field(default_factory=list)  # trailers that joined the run
    updated: list[str] = field(default_factory=list)  # files brought up to date
    stale: list[str] = field(default_factory=list)  # artifacts left as they were, each with its refresh command


def model_run(run: str | Path | Run) -> ModelRun:
    """The run, when it has a network and a store to add trailers to (``RunError`` otherwise)."""
    run = Run.open(run)
    if not isinstance(run, ModelRun):
        raise RunError(NO_NETWORK.format(root=run.root))
    return run


@contextmanager
def exclusive(run: Run) -> Iterator[None]:
    """Hold the run's addition lock (``RUN/.ingest.lock``): one addition at a time, across processes."""
    with open(run.root / artifacts.INGEST_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def add_videos(run: str | Path | Run, videos: list[str | Path], labels: str | Path | None = None,
               reporter: Reporter = QUIET, in_process: bool = False) -> AddReport:
    """Extract ``videos`` into the run's store and bring the run's derived artifacts up to date.

    ``labels``: a labels.csv in the import format; ``in_process``: no process pool for optical flow
    (inside a server). Failed videos are in ``report.extract.failed`` and join nothing.
    """
    run = model_run(run)
    cfg = store_config(run.store, list(run.info.experts))
    if in_process:
        cfg = replace(cfg, flow_workers=0)
    extracted = extract_videos(videos, run.store, cfg, labels=labels, progress=reporter)
    report = refresh_added(run, extracted.extracted)
    report.extract = extracted
    return report


@contextmanager
def extracted_apart(run: str | Path | Run, video: str | Path, reporter: Reporter = QUIET
                    ) -> Iterator[tuple[FeatureStore, str]]:
    """A video extracted with the run's experts and settings into a temporary store of its own, for the ``with``
    block: (that store, the video's trailer id). The run is not changed (a query, a prediction for a new file)."""
    run = model_run(run)
    video = Path(video)
    if not video.is_file():
        raise InputError(f"video {video} does not exist")
    cfg = replace(store_config(run.store, list(run.info.experts)), flow_workers=0)
    with tempfile.TemporaryDirectory(prefix="mmx-video-") as tmp:
        store = FeatureStore.create(Path(tmp) / "store")
        report = extract_videos([video], store, cfg, progress=False)
        if report.failed:
            raise InputError(f"{video} cannot be extracted: " + "; ".join(p.reason for p in report.failed))
        for p in report.warnings:
            reporter.line(f"{video.name}: {p.reason}")
        store.refresh()
        (tid,) = store.entries()
        yield store, tid


def refresh_added(run: ModelRun, ids: list[str]) -> AddReport:
    """Store trailers ``ids`` (just written) join every derived file of ``run`` and of its parent run
    (``mmx.derived``)."""
    report = AddReport(added=list(ids))
    if not ids:
        return report
    runs = [run] + ([run.parent] if run.parent is not None else [])
    for r in runs:
        r.store.refresh()
        done = bring_up_to_date(r, ids)
        report.updated += done.updated
        report.stale += done.stale
    return report
