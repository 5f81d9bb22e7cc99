"""The FastAPI application: a JSON API over one run's trailers and scenes, and the explorer page at ``/``.

::

    GET  /api/health                      run, kind, counts, spaces, what this run can show (scenes, pictures, ingest)
    GET  /api/map?space=                  every trailer's map position, title, year, genres, whether it has pictures
    GET  /api/trailers?genre=&year_from=&year_to=&q=&limit=&offset=
    GET  /api/trailers/{id}               genres, probabilities, suggestions, timeline, scenes, video
    GET  /api/search?id=&k=&space=        nearest trailers by cosine
    GET  /api/scenes?id=&t=|clip=&k=&other_trailers=   nearest scenes to one scene of a trailer
    GET  /api/keyframe?id=&clip=          a scene's keyframe (JPEG); without clip, the trailer's middle scene
    GET  /api/video?id=                   the trailer's video file under --media-root (range requests)
    GET  /api/reviews?id=                 a trailer's reviewed labels and decisions
    POST /api/reviews                     JSON {trailer_id, genre, decision}: accept / reject / add / remove
    POST /api/ingest                      multipart: ``file`` (a video) or ``path`` (under --media-root),
                                          optional ``trailer_id``, ``title``, ``year``, ``genres`` (a|b)

Every route declares each status it answers in the OpenAPI document (``/api/openapi.json``):
errors are ``{"detail": message}`` (``ErrorBody``), except 422, which always has FastAPI's
validation-error body ``{"detail": [{"loc", "msg", "type"}]}`` — also for the checks made in the
handlers (an ingest with both or neither of ``file`` and ``path``, a trailer id that cannot name a file).
The document is checked with schemathesis (``--checks all``; see docs/explorer.md).
Nothing a request sends is ever unpickled (uploads are only decoded by FFmpeg).
"""


import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmx.errors import InputError, UnknownTrailerError
from mmx.labels import DECISIONS, ReviewConflict
from mmx_serve.explorer import Explorer
from mmx_serve.ingest import IngestError, Ingestor, resolve_media_path
from mmx_serve.scenes import NoPicture, NotAvailable
from mmx_serve.state import ServeConfig, Space

STATIC = Path(str(resources.files("mmx_serve") / "static"))
INGEST_PATH = "/api/ingest"


class ErrorBody(BaseModel):
    """Every error answer but 422: one sentence saying what is wrong and what to do."""

    detail: str


def decide_model(vocabulary: list[str]) -> type[BaseModel]:
    """The body of POST /api/reviews: its ``genre`` is one of the run's genres (an enum in the document)."""
    return create_model(
        "Decide",
        trailer_id=(str, Field(min_length=1, max_length=300, description="trailer id")),
        genre=(Literal[tuple(vocabulary)], Field(description="a genre of the run's vocabulary")),  # type: ignore[valid-type]
        decision=(Literal[DECISIONS], Field(description="accept / reject a suggestion, add / remove a genre")),  # type: ignore[valid-type]
    )


