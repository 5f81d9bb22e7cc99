"""FAISS search indexes over a run's trailer embeddings (catalogue-scale search).

Cosine similarity is the inner product of L2-normalised vectors, so every kind indexes unit rows
with the inner-product metric and its scores are cosines:

* ``exact`` — ``IndexFlatIP``: brute force, the same answers as ``mmx.retrieval.nearest``;
* ``ivf`` — ``IndexIVFFlat``: k-means cells, ``nprobe`` of them scanned per query;
* ``hnsw`` — ``IndexHNSWFlat``: a navigable small-world graph, ``ef_search`` candidates per query.

``storage="float16"`` keeps the ivf and hnsw vectors in half precision: half the bytes each query
reads (cosines within ~1e-3). ``index_config_for(n, dim)`` is what ``mmx index`` builds when no
kind is given, chosen from ``bench/search.py``'s curves (docs/search.md).

An index lives beside the vectors it was built from: ``save_index`` writes the FAISS file and a
record of its settings (``read_index`` applies them again). A run's trailer embeddings have one
per kind (``mmx.artifacts``)::

    RUN/index-<kind>.faiss      the FAISS index (row i = trailer ids[i])
    RUN/index-<kind>.json       settings and the trailer ids in row order

``build_run_index(run, IndexConfig(kind=...))`` writes one from the run's embeddings;
``load_run_index(run)`` gives the newest index that is fresh (``mmx.artifacts.problem``: not older
than ``RUN/embeddings.npz`` and of the same trailers; None when there is none, so
``mmx.retrieval.Neighbours`` searches exactly); ``extend_run_index`` adds trailers joining the
run. The scene vectors (``mmx.scenes``) use the same build, files and search.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmx import artifacts
from mmx.data.vectors import read_ids, unit_rows
from mmx.durable import atomic_write
from mmx.errors import ConfigError, RunError
from mmx.metrics import top_k
from mmx.registry import Registry
from mmx.run import Run

if TYPE_CHECKING:
    import faiss


def has_faiss() -> bool:
    """FAISS is the `scale` extra; without it every search is exact over the vectors (right for small runs)."""
    return importlib.util.find_spec("faiss") is not None


@dataclass
class IndexConfig:
    kind: str = "exact"  # "exact", "ivf" or "hnsw" (INDEXES)
    nlist: int = 0  # ivf: k-means cells; 0 = √N (FAISS suggests 4–16·√N: k-means of that takes hours on a CPU at 1M)
    nprobe: int = 32  # ivf: cells scanned per query (recall against speed)
    train_points: int = 40  # ivf: training points per cell for k-means (FAISS asks for ≥ 39; its default caps at 256)
    hnsw_m: int = 32  # hnsw: graph neighbours per node
    ef_construction: int = 200  # hnsw: candidate list while building
    ef_search: int = 128  # hnsw: candidate list per query (recall against speed)
    storage: str = "float32"  # ivf, hnsw: vectors as "float32" or "float16" (STORAGES)
    seed: int = 0  # seeds the k-means training sample
    exact_max: int = 0  # up to this many vectors the index is exact whatever ``kind`` says (0: always ``kind``)


def sized_config(n: int, cfg: IndexConfig) -> IndexConfig:
    """The settings for ``n`` vectors: ``cfg``, or exact when ``n`` is at most ``cfg.exact_max``."""
    return replace(cfg, kind="exact") if n <= cfg.exact_max else cfg


STORAGES = ("float32", "float16")  # how ivf and hnsw keep their vectors
EXACT_MAX_FLOATS = 1 << 23  # `mmx index` stays exact up to N × dim = 8.4M floats (a 32 MB scan per query)


def index_config_for(n: int, dim: int) -> IndexConfig:
    """The index for ``n`` vectors of ``dim`` dimensions: exact while a query's scan is small, else IVF
    with √N cells and float16 vectors, 8 cells per query at ≤ 1,024-d and 4 beyond: recall@10 ≥ 0.95 at
    the lowest p50 among indexes that build in minutes (bench/search.py, real-like vectors, 100k–1M ×
    512 and 2,048; HNSW answers faster but builds 30–80× slower)."""
    if n * dim <= EXACT_MAX_FLOATS:
        return IndexConfig(kind="exact")
    return IndexConfig(kind="ivf", nprobe=8 if dim <= 1024 else 4, storage="float16")


INDEXES: Registry[faiss.Index] = Registry("index kind")  # constructors import faiss (the `scale` extra)


@INDEXES.register("exact")
def _exact(dim: int, n: int, cfg: IndexConfig) -> faiss.Index:
    import faiss

    return faiss.IndexFlatIP(dim)


@INDEXES.register("ivf")
def _ivf(dim: int, n: int, cfg: IndexConfig) -> faiss.Index:
    import faiss

    nlist, quantizer, sq = ivf_cells(n, cfg.nlist), faiss.IndexFlatIP(dim), _storage(cfg)
    if sq is None:
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, sq, faiss.METRIC_INNER_PRODUCT)
    index.cp.max_points_per_centroid = cfg.train_points
    index.cp.seed = cfg.seed
    return index


@INDEXES.register("hnsw")
def _hnsw(dim: int, n: int, cfg: IndexConfig) -> faiss.Index:
    import faiss

    sq = _storage(cfg)
    if sq is None:
        index = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWSQ(dim, sq, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = cfg.ef_construction
    return index


def _storage(cfg: IndexConfig):
    """FAISS's scalar quantizer for ``cfg.storage`` (None: float32, a flat index)."""
    import faiss

    if cfg.storage not in STORAGES:
        raise ConfigError(f"unknown index storage {cfg.storage!r}; known: {', '.join(STORAGES)}")
    return None if cfg.storage == "float32" else faiss.ScalarQuantizer.QT_fp16


