"""What the explorer shows of a run's scenes: scene strips, keyframes, scene search and the trailer's video.

A thin layer over ``mmx.scenes`` (scene vectors, their index and search) and the run's feature
store (clip times, keyframes, the video each entry was extracted from). Only a trained run (coarse
or fine) has scenes: a run of imported embeddings has no network and no store, so every scene
route answers 409 saying so (``NotAvailable``).
"""

from __future__ import annotations

import math
import mimetypes
import threading
from pathlib import Path
from urllib.parse import quote

from mmx.extract.batch import VIDEO_SUFFIXES
from mmx.progress import QUIET, Reporter
from mmx.retrieval import Hit
from mmx.run import ModelRun, Run
from mmx.scenes.compute import compute_scenes
from mmx.scenes.scene_set import SceneSet, load_scenes, scenes_problem
from mmx.scenes.searching import load_scene_index, search_scene
from mmx_serve.ingest import resolve_media_path
from mmx_serve.refusals import Forbidden, MissingFile, NoPicture, NotAvailable

NEEDS_TRAINED_RUN = ("{root} holds imported trailer embeddings: no network and no feature store, so it has no "
                     "scenes, keyframes, scene search, timeline or video ingest; serve a coarse or fine run "
                     "(`mmx train`, then `mmx scenes --run RUN`) for those")


def keyframe_url(trailer_id: str, clip: int | None = None) -> str:
    return f"/api/keyframe?id={quote(trailer_id, safe='')}" + ("" if clip is None else f"&clip={clip}")


class Scenes:
    """Scene strips, keyframes, scene search and videos of one run (``run`` a ``ModelRun`` or not)."""

    def __init__(self, run: Run, media_root: Path | None):
        self.run, self.media_root = run, media_root
        self.model_run = run if isinstance(run, ModelRun) else None
        # (scene set, its index or None): replaced whole, so a reader never pairs a set with another's index
        self._snapshot: tuple[SceneSet, object] | None = None
        self._lock = threading.Lock()
        if self.model_run is not None and scenes_problem(self.model_run) is None:
            self._snapshot = (load_scenes(run.root), load_scene_index(run.root))

    @property
    def set(self) -> SceneSet | None:
        return None if self._snapshot is None else self._snapshot[0]

    # ------------------------------------------------------------------ facts
    @property
    def note(self) -> str | None:
        """Why scene search is not available, or None when it is."""
        if self.model_run is None:
            return NEEDS_TRAINED_RUN.format(root=self.run.root)
        if self.set is None:
            return f"scene search needs the run's scene vectors: `mmx scenes --run {self.run.root}`"
        return None

    @property
    def has_keyframes(self) -> bool:
        return self.model_run is not None and any(m.has_keyframes for m in self.model_run.store.entries().values())

    def _require_store(self):
        if self.model_run is None:
            raise NotAvailable(NEEDS_TRAINED_RUN.format(root=self.run.root))
        return self.model_run.store

    # ------------------------------------------------------------------ computing
    def ensure(self, reporter: Reporter = QUIET) -> None:
        """Compute the run's scene vectors when they are not fresh (``mmx.scenes.scene_set.scenes_problem``)."""
        if self.model_run is None or self.set is not None:
            return
        with self._lock:
            if self._snapshot is None:
                self._snapshot = (compute_scenes(self.model_run, reporter), load_scene_index(self.run.root))

    def reload(self) -> None:
        """Trailers joined the run on disk (``mmx.add`` updated its scenes): reread the scene set and index."""
        if self.model_run is None or scenes_problem(self.model_run) is not None:
            return
        with self._lock:
            self._snapshot = (load_scenes(self.run.root), load_scene_index(self.run.root))

    # ------------------------------------------------------------------ answers
    def strip(self, trailer_id: str) -> list[dict] | None:
        """Every clip of a store trailer: number, seconds and keyframe URL (None without keyframes)."""
        if self.model_run is None:
            return None
        store = self.model_run.store
        meta = store.meta(trailer_id)
        times = store.load_clip_times(trailer_id)
        return [
            {"clip": c,
             "start": None if times is None else round(float(times[c, 0]), 3),
             "end": None if times is None else round(float(times[c, 1]), 3),
             "keyframe": keyframe_url(trailer_id, c) if meta.has_keyframes else None}
            for c in range(meta.n_clips)
        ]

    def search(self, trailer_id: str, seconds: float | None, clip: int | None, k: int, other_trailers: bool,
               titles: dict[str, str]) -> tuple[Hit, list[Hit]]:
        snapshot = self._snapshot
        if snapshot is None:
            raise NotAvailable(self.note)
        scenes, index = snapshot
        return search_scene(scenes, index, trailer_id, seconds, clip, k, other_trailers, titles)

    def hit_json(self, hit: Hit) -> dict:
        store = self.model_run.store
        has = hit.trailer_id in store and store.meta(hit.trailer_id).has_keyframes
        return {**hit.as_dict(), "score": round(hit.score, 5) if math.isfinite(hit.score) else None,
                "keyframe": keyframe_url(hit.trailer_id, hit.clip) if has else None}

    def keyframe(self, trailer_id: str, clip: int | None) -> bytes:
        """The JPEG of one clip (without ``clip``: of the trailer's middle clip)."""
        store = self._require_store()
        if trailer_id not in store:
            from mmx.retrieval import unknown_id

            raise unknown_id(trailer_id, sorted(store.entries()), "the run's store")
        meta = store.meta(trailer_id)
        clip = meta.n_clips // 2 if clip is None else clip
        if not 0 <= clip < meta.n_clips:
            raise NoPicture(f"trailer {trailer_id!r} has clips 0–{meta.n_clips - 1}; there is no clip {clip}")
        data = store.keyframe(trailer_id, clip)
        if data is None:
            raise NoPicture(f"trailer {trailer_id!r} has no keyframes in the store; extract its video again "
                            "(`mmx extract`) to add them")
        return data

    def video_path(self, trailer_id: str) -> Path:
        """The trailer's video file under --media-root (the file it was extracted from, or <id>.<video suffix>)."""
        store = self._require_store()
        if trailer_id not in store:
            from mmx.retrieval import unknown_id

            raise unknown_id(trailer_id, sorted(store.entries()), "the run's store")
        if self.media_root is None:
            raise Forbidden("this server was started without --media-root, so it serves no videos")
        root = self.media_root.resolve()
        candidates = []
        source = store.meta(trailer_id).source.get("video")
        if source:
            candidates.append(Path(source))
        candidates += [root / f"{trailer_id}{s}" for s in VIDEO_SUFFIXES]
        for c in candidates:
            resolved = c.resolve()
            if resolved.is_file() and resolved.is_relative_to(root):
                return resolve_media_path(self.media_root, str(resolved))
        if source and Path(source).resolve().is_file():
            raise Forbidden(f"the video of {trailer_id!r} is outside --media-root; it is not served")
        raise NoPicture(f"no video file of {trailer_id!r} under --media-root")

    def video_url(self, trailer_id: str) -> str | None:
        try:
            self.video_path(trailer_id)
        except (Forbidden, MissingFile, NoPicture, NotAvailable):
            return None
        return f"/api/video?id={quote(trailer_id, safe='')}"

    @staticmethod
    def video_type(path: Path) -> str:
        return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
