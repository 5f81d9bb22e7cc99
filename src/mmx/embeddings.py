"""Trailer embeddings of a run: computing them, embedding new trailers, importing others' embeddings.

A run's embeddings live in ``RUN/embeddings.npz`` (``mmx.data.vectors``: ``trailer_id`` (N,) str and
``embedding`` (N, D) float32 — the layout of the authors' visualiser data). For a coarse or fine
run they are the bottleneck (512-d by default, 2048-d in the paper; §3.3: the projection head is dropped) of every trailer of the
run's store: ``embed_run`` computes and writes them — training does at its end, ``mmx embed``
does on request, ``ensure_embeddings`` does when a command finds them missing or stale; reading a
run (``Run.embeddings``) never computes anything. A run made by ``import_embeddings`` (kind
``"embeddings"``) has no model and no store: its vectors are the imported ones and its metadata is
``RUN/trailers.csv``.

``embed_query_npz`` embeds a new trailer's per-clip features (the import format) with a run's
model, without retraining and exactly as if it had been imported.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from mmx.data.importer import check_trailer
from mmx.data.labels_csv import read_labels
from mmx.data.loader import whole_trailer_batches
from mmx.data.store import CLIP_SUFFIX, RESERVED, EntryMeta, FeatureStore
from mmx.data.vectors import EmbeddingSet, read_npz, write_npz, write_trailers_csv
from mmx.durable import atomic_write
from mmx.errors import InputError, Problem, RunError
from mmx.inputs import Batch
from mmx.model.mmx import MMX
from mmx.precision import autocast
from mmx.progress import QUIET, Reporter
from mmx.run import EMBEDDINGS_FILE, IMPORTED, TRAILERS_FILE, ModelRun, Run, RunDir, RunInfo


# ---------------------------------------------------------------------------- computing
@torch.no_grad()
def embed_loader(model: MMX, loader: Iterable[Batch], precision: str = "fp32") -> tuple[list[str], np.ndarray]:
    """Ids and (N, embed_dim) bottleneck embeddings of every trailer of ``loader``: the mean over a
    trailer's views (one for a trailer, one per chapter for a film); the network computes in
    ``precision`` (``mmx.precision``), the vectors are fp32."""
    model.eval()
    ids, out = [], []
    device = next(model.parameters()).device
    for batch in loader:
        ids.extend(batch.ids)
        with autocast(device, precision):
            out.append(model.embed(batch.to(device)).float().mean(1).cpu().numpy())  # (B, D)
    dim = model.cfg.embed_dim
    return ids, np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def embed_ids(model: MMX, store: FeatureStore, info: RunInfo, ids: list[str], batch_size: int,
              precision: str = "fp32") -> np.ndarray:
    """(N, embed_dim) embeddings of ``ids`` in their order, each trailer read whole as for genre prediction."""
    got, vectors = embed_loader(model, whole_trailer_batches(store, info.reading, ids, batch_size, model.cfg), precision)
    position = {t: i for i, t in enumerate(got)}
    return vectors[[position[t] for t in ids]]


def embed_run(run: str | Path | Run, out: str | Path | None = None) -> Path:
    """Embed every trailer of the run's store (all splits and unlabeled ones) into ``out``.

    ``out`` defaults to ``RUN/embeddings.npz``. An ``"embeddings"`` run is copied as it is.
    """
    run = Run.open(run)
    out = Path(out) if out is not None else run.dir.embeddings_path
    if not isinstance(run, ModelRun):
        ids, vectors = read_npz(run.dir.embeddings_path)
        return write_npz(out, ids, vectors) if out != run.dir.embeddings_path else out
    ids = sorted(run.store.entries())
    vectors = embed_ids(run.model(), run.store, run.info, ids, run.config.train.eval_batch_size, run.precision)
    path = write_npz(out, ids, vectors)
    if out == run.dir.embeddings_path:
        run.forget()
    return path


def ensure_embeddings(run: str | Path | Run, reporter: Reporter = QUIET) -> EmbeddingSet:
    """The run's embeddings, computed first (and said so) when they are missing or stale."""
    run = Run.open(run)
    if isinstance(run, ModelRun):
        problem = run.embeddings_problem()
        if problem:
            reporter.line(f"{problem}: computing the embeddings of {len(run.store)} trailers")
            embed_run(run)
    return run.embeddings()


# ---------------------------------------------------------------------------- queries
def embed_query_npz(run: str | Path | Run, path: str | Path) -> np.ndarray:
    """(D,) embedding of a new trailer given as an npz.

    The npz is either the import format (per-clip expert arrays, embedded with the run's model as
    if the trailer had been imported) or holds one ``embedding`` vector of the run's dimension.
    """
    run, path = Run.open(run), Path(path)
    if not path.is_file():
        raise InputError(f"query file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read query {path} as an npz ({e})") from None
    info = run.info
    if "embedding" in arrays:
        return _query_vector(run, path, arrays["embedding"])
    if not isinstance(run, ModelRun):
        raise InputError(
            f"{run.root} holds imported embeddings and no model, so {path} needs an `embedding` array "
            "of the run's dimension (per-clip features cannot be embedded here)"
        )
    _check_query_experts(path, arrays, info)
    n_clips, why = check_trailer(path, arrays)[1:]
    if why:
        raise InputError(f"query {path} {why}")
    with tempfile.TemporaryDirectory(prefix="mmx-query-") as tmp:
        store = FeatureStore.create(Path(tmp) / "store")
        store.register_experts(info.expert_infos())
        meta = EntryMeta(trailer_id=path.stem, genres=[], n_clips=n_clips, experts=[])
        features = {k: v for k, v in arrays.items() if k not in RESERVED}
        store.write_entry(meta, features, clip_times=arrays.get("clip_times"))
        return embed_ids(run.model(), store, info, [path.stem], run.config.train.eval_batch_size, run.precision)[0]


