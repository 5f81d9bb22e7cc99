"""Ingest: a new video (an upload, or a path under --media-root) joins the collection."""

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from mmx.ingests import IngestLog
from mmx_serve.auth import Who
from mmx_serve.ingest import resolve_media_path
from mmx_serve.refusals import BadField, NotAVideo, error_responses
from mmx_serve.routes.api import INGEST_PATH, Api


def router(api: Api) -> APIRouter:
    r = APIRouter()
    ingestor, curator = api.ingestor, api.auth.need("curator")
    log = IngestLog(api.collection.run.root)

    @r.post(INGEST_PATH, responses=error_responses(400, 403, 404, 409, 413, 415, 429))
    def ingest(
        who: Annotated[Who, Depends(curator)],
        file: Annotated[UploadFile | str | None, File(description="a video file")] = None,
        path: Annotated[str | None, Form(max_length=1000)] = None,
        trailer_id: Annotated[str | None, Form(max_length=128)] = None,
        title: Annotated[str, Form(max_length=300)] = "",
        year: Annotated[str, Form(pattern=r"^(1[89]\d\d|2[01]\d\d|2200)?$", description="a year, 1800–2200")] = "",
        genres: Annotated[str, Form(max_length=1000)] = "",
    ) -> dict:
        labels = [g.strip() for g in genres.split("|") if g.strip()]
        ingestor.refuse_unless_possible()
        if (file is None) == (path is None):
            raise BadField("send exactly one of `file` (a video upload) or `path` (under --media-root)")
        if isinstance(file, str):
            raise NotAVideo("`file` is a text field, not an uploaded file; send the video as a file")
        if path is not None:
            video = resolve_media_path(api.media, path)
            added = ingestor.ingest(video, video.name, trailer_id, title, int(year) if year else None, labels)
            return {**added, "added_by": asdict(log.record(added["trailer"]["trailer_id"], who.name, path))}
        name = Path(file.filename or "upload").name
        with tempfile.TemporaryDirectory(prefix="mmx-upload-") as tmp:
            saved = Path(tmp) / f"upload{Path(name).suffix.lower()}"
            with open(saved, "wb") as out:
                shutil.copyfileobj(file.file, out)
            added = ingestor.ingest(saved, name, trailer_id, title, int(year) if year else None, labels)
        return {**added, "added_by": asdict(log.record(added["trailer"]["trailer_id"], who.name, name))}

    return r
