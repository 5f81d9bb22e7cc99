"""FAISS search indexes over a run's trailer embeddings (catalogue-scale search).

Cosine similarity is the inner product of L2-normalised vectors, so every kind indexes unit rows
with the inner-product metric and its scores are cosines:

* ``exact`` — ``IndexFlatIP``: brute force, the same answers as ``mmx.retrieval.nearest``;
* ``ivf`` — ``IndexIVFFlat``: k-means cells, ``nprobe`` of them scanned per query;
* ``hnsw`` — ``IndexHNSWFlat``: a navigable small-world graph, ``ef_search`` candidates per query.

``storage="float16"`` keeps the ivf and hnsw vectors in half precision: half the bytes each query
reads (cosines within ~1e-3). ``index_config_for(n, dim)`` is what ``mmx index`` builds when no
kind is given, chosen from ``bench/search.py``'s curves (README, "Search at scale").

An index lives beside the embeddings it was built from::

    RUN/index-<kind>.faiss      the FAISS index (row i = trailer ids[i])
    RUN/index-<kind>.json       kind, settings, trailer ids in row order, stamp of embeddings.npz

``build_run_index(run, IndexConfig(kind=...))`` writes one from the run's embeddings;
``load_run_index(run)`` gives the newest index that still matches ``RUN/embeddings.npz`` (None when
there is none, so ``mmx.retrieval.Neighbours`` searches exactly).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from mmx.data.vectors import unit_rows
from mmx.errors import ConfigError, RunError
from mmx.registry import Registry
from mmx.run import Run
from mmx.utils import atomic_write_text


@dataclass
class IndexConfig:
    kind: str = "exact"  # "exact", "ivf" or "hnsw" (INDEXES)
    nlist: int = 0  # ivf: k-means cells; 0 = √N (FAISS suggests 4–16·√N: k-means of that takes hours on a CPU at 1M)
    nprobe: int = 32  # ivf: cells scanned per query (recall against speed)
    train_points: int = 40  # ivf: training points per cell for k-means (FAISS asks for ≥ 39; its default caps at 256)
    hnsw_m: int = 32  # hnsw: graph neighbours per node
    ef_construction: int = 200  # hnsw: candidate list while building
    ef_search: int = 128  # hnsw: candidate list per query (recall against speed)
    storage: str = "float32"  # ivf, hnsw: vectors as "float32" or "float16" (STORAGE)
    seed: int = 0  # seeds the k-means training sample


STORAGE = {"float32": None, "float16": faiss.ScalarQuantizer.QT_fp16}  # name → FAISS scalar quantizer
EXACT_MAX_FLOATS = 1 << 23  # `mmx index` stays exact up to N × dim = 8.4M floats (a 32 MB scan per query)


def index_config_for(n: int, dim: int) -> IndexConfig:
    """The index for ``n`` vectors of ``dim`` dimensions: exact while a query's scan is small, else IVF
    with √N cells and float16 vectors, 8 cells per query at ≤ 1,024-d and 4 beyond: recall@10 ≥ 0.95 at
    the lowest p50 among indexes that build in minutes (bench/search.py, real-like vectors, 100k–1M ×
    512 and 2,048; HNSW answers faster but builds 30–80× slower)."""
    if n * dim <= EXACT_MAX_FLOATS:
        return IndexConfig(kind="exact")
    return IndexConfig(kind="ivf", nprobe=8 if dim <= 1024 else 4, storage="float16")


INDEXES: Registry[faiss.Index] = Registry("index kind")


@INDEXES.register("exact")
def _exact(dim: int, n: int, cfg: IndexConfig) -> faiss.Index:
    return faiss.IndexFlatIP(dim)


@INDEXES.register("ivf")
def _ivf(dim: int, n: int, cfg: IndexConfig) -> faiss.Index:
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
    sq = _storage(cfg)
    if sq is None:
        index = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWSQ(dim, sq, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = cfg.ef_construction
    return index


def _storage(cfg: IndexConfig):
    if cfg.storage not in STORAGE:
        raise ConfigError(f"unknown index storage {cfg.storage!r}; known: {', '.join(STORAGE)}")
    return STORAGE[cfg.storage]


def ivf_cells(n: int, nlist: int = 0) -> int:
    """Number of IVF cells for ``n`` vectors: ``nlist`` when given, else √n, at most n/39, at least 1."""
    if nlist > 0:
        return nlist
    return max(1, min(int(math.sqrt(n)), n // 39))


def set_search_params(index: faiss.Index, cfg: IndexConfig) -> None:
    """Apply the query-time settings (they are not all kept in the index file)."""
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


# ---------------------------------------------------------------------------- run folders
def index_paths(run: Run, kind: str) -> tuple[Path, Path]:
    return run.root / f"index-{kind}.faiss", run.root / f"index-{kind}.json"


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def build_run_index(run: str | Path | Run, cfg: IndexConfig = IndexConfig()) -> Path:
    """Build the ``cfg.kind`` index of the run's embeddings; returns its path."""
    run = Run.open(run)
    emb = run.embeddings()
    index = build_index(emb.vectors, cfg)
    path, side = index_paths(run, cfg.kind)
    tmp = path.with_name(f".{path.name}.tmp")
    faiss.write_index(index, str(tmp))
    tmp.replace(path)
    record = {"config": asdict(cfg), "embeddings": _stamp(run.dir.embeddings_path), "ids": emb.ids}
    atomic_write_text(side, json.dumps(record) + "\n")
    return path


@dataclass
class RunIndex:
    kind: str
    index: faiss.Index
    ids: list[str]  # trailer id of every index row
    path: Path


def load_run_index(run: str | Path | Run, kind: str | None = None) -> RunIndex | None:
    """The newest index of the run (or the ``kind`` one) that matches its embeddings.npz, else None."""
    run = Run.open(run)
    embeddings = run.dir.embeddings_path
    if not embeddings.exists():
        return None
    kinds = [kind] if kind else INDEXES.names()
    found = [(p, s, k) for k in kinds for p, s in [index_paths(run, k)] if p.exists() and s.exists()]
    for path, side, k in sorted(found, key=lambda f: f[0].stat().st_mtime_ns, reverse=True):
        try:
            record = json.loads(side.read_text())
        except json.JSONDecodeError as e:
            raise RunError(f"{side} is unreadable ({e}); rebuild it with `mmx index --run {run.root} --kind {k}`")
        if record["embeddings"] != _stamp(embeddings):
            continue  # built from older embeddings: exact search over the new ones is right, this is not
        index = faiss.read_index(str(path))
        set_search_params(index, IndexConfig(**record["config"]))
        return RunIndex(k, index, record["ids"], path)
    return None
