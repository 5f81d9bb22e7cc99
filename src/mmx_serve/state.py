"""What a server shows: one run's trailers in one or two embedding spaces, their 2-D maps and genres.

* A **space** is a run's trailer embeddings (``mmx.embeddings.load_embeddings``): a fine run shows
  ``fine`` and the ``coarse`` run it started from; any other run shows its own kind.
* The **map** of a space is a t-SNE of its embeddings (PCA first, cosine distance), computed once
  and cached beside the run as ``layout-<space>.npz``; a trailer added later is placed at the mean
  position of its nearest neighbours, so the map never moves under the user's eyes.
* **Genres**: a run with a network gives the genre head's probabilities, label suggestions (Tbl. 4)
  and the scene timeline (Fig. 8); a run of imported embeddings has no network, so its
  probabilities are the share of the nearest trailers that carry each genre.

Readers take one ``Snapshot`` (embeddings + map) and never see a half-added trailer.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from mmx.data.dataset import evenly_spaced
from mmx.embeddings import (
    EMBEDDINGS_FILE,
    EmbeddingSet,
    embed_ids,
    load_embeddings,
    write_npz,
)
from mmx.metrics import label_changes
from mmx.retrieval import Hit, nearest, resolve_id
from mmx.timeline import clip_probabilities
from mmx.train.coarse import make_loader, predict
from mmx.train.run import RunDir
from mmx.utils import atomic_write_bytes

try:  # FAISS is an optional extra; without it every search is exact
    from mmx import index as faiss_index
except ImportError:
    faiss_index = None


@dataclass
class ServeConfig:
    perplexity: float = 30.0  # t-SNE perplexity (scikit-learn's default); lowered for tiny collections
    pca_dims: int = 50  # embeddings are reduced to this many PCA components before t-SNE
    place_k: int = 5  # a trailer added after the map was made sits at the mean of this many neighbours
    vote_k: int = 15  # neighbours voting on genres when the run has no genre head (imported embeddings)
    vote_threshold: float = 0.3  # share of voting neighbours above which a genre is predicted (as sigmoid ≥ 0.3)
    max_k: int = 100  # most neighbours one search may ask for
    max_upload_mb: int = 512  # largest video upload accepted by POST /api/ingest
    detail_cache: int = 512  # trailer details (genre head + timeline) kept in memory
    seed: int = 0  # t-SNE seed: the same run always gets the same map
    threads: int = -1  # t-SNE threads for large collections (-1: all cores); small ones use one thread
    small: int = 2000  # collections below this size are mapped on one thread (faster than waking a pool)


@dataclass(frozen=True)
class Snapshot:
    emb: EmbeddingSet
    xy: np.ndarray | None  # (N, 2) map positions in row order of ``emb``; None until computed


def tsne_layout(vectors: np.ndarray, cfg: ServeConfig) -> np.ndarray:
    """(N, 2) t-SNE of L2-normalised ``vectors`` (cosine), after PCA to ``cfg.pca_dims``."""
    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2), np.float32) + np.arange(n, dtype=np.float32)[:, None]
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    dims = min(cfg.pca_dims, n - 1, x.shape[1])
    x = PCA(dims, random_state=cfg.seed).fit_transform(x) if dims < x.shape[1] else x  # (N, dims)
    perplexity = min(cfg.perplexity, (n - 1) / 3)
    tsne = TSNE(2, perplexity=perplexity, init="pca", metric="cosine", random_state=cfg.seed)
    with threadpool_limits(1 if n < cfg.small else (None if cfg.threads < 0 else cfg.threads)):
        return tsne.fit_transform(x).astype(np.float32)  # (N, 2)


class Space:
    """One embedding space of the collection, with its map cached in ``layout_path``."""

    def __init__(self, name: str, run: RunDir, layout_path: Path, cfg: ServeConfig):
        self.name, self.run, self.layout_path, self.cfg = name, run, layout_path, cfg
        self.snapshot = Snapshot(load_embeddings(run), None)
        self.index = run_index(run)  # a FAISS index matching embeddings.npz, when `mmx index` made one
        self._lock = threading.Lock()

    def nearest(self, trailer_id: str, k: int) -> list[Hit]:
        """The ``k`` nearest other trailers by cosine: from the index when there is one, else exact."""
        emb, found = self.snapshot.emb, self.index
        if found is None:
            return nearest(emb, trailer_id, k)
        row = resolve_id(emb, trailer_id)
        k_all = min(k + 1, len(emb.ids))  # the trailer itself comes back too
        scores, rows = faiss_index.search(found.index, emb.vectors[row][None], k_all)  # (1, k_all) each
        pairs = zip(rows[0], scores[0])
        hits = [(found.ids[r], float(sc)) for r, sc in pairs if r >= 0 and found.ids[r] != trailer_id]
        return [
            Hit(t, sc, emb.genres[p], emb.titles[p], emb.years[p])
            for t, sc in hits[:k] for p in [emb.position[t]]
        ]

    def layout(self) -> Snapshot:
        """The snapshot with map positions, computing or extending the cached map once."""
        snap = self.snapshot
        if snap.xy is not None:
            return snap
        with self._lock:
            if self.snapshot.xy is None:
                emb = self.snapshot.emb
                self.snapshot = Snapshot(emb, self._positions(emb))
            return self.snapshot

    def _positions(self, emb: EmbeddingSet) -> np.ndarray:
        cached = self._read_cache(emb)
        xy = tsne_layout(emb.vectors, self.cfg) if cached is None else self._extend(emb, cached)
        self._write_cache(emb, xy)
        return xy

    def _extend(self, emb: EmbeddingSet, cached: dict[str, np.ndarray]) -> np.ndarray:
        """Cached positions, and each trailer missing from the cache at the mean of its neighbours."""
        known = [t for t in emb.ids if t in cached]
        base = emb.subset(known)
        xy = np.zeros((len(emb.ids), 2), np.float32)
        for i, t in enumerate(emb.ids):
            if t in cached:
                xy[i] = cached[t]
            else:
                hits = nearest(base, emb.vectors[i], min(self.cfg.place_k, len(known)))
                xy[i] = np.mean([cached[h.trailer_id] for h in hits], axis=0)
        return xy

    def _read_cache(self, emb: EmbeddingSet) -> dict[str, np.ndarray] | None:
        """trailer id → position from the cache, or None when it is missing or its trailers changed."""
        if not self.layout_path.exists():
            return None
        with np.load(self.layout_path, allow_pickle=False) as z:
            if "digest" not in z.files:
                return None
            ids, xy, digest = z["trailer_id"].tolist(), z["xy"], str(z["digest"])
        if not ids or any(t not in emb.position for t in ids) or digest != vectors_digest(emb.subset(ids)):
            return None  # trailers removed or re-embedded (a retrained run): map again
        return dict(zip(ids, xy))

    def _write_cache(self, emb: EmbeddingSet, xy: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez(buf, trailer_id=np.asarray(emb.ids, dtype=str), xy=np.asarray(xy, np.float32),
                 digest=np.asarray(vectors_digest(emb)))
        atomic_write_bytes(self.layout_path, buf.getvalue())

    def add(self, trailer_id: str, vector: np.ndarray, genres: list[str], title: str, year: int | None) -> None:
        """Add a new trailer: rewrite ``embeddings.npz`` (ids sorted, as ``embed_run`` writes them) and map it."""
        emb = self.snapshot.emb
        ids = [*emb.ids, trailer_id]
        order = sorted(range(len(ids)), key=ids.__getitem__)
        vectors = np.concatenate([emb.vectors, vector[None].astype(np.float32)])[order]  # (N+1, D)
        genre_lists, titles, years = emb.genres + [genres], emb.titles + [title], emb.years + [year]
        new_emb = EmbeddingSet(
            [ids[r] for r in order], vectors, [genre_lists[r] for r in order], [titles[r] for r in order],
            [years[r] for r in order],
        )
        write_npz(self.run.root / EMBEDDINGS_FILE, new_emb.ids, vectors)
        self.index = None  # built from the old embeddings: exact search from now on (`mmx index` rebuilds)
        with self._lock:
            xy = None
            if self.snapshot.xy is not None or self.layout_path.exists():
                xy = self._positions(new_emb)
            self.snapshot = Snapshot(new_emb, xy)


def vectors_digest(emb: EmbeddingSet) -> str:
    """SHA-1 of the vectors in row order: a cached map belongs to these very embeddings."""
    return hashlib.sha1(np.ascontiguousarray(emb.vectors, dtype=np.float32).tobytes()).hexdigest()


def run_index(run: RunDir) -> faiss_index.RunIndex | None:
    """The run's FAISS index matching its embeddings (`mmx index`), or None (exact search then)."""
    return faiss_index.load_run_index(run) if faiss_index is not None else None


