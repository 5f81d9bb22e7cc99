"""The API's routes, one ``APIRouter`` module per subject, each made for one served run by ``router(api)``.

``trailers`` (health, map, list, detail, search), ``scenes`` (scene search, keyframes, video),
``reviews`` (label review), ``health`` (``mmx check``'s findings and badges), ``ingest`` (a new video),
``users`` (admins) — included in that order by ``routers``, each
behind the viewer role (``mmx_serve.auth``; writes ask for more) — and ``session`` (login), open to all.
Routes raise errors and never choose a status: ``mmx_serve.errors`` maps them.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from mmx_serve.errors import error_responses
from mmx_serve.routes import health, ingest, reviews, scenes, session, trailers, users
from mmx_serve.routes.api import Api


def routers(api: Api) -> list[APIRouter]:
    guarded = APIRouter(dependencies=[Depends(api.auth.need("viewer"))], responses=error_responses(401, 403))
    for module in (trailers, scenes, reviews, health, ingest, users):
        guarded.include_router(module.router(api))
    return [guarded, session.router(api)]
