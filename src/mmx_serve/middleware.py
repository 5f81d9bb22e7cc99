"""``BodyLimit``: request bodies over the server's upload limit are refused before a handler reads them."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
