"""``Api``: what every route module answers from, and the query types they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Query

from mmx_serve.auth import Auth
from mmx_serve.collection import Collection, ServeConfig, Space
from mmx_serve.explorer import Explorer
from mmx_serve.ingest import Ingestor

INGEST_PATH = "/api/ingest"
TrailerId = Annotated[str, Query(min_length=1, max_length=300, description="trailer id")]


@dataclass
class Api:
    """What the routes answer from: one served run, its ingestor, the server's settings, media root and accounts."""

    explorer: Explorer
    ingestor: Ingestor
    cfg: ServeConfig
    media: Path | None
    auth: Auth

    @property
    def collection(self) -> Collection:
        return self.explorer.collection

    @property
    def SpaceName(self) -> Any:
        """A query parameter naming one of this run's spaces (an enum in the document)."""
        spaces = tuple(self.collection.spaces)
        return Annotated[Literal[spaces] | None, Query(description="embedding space (the first by default)")]  # type: ignore[valid-type]

    def space(self, name: str | None) -> Space:
        return self.collection.space(name)  # the document's enum already refused any other name
