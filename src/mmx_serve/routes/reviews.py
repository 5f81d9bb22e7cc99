"""Label review: a trailer's reviewed labels, and a decision on one of its genres."""

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, create_model

from mmx.review import DECISIONS
from mmx_serve.auth import Who
from mmx_serve.refusals import error_responses
from mmx_serve.routes.api import Api, TrailerId


def decide_model(vocabulary: list[str]) -> type[BaseModel]:
    """The body of POST /api/reviews: its ``genre`` is one of the run's genres (an enum in the document)."""
    return create_model(
        "Decide",
        trailer_id=(str, Field(min_length=1, max_length=300, description="trailer id")),
        genre=(Literal[tuple(vocabulary)], Field(description="a genre of the run's vocabulary")),  # type: ignore[valid-type]
        decision=(Literal[DECISIONS], Field(description="accept / reject a suggestion, add / remove a genre")),  # type: ignore[valid-type]
    )


def router(api: Api) -> APIRouter:
    r = APIRouter()
    explorer, reviewer = api.explorer, api.auth.need("reviewer")
    Decide = decide_model(api.collection.vocabulary)

    @r.get("/api/reviews", responses=error_responses(404))
    def reviews(id: TrailerId) -> dict:
        return explorer.review(id)

    @r.post("/api/reviews", responses=error_responses(400, 404, 409))
    def decide(body: Decide, who: Who = Depends(reviewer)) -> dict:  # type: ignore[valid-type]
        return explorer.decide(body.trailer_id, body.genre, body.decision, who.name)

    return r
