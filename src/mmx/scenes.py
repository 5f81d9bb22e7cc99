"""Scenes as first-class citizens: every clip's fused 128-d vector, indexed and searchable.

(work in progress: the index settings, measured by bench/scenes.py)
"""

from __future__ import annotations

from dataclasses import dataclass

from mmx.index import IndexConfig


@dataclass
class SceneIndexConfig:
    exact_max: int = 100_000  # up to this many scenes the index is exact (FAISS brute force)
    kind: str = "ivf"  # the approximate kind beyond exact_max
    nlist: int = 0  # ivf cells; 0 = √N
    nprobe: int = 32  # ivf cells scanned per query
    hnsw_m: int = 32  # hnsw: graph neighbours per node
    ef_construction: int = 200  # hnsw: candidate list while building
    ef_search: int = 64  # hnsw: candidate list per query


def scene_index_config(n: int, cfg: SceneIndexConfig = SceneIndexConfig()) -> IndexConfig:
    """The index settings for ``n`` scene vectors: exact up to ``cfg.exact_max``, else ``cfg.kind``."""
    if n <= cfg.exact_max:
        return IndexConfig(kind="exact")
    return IndexConfig(kind=cfg.kind, nlist=cfg.nlist, nprobe=cfg.nprobe, hnsw_m=cfg.hnsw_m,
                       ef_construction=cfg.ef_construction, ef_search=cfg.ef_search)
