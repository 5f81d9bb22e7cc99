"""Scenes and pictures: nearest scenes to one scene of a trailer, keyframes, the map's atlas, the trailer's video
file and its genre track."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from mmx_serve.refusals import error_responses
from mmx_serve.routes.api import Api, TrailerId


def router(api: Api) -> APIRouter:
    r = APIRouter()
    explorer = api.explorer

    @r.get("/api/scenes", responses=error_responses(404, 409))
    def scenes(
        id: TrailerId,
        t: Annotated[float | None, Query(ge=0, le=1e6, allow_inf_nan=False, description="a second of the trailer")] = None,
        clip: Annotated[int | None, Query(ge=0, le=100_000, description="a clip number (wins over t; "
                                                                          "neither: the first clip)")] = None,
        k: Annotated[int, Query(ge=1, le=api.cfg.max_k)] = 10,
        other_trailers: Annotated[bool, Query(description="leave the query's own trailer out")] = False,
    ) -> dict:
        if clip is None and t is None:
            clip = 0
        query, hits = explorer.scene_search(id, None if clip is not None else t, clip, k, other_trailers)
        return {"query": explorer.scene_json(query), "k": k, "other_trailers": other_trailers,
                "results": [explorer.scene_json(h) for h in hits]}

    @r.get("/api/keyframe", response_class=Response, responses={
        200: {"content": {"image/jpeg": {}}, "description": "the keyframe, a small JPEG"}, **error_responses(404, 409)})
    def keyframe(id: TrailerId, clip: Annotated[int | None, Query(ge=0, le=100_000)] = None) -> Response:
        data = explorer.keyframe(id, clip)
        return Response(data, media_type="image/jpeg", headers={"cache-control": "max-age=3600"})

    @r.get("/api/atlas", response_class=Response, responses={
        200: {"content": {"image/jpeg": {}}, "description": "one sheet of the map's pictures: a level's tiles in "
              "slot order, row by row (tile size, columns and each trailer's slot: /api/map's atlas and tiles)"},
        **error_responses(404, 409)})
    def atlas(
        level: Annotated[int, Query(ge=0, le=16, description="0: the smallest tiles")] = 0,
        sheet: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        v: Annotated[str | None, Query(max_length=40, description="the sheet's version (/api/map): when it is the "
                                       "current one, the answer may be cached for good")] = None,
    ) -> Response:
        data, version = explorer.atlas_sheet(level, sheet)
        cache = "max-age=31536000, immutable" if v == version else "no-cache"
        return Response(data, media_type="image/jpeg", headers={"cache-control": cache, "etag": f'"{version}"'})

    @r.get("/api/timeline.vtt", response_class=Response, responses={
        200: {"content": {"text/vtt": {}}, "description": "the trailer's genre timeline as a WebVTT track: one cue "
              "per scene naming its top genres and their probabilities"}, **error_responses(404, 409)})
    def timeline_vtt(id: TrailerId) -> Response:
        return Response(explorer.vtt(id), media_type="text/vtt; charset=utf-8")

    @r.get("/api/video", response_class=FileResponse, responses={
        200: {"content": {"video/*": {}}, "description": "the trailer's video file"},
        206: {"content": {"video/*": {}}, "description": "the requested byte range"},
        **error_responses(403, 404, 409, 416)})
    def video(id: TrailerId) -> FileResponse:
        path = explorer.video_path(id)
        return FileResponse(path, media_type=explorer.video_type(path))

    return r
