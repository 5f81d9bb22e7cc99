"""The 2-D map of a run's trailers: one t-SNE layout, shared by the explorer and the report's Fig. 1.

``tsne_layout`` is PCA to ``pca_dims`` components of the L2-normalised embeddings, then t-SNE
with cosine distance, seeded. ``map_layout`` computes the map of a run's embeddings once and keeps
it in ``RUN/layout.npz`` (keyed by a digest of the vectors), so the explorer and the report of
the same run show the same map; a trailer added later (an ingested video) is placed at the mean
position of its nearest neighbours on the existing map, so the map never moves under the user's
eyes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmx.data.vectors import EmbeddingSet, unit_rows
from mmx.metrics import top_k
from mmx.run import Run
from mmx.artifacts import atomic_write

LAYOUT_FILE = "layout.npz"


@dataclass(frozen=True)
class LayoutConfig:
    perplexity: float = 30.0  # t-SNE perplexity (scikit-learn's default); at most (N − 1) / 3 for small sets
    pca_dims: int = 50  # embeddings are reduced to this many PCA components before t-SNE
    place_k: int = 5  # a trailer added after the map was made sits at the mean of this many neighbours
    seed: int = 0  # the same embeddings always get the same map
    threads: int = -1  # t-SNE threads for large collections (-1: all cores)
    small: int = 2000  # collections below this size are mapped on one thread (faster than waking a pool)


def tsne_layout(vectors: np.ndarray, cfg: LayoutConfig = LayoutConfig()) -> np.ndarray:
    """(N, 2) t-SNE of L2-normalised ``vectors`` (cosine), after PCA to ``cfg.pca_dims``."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2), np.float32) + np.arange(n, dtype=np.float32)[:, None]
    x = unit_rows(vectors)  # (N, D)
    dims = min(cfg.pca_dims, n - 1, x.shape[1])
    x = PCA(dims, random_state=cfg.seed).fit_transform(x) if dims < x.shape[1] else x  # (N, dims)
    tsne = TSNE(2, perplexity=min(cfg.perplexity, (n - 1) / 3), init="pca", metric="cosine", random_state=cfg.seed)
    with threadpool_limits(1 if n < cfg.small else (None if cfg.threads < 0 else cfg.threads)):
        return tsne.fit_transform(x).astype(np.float32)  # (N, 2)


def vectors_digest(emb: EmbeddingSet) -> str:
    """SHA-1 of the vectors in row order: a cached map belongs to these very embeddings."""
    return hashlib.sha1(np.ascontiguousarray(emb.vectors, dtype=np.float32).tobytes()).hexdigest()


def map_layout(run: Run, emb: EmbeddingSet | None = None, cfg: LayoutConfig = LayoutConfig()) -> np.ndarray:
    """(N, 2) map positions of ``emb`` (default: the run's embeddings) in row order, from the run's cache.

    The cache is used when every trailer it holds is still in ``emb`` with the same vector; trailers
    it lacks are placed among their neighbours. Otherwise (trailers removed or re-embedded, e.g. a
    retrained run) the map is computed anew. The cache is rewritten whenever the positions change.
    """
    emb = run.embeddings() if emb is None else emb
    path = run.root / LAYOUT_FILE
    cached = _read_cache(path, emb)
    xy = tsne_layout(emb.vectors, cfg) if cached is None else _extend(emb, cached, cfg.place_k)
    if cached is None or len(cached) != len(emb.ids):
        write_layout(run, emb, xy)
    return xy


def _extend(emb: EmbeddingSet, cached: dict[str, np.ndarray], place_k: int) -> np.ndarray:
    """Cached positions, and each trailer missing from the cache at the mean of its nearest cached ones."""
    known = [emb.position[t] for t in emb.ids if t in cached]
    xy = np.zeros((len(emb.ids), 2), np.float32)
    known_xy = np.array([cached[emb.ids[r]] for r in known], np.float32)  # (K, 2)
    for i, t in enumerate(emb.ids):
        if t in cached:
            xy[i] = cached[t]
            continue
        scores = emb.unit[known] @ emb.unit[i]  # (K,) cosine to the mapped trailers
        xy[i] = known_xy[top_k(scores[None], min(place_k, len(known)), None)[0]].mean(axis=0)
    return xy


def _read_cache(path: Path, emb: EmbeddingSet) -> dict[str, np.ndarray] | None:
    """trailer id → position from the cache, or None when it is missing or its trailers changed."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        if "digest" not in z.files:
            return None
        ids, xy, digest = z["trailer_id"].tolist(), z["xy"], str(z["digest"])
    if not ids or any(t not in emb.position for t in ids) or digest != vectors_digest(emb.subset(ids)):
        return None
    return dict(zip(ids, xy))


def write_layout(run: Run, emb: EmbeddingSet, xy: np.ndarray) -> None:
    """Keep ``xy`` (N, 2) as the map of ``emb`` in the run's cache (e.g. a map made elsewhere)."""
    buf = io.BytesIO()
    np.savez(buf, trailer_id=np.asarray(emb.ids, dtype=str), xy=np.asarray(xy, np.float32),
             digest=np.asarray(vectors_digest(emb)))
    atomic_write(run.root / LAYOUT_FILE, buf.getvalue())