def _query_vector(run: Run, path: Path, vec: np.ndarray) -> np.ndarray:
    dim = run.embeddings().dim
    vec = np.asarray(vec, dtype=np.float32)
    if vec.ndim > 2 or vec.size != dim:
        raise InputError(f"query {path}: `embedding` must hold one {dim}-d vector, the run's dimension")
    if not np.isfinite(vec).all() or not vec.any():
        raise InputError(f"query {path}: `embedding` has NaN/inf values or is all zeros")
    return vec.reshape(-1)


def _check_query_experts(path: Path, arrays: dict[str, np.ndarray], info: RunInfo) -> None:
    """Name the experts of a query npz that the run does not know or that have the wrong size."""
    given = {k for k in arrays if k not in RESERVED and not k.endswith(CLIP_SUFFIX)}
    unknown = sorted(given - set(info.experts))
    wrong = [
        f"{n} is {arrays[n].shape[-1]}-d, the run's is {info.experts[n]['dim']}-d"
        for n in sorted(given & set(info.experts))
        if arrays[n].ndim != 2 or arrays[n].shape[1] != info.experts[n]["dim"]
    ]
    problems = []
    if unknown:
        problems.append(f"expert(s) {', '.join(unknown)} are not the run's ({', '.join(info.experts)})")
    if wrong:
        problems.append("; ".join(wrong))
    if not given & set(info.experts):
        problems.append(f"it holds none of the run's experts ({', '.join(info.experts)})")
    if problems:
        raise InputError(f"query {path}: " + "; ".join(problems))


# ---------------------------------------------------------------------------- import
@dataclass
class EmbeddingImportReport:
    kept: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    placeholders: dict[str, list[str]] = field(default_factory=dict)  # kept trailer → placeholder genres left out


def import_embeddings(npz: str | Path, labels: str | Path, out: str | Path) -> EmbeddingImportReport:
    """Make an ``"embeddings"`` run in ``out`` from an embeddings npz and a metadata csv.

    Rows whose id has no metadata, repeats an earlier id, has NaN/inf values or is all zeros are
    reported in ``problems`` (one each) and left out; the rest are kept. Ids are stripped of
    surrounding spaces, as the metadata reader does (reported too, and kept).
    """
    npz, labels, run = Path(npz), Path(labels), RunDir(out)
    if run.exists():
        raise RunError(f"{run.root} already holds a run; pick a new --out")
    ids, vectors = read_npz(npz)
    report = EmbeddingImportReport()
    for i, tid in enumerate(ids):  # the metadata reader strips ids; match it
        if tid != tid.strip():
            why = f"trailer_id {tid!r} has surrounding spaces; kept as {tid.strip()!r}"
            report.problems.append(Problem(f"{npz.name} row {i}", why))
    ids = [t.strip() for t in ids]
    meta = {r.trailer_id: r for r in read_labels(labels, report.problems)}
    finite = np.isfinite(vectors).all(axis=1)
    nonzero = np.abs(np.where(np.isfinite(vectors), vectors, 1.0)).sum(axis=1) > 0
    seen: dict[str, int] = {}
    excluded: dict[str, list[str]] = {}
    keep = []
    for i, tid in enumerate(ids):
        if tid in seen:
            reason, why = "duplicate", f"duplicate trailer_id {tid!r} (first at row {seen[tid]})"
        elif tid not in meta:
            reason, why = "no_metadata", f"trailer {tid!r} is missing from {labels.name}"
        elif not finite[i]:
            reason, why = "not_finite", f"embedding of {tid!r} has NaN or inf values"
        elif not nonzero[i]:
            reason, why = "zero_vector", f"embedding of {tid!r} is all zeros"
        else:
            keep.append(i)
            seen[tid] = i
            continue
        seen.setdefault(tid, i)
        excluded.setdefault(reason, []).append(tid)
        report.problems.append(Problem(f"{npz.name} row {i}", f"{why}; left out"))
    if not keep:
        raise InputError(f"no usable embeddings in {npz} with metadata in {labels}; see the problems above")
    report.kept = [ids[i] for i in keep]
    report.placeholders = {t: meta[t].placeholders for t in report.kept if meta[t].placeholders}
    genres = sorted({g for t in report.kept for g in meta[t].genres})
    info = RunInfo(
        kind=IMPORTED, store=None, experts={}, genres=genres, splits={"all": report.kept}, excluded=excluded
    )
    run.root.mkdir(parents=True, exist_ok=True)
    write_npz(run.root / EMBEDDINGS_FILE, report.kept, vectors[keep])
    write_trailers_csv(
        run.root / TRAILERS_FILE, [(t, meta[t].genres, meta[t].title, meta[t].year) for t in report.kept],
        report.placeholders,
    )
    source = {"embeddings": str(npz.resolve()), "labels": str(labels.resolve())}
    atomic_write(run.root / "source.json", json.dumps(source, indent=1) + "\n")
    run.write_info(info, None)  # last: a run.json means the run is complete
    return report
