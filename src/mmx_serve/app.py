"""The FastAPI application: a JSON API over one run's trailers and the explorer page at ``/``.

::

    GET  /api/health                      run, kind, trailer count, spaces, whether ingest works
    GET  /api/map?space=                  every trailer's map position, title, year and genres
    GET  /api/trailers?genre=&year_from=&year_to=&q=&limit=&offset=
    GET  /api/trailers/{id}               genres, probabilities, predictions, suggestions, timeline
    GET  /api/search?id=&k=&space=        nearest trailers by cosine
    POST /api/ingest                      multipart: ``file`` (a video) or ``path`` (under --media-root),
                                          optional ``trailer_id``, ``title``, ``year``, ``genres`` (a|b)

Errors are JSON ``{"detail": message}``: 404 for an unknown trailer, 422 for a malformed query,
403 for a path outside ``--media-root``, 413 for an upload over the limit, 415 for a non-video.
Nothing a request sends is ever unpickled (uploads are only decoded by FFmpeg).
"""


import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmx.errors import UnknownTrailerError
from mmx_serve.ingest import IngestError, Ingestor, resolve_media_path
from mmx_serve.state import Collection, ServeConfig, Space

STATIC = Path(str(resources.files("mmx_serve") / "static"))
INGEST_PATH = "/api/ingest"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes on ``path`` (by Content-Length, else while reading)."""

    def __init__(self, app: ASGIApp, path: str, limit: int):
        self.app, self.path, self.limit = app, path, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit():
            await _send_json(send, 400, "Content-Length is not a number")
            return
        if int(length) > self.limit:
            await _send_json(send, 413, self._message())
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, self._message())

    def _message(self) -> str:
        return f"upload is larger than the server's limit of {self.limit // 2**20} MiB; nothing was stored"


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(run: str | Path, media_root: str | Path | None = None, cfg: ServeConfig = ServeConfig()) -> FastAPI:
    """The explorer and API for the run folder ``run``; ``media_root`` enables ingest by path."""
    collection = Collection(run, cfg)
    ingestor = Ingestor(collection)
    media = Path(media_root) if media_root is not None else None
    app = FastAPI(title="mmx explorer", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    app.state.collection = collection
    app.add_middleware(BodyLimit, path=INGEST_PATH, limit=cfg.max_upload_mb * 2**20)
    SpaceName = Annotated[str | None, Query(pattern=r"^[a-z]+$", description="embedding space (coarse/fine)")]

    def space_of(name: str | None) -> Space:
        try:
            return collection.space(name)
        except KeyError as e:
            raise HTTPException(422, e.args[0]) from None

    @app.get("/api/health")
    def health() -> dict:
        return {
            "status": "ok", "run": str(collection.run.root), "kind": collection.info.kind,
            "trailers": len(collection.main.snapshot.emb.ids), "spaces": list(collection.spaces),
            "ingest": collection.has_model, "vocabulary": collection.vocabulary,
            "index": {name: s.index.kind if s.index else None for name, s in collection.spaces.items()},
        }

    @app.get("/api/map")
    def map_(space: SpaceName = None) -> dict:
        target = space_of(space)
        snap = target.layout()
        meta = collection.main.snapshot.emb
        vocab = {g: i for i, g in enumerate(sorted({g for gs in meta.genres for g in gs}))}
        rows = [meta.position.get(t) for t in snap.emb.ids]
        return {
            "space": target.name, "count": len(snap.emb.ids), "genres": list(vocab),
            "ids": snap.emb.ids, "x": [round(float(v), 3) for v in snap.xy[:, 0]],
            "y": [round(float(v), 3) for v in snap.xy[:, 1]],
            "titles": [meta.titles[r] if r is not None else "" for r in rows],
            "years": [meta.years[r] if r is not None else None for r in rows],
            "labels": [[vocab[g] for g in meta.genres[r]] if r is not None else [] for r in rows],
        }

    @app.get("/api/trailers")
    def trailers(
        genre: Annotated[str | None, Query(max_length=100)] = None,
        year_from: Annotated[int | None, Query(ge=1800, le=2200)] = None,
        year_to: Annotated[int | None, Query(ge=1800, le=2200)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        if year_from is not None and year_to is not None and year_from > year_to:
            raise HTTPException(422, f"year_from {year_from} is after year_to {year_to}")
        rows = collection.find(genre, year_from, year_to, q)
        items = [collection.summary(r) for r in rows[offset : offset + limit]]
        return {"total": len(rows), "offset": offset, "limit": limit, "items": items}

    @app.get("/api/trailers/{trailer_id:path}")
    def trailer(trailer_id: str) -> dict:
        try:
            return collection.detail(trailer_id)
        except UnknownTrailerError as e:
            raise HTTPException(404, str(e)) from None

    @app.get("/api/search")
    def search(
        id: Annotated[str, Query(min_length=1, max_length=300)],
        k: Annotated[int, Query(ge=1, le=cfg.max_k)] = 10,
        space: SpaceName = None,
    ) -> dict:
        target = space_of(space)
        try:
            hits = collection.neighbours(id, k, target.name)
        except UnknownTrailerError as e:
            raise HTTPException(404, str(e)) from None
        return {"id": id, "k": k, "space": target.name, "results": [vars(h) for h in hits]}

    @app.post(INGEST_PATH)
    def ingest(
        file: Annotated[UploadFile | None, File(description="a video file")] = None,
        path: Annotated[str | None, Form(max_length=1000)] = None,
        trailer_id: Annotated[str | None, Form(max_length=128)] = None,
        title: Annotated[str, Form(max_length=300)] = "",
        year: Annotated[int | None, Form(ge=1800, le=2200)] = None,
        genres: Annotated[str, Form(max_length=1000)] = "",
    ) -> dict:
        if (file is None) == (path is None):
            raise HTTPException(422, "send exactly one of `file` (a video upload) or `path` (under --media-root)")
        labels = [g.strip() for g in genres.split("|") if g.strip()]
        try:
            ingestor.refuse_unless_possible()
            if path is not None:
                video = resolve_media_path(media, path)
                return ingestor.ingest(video, video.name, trailer_id, title, year, labels)
            name = Path(file.filename or "upload").name
            with tempfile.TemporaryDirectory(prefix="mmx-upload-") as tmp:
                saved = Path(tmp) / f"upload{Path(name).suffix.lower()}"
                with open(saved, "wb") as out:
                    shutil.copyfileobj(file.file, out)
                return ingestor.ingest(saved, name, trailer_id, title, year, labels)
        except IngestError as e:
            raise HTTPException(e.status, str(e)) from None

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
