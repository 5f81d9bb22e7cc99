"""The API document (``/api/openapi.json``) as this server answers now: with accounts or without.

FastAPI writes one document from the routes: every guarded operation names the bearer token and the
session cookie as its security. That is true only while accounts are on; a server without them
answers every request without a credential, and a document that still asked for one would be a lie
that clients and checkers (schemathesis' "accepts requests without authentication") catch. So the
document is made for the server's mode, each once:

* accounts on: every operation with a security requirement also declares 401 and 403;
* accounts off: no operation has a security requirement, and the schemes are gone, and so are 401 and 429
  (no credential is checked, and the rate limits count users' logins and ingests);
* either way, every operation that takes a body declares 400 (a body that cannot be parsed) and 413
  (``mmx_serve.middleware.RequestLimits``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from fastapi import FastAPI

from mmx_serve.refusals import WHY

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _declare(op: dict, *codes: int) -> None:
    for code in codes:
        op["responses"].setdefault(str(code), {"description": WHY[code], "content": ERROR_BODY})


def for_mode(doc: dict, accounts: bool) -> dict:
    """A copy of FastAPI's document ``doc`` for a server with (``accounts``) or without accounts."""
    doc = copy.deepcopy(doc)
    for methods in doc["paths"].values():
        for op in methods.values():
            if "requestBody" in op:
                _declare(op, 400, 413)
            if accounts and op.get("security"):
                _declare(op, 401, 403)
            elif not accounts:
                op.pop("security", None)
                for code in ("401", "429"):
                    op["responses"].pop(code, None)
    if not accounts:
        doc.get("components", {}).pop("securitySchemes", None)
    return doc


def install(app: FastAPI, accounts: Callable[[], bool]) -> None:
    """Serve the document for the mode ``accounts()`` says the server is in (it can turn on while serving)."""
    made: dict[bool, dict] = {}
    fastapi_document = app.openapi

    def document() -> dict:
        on = accounts()
        if on not in made:
            made[on] = for_mode(fastapi_document(), on)
        return made[on]

    app.openapi = document  # type: ignore[method-assign]
