"""Login: a token becomes a session cookie for the page; who is logged in; logout. Open to all: the session
cookie is read from the request, not declared as a credential these routes need (they need none)."""

import math

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mmx_serve.auth import COOKIE
from mmx_serve.refusals import NotAvailable, error_responses
from mmx_serve.routes.api import Api

NO_STORE = {"cache-control": "no-store"}


class Login(BaseModel):
    token: str = Field(min_length=1, max_length=200, description="a user's token (`mmx users add`)")


def router(api: Api) -> APIRouter:
    r = APIRouter()
    auth = api.auth

    @r.get("/api/session")
    def session(request: Request) -> JSONResponse:
        """Whether this server has accounts, and who this browser is logged in as (with its CSRF token); nobody
        once the session's user was removed, given a new token or expired (as every other route says)."""
        found = auth.session_user(request.cookies.get(COOKIE)) if auth.on else None
        body = {"accounts": auth.on, "user": None if found is None else {"name": found[1].name, "role": found[1].role},
                "csrf": None if found is None else found[0].csrf}
        return JSONResponse(body, headers=NO_STORE)

    @r.post("/api/login", responses=error_responses(400, 401, 409, 429))
    def login(body: Login, request: Request) -> JSONResponse:
        """A session cookie (HttpOnly, SameSite=Strict) for the token's user; the answer carries the CSRF token."""
        if not auth.on:
            raise NotAvailable("this server has no accounts (no users file), so there is nothing to log in to")
        session_id, s, user = auth.login(body.token, request.client.host if request.client else "")
        answer = JSONResponse({"accounts": True, "user": {"name": user.name, "role": user.role},
                               "csrf": s.csrf}, headers=NO_STORE)
        answer.set_cookie(COOKIE, session_id, max_age=math.ceil(auth.cfg.session_hours * 3600), path="/", httponly=True,
                          samesite="strict", secure=auth.cfg.secure_cookie)
        return answer

    @r.post("/api/logout")
    def logout(request: Request) -> JSONResponse:
        """Ends this browser's session (if any) and clears its cookie."""
        auth.logout(request.cookies.get(COOKIE))
        answer = JSONResponse({"accounts": auth.on, "user": None, "csrf": None}, headers=NO_STORE)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=auth.cfg.secure_cookie)
        return answer

    return r
