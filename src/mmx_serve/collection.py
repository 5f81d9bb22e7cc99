"""What a server shows: one run's trailers in one or two embedding spaces, their 2-D maps and genres.

* A **space** is a run's trailer embeddings (``Run.embeddings``) searched through
  ``mmx.retrieval.Neighbours``: a fine run shows ``fine`` and the ``coarse`` run it started from;
  any other run shows its own kind.
* The **map** of a space is the run's ``mmx.layout.map_layout`` (the same map as the report's
  Fig. 1, cached in the run folder); a trailer added later is placed among its nearest neighbours.
* **Genres**: a run with a network gives the genre head's probabilities, label suggestions (Tbl. 4)
  and the scene timeline (Fig. 8); a run of imported embeddings has no network, so its
  probabilities are the share of the nearest trailers that carry each genre.

Readers take one ``Snapshot`` (embeddings + map) and never see a half-added trailer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmx.atlas import AtlasConfig
from mmx.data.vectors import EmbeddingSet
from mmx.inference import predict_ids
from mmx.layout import LayoutConfig, map_layout
from mmx.metrics import label_changes
from mmx.retrieval import Hit, Neighbours, TrailerVectors, resolve_id
from mmx.run import FINE, IMPORTED, ModelRun, Run
from mmx.timeline import Timeline, trailer_timeline


@dataclass
class ServeConfig:
    layout: LayoutConfig = field(default_factory=LayoutConfig)  # the map (shared with the report's Fig. 1)
    atlas: AtlasConfig = field(default_factory=AtlasConfig)  # the map's pictures: tile sizes, sheets (mmx.atlas)
    vote_k: int = 15  # neighbours voting on genres when the run has no genre head (imported embeddings)
    vote_threshold: float = 0.3  # share of voting neighbours above which a genre is predicted (as sigmoid ≥ 0.3)
    max_k: int = 100  # most neighbours one search may ask for
    max_upload_mb: int = 512  # largest video upload accepted by POST /api/ingest
    detail_cache: int = 512  # trailer details (genre head + timeline) kept in memory
    # seconds the run must stay unchanged (no new review decision, no ingest) before the health findings are
    # checked again: a burst of decisions gives one re-check (mmx_serve.findings)
    recheck_delay: float = 2.0


@dataclass(frozen=True)
class Snapshot:
    neighbours: Neighbours[TrailerVectors]  # the embeddings and their search
    xy: np.ndarray | None  # (N, 2) map positions in row order of the embeddings; None until computed

    @property
    def emb(self) -> EmbeddingSet:
        return self.neighbours.vectors.emb


class Space:
    """One embedding space of the collection (a run's embeddings), with its search and its map."""

    def __init__(self, name: str, run: Run, cfg: ServeConfig):
        self.name, self.run, self.cfg = name, run, cfg
        self.snapshot = Snapshot(Neighbours.of_run(run), None)
        self._lock = threading.Lock()

    @property
    def index_kind(self) -> str | None:
        """The kind of the FAISS index searches use (`mmx index`), or None (exact search)."""
        return self.snapshot.neighbours.kind

    def nearest(self, trailer_id: str, k: int) -> list[Hit]:
        """The ``k`` nearest other trailers by cosine."""
        return self.snapshot.neighbours.nearest(trailer_id, k)

    def layout(self) -> Snapshot:
        """The snapshot with map positions, computing (or reading) the run's map once."""
        if self.snapshot.xy is not None:
            return self.snapshot
        with self._lock:
            if self.snapshot.xy is None:
                snap = self.snapshot
                self.snapshot = Snapshot(snap.neighbours, map_layout(self.run, snap.emb, self.cfg.layout))
            return self.snapshot

    def reload(self) -> None:
        """Reread the run's embeddings, index and map after trailers joined it on disk (``mmx.add``)."""
        self.run.forget(models=False)
        neighbours = Neighbours.of_run(self.run)
        with self._lock:
            xy = map_layout(self.run, neighbours.vectors.emb, self.cfg.layout) if self.snapshot.xy is not None else None
            self.snapshot = Snapshot(neighbours, xy)


class Predictor:
    """A run's network for the server: one forward pass at a time (torch's own threads do the work)."""

    def __init__(self, run: ModelRun):
        self.run = run
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.run.config.train.threshold

    def probabilities(self, trailer_id: str) -> np.ndarray:
        """(G,) genre probabilities of a store trailer (windows evenly spaced, as `mmx predict`)."""
        with self._lock:
            return predict_ids(self.run, [trailer_id])[0][0]

    def genre_timeline(self, trailer_id: str) -> Timeline:
        """The scene-level genre timeline of a store trailer (Fig. 8; ``mmx.trailer_timeline``)."""
        with self._lock:
            return trailer_timeline(self.run, trailer_id)

    def timeline(self, trailer_id: str) -> list[dict]:
        """Per clip: start/end seconds (when known) and genre probabilities in the run's genre order."""
        t = self.genre_timeline(trailer_id)
        return [
            {
                "clip": c.clip,
                "start": None if c.start is None else round(c.start, 3),
                "end": None if c.end is None else round(c.end, 3),
                "probabilities": [round(c.probabilities[g], 4) for g in t.vocabulary],
            }
            for c in t.clips
        ]


class Collection:
    """Everything the API answers from: spaces, metadata, predictions, and the details cache."""

    def __init__(self, run: str | Path | Run, cfg: ServeConfig = ServeConfig()):
        self.run, self.cfg = Run.open(run), cfg
        self.info = self.run.info
        self.spaces: dict[str, Space] = {}
        parent = self.run.parent if isinstance(self.run, ModelRun) and self.run.kind == FINE else None
        if parent is not None:
            self.spaces["fine"] = Space("fine", self.run, cfg)
            self.spaces["coarse"] = Space("coarse", parent, cfg)
        else:
            self.spaces[self.info.kind] = Space(self.info.kind, self.run, cfg)
        self.predictors: dict[str, Predictor] = {}
        if self.has_model:
            self.predictors = {name: Predictor(s.run) for name, s in self.spaces.items()}
        self._details: OrderedDict[str, dict] = OrderedDict()
        self._details_lock = threading.Lock()

    # ------------------------------------------------------------------ facts
    @property
    def has_model(self) -> bool:
        return self.info.kind != IMPORTED

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
        """A trailer that joined the run on disk (``mmx.add``: store, embeddings, index, map) joins every space."""
        self.reload([trailer_id])

    def reload(self, changed: list[str] | None = None) -> None:
        """Reread every space after trailers joined the run on disk; forget the details of ``changed`` (None: all)."""
        for space in self.spaces.values():
            space.reload()
        with self._details_lock:
            for tid in list(self._details) if changed is None else changed:
                self._details.pop(tid, None)
