"""Every request is bounded before the app reads it: ``RequestLimits`` checks who may send a body to a route
(before a byte of it is read) and how large it may be (413 by Content-Length, or as soon as a chunked body
grows past it); ``SecurityHeaders`` on every answer, a 500 included."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmx.errors import MmxError
from mmx_serve.refusals import status_of


@dataclass(frozen=True)
class BodyRule:
    """What one route accepts as a request body."""

    limit: int  # bytes: a larger body is refused with 413 before it is parsed
    role: str | None = None  # with accounts on, who may send it, checked from the headers before the body is read
    counts: str | None = None  # the per-user rate limit an attempt counts towards, before the body is read


class RequestLimits:
    """Applies ``rules[(method, path)]`` (else ``default``, for routes that read no body) to every request:
    ``check(request, rule)`` raises an ``MmxError`` to refuse a sender before its body is read; then a body over
    the limit is answered 413 — by its Content-Length, or, for a chunked body, once it outgrows the limit (what
    the app answered by then is dropped: it saw only part of the body)."""

    def __init__(self, app: ASGIApp, rules: dict[tuple[str, str], BodyRule], default: BodyRule,
                 check: Callable[[Request, BodyRule], object]):
        self.app, self.rules, self.default, self.check = app, rules, default, check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.rules.get((scope["method"], scope["path"]), self.default)
        refusal = self._refusal(scope, rule)
        if refusal is not None:
            await _send_json(send, *refusal)
            return
        too_large, started = False, False

        async def limited() -> Message:
            nonlocal too_large, received
            message = await receive()
            received += len(message.get("body", b""))
            if received > rule.limit:
                too_large = True
                return {"type": "http.disconnect"}  # the app stops reading; its answer is replaced below
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        received = 0
        try:
            await self.app(scope, limited, tracking)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _send_json(send, 413, _too_large(rule.limit))

    def _refusal(self, scope: Scope, rule: BodyRule) -> tuple[int, str, dict[str, str] | None] | None:
        """(status, message, headers) when the sender or the announced size is refused; None to go on."""
        if rule.role is not None:
            try:
                self.check(Request(scope), rule)
            except MmxError as e:
                status = status_of(e)
                if status is None:
                    raise
                return status, str(e), getattr(e, "headers", None)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and not length.isdigit():
            return 400, "Content-Length is not a number", None
        if length is not None and int(length) > rule.limit:
            return 413, _too_large(rule.limit), None
        return None


def _too_large(limit: int) -> str:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB" if limit >= 2**10 else f"{limit} bytes"
    return f"the request body is larger than this route accepts ({size}); nothing was stored"


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
    """Adds ``SECURITY_HEADERS`` and a Content-Security-Policy (the page's, or the API's under ``/api/`` but for
    the API docs page ``docs``, which is a page) to every answer — also to a 500, which it answers itself
    (Starlette's own comes from outside every middleware, without them)."""

    def __init__(self, app: ASGIApp, docs: str):
        self.app, self.docs = app, docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = (API_CSP if path.startswith("/api/") and path != self.docs else PAGE_CSP).encode()
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS, (b"content-security-policy", csp)]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if not started:
                await _send_json(with_headers, 500, "the server failed on this request; its log has the details")
            raise