def ivf_cells(n: int, nlist: int = 0) -> int:
    """Number of IVF cells for ``n`` vectors: ``nlist`` when given, else √n, at most n/39, at least 1."""
    if nlist > 0:
        return nlist
    return max(1, min(int(math.sqrt(n)), n // 39))


def set_search_params(index: faiss.Index, cfg: IndexConfig) -> None:
    """Apply the query-time settings (they are not all kept in the index file)."""
    import faiss

    if isinstance(index, faiss.IndexIVF):
        index.nprobe = min(cfg.nprobe, index.nlist)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = cfg.ef_search


def build_index(vectors: np.ndarray, cfg: IndexConfig = IndexConfig(), chunk: int = 65536) -> faiss.Index:
    """An index of the unit rows of ``vectors`` (N, D); trained first when the kind needs it."""
    if cfg.kind not in INDEXES:
        raise ConfigError(f"unknown index kind {cfg.kind!r}; known: {', '.join(INDEXES.names())}")
    n, dim = vectors.shape
    if n == 0:
        raise ValueError("cannot index an empty set of vectors")
    index = INDEXES.create(cfg.kind, dim, n, cfg)
    if not index.is_trained:
        index.train(training_sample(vectors, ivf_cells(n, cfg.nlist) * cfg.train_points, cfg.seed))
    for start in range(0, n, chunk):  # unit rows chunk by chunk: no second full-size copy
        index.add(unit_rows(vectors[start : start + chunk]))
    set_search_params(index, cfg)
    return index


def training_sample(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """(min(size, N), D) unit rows drawn without replacement for k-means."""
    n = len(vectors)
    if size >= n:
        return unit_rows(vectors)
    rows = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    return unit_rows(vectors[rows])


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(Q, k) cosine scores and (Q, k) rows of the nearest neighbours of each query (−1 past the end)."""
    q = unit_rows(np.atleast_2d(queries))  # (Q, D)
    if q.shape[1] != index.d:
        raise ValueError(f"queries are {q.shape[1]}-d; the index holds {index.d}-d vectors")
    scores, rows = index.search(q, k)
    return scores, rows


def nearest_rows(vectors: np.ndarray, index: faiss.Index | None, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(row, cosine) of the ``k`` rows of ``vectors`` (N, D unit rows) nearest to the unit ``query`` (D,), best
    first: from ``index`` (built from those rows) when given, else exactly. Both vector sets search here."""
    k = min(k, len(vectors))
    if index is None:
        scores = vectors @ query  # (N,)
        return [(int(r), float(scores[r])) for r in top_k(scores[None], k, None)[0]]
    scores, rows = search(index, query[None], k)  # (1, k) each
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]


# ---------------------------------------------------------------------------- index files
def save_index(index: faiss.Index, cfg: IndexConfig, path: Path, record_path: Path, record: dict) -> None:
    """Write ``index`` to ``path`` and its settings with ``record`` (what it was built from) to ``record_path``."""
    import faiss

    atomic_write(path, lambda tmp: faiss.write_index(index, str(tmp)))
    atomic_write(record_path, json.dumps({"config": asdict(cfg), **record}) + "\n")


def read_record(record_path: Path, rebuild: str) -> dict:
    """The record beside an index file (``RunError`` saying ``rebuild`` when it is unreadable)."""
    try:
        return json.loads(record_path.read_text())
    except json.JSONDecodeError as e:
        raise RunError(f"{record_path} is unreadable ({e}); rebuild it with {rebuild}") from None


def read_index(path: Path, record: dict) -> faiss.Index:
    """The index in ``path`` with the query-time settings of its record (they are not all kept in the file)."""
    import faiss

    index = faiss.read_index(str(path))
    set_search_params(index, IndexConfig(**record["config"]))
    return index


# ---------------------------------------------------------------------------- run folders
def index_paths(run: Run, kind: str) -> tuple[Path, Path]:
    return run.root / artifacts.INDEX.format(kind=kind), run.root / artifacts.INDEX_RECORD.format(kind=kind)


def build_run_index(run: str | Path | Run, cfg: IndexConfig = IndexConfig()) -> Path:
    """Build the ``cfg.kind`` index of the run's embeddings; returns its path."""
    run = Run.open(run)
    emb = run.embeddings()
    path, side = index_paths(run, cfg.kind)
    save_index(build_index(emb.vectors, cfg), cfg, path, side, {"ids": emb.ids})
    return path


@dataclass
class RunIndex:
    kind: str
    index: faiss.Index
    ids: list[str]  # trailer id of every index row
    path: Path


def embedding_ids(run: Run) -> list[str] | None:
    """The trailer ids of the run's embeddings.npz (without reading its vectors), None when there is none."""
    path = run.dir.embeddings_path
    return read_ids(path) if path.exists() else None


def index_problem(run: Run, kind: str, ids: list[str] | None = None) -> str | None:
    """Why the run's ``kind`` index is not fresh (``mmx.artifacts.problem``), or None."""
    path, side = index_paths(run, kind)
    if not (path.exists() and side.exists()):
        return artifacts.problem(run.root, artifacts.INDEX, kind=kind)
    record = read_record(side, f"`mmx index --run {run.root} --kind {kind}`")
    ids = embedding_ids(run) if ids is None else ids
    return artifacts.problem(run.root, artifacts.INDEX, record["ids"], ids, "embeddings", kind=kind)


def load_run_index(run: str | Path | Run, kind: str | None = None) -> RunIndex | None:
    """The newest fresh index of the run (or the ``kind`` one), else None (search is exact then)."""
    run = Run.open(run)
    ids = embedding_ids(run)
    if ids is None:
        return None
    kinds = [kind] if kind else INDEXES.names()
    found = [(p, s, k) for k in kinds for p, s in [index_paths(run, k)] if p.exists() and s.exists()]
    for path, side, k in sorted(found, key=lambda f: f[0].stat().st_mtime_ns, reverse=True):
        if index_problem(run, k, ids) is not None:
            continue  # built from other embeddings: exact search over these is right, this index is not
        record = read_record(side, f"`mmx index --run {run.root} --kind {k}`")
        return RunIndex(k, read_index(path, record), record["ids"], path)
    return None


def run_index_kinds(run: Run) -> list[str]:
    """The kinds of index the run folder holds (fresh or not)."""
    return [k for k in INDEXES.names() if all(p.exists() for p in index_paths(run, k))]


def extend_run_index(run: Run, kind: str, ids: list[str], vectors: np.ndarray) -> None:
    """Add new trailers' (N, D) vectors as rows of the run's ``kind`` index (no retraining of its cells)."""
    path, side = index_paths(run, kind)
    record = read_record(side, f"`mmx index --run {run.root} --kind {kind}`")
    index = read_index(path, record)
    index.add(unit_rows(np.asarray(vectors, np.float32)))
    save_index(index, IndexConfig(**record["config"]), path, side, {"ids": record["ids"] + list(ids)})
