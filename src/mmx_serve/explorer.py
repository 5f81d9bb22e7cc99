"""Everything the explorer's API answers from: the collection (trailers, spaces, maps, genres), the map's
pictures (``mmx.atlas``), its scenes (``mmx_serve.scenes``), its label review journal (``mmx.review``) and its
health findings (``mmx_serve.findings``: ``mmx check`` in the background), each a thin layer over the library.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from mmx.artifacts import EMBEDDINGS, SCENES
from mmx.atlas import Atlas, hilbert_order, run_pictures, update_atlas
from mmx.layout import map_view
from mmx.progress import QUIET, Reporter
from mmx.retrieval import Hit, resolve_id
from mmx.review import ReviewJournal, conflicts, decisions_since
from mmx.timeline import webvtt
from mmx_serve.collection import Collection, ServeConfig, Space
from mmx_serve.findings import Findings
from mmx_serve.refusals import NotAvailable
from mmx_serve.scenes import NEEDS_TRAINED_RUN, Scenes


class Explorer:
    """One served run: ``collection`` (trailers and genres), ``scenes``, ``journal`` (label review) and ``findings``."""

    def __init__(self, run: str | Path, cfg: ServeConfig = ServeConfig(), media_root: Path | None = None):
        self.collection = Collection(run, cfg)
        self.cfg, self.media_root = cfg, media_root
        self.scenes = Scenes(self.collection.run, media_root)
        self.journal = ReviewJournal(self.collection.run.root)
        self.findings = Findings(self.collection, self.journal, recheck_delay=cfg.recheck_delay)
        self._map_cache: dict[str, tuple[object, bytes]] = {}  # space → (snapshot, encoded answer)
        self._map_lock = threading.Lock()
        self._atlas: tuple[object, Atlas | None] | None = None  # (main snapshot it is of, the atlas)
        self._atlas_lock = threading.Lock()
        self._on_disk, self._looked = self._disk_state(), time.monotonic()  # what ``sync`` compares

    # ------------------------------------------------------------------ facts
    @property
    def spaces(self) -> dict[str, Space]:
        return self.collection.spaces

    @property
    def vocabulary(self) -> list[str]:
        return self.collection.vocabulary

    def prepare(self, reporter: Reporter = QUIET) -> None:
        """What `mmx serve` does before it listens: every space's map, and the scene vectors of a trained run."""
        for space in self.spaces.values():
            reporter.line(f"map of {len(space.snapshot.emb.ids)} trailers ({space.name}) and its pictures...")
            self.map(space)  # computed (or read) and encoded once, so the first page load does not wait
        if self.scenes.model_run is not None and self.scenes.set is None:
            reporter.line("scene vectors of every clip (first start only)...")
            self.scenes.ensure(reporter)

    def notes(self) -> list[str]:
        """Plain sentences on what this run cannot show, and what would show it."""
        note = self.scenes.note
        return [note] if note else []

    def health(self) -> dict:
        c = self.collection
        return {
            "status": "ok", "run": str(c.run.root), "kind": c.info.kind,
            "trailers": len(c.main.snapshot.emb.ids), "spaces": list(c.spaces),
            "ingest": c.has_model, "vocabulary": c.vocabulary,
            "index": {name: s.index_kind for name, s in c.spaces.items()},
            "scenes": None if self.scenes.set is None else len(self.scenes.set),
            "keyframes": self.scenes.has_keyframes, "review": True,
            "reviewed": len(self.journal.reviewed()), "notes": self.notes(),
            "since_training": decisions_since(c.run, self.journal),  # label decisions the network has not seen
        }

    # ------------------------------------------------------------------ map
    def map(self, space: Space) -> bytes:
        """The encoded map answer of ``space`` (kept until the space's snapshot changes: 100,000 trailers
        take a second to encode)."""
        snap = space.layout()
        with self._map_lock:
            cached = self._map_cache.get(space.name)
            if cached is not None and cached[0] is snap:
                return cached[1]
        meta = self.collection.main.snapshot.emb
        vocab = {g: i for i, g in enumerate(sorted({g for gs in meta.genres for g in gs}))}
        rows = [meta.position.get(t) for t in snap.emb.ids]
        genres = [meta.genres[r] if r is not None else [] for r in rows]
        atlas = self.atlas()
        slots = atlas.slots if atlas is not None else {}
        view = map_view(snap.xy, genres, atlas is not None, self.cfg.layout)
        body = {
            "space": space.name, "count": len(snap.emb.ids), "genres": list(vocab),
            "ids": snap.emb.ids, "x": [round(float(v), 3) for v in view.xy[:, 0]],
            "y": [round(float(v), 3) for v in view.xy[:, 1]],
            "titles": [meta.titles[r] if r is not None else "" for r in rows],
            "years": [meta.years[r] if r is not None else None for r in rows],
            "labels": [[vocab[g] for g in gs] for gs in genres],
            "room": view.room, "picture": view.picture, "regions": [vars(r) for r in view.regions],
            "tiles": [slots.get(t, -1) for t in snap.emb.ids],
            "atlas": atlas.describe() if atlas is not None else None,
        }
        encoded = json.dumps(body, separators=(",", ":")).encode()
        with self._map_lock:
            self._map_cache[space.name] = (snap, encoded)
        return encoded

    def atlas(self) -> Atlas | None:
        """The pictures of the trailers on the map (None when the run has none), made or brought up to date
        (``mmx.atlas.update_atlas``) when the collection changed; slots follow the main map's Hilbert order."""
        snap = self.collection.main.layout()
        with self._atlas_lock:
            if self._atlas is None or self._atlas[0] is not snap:
                pictures = run_pictures(self.collection.run)
                order = [snap.emb.ids[i] for i in hilbert_order(snap.xy)]
                atlas = None if pictures is None else update_atlas(self.collection.run.root, pictures, order,
                                                                   self.cfg.atlas)
                self._atlas = (snap, atlas)
            return self._atlas[1]

    def atlas_sheet(self, level: int, sheet: int) -> tuple[bytes, str]:
        """One sheet of the atlas (JPEG) and its version."""
        atlas = self.atlas()
        if atlas is None:
            raise NotAvailable(f"{self.collection.run.root} has no pictures: a run's store needs keyframes "
                               "(`mmx extract` keeps them), imported embeddings a --pictures folder")
        return atlas.sheet(level, sheet), atlas.digest(level, sheet)

    # ------------------------------------------------------------------ a trailer
    def detail(self, trailer_id: str) -> dict:
        """The collection's detail plus the scene strip, the video URL and why scenes may be missing."""
        out = dict(self.collection.detail(trailer_id))
        out["scenes"] = self.scenes.strip(trailer_id)
        out["scenes_note"] = self.scenes.note
        out["video"] = self.scenes.video_url(trailer_id) if self.scenes.model_run is not None else None
        return out

    def vtt(self, trailer_id: str) -> str:
        """The trailer's genre timeline as a WebVTT track: one cue per scene with its top genres (``mmx.webvtt``);
        the explorer's player shows it while the trailer plays."""
        c = self.collection
        if not c.has_model:
            raise NotAvailable(NEEDS_TRAINED_RUN.format(root=c.run.root))
        resolve_id(c.main.snapshot.emb, trailer_id)  # an unknown id: 404 with the closest ids
        store = c.predictors[c.main.name].run.store
        if trailer_id not in store or not store.meta(trailer_id).has_clip_times:
            raise NotAvailable(f"trailer {trailer_id!r} has no clip times in the store, so no timed track; extract "
                               "its video (`mmx extract`) to give it one")
        return webvtt(c.predictors[c.main.name].genre_timeline(trailer_id))

    def scene_search(self, trailer_id: str, seconds: float | None, clip: int | None, k: int,
                     other_trailers: bool) -> tuple[Hit, list[Hit]]:
        titles = dict(zip(self.collection.main.snapshot.emb.ids, self.collection.main.snapshot.emb.titles))
        return self.scenes.search(trailer_id, seconds, clip, k, other_trailers, titles)

    def scene_json(self, hit: Hit) -> dict:
        return self.scenes.hit_json(hit)

    def keyframe(self, trailer_id: str, clip: int | None) -> bytes:
        return self.scenes.keyframe(trailer_id, clip)

    def video_path(self, trailer_id: str) -> Path:
        return self.scenes.video_path(trailer_id)

    def video_type(self, path: Path) -> str:
        return self.scenes.video_type(path)

    # ------------------------------------------------------------------ label review
    def _given(self, trailer_id: str) -> list[str]:
        emb = self.collection.main.snapshot.emb
        return list(emb.genres[resolve_id(emb, trailer_id)])

    def review(self, trailer_id: str) -> dict:
        given = self._given(trailer_id)
        decisions = self.journal.decisions(trailer_id)
        return {"trailer_id": trailer_id, "given": sorted(given),
                "labels": list(decisions[-1].labels) if decisions else sorted(given),
                "decisions": [vars(d) for d in decisions],
                "conflicts": {g: [vars(d) for d in ds] for g, ds in conflicts(decisions).items()}}

    def decide(self, trailer_id: str, genre: str, decision: str, user: str | None = None) -> dict:
        self.journal.decide(trailer_id, genre, decision, self._given(trailer_id), self.vocabulary, user)
        return self.review(trailer_id)

    # ------------------------------------------------------------------ new trailers
    def joined(self, trailer_id: str) -> None:
        """A trailer this process ingested joined the collection (``Ingestor``): its scenes too."""
        self.scenes.reload()
        self._on_disk = self._disk_state()

    def _disk_state(self) -> tuple:
        """(inode, mtime) of the files trailers join through: every space's embeddings, and the scene vectors."""
        files = [s.run.root / EMBEDDINGS for s in self.spaces.values()] + [self.collection.run.root / SCENES]
        stats = [f.stat() if f.exists() else None for f in files]
        return tuple(None if st is None else (st.st_ino, st.st_mtime_ns) for st in stats)

    def sync(self, every: float = 1.0) -> None:
        """Reread the run when another process (a second worker, another server, ``mmx add``) added trailers to it
        on disk; looked at once every ``every`` seconds at most (a FastAPI dependency of every guarded route)."""
        now = time.monotonic()
        if now - self._looked < every:
            return
        self._looked = now
        state = self._disk_state()
        if state != self._on_disk:
            self._on_disk = state
            self.collection.reload()
            self.scenes.reload()
