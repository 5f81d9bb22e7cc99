"""Trailer embeddings of a run: computing, storing, loading, and importing them from elsewhere.

A run's trailer embeddings live in ``RUN/embeddings.npz`` with two arrays, ``trailer_id`` (N,)
str and ``embedding`` (N, D) float32 — the layout of the authors' visualiser data. For a coarse or
fine run they are the 2048-d bottleneck (§3.3: the projection head is dropped) of every trailer of
the run's store, computed on first use and recomputed when the weights are newer than the file or
the store's trailers changed. A run made by ``import_embeddings`` (kind ``"embeddings"``) has no
model and no store: its vectors are the imported ones and its metadata is ``RUN/trailers.csv``
(``trailer_id``, ``genres`` ``|``-separated, ``title``, ``year``).

``load_embeddings(run)`` gives any kind of run as an ``EmbeddingSet`` (ids, vectors, genres, titles,
years); ``embed_query_npz`` embeds a new trailer's per-clip features (the import format) with a
run's model, without retraining and exactly as if it had been imported.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from mmx.data.dataset import evenly_spaced
from mmx.data.importer import Problem, check_trailer, read_labels
from mmx.data.store import CLIP_SUFFIX, RESERVED, EntryMeta, FeatureStore
from mmx.errors import InputError, RunError
from mmx.model.mmx import MMX
from mmx.train.coarse import make_loader
from mmx.train.run import RunDir, RunInfo
from mmx.utils import atomic_write_bytes, atomic_write_text

EMBEDDINGS_FILE = "embeddings.npz"
TRAILERS_FILE = "trailers.csv"



@dataclass
class EmbeddingSet:
    """Trailer vectors with their metadata, row i of ``vectors`` belonging to ``ids[i]``."""

    ids: list[str]
    vectors: np.ndarray  # (N, D) float32
    genres: list[list[str]]  # per trailer, in the order the labels give (first = primary genre)
    titles: list[str]
    years: list[int | None]

    @cached_property
    def position(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.ids)}

    @cached_property
    def unit(self) -> np.ndarray:
        """(N, D) rows scaled to unit length (for cosine similarity)."""
        return unit_rows(self.vectors)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def subset(self, ids: list[str]) -> "EmbeddingSet":
        rows = [self.position[t] for t in ids]
        return EmbeddingSet(
            list(ids), self.vectors[rows], [self.genres[r] for r in rows],
            [self.titles[r] for r in rows], [self.years[r] for r in rows],
        )


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


# ---------------------------------------------------------------------------- npz files
def write_npz(path: str | Path, ids: list[str], vectors: np.ndarray) -> Path:
    """Write ``trailer_id`` (N,) str and ``embedding`` (N, D) float32 to ``path`` atomically."""
    buf = io.BytesIO()
    np.savez(buf, trailer_id=np.asarray(ids, dtype=str), embedding=np.asarray(vectors, dtype=np.float32))
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def read_npz(path: str | Path) -> tuple[list[str], np.ndarray]:
    """``(ids, (N, D) float32)`` of an embeddings npz, with errors naming the file and the problem."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"trailer_id", "embedding"} - set(z.files)
            if missing:
                raise InputError(
                    f"{path} needs arrays trailer_id (N,) and embedding (N, D); missing: {', '.join(sorted(missing))}"
                )
            ids, vectors = z["trailer_id"], z["embedding"]
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read {path} as an npz of trailer embeddings ({e})") from None
    if ids.ndim != 1 or vectors.ndim != 2 or len(ids) != len(vectors):
        raise InputError(
            f"{path}: trailer_id {ids.shape} and embedding {vectors.shape} must be (N,) and (N, D)"
        )
    return [str(t) for t in ids], vectors.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------- computing
@torch.no_grad()
def embed_loader(model: MMX, loader: DataLoader) -> tuple[list[str], np.ndarray]:
    """Ids and (N, embed_dim) bottleneck embeddings of the first view of every trailer of ``loader``."""
    model.eval()
    ids, out = [], []
    for batch in loader:
        ids.extend(batch.ids)
        out.append(model.embed(batch.to(next(model.parameters()).device))[:, 0].float().cpu().numpy())  # (B, D)
    dim = model.cfg.embed_dim
    return ids, np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def embed_ids(model: MMX, store: FeatureStore, info: RunInfo, ids: list[str], batch_size: int) -> np.ndarray:
    """(N, embed_dim) embeddings of ``ids`` (windows evenly spaced, as for genre prediction)."""
    views = evenly_spaced(model.cfg.n_seqs, model.cfg.seq_len)
    return embed_loader(model, make_loader(store, info, ids, batch_size, views))[1]


