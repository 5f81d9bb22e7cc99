"""The FastAPI application: a JSON API over one run's trailers and scenes, and the explorer page at ``/``.

::

    GET  /api/health                      run, kind, counts, spaces, what this run can show (scenes, pictures, ingest)
    GET  /api/map?space=                  every trailer's map position, title, year, genres, whether it has pictures
    GET  /api/trailers?genre=&year_from=&year_to=&q=&limit=&offset=
    GET  /api/trailers/{id}               genres, probabilities, suggestions, timeline, scenes, video
    GET  /api/search?id=&k=&space=        nearest trailers by cosine
    GET  /api/scenes?id=&t=|clip=&k=&other_trailers=   nearest scenes to one scene of a trailer
    GET  /api/keyframe?id=&clip=          a scene's keyframe (JPEG); without clip, the trailer's middle scene
    GET  /api/atlas?level=&sheet=&v=      one JPEG sheet of the map's pictures (mmx.atlas)
    GET  /api/timeline.vtt?id=            the trailer's genre timeline as a WebVTT track (the player's captions)
    GET  /api/video?id=                   the trailer's video file under --media-root (range requests)
    GET  /api/reviews?id=                 a trailer's reviewed labels and decisions
    POST /api/reviews                     JSON {trailer_id, genre, decision}: accept / reject / add / remove
    GET  /api/findings?check=&kind=&trailer=&limit=&offset=   `mmx check`'s findings (computed in the background)
    GET  /api/findings/badges             every trailer's health badges, trailers per kind, collection-wide findings
    POST /api/ingest                      multipart: ``file`` (a video) or ``path`` (under --media-root),
                                          optional ``trailer_id``, ``title``, ``year``, ``genres`` (a|b)

With accounts (``mmx users``; ``mmx_serve.auth``) every route above needs a token or a login session
(``GET /api/session``, ``POST /api/login``, ``POST /api/logout`` do not): viewers read, reviewers also
post reviews, curators also ingest; writes record who made them. Every request's body is bounded, and
its sender checked, before it is read (``mmx_serve.middleware.RequestLimits``, by
``mmx_serve.routes.body_rules``); every answer carries security headers (``SecurityHeaders``). The
docs page (``/api/docs``) is Swagger UI served from this server's own files.

Every route declares each status it answers in the OpenAPI document (``/api/openapi.json``, made for the
server's mode — with accounts or without — by ``mmx_serve.document``):
errors are ``{"detail": message}`` (``ErrorBody``), except 422, which always has FastAPI's
validation-error body ``{"detail": [{"loc", "msg", "type"}]}`` — also for the checks made in the
handlers (an ingest with both or neither of ``file`` and ``path``, a trailer id that cannot name a file).
The document is checked with schemathesis (``--checks all``; see docs/explorer.md).
Nothing a request sends is ever unpickled (uploads are only decoded by FFmpeg).

The routes are ``APIRouter`` modules in ``mmx_serve.routes``; the status of every error they raise
comes from one mapping, ``mmx_serve.refusals.STATUS``.
"""

from importlib import resources
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from mmx_serve import document
from mmx_serve.auth import AuthConfig, make_auth
from mmx_serve.collection import ServeConfig
from mmx_serve.explorer import Explorer
from mmx_serve.ingest import Ingestor
from mmx_serve.middleware import RequestLimits, SecurityHeaders
from mmx_serve.refusals import install_handlers
from mmx_serve.routes import OTHER_BODY, Api, body_rules, routers

STATIC = Path(str(resources.files("mmx_serve") / "static"))
DOCS = "/api/docs"
# Swagger UI's files, from the fastapi-offline package: the docs page loads nothing from another site
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"


def create_app(run: str | Path, media_root: str | Path | None = None, cfg: ServeConfig = ServeConfig(),
               users: str | Path | None = None, auth_cfg: AuthConfig = AuthConfig(),
               accounts_required: bool = False) -> FastAPI:
    """The explorer and API for the run folder ``run``; ``media_root`` enables ingest and playback by path;
    accounts are on when the users file (``users``, default RUN/users.json) exists, or must be
    (``accounts_required``: nobody is let in until it does)."""
    explorer = Explorer(run, cfg, Path(media_root) if media_root is not None else None)
    ingestor = Ingestor(explorer.collection, on_added=explorer.joined, sync=explorer.sync)
    app = FastAPI(title="mmx explorer", docs_url=None, openapi_url="/api/openapi.json", redoc_url=None)
    app.state.explorer = explorer
    app.state.auth = auth = make_auth(explorer.collection.run.root, users, auth_cfg, accounts_required)
    app.add_middleware(RequestLimits, rules=body_rules(cfg.max_upload_mb), default=OTHER_BODY, check=auth.before_body)
    app.add_middleware(SecurityHeaders, docs=DOCS)
    install_handlers(app)
    for router in routers(Api(explorer, ingestor, cfg, explorer.media_root, auth)):
        app.include_router(router)
    document.install(app, lambda: auth.on)
    app.add_api_route("/", lambda: FileResponse(STATIC / "index.html"), include_in_schema=False)
    app.add_api_route(DOCS, lambda: FileResponse(STATIC / "docs.html"), include_in_schema=False)
    app.mount(f"{DOCS}/ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
