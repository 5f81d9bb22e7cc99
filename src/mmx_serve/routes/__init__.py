"""The API's routes, one ``APIRouter`` module per subject, each made for one served run by ``router(api)``.

``trailers`` (health, map, list, detail, search), ``scenes`` (scene search, keyframes, video),
``reviews`` (label review), ``ingest`` (a new video) — included in that order by ``routers``.
Routes raise errors and never choose a status: ``mmx_serve.errors`` maps them.
"""

from __future__ import annotations

from fastapi import APIRouter

from mmx_serve.routes import ingest, reviews, scenes, trailers
from mmx_serve.routes.api import Api


def routers(api: Api) -> list[APIRouter]:
    return [module.router(api) for module in (trailers, scenes, reviews, ingest)]