class Predictor:
    """A run's network, loaded once: genre probabilities, timelines and embeddings of store trailers."""

    def __init__(self, run: RunDir):
        self.run = run
        self.info, self.cfg = run.info(), run.config()
        self.store = run.store()
        self.model = run.load_model()
        self._lock = threading.Lock()  # one forward pass at a time (torch's own threads do the work)

    @property
    def threshold(self) -> float:
        return self.cfg.train.threshold

    def probabilities(self, trailer_id: str) -> np.ndarray:
        """(G,) genre probabilities of a store trailer (windows evenly spaced, as `mmx predict`)."""
        views = evenly_spaced(self.cfg.model.n_seqs, self.cfg.model.seq_len)
        with self._lock:
            return predict(self.model, make_loader(self.store, self.info, [trailer_id], 1, views))[1][0]

    def timeline(self, trailer_id: str) -> list[dict]:
        """Per clip: start/end seconds (when known) and genre probabilities (Fig. 8)."""
        with self._lock:
            probs = clip_probabilities(self.model, self.store, self.info, trailer_id)  # (n_clips, G)
        times = self.store.load_clip_times(trailer_id)
        return [
            {
                "clip": c,
                "start": None if times is None else round(float(times[c, 0]), 3),
                "end": None if times is None else round(float(times[c, 1]), 3),
                "probabilities": [round(float(p), 4) for p in probs[c]],
            }
            for c in range(len(probs))
        ]

    def embed(self, trailer_id: str) -> np.ndarray:
        with self._lock:
            return embed_ids(self.model, self.store, self.info, [trailer_id], 1)[0]


