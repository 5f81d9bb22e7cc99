"""Who is asking: bearer tokens, login sessions, roles, CSRF and rate limits of a team's explorer.

Accounts are on when the run's users file exists (``mmx.users``); then every API route but
``/api/session``, ``/api/login`` and ``/api/logout`` needs a credential:

* ``Authorization: Bearer mmx_…`` — a user's token (scripts, the benchmark). A browser never adds
  this header by itself, so such requests need no CSRF token.
* the ``mmx_session`` cookie — made by ``POST /api/login`` with a token (the page's login). It is
  ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` (other sites' pages do not send it),
  ``Secure`` with ``--secure-cookie`` (behind TLS), and expires after ``AuthConfig.session_hours``;
  every write made with it must repeat the session's CSRF token in ``X-CSRF-Token``, which only
  the page itself can read (from the login answer or ``GET /api/session``).

Sessions and rate-limit counts live in a small SQLite file beside the users file
(``mmx_serve.sessions``), so every server process of the run shares them (``--workers N``, several
servers behind a proxy) and a restart logs nobody out; a user removed, given a new token or whose
token expired loses its sessions at its next request.

**Fail closed.** Accounts are on when the users file exists at the start, or the server was told
they must be (``mmx serve --public``); once on, they stay on: a users file that goes missing or cannot
be read lets nobody in (401; the log says why, once) — the server never falls back to open. Without
accounts the server is the single-user tool it always was: no login, every route open, writes
recorded as made by nobody (``user: null``) — ``mmx serve`` only allows that on loopback without
``--public``; a users file made while it runs turns accounts on.

Credentials never go in URLs (no query parameter is read) and are never logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from mmx.users import ROLES, User, Users, UsersError
from mmx_serve.middleware import BodyRule
from mmx_serve.refusals import NotAllowed, TooMany, Unauthenticated
from mmx_serve.sessions import Session, SessionStore, sessions_file

log = logging.getLogger(__name__)

COOKIE = "mmx_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

bearer_scheme = HTTPBearer(auto_error=False, description="a user's token from `mmx users add` / `mmx users token`")
cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False,
                             description="a login session (POST /api/login); writes also need X-CSRF-Token")


@dataclass
class AuthConfig:
    session_hours: float = 12  # a login session ends this long after the login
    secure_cookie: bool = False  # mark the session cookie Secure (the page is served over TLS, e.g. by a proxy)
    logins_per_minute: int = 10  # failed logins one client address may make per minute (then 429)
    ingests_per_hour: int = 60  # videos one user may add per hour


@dataclass(frozen=True)
class Who:
    """The user of a request; ``name`` None on a server without accounts (the single local user)."""

    name: str | None
    role: str

    @property
    def json(self) -> dict:
        return {"name": self.name, "role": self.role}


LOCAL = Who(None, ROLES[-1])  # a server without accounts: one user who may do everything


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` events per ``window`` seconds for each key (a sliding window), counted in the shared
    ``SessionStore`` so that every server process of the run counts together."""

    name: str  # the kind of event, as stored
    limit: int
    window: float
    what: str  # says what is limited, in the refusal

    def hit(self, store: SessionStore, key: str) -> None:
        """Count one event of ``key``; ``TooMany`` (and nothing counted) when the window is full."""
        wait = store.count_and_add(self.name, key, self.window, self.limit)
        if wait is not None:
            raise TooMany(f"too many {self.what} (at most {self.limit} in {self.window:g} s); try again in "
                          f"{int(wait) + 1} s", int(wait) + 1)


