"""The API's routes, one ``APIRouter`` module per subject, each made for one served run by ``router(api)``.

``trailers`` (health, map, list, detail, search), ``scenes`` (scene search, keyframes, video),
``reviews`` (label review), ``health`` (``mmx check``'s findings and badges), ``ingest`` (a new video),
``users`` (admins) — included in that order by ``routers``, each
behind the viewer role (``mmx_serve.auth``; writes ask for more) — and ``session`` (login), open to all.
Routes raise errors and never choose a status: ``mmx_serve.refusals`` maps them.

``body_rules`` says, for every route that reads a body, how large it may be and who may send it
(``mmx_serve.middleware.RequestLimits`` checks both before the body is read); every other request may
carry at most ``OTHER_BODY`` bytes, which no route reads.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from mmx_serve.middleware import BodyRule
from mmx_serve.routes import health, ingest, reviews, scenes, session, trailers, users
from mmx_serve.routes.api import INGEST_PATH, Api

KIB = 2**10
OTHER_BODY = BodyRule(16 * KIB)


def body_rules(max_upload_mb: int) -> dict[tuple[str, str], BodyRule]:
    """(method, path) → what the route accepts as a body: a few KiB of JSON, or a video for a curator."""
    return {
        ("POST", "/api/reviews"): BodyRule(4 * KIB, "reviewer"),
        ("POST", "/api/users"): BodyRule(4 * KIB, "admin"),
        ("POST", INGEST_PATH): BodyRule(max_upload_mb * 2**20, "curator", counts="ingest"),
        ("POST", "/api/login"): BodyRule(4 * KIB),  # open to all: a token is ~60 bytes
        ("POST", "/api/logout"): BodyRule(1 * KIB),  # reads no body
    }


def routers(api: Api) -> list[APIRouter]:
    explorer = api.explorer
    guarded = APIRouter(dependencies=[Depends(api.auth.need("viewer")), Depends(lambda: explorer.sync())])
    for module in (trailers, scenes, reviews, health, ingest, users):
        guarded.include_router(module.router(api))
    return [guarded, session.router(api)]
