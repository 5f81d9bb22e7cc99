"""A new trailer joins a served collection: video → extraction → store entry → embedding, no retraining.

The video comes as an upload (saved to a temporary file, size-limited by the app) or as a path
under the server's ``--media-root``. ``mmx.add.add_videos`` — the library function of ``mmx add``
too — extracts it with the experts and settings the run's store was made with, writes it to the
run's store and brings the run's embeddings, indexes, map and scene vectors up to date on disk,
so it stays after a restart; the collection then rereads them. Ingests run one at a time: a
thread lock inside the server and the run's file lock (``mmx.add.exclusive``, shared with
``mmx add`` and other servers); the store's own entry writes are atomic.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mmx.add import add_videos, exclusive
from mmx.data.labels_csv import LabelRow
from mmx.errors import ExtractError, Problem, StoreError, VideoError, WeightsMissing
from mmx.extract.batch import VIDEO_SUFFIXES, Job, relabel
from mmx.extract.decode import probe
from mmx.genres import normalize_genre
from mmx_serve.collection import Collection
from mmx_serve.refusals import AlreadyPresent, BadField, Forbidden, MissingFile, NotAvailable, NotAVideo

# ids of ingested trailers become file names: letters, digits and a few marks, no leading dot
TRAILER_ID = re.compile(r"[A-Za-z0-9#][A-Za-z0-9 _.,'&()!#-]{0,127}")


def resolve_media_path(media_root: Path | None, given: str) -> Path:
    """The file ``given`` names under ``media_root``; 403 for ``..``, outside paths and link escapes, 404 for no
    such file, 422 for a path no file can have (a NUL byte, a name too long, a loop of links)."""
    if media_root is None:
        raise Forbidden("this server was started without --media-root, so it reads no paths; upload the video")
    if "\0" in given:
        raise BadField("`path` contains a NUL byte; give a file's path under --media-root", "path")
    if ".." in Path(given).parts:
        raise Forbidden(f"path {given!r} contains '..'; give a path inside --media-root")
    root = media_root.resolve()
    candidate = Path(given) if Path(given).is_absolute() else root / given
    try:
        resolved = candidate.resolve()  # follows links: a link pointing outside is caught below
        is_file = resolved.is_file()
    except (OSError, RuntimeError) as e:  # a name too long for the file system, a loop of links
        raise BadField(f"path {given!r} names no readable file ({type(e).__name__}: {e}); give a file's path under "
                       "--media-root", "path") from None
    if not resolved.is_relative_to(root):
        raise Forbidden(f"path {given!r} is outside --media-root")
    if not is_file:
        raise MissingFile(f"no file {given!r} under --media-root")
    return resolved


def known_genres(given: list[str], vocabulary: list[str]) -> list[str]:
    """``given`` in the run's spelling ("Science Fiction" → "Sci-Fi"); 422 naming any genre outside ``vocabulary``."""
    genres = [normalize_genre(g) for g in given]
    unknown = [g for g in genres if g not in vocabulary]
    if unknown:
        raise BadField(f"genre(s) {', '.join(map(repr, unknown))} are not among this run's genres "
                       f"({', '.join(vocabulary)})", "genres")
    return genres


def check_video(path: Path, name: str) -> None:
    """415 unless ``path`` has a known video suffix and a video stream FFmpeg can read."""
    if Path(name).suffix.lower() not in VIDEO_SUFFIXES:
        raise NotAVideo(f"{name!r} is not a video file; send one of {', '.join(VIDEO_SUFFIXES)}")
    try:
        probe(path)
    except VideoError as e:
        raise NotAVideo(f"{name!r} is not a video this server can read: {str(e).removeprefix(f'{path}: ')}")


class Ingestor:
    """Adds videos to a collection whose run has a store and a network."""

    def __init__(self, collection: Collection, on_added: Callable[[str], None] | None = None,
                 sync: Callable[[float], None] | None = None):
        self.collection = collection
        self.on_added = on_added  # called with the new trailer's id once it joined the collection (its scenes)
        self.sync = sync  # rereads what other processes added to the run (``Explorer.sync``; argument: max age)
        self._lock = threading.Lock()

    def refuse_unless_possible(self) -> None:
        if not self.collection.has_model:
            raise NotAvailable(
                f"{self.collection.run.root} holds imported embeddings without a network or a feature "
                "store, so new videos cannot be embedded into it; serve a coarse or fine run to ingest"
            )

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock, exclusive(self.collection.run):
            yield

    def ingest(
        self, video: Path, name: str, trailer_id: str | None = None, title: str = "",
        year: int | None = None, genres: list[str] | None = None,
    ) -> dict:
        """Extract, store and embed one video; returns its details and nearest trailers."""
        self.refuse_unless_possible()
        tid = (trailer_id or Path(name).stem).strip()
        if not TRAILER_ID.fullmatch(tid):
            raise BadField(f"trailer id {tid!r} must be letters, digits and ' _.,&()!#-' (at most 128)",
                           "trailer_id")
        genres = known_genres(genres or [], self.collection.vocabulary)
        check_video(video, name)
        with self._exclusive():
            if self.sync is not None:
                self.sync(0)  # another worker or server of the run may have added it since this one looked
            if tid in self.collection.main.snapshot.emb.position:
                raise AlreadyPresent(f"trailer {tid!r} is already in the collection; give another trailer_id")
            warnings = self._extract(video, name, tid, title, year, genres)
            self.collection.add_store_trailer(tid)
            if self.on_added is not None:
                self.on_added(tid)
        hits = self.collection.neighbours(tid, 10)
        return {
            "trailer": self.collection.detail(tid),
            "neighbours": [h.as_dict() for h in hits],
            "warnings": [f"{name}: {p.reason}" for p in warnings],
        }

    def _extract(
        self, video: Path, name: str, tid: str, title: str, year: int | None, genres: list[str]
    ) -> list[Problem]:
        run = self.collection.run
        with tempfile.TemporaryDirectory(prefix="mmx-ingest-") as tmp:
            link = Path(tmp) / f"{tid}{Path(name).suffix.lower()}"  # the store names a trailer after its file
            link.symlink_to(video)
            try:  # no process pool inside a server
                report = add_videos(run, [link], in_process=True).extract
            except (ExtractError, StoreError, WeightsMissing) as e:
                raise NotAvailable(f"this run's experts cannot extract new videos here: {e}") from None
        if report.failed:
            raise BadField(f"extraction of {name!r} failed: " + "; ".join(p.reason for p in report.failed))
        if genres or title or year is not None:
            store = run.store
            store.refresh()
            label = LabelRow(0, tid, genres, title, year, None)
            relabel(store, store.meta(tid), Job(link, tid, {}, label, {}))
        return report.warnings
