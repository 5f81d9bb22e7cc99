"""The 2-D map of a run's trailers: one t-SNE layout, shared by the explorer and the report's Fig. 1.

``tsne_layout`` is PCA to ``pca_dims`` components of the L2-normalised embeddings, then t-SNE
with cosine distance, seeded, turned so that its longest extent runs along x (``landscape``: a t-SNE
map has no orientation of its own, and screens and figures are wider than tall). ``map_layout``
computes the map of a run's embeddings once and keeps
it in ``RUN/layout.npz`` (keyed by a digest of the vectors), so the explorer and the report of
the same run show the same map; a trailer added later (an ingested video) is placed at the mean
position of its nearest neighbours on the existing map, so the map never moves under the user's
eyes.

For the explorer (``map_view``), ``map_room`` says how much room each trailer has on the map (its
picture is sized from it), ``spread`` moves trailers apart just enough that no picture hides another,
and ``genre_regions`` names the map's regions by their dominant genres.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmx.data.vectors import EmbeddingSet, unit_rows
from mmx.durable import atomic_write
from mmx.metrics import top_k
from mmx.run import Run

LAYOUT_FILE = "layout.npz"


@dataclass(frozen=True)
class LayoutConfig:
    perplexity: float = 30.0  # t-SNE perplexity (scikit-learn's default); at most (N − 1) / 3 for small sets
    pca_dims: int = 50  # embeddings are reduced to this many PCA components before t-SNE
    place_k: int = 5  # a trailer added after the map was made sits at the mean of this many neighbours
    seed: int = 0  # the same embeddings always get the same map
    threads: int = -1  # t-SNE threads for large collections (-1: all cores)
    small: int = 2000  # collections below this size are mapped on one thread (faster than waking a pool)
    picture_room: float = 1.4  # a trailer's picture on the explorer's map is this many times its room (map_room) wide
    apart: float = 0.8  # pictures are moved apart until no two centres are closer than this share of a picture's width
    apart_max: int = 50_000  # larger maps are not moved apart (100,000 trailers take ~10 s): their pictures overlap
    regions: int = 12  # most regions of the map named by their genres (k-means of the positions; √(N/2) of N)
    region_share: float = 0.3  # a genre names a region when at least this share of its trailers carry it


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
        return landscape(tsne.fit_transform(x)).astype(np.float32)  # (N, 2)


def landscape(xy: np.ndarray) -> np.ndarray:
    """(N, 2) points turned about their mean so that their principal axis runs along x (a rotation: distances
    and handedness kept; x points the way the third moment of the points along it is ≥ 0)."""
    centred = np.asarray(xy, np.float64) - np.mean(xy, axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)  # (2, 2) rows: principal axes, longest first
    if ((centred @ axes[0]) ** 3).sum() < 0:
        axes[0] = -axes[0]
    if np.linalg.det(axes) < 0:  # a rotation, not a mirror image
        axes[1] = -axes[1]
    return centred @ axes.T


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


# ---------------------------------------------------------------------------- reading the map
def map_spacing(xy: np.ndarray) -> float:
    """The median distance from a trailer to its nearest other one on the map (in the map's units)."""
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, np.float64)
    if len(xy) < 2:
        return 1.0
    d = cKDTree(xy).query(xy, k=2)[0][:, 1]  # (N,) distance to the nearest other point
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 1.0


def map_room(xy: np.ndarray) -> float:
    """The room each trailer has on the map (in its units): the geometric mean of the distance to its nearest
    neighbour (median: how close clustered trailers sit) and its share of the map's bounding box (√(area / N):
    how much map there is), so that clustered maps still show pictures and spread ones are not drowned."""
    xy = np.asarray(xy, np.float64)
    spacing = map_spacing(xy)
    if len(xy) < 2:
        return spacing
    span = np.ptp(xy, axis=0)
    area = max(float(span[0] * span[1]), spacing * spacing * len(xy))
    return float(np.sqrt(spacing * np.sqrt(area / len(xy))))