WHY = {
    400: "the request body cannot be read (malformed JSON or multipart, a bad Content-Length)",
    403: "a path outside --media-root, or a server started without one",
    404: "an unknown trailer (the message suggests close ids), or a scene, picture or file it does not have",
    409: "the run cannot do this (imported embeddings have no network, store or scenes), or the request "
         "conflicts with what is there (a trailer id already present, a review that does not apply)",
    413: "an upload over --max-upload-mb",
    415: "an upload that is not a video",
    416: "a byte range outside the file",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route answers."""
    return {code: {"model": ErrorBody, "description": WHY[code]} for code in codes}


def invalid(where: str, name: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 with the validation-error body, for a check made in a handler (``where``: query/body/path)."""
    return RequestValidationError([{"type": "value_error", "loc": (where, name), "msg": message, "input": value}])


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
    """The explorer and API for the run folder ``run``; ``media_root`` enables ingest and playback by path."""
    media = Path(media_root) if media_root is not None else None
    explorer = Explorer(run, cfg, media)
    collection = explorer.collection
    ingestor = Ingestor(collection, on_added=explorer.scenes.add)
    app = FastAPI(title="mmx explorer", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    app.state.explorer = explorer
    app.add_middleware(BodyLimit, path=INGEST_PATH, limit=cfg.max_upload_mb * 2**20)
    spaces = tuple(collection.spaces)
    SpaceName = Annotated[Literal[spaces] | None, Query(description="embedding space (the first by default)")]  # type: ignore[valid-type]
    Decide = decide_model(collection.vocabulary)
    TrailerId = Annotated[str, Query(min_length=1, max_length=300, description="trailer id")]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        """As FastAPI answers, but a 405's Allow header lists every method of the path (GET and POST routes
        of one path are two routes to Starlette, which would name only the first one's)."""
        response = await http_exception_handler(request, e)
        if e.status_code == 405:
            allowed = sorted({m for r in app.router.routes if isinstance(r, APIRoute)
                              and r.matches(request.scope)[0] != Match.NONE for m in r.methods})
            response.headers["allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(UnknownTrailerError)
    async def unknown(request: Request, e: UnknownTrailerError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, 404)

    @app.exception_handler(NoPicture)
    async def no_picture(request: Request, e: NoPicture) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, 404)

    @app.exception_handler(NotAvailable)
    async def not_available(request: Request, e: NotAvailable) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, 409)

    def space_of(name: str | None) -> Space:
        return collection.space(name)  # the document's enum already refused any other name

    @app.get("/api/health")
    def health() -> dict:
        return explorer.health()

    @app.get("/api/map", response_class=Response, responses={
        200: {"content": {"application/json": {}}, "description": "ids, x, y, titles, years, genre indices and "
              "whether each trailer has pictures (thumbs), in one order"}})
    def map_(space: SpaceName = None) -> Response:
        return Response(explorer.map(space_of(space)), media_type="application/json")

    @app.get("/api/trailers", responses=errors())
    def trailers(
        genre: Annotated[str | None, Query(max_length=100)] = None,
        year_from: Annotated[int | None, Query(ge=1800, le=2200)] = None,
        year_to: Annotated[int | None, Query(ge=1800, le=2200)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        rows = collection.find(genre, year_from, year_to, q)  # year_from after year_to: nothing matches
        items = [collection.summary(r) for r in rows[offset : offset + limit]]
        return {"total": len(rows), "offset": offset, "limit": limit, "items": items}

    @app.get("/api/trailers/{trailer_id:path}", responses=errors(404))
    def trailer(trailer_id: str) -> dict:
        return explorer.detail(trailer_id)

    @app.get("/api/search", responses=errors(404))
    def search(id: TrailerId, k: Annotated[int, Query(ge=1, le=cfg.max_k)] = 10, space: SpaceName = None) -> dict:
        target = space_of(space)
        hits = collection.neighbours(id, k, target.name)
        return {"id": id, "k": k, "space": target.name, "results": [vars(h) for h in hits]}

    @app.get("/api/scenes", responses=errors(404, 409))
    def scenes(
        id: TrailerId,
        t: Annotated[float | None, Query(ge=0, le=1e6, allow_inf_nan=False, description="a second of the trailer")] = None,
        clip: Annotated[int | None, Query(ge=0, le=100_000, description="a clip number (wins over t; "
                                                                          "neither: the first clip)")] = None,
        k: Annotated[int, Query(ge=1, le=cfg.max_k)] = 10,
        other_trailers: Annotated[bool, Query(description="leave the query's own trailer out")] = False,
    ) -> dict:
        if clip is None and t is None:
            clip = 0
        try:
            query, hits = explorer.scene_search(id, None if clip is not None else t, clip, k, other_trailers)
        except InputError as e:  # a second outside the trailer, a clip it does not have
            raise HTTPException(404, str(e)) from None
        return {"query": explorer.scene_json(query), "k": k, "other_trailers": other_trailers,
                "results": [explorer.scene_json(h) for h in hits]}

    @app.get("/api/keyframe", response_class=Response, responses={
        200: {"content": {"image/jpeg": {}}, "description": "the keyframe, a small JPEG"}, **errors(404, 409)})
    def keyframe(id: TrailerId, clip: Annotated[int | None, Query(ge=0, le=100_000)] = None) -> Response:
        data = explorer.keyframe(id, clip)
        return Response(data, media_type="image/jpeg", headers={"cache-control": "max-age=3600"})

    @app.get("/api/video", response_class=FileResponse, responses={
        200: {"content": {"video/*": {}}, "description": "the trailer's video file"},
        206: {"content": {"video/*": {}}, "description": "the requested byte range"},
        **errors(403, 404, 409, 416)})
    def video(id: TrailerId) -> FileResponse:
        try:
            path = explorer.video_path(id)
        except IngestError as e:
            raise HTTPException(e.status, str(e)) from None
        return FileResponse(path, media_type=explorer.video_type(path))

    @app.get("/api/reviews", responses=errors(404))
    def reviews(id: TrailerId) -> dict:
        return explorer.review(id)

    @app.post("/api/reviews", responses=errors(400, 404, 409))
    def decide(body: Decide) -> dict:  # type: ignore[valid-type]
        try:
            return explorer.decide(body.trailer_id, body.genre, body.decision)
        except ReviewConflict as e:
            raise HTTPException(409, str(e)) from None

    @app.post(INGEST_PATH, responses=errors(400, 403, 404, 409, 413, 415))
    def ingest(
        file: Annotated[UploadFile | str | None, File(description="a video file")] = None,
        path: Annotated[str | None, Form(max_length=1000)] = None,
        trailer_id: Annotated[str | None, Form(max_length=128)] = None,
        title: Annotated[str, Form(max_length=300)] = "",
        year: Annotated[str, Form(pattern=r"^(1[89]\d\d|2[01]\d\d|2200)?$", description="a year, 1800–2200")] = "",
        genres: Annotated[str, Form(max_length=1000)] = "",
    ) -> dict:
        labels = [g.strip() for g in genres.split("|") if g.strip()]
        try:
            ingestor.refuse_unless_possible()
            if (file is None) == (path is None):
                raise IngestError(422, "send exactly one of `file` (a video upload) or `path` (under --media-root)")
            if isinstance(file, str):
                raise IngestError(415, "`file` is a text field, not an uploaded file; send the video as a file")
            if path is not None:
                video = resolve_media_path(media, path)
                return ingestor.ingest(video, video.name, trailer_id, title, int(year) if year else None, labels)
            name = Path(file.filename or "upload").name
            with tempfile.TemporaryDirectory(prefix="mmx-upload-") as tmp:
                saved = Path(tmp) / f"upload{Path(name).suffix.lower()}"
                with open(saved, "wb") as out:
                    shutil.copyfileobj(file.file, out)
                return ingestor.ingest(saved, name, trailer_id, title, int(year) if year else None, labels)
        except IngestError as e:
            if e.status == 422:
                raise invalid("body", e.field, str(e)) from None
            raise HTTPException(e.status, str(e)) from None

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

