"""Trailers join a trained run: videos → store entries → every derived artifact of the run brought up to date.

``add_videos(run, videos)`` — ``mmx add`` and the explorer's ingest — extracts the videos with the
experts and settings the run's store was made with (``mmx.extract.extract_videos``), then
``refresh_added(run, ids)`` brings each derived artifact (``mmx.artifacts``) of the run, and of the
coarse run a fine run started from (they share the store), up to date on disk:

* ``embeddings.npz``: the new trailers embedded with the run's network, merged in (ids sorted);
* ``layout.npz``: each new trailer placed among its neighbours on the existing map;
* ``index-<kind>.faiss``: the new vectors added as rows (a replaced trailer needs `mmx index`);
* ``scenes.npz`` and its index: the new trailers' scene vectors added, the index rebuilt.

Trailers of the store an artifact lacks besides them (extracted with ``mmx extract`` meanwhile)
join it too. An artifact that cannot be brought up to date that way (older than the weights,
holding trailers the store no longer has, a trailer index holding a re-extracted trailer) is left
as it is and named in ``AddReport.stale`` with the command that refreshes it; a missing one stays
missing. Additions to one run go one at a time: ``exclusive(run)`` is a file lock
beside the run that the CLI and every server share.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmx import artifacts
from mmx.data.store import FeatureStore
from mmx.data.vectors import read_npz, write_npz
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
    """Store trailers ``ids`` (just written) join every derived artifact of ``run`` and of its parent run."""
    report = AddReport(added=list(ids))
    if not ids:
        return report
    runs = [run] + ([run.parent] if run.parent is not None else [])
    for r in runs:
        r.store.refresh()
        _refresh_run(r, ids, report)
    return report


def _refresh_run(run: ModelRun, ids: list[str], report: AddReport) -> None:
    from mmx.index import has_faiss
    from mmx.scenes import add_scenes, scene_trailer_ids

    store_ids = sorted(run.store.entries())
    kinds = _fresh_index_kinds(run, report) if has_faiss() else []  # decided before the embeddings change
    if run.dir.embeddings_path.exists():
        added = _add_embeddings(run, ids, store_ids, report)
        if added is not None:
            _extend_indexes(run, kinds, *added, report)
            _extend_layout(run, report)
    held = scene_trailer_ids(run.root)
    if held is not None:
        todo = _todo(ids, held, store_ids)
        why = artifacts.problem(run.root, artifacts.SCENES, sorted(set(held) | set(todo)), store_ids,
                                f"store {run.store.root}")
        if why:
            report.stale.append(why)
        else:
            add_scenes(run, todo)
            report.updated.append(str(run.root / artifacts.SCENES))


def _todo(ids: list[str], held: list[str], store_ids: list[str]) -> list[str]:
    """What a derived file holding ``held`` needs: the added trailers and any other store trailer it lacks."""
    return sorted(set(ids) | (set(store_ids) - set(held)))


def _add_embeddings(run: ModelRun, ids: list[str], store_ids: list[str], report: AddReport
                    ) -> tuple[list[str], np.ndarray] | None:
    """The trailers embedded and their (N, D) embeddings, merged into the run's embeddings.npz when it was
    fresh but for trailers of the store it lacks (those are embedded too); None when it was stale."""
    from mmx.embeddings import embed_ids

    old_ids, old_vectors = read_npz(run.dir.embeddings_path)
    todo = _todo(ids, old_ids, store_ids)
    why = artifacts.problem(run.root, artifacts.EMBEDDINGS, sorted(set(old_ids) | set(todo)), store_ids,
                            f"store {run.store.root}")
    if why:
        report.stale.append(why)
        return None
    vectors = embed_ids(run.model(), run.store, run.info, todo, run.config.train.eval_batch_size, run.precision)  # (N, D)
    merged = dict(zip(old_ids, old_vectors)) | dict(zip(todo, vectors))
    order = sorted(merged)
    write_npz(run.dir.embeddings_path, order, np.stack([merged[t] for t in order]))
    run.forget(models=False)
    report.updated.append(str(run.dir.embeddings_path))
    return todo, vectors


def _fresh_index_kinds(run: ModelRun, report: AddReport) -> list[str]:
    """The kinds of trailer index that are fresh now (the others are reported stale)."""
    from mmx.index import index_problem, run_index_kinds

    kinds = []
    for kind in run_index_kinds(run):
        why = index_problem(run, kind)
        if why:
            report.stale.append(why)
        else:
            kinds.append(kind)
    return kinds


def _extend_indexes(run: ModelRun, kinds: list[str], ids: list[str], vectors: np.ndarray, report: AddReport) -> None:
    from mmx.index import extend_run_index, index_paths, read_record

    for kind in kinds:
        path, side = index_paths(run, kind)
        if set(ids) & set(read_record(side, "")["ids"]):  # a trailer replaced: its old row cannot be dropped
            report.stale.append(f"{path} holds the old vectors of re-extracted trailers; refresh it with "
                                f"`mmx index --run {run.root} --kind {kind}`")
            continue
        extend_run_index(run, kind, ids, vectors)
        report.updated.append(str(path))


def _extend_layout(run: ModelRun, report: AddReport) -> None:
    from mmx.layout import map_layout

    path = run.root / artifacts.LAYOUT
    if path.exists():
        map_layout(run)  # places the new trailers among their neighbours and rewrites the map
        report.updated.append(str(path))