def spread(xy: np.ndarray, distance: float, steps: int = 150) -> np.ndarray:
    """(N, 2) positions moved apart until no two are closer than ``distance`` (or ``steps`` rounds): each
    round, every pair closer than that is pushed apart along the line joining them, each by half of what is
    missing (points at the same place part at angles set by their index). Points with room stay where they are."""
    from scipy.spatial import cKDTree

    p = np.array(xy, np.float64)
    if len(p) < 2 or distance <= 0:
        return p
    for _ in range(steps):
        pairs = cKDTree(p).query_pairs(distance * (1 - 1e-6), output_type="ndarray")  # (K, 2)
        if not len(pairs):
            break
        a, b = pairs[:, 0], pairs[:, 1]
        d = p[b] - p[a]  # (K, 2)
        n = np.linalg.norm(d, axis=1)
        angle = a * 2.39996  # the golden angle: coincident points part in different directions
        unit = np.where(n[:, None] > 1e-12 * distance, d / np.maximum(n, 1e-300)[:, None],
                        np.stack([np.cos(angle), np.sin(angle)], axis=1))
        move = unit * ((distance - n) / 2)[:, None]
        delta = np.zeros_like(p)
        np.add.at(delta, a, -move)
        np.add.at(delta, b, move)
        p += delta
    return p


@dataclass(frozen=True)
class Region:
    x: float  # the median position of its trailers
    y: float
    top: float  # the top of the region (90th percentile of its trailers' y): its label goes above, not over them
    n: int  # trailers in it
    genres: list[str]  # its dominant genres, the most telling first


def genre_regions(xy: np.ndarray, genres: list[list[str]], cfg: LayoutConfig = LayoutConfig()) -> list[Region]:
    """The map cut into regions (k-means of the positions) and each named by its dominant genres.

    A genre names a region when at least ``cfg.region_share`` of its trailers carry it and it is more
    common there than in the whole collection; the genres are ranked by share × log(share / overall
    share) (the most telling first, at most two). A region where no genre qualifies is named by its
    most common one.
    """
    from sklearn.cluster import KMeans

    n = len(xy)
    vocab = sorted({g for gs in genres for g in gs})
    if n == 0 or not vocab:
        return []
    k = max(1, min(cfg.regions, round(np.sqrt(n / 2))))
    if k == 1:
        cut = np.zeros(n, np.int64)
    else:
        cut = KMeans(k, n_init=3, random_state=cfg.seed).fit_predict(np.asarray(xy, np.float64))
    column = {g: j for j, g in enumerate(vocab)}
    y = np.zeros((n, len(vocab)), np.float64)  # (N, G) labels
    for i, gs in enumerate(genres):
        y[i, [column[g] for g in gs]] = 1
    overall = y.mean(axis=0)  # (G,)
    out = []
    for c in range(k):
        members = np.nonzero(cut == c)[0]
        if not len(members):
            continue
        share = y[members].mean(axis=0)  # (G,)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(share > 0, share * np.log(share / overall), -np.inf)
        ranked = [j for j in np.argsort(-score) if share[j] >= cfg.region_share and score[j] > 0][:2]
        named = ranked or [int(np.argmax(share))]
        at = np.asarray(xy, np.float64)[members]  # (n, 2)
        x, middle = np.median(at, axis=0)
        out.append(Region(float(x), float(middle), float(np.percentile(at[:, 1], 90)), len(members),
                          [vocab[j] for j in named]))
    return out


@dataclass(frozen=True)
class MapView:
    """The map as the explorer draws it."""

    xy: np.ndarray  # (N, 2) positions: the map's, moved apart (``spread``) when trailers are drawn as pictures
    room: float  # the room each trailer has (``map_room``), in the map's units
    picture: float  # the width of a trailer's picture in the map's units (0: no pictures, dots)
    regions: list[Region]  # the map's regions named by their genres


def map_view(xy: np.ndarray, genres: list[list[str]], pictures: bool, cfg: LayoutConfig = LayoutConfig()) -> MapView:
    """The map of trailers with these ``genres`` as the explorer draws it: pictures ``cfg.picture_room`` × the room
    wide, moved apart until no two centres are closer than ``cfg.apart`` of a picture (up to ``cfg.apart_max``
    trailers), and its regions named; without ``pictures`` the positions are the map's."""
    room = map_room(xy)
    picture = cfg.picture_room * room if pictures else 0.0
    if picture and len(xy) <= cfg.apart_max:
        xy = spread(xy, cfg.apart * picture)
    return MapView(np.asarray(xy, np.float64), room, picture, genre_regions(xy, genres, cfg))