def embed_run(run: RunDir, out: str | Path | None = None) -> Path:
    """Embed every trailer of the run's store (all splits and unlabeled ones) into ``out``.

    ``out`` defaults to ``RUN/embeddings.npz``. An ``"embeddings"`` run is copied as it is.
    """
    info = run.info()
    out = Path(out) if out is not None else run.root / EMBEDDINGS_FILE
    if info.kind == "embeddings":
        ids, vectors = read_npz(run.root / EMBEDDINGS_FILE)
        return write_npz(out, ids, vectors) if out != run.root / EMBEDDINGS_FILE else out
    store = run.store()
    ids = sorted(store.entries())
    vectors = embed_ids(run.load_model(), store, info, ids, run.config().train.eval_batch_size)
    return write_npz(out, ids, vectors)


def _cache_is_fresh(run: RunDir, store: FeatureStore) -> bool:
    path = run.root / EMBEDDINGS_FILE
    if not path.exists() or not run.best_path.exists():
        return False
    if path.stat().st_mtime_ns < run.best_path.stat().st_mtime_ns:
        return False
    ids, _ = read_npz(path)
    return ids == sorted(store.entries())


# ---------------------------------------------------------------------------- loading
def load_embeddings(run: str | Path | RunDir) -> EmbeddingSet:
    """Every trailer of a run (any kind) with its vector, genres, title and year."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    info = run.info()
    if info.kind == "embeddings":
        ids, vectors = read_npz(run.root / EMBEDDINGS_FILE)
        meta = read_trailers_csv(run.root / TRAILERS_FILE)
        missing = [t for t in ids if t not in meta]
        if missing:
            raise InputError(f"{run.root / TRAILERS_FILE} lacks trailer(s) {', '.join(missing[:5])}")
        rows = [meta[t] for t in ids]
        return EmbeddingSet(ids, vectors, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    store = run.store()
    if not _cache_is_fresh(run, store):
        embed_run(run)
    ids, vectors = read_npz(run.root / EMBEDDINGS_FILE)
    metas = [store.meta(t) for t in ids]
    return EmbeddingSet(ids, vectors, [m.genres for m in metas], [m.title for m in metas], [m.year for m in metas])


def read_trailers_csv(path: Path) -> dict[str, tuple[list[str], str, int | None]]:
    """trailer_id → (genres, title, year) from an embeddings run's ``trailers.csv``."""
    if not path.exists():
        raise InputError(f"{path} is missing; re-create the run with `mmx import-embeddings`")
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            year = rec.get("year") or ""
            genres = [g for g in (rec.get("genres") or "").split("|") if g]
            out[rec["trailer_id"]] = (genres, rec.get("title") or "", int(year) if year else None)
    return out


def _write_trailers_csv(path: Path, rows: list[tuple[str, list[str], str, int | None]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["trailer_id", "genres", "title", "year"])
    for tid, genres, title, year in rows:
        writer.writerow([tid, "|".join(genres), title, "" if year is None else year])
    atomic_write_text(path, buf.getvalue())


# ---------------------------------------------------------------------------- queries
def embed_query_npz(run: RunDir, path: str | Path) -> np.ndarray:
    """(D,) embedding of a new trailer given as an npz.

    The npz is either the import format (per-clip expert arrays, embedded with the run's model as
    if the trailer had been imported) or holds one ``embedding`` vector of the run's dimension.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read query {path} as an npz ({e})") from None
    info = run.info()
    if "embedding" in arrays:
        return _query_vector(run, path, arrays["embedding"])
    if info.kind == "embeddings":
        raise InputError(
            f"{run.root} holds imported embeddings and no model, so {path} needs an `embedding` array "
            "of the run's dimension (per-clip features cannot be embedded here)"
        )
    _check_query_experts(path, arrays, info)
    n_clips, why = check_trailer(path, arrays)[1:]
    if why:
        raise InputError(f"query {path} {why}")
    cfg = run.config()
    with tempfile.TemporaryDirectory(prefix="mmx-query-") as tmp:
        store = FeatureStore.create(Path(tmp) / "store")
        store.register_experts(info.expert_infos())
        meta = EntryMeta(trailer_id=path.stem, genres=[], n_clips=n_clips, experts=[])
        features = {k: v for k, v in arrays.items() if k not in RESERVED}
        store.write_entry(meta, features, clip_times=arrays.get("clip_times"))
        return embed_ids(run.load_model(), store, info, [path.stem], cfg.train.eval_batch_size)[0]


def _query_vector(run: RunDir, path: Path, vec: np.ndarray) -> np.ndarray:
    dim = load_embeddings(run).dim
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
    genres = sorted({g for t in report.kept for g in meta[t].genres})
    info = RunInfo(
        kind="embeddings", store=None, experts={}, genres=genres, splits={"all": report.kept}, excluded=excluded
    )
    run.root.mkdir(parents=True, exist_ok=True)
    write_npz(run.root / EMBEDDINGS_FILE, report.kept, vectors[keep])
    _write_trailers_csv(
        run.root / TRAILERS_FILE, [(t, meta[t].genres, meta[t].title, meta[t].year) for t in report.kept]
    )
    source = {"embeddings": str(npz.resolve()), "labels": str(labels.resolve())}
    atomic_write_text(run.root / "source.json", json.dumps(source, indent=1) + "\n")
    run.write_info(info, None)  # last: a run.json means the run is complete
    return report