class Collection:
    """Everything the API answers from: spaces, metadata, predictions, and the details cache."""

    def __init__(self, run: str | Path, cfg: ServeConfig = ServeConfig()):
        self.run, self.cfg = RunDir(run), cfg
        self.info = self.run.info()
        self.spaces: dict[str, Space] = {}
        parent = RunDir(self.info.parent) if self.info.kind == "fine" and self.info.parent else None
        if parent is not None and parent.exists():
            self.spaces["fine"] = self._space("fine", self.run)
            self.spaces["coarse"] = self._space("coarse", parent)
        else:
            self.spaces[self.info.kind] = self._space(self.info.kind, self.run)
        self.predictors: dict[str, Predictor] = {}
        if self.has_model:
            self.predictors = {name: Predictor(s.run) for name, s in self.spaces.items()}
        self._details: OrderedDict[str, dict] = OrderedDict()
        self._details_lock = threading.Lock()

    def _space(self, name: str, run: RunDir) -> Space:
        return Space(name, run, self.run.root / f"layout-{name}.npz", self.cfg)

    # ------------------------------------------------------------------ facts
    @property
    def has_model(self) -> bool:
        return self.info.kind != "embeddings"

    @property
    def main(self) -> Space:
        """The space of the served run: its metadata is the collection's."""
        return next(iter(self.spaces.values()))

    @property
    def vocabulary(self) -> list[str]:
        """The genre head's genres (model runs) or every genre the labels use (imported embeddings)."""
        if self.has_model:
            return list(self.info.genres)
        return sorted({g for gs in self.main.snapshot.emb.genres for g in gs})

    def space(self, name: str | None) -> Space:
        if name is None:
            return self.main
        if name not in self.spaces:
            raise KeyError(f"unknown space {name!r}; this run has {', '.join(self.spaces)}")
        return self.spaces[name]

    # ------------------------------------------------------------------ listing and search
    def find(self, genre: str | None, year_from: int | None, year_to: int | None, q: str | None) -> list[int]:
        """Rows of the trailers matching every given filter (title/id search is case-insensitive)."""
        emb = self.main.snapshot.emb
        q = (q or "").strip().lower()
        rows = []
        for i, (tid, title, genres, year) in enumerate(zip(emb.ids, emb.titles, emb.genres, emb.years)):
            if genre and genre not in genres:
                continue
            if year_from is not None and (year is None or year < year_from):
                continue
            if year_to is not None and (year is None or year > year_to):
                continue
            if q and q not in title.lower() and q not in tid.lower():
                continue
            rows.append(i)
        return rows

    def summary(self, row: int, emb: EmbeddingSet | None = None) -> dict:
        emb = emb or self.main.snapshot.emb
        return {"trailer_id": emb.ids[row], "title": emb.titles[row] or emb.ids[row], "year": emb.years[row],
                "genres": emb.genres[row]}

    def neighbours(self, trailer_id: str, k: int, space: str | None = None) -> list[Hit]:
        """The ``k`` nearest other trailers by cosine (``UnknownTrailerError`` for an unknown id)."""
        return self.space(space).nearest(trailer_id, k)

    # ------------------------------------------------------------------ details
    def detail(self, trailer_id: str) -> dict:
        """Metadata, genre probabilities, predicted labels, suggested changes and the timeline."""
        emb = self.main.snapshot.emb
        row = resolve_id(emb, trailer_id)
        with self._details_lock:
            if trailer_id in self._details:
                self._details.move_to_end(trailer_id)
                return self._details[trailer_id]
        out = {**self.summary(row, emb), **self._genres(trailer_id, emb.genres[row])}
        with self._details_lock:
            self._details[trailer_id] = out
            while len(self._details) > self.cfg.detail_cache:
                self._details.popitem(last=False)
        return out

    def _genres(self, trailer_id: str, given: list[str]) -> dict:
        vocab = self.vocabulary
        if self.has_model:
            predictor = self.predictors[self.main.name]
            probs, threshold, source = predictor.probabilities(trailer_id), predictor.threshold, "genre head"
            timeline = predictor.timeline(trailer_id)
        else:
            probs, threshold, source = self._vote(trailer_id, vocab), self.cfg.vote_threshold, "neighbour vote"
            timeline = None
        y = np.array([[g in given for g in vocab]])
        changes = label_changes(probs[None], y, vocab, threshold)[0]
        return {
            "probabilities": {g: round(float(p), 4) for g, p in zip(vocab, probs)},
            "predicted": changes["predicted"], "suggested_add": changes["added"],
            "suggested_drop": changes["missing"], "threshold": threshold, "source": source,
            "vocabulary": vocab, "timeline": timeline,
        }

    def _vote(self, trailer_id: str, vocab: list[str]) -> np.ndarray:
        """(G,) share of the ``vote_k`` nearest trailers carrying each genre."""
        hits = self.neighbours(trailer_id, self.cfg.vote_k)
        return np.array([sum(g in h.genres for h in hits) / max(len(hits), 1) for g in vocab])

    # ------------------------------------------------------------------ new trailers
    def add_store_trailer(self, trailer_id: str) -> None:
        """A trailer just written to the run's store joins every space (embedded with each run's network)."""
        for name, space in self.spaces.items():
            predictor = self.predictors[name]
            predictor.store.refresh()
            meta = predictor.store.meta(trailer_id)
            space.add(trailer_id, predictor.embed(trailer_id), meta.genres, meta.title, meta.year)
        with self._details_lock:
            self._details.pop(trailer_id, None)

