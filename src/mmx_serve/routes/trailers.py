"""Trailers: health, the map, the filtered list, one trailer's details, nearest trailers."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mmx_serve.refusals import error_responses
from mmx_serve.routes.api import Api, TrailerId


def router(api: Api) -> APIRouter:
    r = APIRouter()
    explorer, collection, SpaceName = api.explorer, api.collection, api.SpaceName

    @r.get("/api/health")
    def health() -> dict:
        return explorer.health()

    @r.get("/api/map", response_class=Response, responses={
        200: {"content": {"application/json": {}}, "description": "ids, x, y, titles, years, genre indices and each "
              "trailer's atlas slot (tiles), in one order; the room each trailer has, the picture width, the "
              "regions named by their genres and the atlas's levels (/api/atlas)"}})
    def map_(space: SpaceName = None) -> Response:
        return Response(explorer.map(api.space(space)), media_type="application/json")

    @r.get("/api/trailers", responses=error_responses())
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

    @r.get("/api/trailers/{trailer_id:path}", responses=error_responses(404))
    def trailer(trailer_id: str) -> dict:
        return explorer.detail(trailer_id)

    @r.get("/api/search", responses=error_responses(404))
    def search(id: TrailerId, k: Annotated[int, Query(ge=1, le=api.cfg.max_k)] = 10, space: SpaceName = None) -> dict:
        target = api.space(space)
        hits = collection.neighbours(id, k, target.name)
        return {"id": id, "k": k, "space": target.name, "results": [h.as_dict() for h in hits]}

    return r