class Auth:
    """The server's accounts: checks credentials and roles, makes and ends login sessions."""

    def __init__(self, users: Users, cfg: AuthConfig = AuthConfig(), required: bool = False):
        self.users, self.cfg = users, cfg
        self._on = required or users.exists  # once on, never off (fail closed)
        self.store = SessionStore(sessions_file(users.path))
        self.logins = RateLimit("login-failure", cfg.logins_per_minute, 60, "failed logins from this address")
        self.limits = {"ingest": RateLimit("ingest", cfg.ingests_per_hour, 3600, "videos added by this user")}
        self._unreadable: str | None = None  # why the users file cannot be read, once logged

    @property
    def on(self) -> bool:
        self._on = self._on or self.users.exists  # a users file made while serving turns accounts on
        return self._on

    # ------------------------------------------------------------------ credentials
    def _all(self) -> dict[str, User]:
        """The users; none while the file is missing or unreadable (nobody is let in, the log says why once)."""
        try:
            users = self.users.all()
            why = None if self.users.exists else f"{self.users.path} is missing"
        except UsersError as e:
            users, why = {}, str(e)
        if why is not None and why != self._unreadable:
            log.error("accounts are on but %s: nobody is let in until it is restored (`mmx users add` makes a new "
                      "one)", why)
        self._unreadable = why
        return users

    def _user(self, token: str) -> User | None:
        return self.users.check(token) if self._all() else None  # none while the file is missing or unreadable

    def from_token(self, token: str) -> User:
        user = self._user(token)
        if user is None:
            raise Unauthenticated("this token is not one of this server's users' (mistyped, replaced or removed); "
                                  "ask an admin for a token (`mmx users add` / `mmx users token`)")
        if user.expired():
            raise Unauthenticated(f"the token of {user.name!r} expired on {user.expires}; ask an admin for a new one "
                                  f"(`mmx users token {user.name}`)")
        return user

    def session_user(self, session_id: str | None) -> tuple[Session, User] | None:
        """The live session of ``session_id`` and its user, or None (no such session, ended, or its user was
        removed, given a new token or expired)."""
        session = self.store.get(session_id) if session_id else None
        user = self._all().get(session.user) if session is not None else None
        if session is None or user is None or user.key != session.key or user.expired():
            return None
        return session, user

    def from_session(self, session_id: str, request: Request) -> User:
        found = self.session_user(session_id)
        if found is None:
            raise Unauthenticated("your session has ended (expired, logged out, or its user was removed or given a "
                                  "new token); log in again")
        session, user = found
        if request.method not in SAFE_METHODS and not secrets.compare_digest(
                request.headers.get(CSRF_HEADER, ""), session.csrf):
            raise NotAllowed(f"a write with a session cookie must send the session's CSRF token in {CSRF_HEADER} "
                             "(the login answer and GET /api/session give it)")
        return user

    def who(self, request: Request, bearer: HTTPAuthorizationCredentials | None, session_id: str | None) -> Who:
        if not self.on:
            return LOCAL
        if bearer is not None:
            user = self.from_token(bearer.credentials)
        elif session_id:
            user = self.from_session(session_id, request)
        else:
            raise Unauthenticated("this server has accounts: send `Authorization: Bearer TOKEN` (a token from "
                                  "`mmx users add`) or log in on the page")
        return Who(user.name, user.role)

    def need(self, role: str) -> Callable[..., Who]:
        """A FastAPI dependency: the request's user, who must have ``role`` (or one above it)."""

        def dependency(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
                       session_id: str | None = Depends(cookie_scheme)) -> Who:
            return self.allowed(self.who(request, bearer, session_id), role)

        return dependency

    @staticmethod
    def allowed(who: Who, role: str) -> Who:
        if ROLES.index(who.role) < ROLES.index(role):
            raise NotAllowed(f"{who.name} is a {who.role}; this needs the {role} role (roles: "
                             f"{', '.join(ROLES)}; an admin changes it with `mmx users role`)")
        return who

    def before_body(self, request: Request, rule: BodyRule) -> None:
        """Refuses a request whose user may not send this body (``rule.role``) or is over the rate limit it counts
        towards (``rule.counts``): checked from the headers alone, before the body is read
        (``mmx_serve.middleware.RequestLimits``), so nobody sends hundreds of MB, or any body, unchecked."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials) \
            if scheme.lower() == "bearer" and credentials else None
        who = self.allowed(self.who(request, bearer, request.cookies.get(COOKIE)), rule.role or ROLES[0])
        if rule.counts is not None and who.name is not None:
            self.limits[rule.counts].hit(self.store, who.name)  # every attempt counts

    # ------------------------------------------------------------------ sessions
    def login(self, token: str, client: str) -> tuple[str, Session, User]:
        """A new session for the token's user; returns the session id (the cookie), the session and the user. Only failed
        attempts count towards the address's limit: a valid token logs in even while others behind the same
        address (a proxy) are refused for guessing."""
        try:
            user = self.from_token(token)
        except Unauthenticated:
            self.logins.hit(self.store, client)
            raise
        session_id = secrets.token_urlsafe(32)
        session = Session(user.name, user.key, time.time() + self.cfg.session_hours * 3600, secrets.token_urlsafe(24))
        self.store.add(session_id, session)
        return session_id, session, user

    def logout(self, session_id: str | None) -> None:
        if session_id and self.on:
            self.store.remove(session_id)


def make_auth(run_root: Path, users_file: str | Path | None, cfg: AuthConfig, required: bool = False) -> Auth:
    return Auth(Users.of_run(run_root, users_file), cfg, required)
