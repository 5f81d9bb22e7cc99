"""What the server refuses, and the one mapping from error classes to HTTP statuses (``STATUS``).

Routes raise ``MmxError`` subclasses — the library's (an unknown trailer, a review that does not
apply) or the server's own below — and never choose a status: ``install_handlers`` answers each
with ``STATUS`` of the nearest class in its MRO, as ``{"detail": message}`` (``ErrorBody``), or as
FastAPI's validation-error body for a ``BadField`` (422). ``WHY`` says, in the OpenAPI document,
when each status is answered; ``error_responses`` declares a route's statuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from mmx.errors import InputError, MmxError, UnknownTrailerError
from mmx.review import ReviewConflict
from mmx.users import UnknownUser, UsersError


class Forbidden(MmxError):
    """A path outside --media-root, or a server started without one."""


class MissingFile(MmxError):
    """A path under --media-root that names no file."""


class NoPicture(MmxError):
    """A trailer or scene without a keyframe, or a trailer without a video file."""


class NotAvailable(MmxError):
    """What this run cannot do; the message says what is needed."""


class AlreadyPresent(MmxError):
    """A trailer id the collection already has."""


class NotAVideo(MmxError):
    """An upload FFmpeg cannot read as a video, or a text field where a file was expected."""


class Unauthenticated(MmxError):
    """No credential, or one the server does not accept (unknown, expired, a session that ended)."""

    headers = {"www-authenticate": 'Bearer realm="mmx"'}


class NotAllowed(MmxError):
    """A user whose role may not do this, or a cookie-session write without its CSRF token."""


class TooMany(MmxError):
    """Too many logins from one address, or ingests by one user, in the rate limit's window."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.headers = {"retry-after": str(retry_after)}


class BadField(MmxError):
    """A form field that fails a check made in the handler; ``field`` names it (answered as a validation error)."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


STATUS: dict[type[MmxError], int] = {
    UnknownTrailerError: 404,
    NoPicture: 404,
    MissingFile: 404,
    ReviewConflict: 409,
    UnknownUser: 404,
    UsersError: 409,  # a user name already taken, a users file that cannot be read
    InputError: 404,  # a query the trailer cannot answer: a second outside it, a clip it does not have
    NotAvailable: 409,
    AlreadyPresent: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    NotAllowed: 403,
    TooMany: 429,
    NotAVideo: 415,
    BadField: 422,
}


class ErrorBody(BaseModel):
    """Every error answer but 422: one sentence saying what is wrong and what to do."""

    detail: str


WHY = {
    400: "the request body cannot be read (malformed JSON or multipart, a bad Content-Length)",
    401: "no credential, or one the server does not accept (unknown or expired token, ended session): send "
         "`Authorization: Bearer TOKEN` (from `mmx users add`) or log in with POST /api/login",
    403: "a role that may not do this, a cookie-session write without its X-CSRF-Token header, or a path "
         "outside --media-root (or a server started without one)",
    404: "an unknown trailer (the message suggests close ids) or user, or a scene, picture or file it does not have",
    409: "the run cannot do this (imported embeddings have no network, store or scenes), or the request "
         "conflicts with what is there (a trailer id or user name already present, a review that does not apply)",
    413: "a request body larger than the route accepts (an upload over --max-upload-mb; a few KiB elsewhere)",
    415: "an upload that is not a video",
    416: "a byte range outside the file",
    429: "too many login attempts from one address, or ingests by one user; Retry-After says when to try again",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route answers."""
    return {code: {"model": ErrorBody, "description": WHY[code]} for code in codes}


def status_of(error: MmxError) -> int | None:
    """The HTTP status of ``error``: that of the nearest class in ``STATUS``; None for one the server does not expect."""
    return next((STATUS[c] for c in type(error).__mro__ if c in STATUS), None)


async def refused(request: Request, e: MmxError) -> Response:
    status = status_of(e)
    if status is None:
        raise e  # not a refusal the server knows: a bug, answered 500 with its traceback in the log
    if isinstance(e, BadField):
        error = {"type": "value_error", "loc": ("body", e.field), "msg": str(e), "input": None}
        return await request_validation_exception_handler(request, RequestValidationError([error]))
    return JSONResponse({"detail": str(e)}, status, headers=getattr(e, "headers", None))


async def http_error(request: Request, e: StarletteHTTPException) -> Response:
    """As FastAPI answers, but a 405's Allow header lists every method of the path (GET and POST routes
    of one path are two routes to Starlette, which would name only the first one's)."""
    response = await http_exception_handler(request, e)
    if e.status_code == 405:
        allowed = sorted({m for r in request.app.router.routes if isinstance(r, APIRoute)
                          and r.matches(request.scope)[0] != Match.NONE for m in r.methods})
        response.headers["allow"] = ", ".join(allowed)
    return response


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MmxError, refused)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
