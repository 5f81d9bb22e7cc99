"""``BodyLimit``: request bodies over the server's upload limit are refused before a handler reads them;
``CheckFirst``: who may send them is checked before that; ``SecurityHeaders`` on every answer."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmx.errors import MmxError
from mmx_serve.errors import status_of


class CheckFirst:
    """Runs ``check`` (raising an ``MmxError`` to refuse) on POSTs to ``path`` before their body is read."""

    def __init__(self, app: ASGIApp, path: str, check: Callable[[Request], None]):
        self.app, self.path, self.check = app, path, check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and scope["method"] == "POST":
            try:
                self.check(Request(scope))
            except MmxError as e:
                status = status_of(e)
                if status is None:
                    raise
                await _send_json(send, status, str(e), getattr(e, "headers", None))
                return
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes on ``path`` (by Content-Length, else while reading)."""

    def __init__(self, app: ASGIApp, path: str, limit: int):
        self.app, self.path, self.limit = app, path, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit():
            await _send_json(send, 400, "Content-Length is not a number")
            return
        if int(length) > self.limit:
            await _send_json(send, 413, self._message())
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, self._message())

    def _message(self) -> str:
        return f"upload is larger than the server's limit of {self.limit // 2**20} MiB; nothing was stored"


async def _send_json(send: Send, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *((k.encode(), v.encode()) for k, v in (extra or {}).items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# the page loads its script, style, pictures and videos from this server only; inline style attributes are
# used for bars and swatches; no page of another site may frame it (clickjacking)
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"  # JSON and pictures: nothing to run, nothing to frame
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every answer, and a Content-Security-Policy to all but the API docs
    page (``docs``, which loads Swagger UI from its CDN)."""

    def __init__(self, app: ASGIApp, docs: str):
        self.app, self.docs = app, docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = None if path == self.docs else (API_CSP if path.startswith("/api/") else PAGE_CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS,
                                      *([(b"content-security-policy", csp)] if csp else [])]
            await send(message)

        await self.app(scope, receive, with_headers)
