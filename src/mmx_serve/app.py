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
    GET  /api/findings?check=&kind=&trailer=&limit=&offset=   `mmx check`'s findings (computed in the background)
    GET  /api/findings/badges             every trailer's health badges, trailers per kind, collection-wide findings
    POST /api/ingest                      multipart: ``file`` (a video) or ``path`` (under --media-root),
                                          optional ``trailer_id``, ``title``, ``year``, ``genres`` (a|b)

With accounts (``mmx users``; ``mmx_serve.auth``) every route above needs a token or a login session
(``GET /api/session``, ``POST /api/login``, ``POST /api/logout`` do not): viewers read, reviewers also
post reviews, curators also ingest; writes record who made them. Every answer carries security
headers (``mmx_serve.middleware.SecurityHeaders``).

Every route declares each status it answers in the OpenAPI document (``/api/openapi.json``):
errors are ``{"detail": message}`` (``ErrorBody``), except 422, which always has FastAPI's
validation-error body ``{"detail": [{"loc", "msg", "type"}]}`` — also for the checks made in the
handlers (an ingest with both or neither of ``file`` and ``path``, a trailer id that cannot name a file).
The document is checked with schemathesis (``--checks all``; see docs/explorer.md).
Nothing a request sends is ever unpickled (uploads are only decoded by FFmpeg).

The routes are ``APIRouter`` modules in ``mmx_serve.routes``; the status of every error they raise
comes from one mapping, ``mmx_serve.errors.STATUS``.
"""

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from mmx_serve.auth import AuthConfig, make_auth
from mmx_serve.errors import install_handlers
from mmx_serve.explorer import Explorer
from mmx_serve.ingest import Ingestor
from mmx_serve.middleware import BodyLimit, CheckFirst, SecurityHeaders
from mmx_serve.routes import Api, routers
from mmx_serve.routes.api import INGEST_PATH
from mmx_serve.state import ServeConfig

STATIC = Path(str(resources.files("mmx_serve") / "static"))


def create_app(run: str | Path, media_root: str | Path | None = None, cfg: ServeConfig = ServeConfig(),
               users: str | Path | None = None, auth_cfg: AuthConfig = AuthConfig()) -> FastAPI:
    """The explorer and API for the run folder ``run``; ``media_root`` enables ingest and playback by path;
    accounts are on when the users file (``users``, default RUN/users.json) exists."""
    media = Path(media_root) if media_root is not None else None
    explorer = Explorer(run, cfg, media)
    ingestor = Ingestor(explorer.collection, on_added=explorer.scenes.add)
    app = FastAPI(title="mmx explorer", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    app.state.explorer = explorer
    app.state.auth = auth = make_auth(explorer.collection.run.root, users, auth_cfg)
    app.add_middleware(BodyLimit, path=INGEST_PATH, limit=cfg.max_upload_mb * 2**20)
    app.add_middleware(CheckFirst, path=INGEST_PATH, check=auth.check_before_body("curator"))  # runs first
    app.add_middleware(SecurityHeaders, docs="/api/docs")
    install_handlers(app)
    for router in routers(Api(explorer, ingestor, cfg, media, auth)):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
