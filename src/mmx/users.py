"""Accounts of a team's explorer: who may look, review, add trailers and manage users.

The users of a run are kept in ``RUN/users.json`` (``USERS_FILE``; ``mmx users --users FILE`` and
``mmx serve --users FILE`` name another place)::

    {"version": 1, "users": [{"name": "ana", "role": "reviewer", "key": "3f9a0c1d",
      "salt": "…", "hash": "…", "created": "2026-12-03T17:00:00+00:00", "expires": "2027-03-03T17:00:00+00:00"}]}

Roles (``ROLES``, each allowed what the ones before it are): ``viewer`` reads, ``reviewer`` also
decides on labels, ``curator`` also adds trailers, ``admin`` also manages users.

A user's **token** (``mmx_<key>_<secret>``) is shown once, when made, and never stored: the file
keeps the public ``key`` that finds the user and ``sha256(salt ‖ secret)``, compared in constant time
(``hmac.compare_digest``). The secret is 256 random bits (``secrets``), so a slow password hash
(argon2, bcrypt) would add nothing against guessing and cost ~50 ms of CPU on every request
(the server checks a token on each one). Tokens expire (``expires``; ``mmx users token NAME``
makes a new one and so revokes the old one and every session made with it).

The file is written whole (``mmx.durable.atomic_write``: a temporary file, then a rename) with mode
0600, and changed under an exclusive lock, so two ``mmx users`` commands do not lose each other's
change; a server re-reads it when it changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mmx.artifacts import USERS
from mmx.durable import atomic_write
from mmx.errors import InputError

USERS_FILE = USERS  # a run-folder file (mmx.artifacts); `mmx users --users FILE` puts it elsewhere
ROLES = ("viewer", "reviewer", "curator", "admin")  # each may do what the ones before it may
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
TOKEN = re.compile(r"mmx_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


class UsersError(InputError):
    """A users file that cannot be read, or a change it cannot take (an unknown user, a name taken)."""


class UnknownUser(UsersError):
    """A user name the file does not have."""


@dataclass(frozen=True)
class User:
    name: str
    role: str  # one of ROLES
    key: str  # public: finds the user from a token
    salt: str  # hex
    hash: str  # hex sha256(salt ‖ secret)
    created: str  # ISO 8601, UTC
    expires: str | None  # ISO 8601, UTC; None: never

    def may(self, role: str) -> bool:
        """Whether this user has ``role`` or one above it."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and datetime.fromisoformat(self.expires) <= (now or _now())

    def public(self) -> dict:
        """What may be shown of the user (no salt, no hash)."""
        return {"name": self.name, "role": self.role, "created": self.created, "expires": self.expires}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _new_credentials(name: str, role: str, days: float | None, taken: set[str]) -> tuple[User, str]:
    """A user record with a fresh token, and the token (shown once)."""
    key = secrets.token_hex(4)
    while key in taken:
        key = secrets.token_hex(4)
    secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
    now = _now()
    expires = None if days is None else (now + timedelta(days=days)).isoformat(timespec="seconds")
    user = User(name, role, key, salt, _digest(salt, secret), now.isoformat(timespec="seconds"), expires)
    return user, f"mmx_{key}_{secret}"


class Users:
    """The users file of a run (or the one given): read, checked, changed under a lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime ns, size) of the file last read
        self._users: dict[str, User] = {}

    @classmethod
    def of_run(cls, run_root: str | Path, path: str | Path | None = None) -> Users:
        return cls(path if path is not None else Path(run_root) / USERS_FILE)

    # ------------------------------------------------------------------ reading
    @property
    def exists(self) -> bool:
        """Whether accounts are on: the file exists (even with no user left, so nobody is let in)."""
        return self.path.exists()

    def all(self) -> dict[str, User]:
        """name → user, re-read when the file changed since the last call."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._seen, self._users = None, {}
            return {}
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)  # every change is a new file (atomic_write renames): a new inode
        if self._seen != seen:
            self._users = self._read()
            self._seen = seen
        return self._users

    def _read(self) -> dict[str, User]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {u["name"]: User(**u) for u in data["users"]}
        except (ValueError, KeyError, TypeError) as e:
            raise UsersError(f"{self.path} is not a users file ({e}); restore it or remove it and add the "
                             "users again with `mmx users add`") from None

    def check(self, token: str) -> User | None:
        """The user whose token this is (expired or not), or None; constant time in the secret."""
        m = TOKEN.fullmatch(token)
        if m is None:
            return None
        key, secret = m.groups()
        user = next((u for u in self.all().values() if u.key == key), None)
        if user is None:
            return None
        return user if hmac.compare_digest(_digest(user.salt, secret), user.hash) else None

    # ------------------------------------------------------------------ changing
    @contextmanager
    def _changing(self) -> Iterator[dict[str, User]]:
        """The users, to change in place; written back whole (atomically, 0600) under an exclusive lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            users = dict(self._read()) if self.path.exists() else {}
            yield users
            atomic_write(self.path, json.dumps({"version": 1, "users": [asdict(u) for u in users.values()]}, indent=1),
                         mode=0o600)
        self._seen = None

    def add(self, name: str, role: str, days: float | None = 90) -> tuple[User, str]:
        """A new user; returns it and its token (shown once, never stored)."""
        if not NAME.fullmatch(name):
            raise UsersError(f"user name {name!r} must be letters, digits and '_.@-' (at most 64)")
        self._check_role(role)
        with self._changing() as users:
            if name in users:
                raise UsersError(f"{self.path} already has a user {name!r}; `mmx users token {name}` gives a new "
                                 "token, `mmx users remove` removes it")
            user, token = _new_credentials(name, role, days, {u.key for u in users.values()})
            users[name] = user
        return user, token

    def rotate(self, name: str, days: float | None = 90) -> tuple[User, str]:
        """A new token for ``name`` (the old one and its sessions stop working)."""
        return self._replace(name, lambda u, keys: _new_credentials(u.name, u.role, days, keys))

    def set_role(self, name: str, role: str) -> User:
        self._check_role(role)
        user, _ = self._replace(name, lambda u, keys: (User(**{**asdict(u), "role": role}), ""))
        return user

    def remove(self, name: str) -> User:
        with self._changing() as users:
            return users.pop(self._known(name, users).name)

    def _replace(self, name: str, change: Callable[[User, set[str]], tuple[User, str]]) -> tuple[User, str]:
        with self._changing() as users:
            old = self._known(name, users)
            user, token = change(old, {u.key for u in users.values()})
            users[name] = user
        return user, token

    def _known(self, name: str, users: dict[str, User]) -> User:
        if name not in users:
            have = ", ".join(sorted(users)) or "none"
            raise UnknownUser(f"{self.path} has no user {name!r} (users: {have}); `mmx users list` shows them")
        return users[name]

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise UsersError(f"role {role!r} is not one of {', '.join(ROLES)}")
