"""A trailer as the scenes it shows: every clip soft-assigned to a codebook of the collection's clips, pooled.

A genre lives in some scenes of a trailer, not in all of its clips (titles, logos and dialogue show none, and a
trailer of two genres spends part of its time on each), so the mean over all clips — the linear probe's view
(``mmx.probe.pooled_features``) — dilutes it. Here every clip of the collection is a point in one space (each
expert's features standardised, window-level experts averaged per clip, a missing expert at its mean with a 0/1
flag), projected on its top ``dims`` principal components; k-means finds ``clusters`` kinds of clip in it (fitted
on at most ``fit_clips`` clips spread evenly over the trailers); each clip is soft-assigned to them (a softmax of
minus its squared distances over ``softness`` times their median) and a trailer is log(1 + how many of its clips
are of each kind): a genre shows in a few scenes, and a trailer of four genres shows each in fewer of its clips
than a trailer of one does, so the count says more than the share (on three planted 600-trailer collections of
``bench/labels.py``, 14 against 17 of the first 30 findings were planted flips, on average).
Nothing here reads a label, so fitting it on every trailer leaks none into the out-of-fold probabilities that
read it (``mmx.health.label_issues``).

On the planted collections of ``bench/health.py`` (scene-level genre signal) the probe reading these 48 numbers
instead of the 128 principal components of the pooled features predicts the true genres of 600 trailers out of
fold with AUPRC_w 0.77–0.80 instead of 0.61 (docs/curation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from mmx.data.store import FeatureStore
from mmx.probe import FIT_THREADS


@dataclass(frozen=True)
class CodebookConfig:
    clusters: int = 48  # kinds of clip (k-means centres); 0: no codebook, the probe reads the pooled features
    dims: int = 48  # principal components of the clip features the clusters are found in
    softness: float = 0.1  # soft assignment temperature, times the median squared distance to a centre
    fit_clips: int = 60_000  # at most this many clips (spread over the trailers) fit the projection and the clusters
    seed: int = 0


def clip_rows(store: FeatureStore, trailer_id: str, experts: list[str]) -> np.ndarray:
    """(n_clips, Σ (dim + 1)) one trailer's clips: every expert's features (window-level ones averaged over each
    clip's windows) and a 0/1 flag of its presence; an absent expert is zeros."""
    n = store.meta(trailer_id).n_clips
    parts = []
    for name in experts:
        info = store.experts[name]
        x = np.zeros((n, info.dim + 1), dtype=np.float32)
        arr = store.load(trailer_id, name)
        if arr is not None and len(arr):
            arr = np.asarray(arr, dtype=np.float32)
            if info.level == "window":
                owner = store.load_window_clips(trailer_id, name)
                count = np.bincount(owner, minlength=n)[:, None]
                np.add.at(x[:, :info.dim], owner, arr)
                x[:, :info.dim] /= np.maximum(count, 1)
                x[:, info.dim] = count[:, 0] > 0
            else:
                x[:, :info.dim], x[:, info.dim] = arr, 1.0
        parts.append(x)
    return np.concatenate(parts, axis=1)


class Codebook:
    """The standardisation, projection and clusters of a collection's clips (fitted once, read per trailer)."""

    def __init__(self, sample: np.ndarray, cfg: CodebookConfig):
        self.mean, self.sd = sample.mean(0), sample.std(0) + 1e-6
        z = (sample - self.mean) / self.sd
        dims = max(1, min(cfg.dims, z.shape[1], len(z) - 1))
        self.pca = PCA(dims, random_state=cfg.seed).fit(z)
        points = self.pca.transform(z)
        k = max(2, min(cfg.clusters, len(points) // 4))
        self.kmeans = MiniBatchKMeans(k, random_state=cfg.seed, n_init=3, batch_size=4096).fit(points)
        rel = self._relative(points)
        self.scale = cfg.softness * float(np.median(rel[rel > 0])) if (rel > 0).any() else 1.0

    def _relative(self, points: np.ndarray) -> np.ndarray:
        """(n, k) squared distances of ``points`` to the centres, minus each point's nearest."""
        d = ((points[:, None, :] - self.kmeans.cluster_centers_[None]) ** 2).sum(-1)  # (n, k)
        return d - d.min(1, keepdims=True)

    def assign(self, clips: np.ndarray) -> np.ndarray:
        """(n, k) every clip's soft assignment to the clusters (rows sum to 1)."""
        a = np.exp(-self._relative(self.pca.transform((clips - self.mean) / self.sd)) / self.scale)
        return a / a.sum(1, keepdims=True)


def codebook_features(store: FeatureStore, ids: list[str], cfg: CodebookConfig = CodebookConfig()) -> np.ndarray:
    """(N, clusters) each trailer as log(1 + its clips' summed soft assignment to the collection's codebook)."""
    experts = sorted(store.experts)
    total = sum(store.meta(t).n_clips for t in ids)
    every = -(-total // cfg.fit_clips)  # keep one clip in ``every`` for the fit
    held = [clip_rows(store, t, experts) for t in ids] if every == 1 else None  # small: read once
    clips = (lambda r: held[r]) if held is not None else (lambda r: clip_rows(store, ids[r], experts))
    with threadpool_limits(FIT_THREADS, user_api="blas"):  # thin matrices: a second thread only waits (mmx.probe)
        book = Codebook(np.concatenate([clips(r)[::every] for r in range(len(ids))]), cfg)
        return np.log1p(np.stack([book.assign(clips(r)).sum(0) for r in range(len(ids))]))
