"""Collection health: ``mmx check``'s findings on the served run and the badges the page shows
(``mmx_serve.findings``)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mmx.health.report import CHECKS
from mmx_serve.findings import KINDS
from mmx_serve.routes.api import Api

# enums in the document: the checks of `mmx check`, the kinds of badges
CheckName = Annotated[Literal[CHECKS] | None, Query(description="this check's findings")]  # type: ignore[valid-type]
KindName = Annotated[Literal[KINDS] | None, Query(description="one badge kind")]  # type: ignore[valid-type]

STATUS_NOTE = ("`status`: ready, computing (the check runs in the background; ask again), stale (the run changed "
               "since: older findings while the check runs again) or failed (`error` says why)")


def router(api: Api) -> APIRouter:
    r = APIRouter()
    findings = api.explorer.findings

    @r.get("/api/findings/badges", response_class=Response, responses={
        200: {"content": {"application/json": {}}, "description": "trailer → badges (kind, text, genre or other "
              "trailer, reviewed), trailers per kind, counts per check, collection-wide findings; " + STATUS_NOTE}})
    def badges() -> Response:
        return Response(findings.badges(), media_type="application/json")

    @r.get("/api/findings", description="One page of the health report's findings, most serious first; " + STATUS_NOTE)
    def report(
        check: CheckName = None,
        kind: KindName = None,
        trailer: Annotated[str | None, Query(min_length=1, max_length=300, description="findings naming it")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        return findings.findings(check, kind, trailer, limit, offset)

    return r
