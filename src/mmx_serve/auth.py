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

Sessions live in the server's memory (a restart logs everyone out); a user removed, given a new
token or whose token expired loses its sessions at its next request. Without a users file the
server is the single-user tool it always was: no login, every route open, writes recorded as
made by nobody (``user: null``) — ``mmx serve`` only allows that on loopback.

Credentials never go in URLs (no query parameter is read) and are never logged.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from mmx.users import ROLES, User, Users
from mmx_serve.errors import NotAllowed, TooMany, Unauthenticated

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
    logins_per_minute: int = 10  # login attempts one client address may make per minute
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


@dataclass
class Session:
    user: str
    key: str  # the token key it was made with: a new token ends it
    expires: float  # time.time()
    csrf: str


@dataclass
class RateLimit:
    """At most ``limit`` events per ``window`` seconds for each key (a sliding window)."""

    limit: int
    window: float
    what: str  # says what is limited, in the refusal
    _events: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                wait = int(events[0] + self.window - now) + 1
                raise TooMany(f"too many {self.what} (at most {self.limit} in {self.window:g} s); try again in "
                              f"{wait} s", wait)
            events.append(now)


def _session_id_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()  # the memory holds no usable session id


class Auth:
    """The server's accounts: checks credentials and roles, makes and ends login sessions."""

    def __init__(self, users: Users, cfg: AuthConfig = AuthConfig()):
        self.users, self.cfg = users, cfg
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.logins = RateLimit(cfg.logins_per_minute, 60, "login attempts from this address")
        self.ingests = RateLimit(cfg.ingests_per_hour, 3600, "videos added by this user")

    @property
    def on(self) -> bool:
        return self.users.exists

    # ------------------------------------------------------------------ credentials
    def from_token(self, token: str) -> User:
        user = self.users.check(token)
        if user is None:
            raise Unauthenticated("this token is not one of this server's users' (mistyped, replaced or removed); "
                                  "ask an admin for a token (`mmx users add` / `mmx users token`)")
        if user.expired():
            raise Unauthenticated(f"the token of {user.name!r} expired on {user.expires}; ask an admin for a new one "
                                  f"(`mmx users token {user.name}`)")
        return user

    def from_session(self, session_id: str, request: Request) -> User:
        with self._lock:
            session = self._sessions.get(_session_id_key(session_id))
        if session is None or session.expires <= time.time():
            raise Unauthenticated("your session has ended (expired, logged out or the server restarted); log in again")
        user = self.users.all().get(session.user)
        if user is None or user.key != session.key or user.expired():
            raise Unauthenticated("your session's user was removed or given a new token, or its token expired; "
                                  "log in again")
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

    def check_before_body(self, role: str) -> Callable[[Request], None]:
        """For ``mmx_serve.middleware.CheckFirst``: refuses a request without ``role`` before its body is read
        (an upload of hundreds of MB is not received from someone who may not ingest)."""

        def check(request: Request) -> None:
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials) \
                if scheme.lower() == "bearer" and credentials else None
            self.allowed(self.who(request, bearer, request.cookies.get(COOKIE)), role)

        return check

    # ------------------------------------------------------------------ sessions
    def login(self, token: str, client: str) -> tuple[str, Session]:
        """A new session for the token's user; returns the session id (the cookie) and the session."""
        self.logins.hit(client)
        user = self.from_token(token)
        session_id = secrets.token_urlsafe(32)
        session = Session(user.name, user.key, time.time() + self.cfg.session_hours * 3600, secrets.token_urlsafe(24))
        with self._lock:
            now = time.time()
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}  # forget ended ones
            self._sessions[_session_id_key(session_id)] = session
        return session_id, session

    def session(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(_session_id_key(session_id))
        return session if session is not None and session.expires > time.time() else None

    def logout(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(_session_id_key(session_id), None)


def make_auth(run_root: Path, users_file: str | Path | None, cfg: AuthConfig) -> Auth:
    return Auth(Users.of_run(run_root, users_file), cfg)
