"""Login sessions and rate-limit counts that every server process of a run shares: one small SQLite file.

Several processes serve one run (``mmx serve --workers N``, or several servers behind one proxy), so a
login made on one must be known to the others, a logout must end it everywhere, and a rate limit must
count the attempts made on all of them. A signed cookie would need no file, but could not be ended
before it expires (a logout, a stolen cookie); the rate limits need shared counts anyway. So both live
in SQLite beside the users file (``users.json`` → ``users.sessions.db``, mode 0600), in WAL mode, which
lets readers go on while one process writes; each write is one short transaction.

The file holds no usable secret: a session is kept under ``sha256(session id)`` (the cookie carries the
id), with its user, the token key it was made with (a new token ends it), when it expires and its CSRF
token (which the page already holds, and which is worthless without the cookie).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, user TEXT NOT NULL, key TEXT NOT NULL,
                                     expires REAL NOT NULL, csrf TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (what TEXT NOT NULL, who TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_key ON events (what, who, at);
"""


@dataclass
class Session:
    user: str
    key: str  # the token key it was made with: a new token ends it
    expires: float  # time.time()
    csrf: str


def sessions_file(users_file: Path) -> Path:
    """Where the sessions of the servers using ``users_file`` live: beside it."""
    return users_file.with_name(f"{users_file.stem}.sessions.db")


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """The shared sessions and rate-limit events of the servers of one users file."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()  # one connection per thread (sqlite3 connections are not shared)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            fresh = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # autocommit; BEGIN IMMEDIATE below
            if fresh:
                os.chmod(self.path, 0o600)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash may lose the last logins, never corrupt
            db.executescript(SCHEMA)
            self._local.db = db
        return db

    # ------------------------------------------------------------------ sessions
    def add(self, session_id: str, session: Session) -> None:
        db = self._db()
        with _transaction(db):
            db.execute("DELETE FROM sessions WHERE expires <= ?", (time.time(),))  # forget ended ones
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (_id_hash(session_id), session.user, session.key, session.expires, session.csrf))

    def get(self, session_id: str) -> Session | None:
        """The session of ``session_id`` while it lasts, else None."""
        row = self._db().execute("SELECT user, key, expires, csrf FROM sessions WHERE id_hash = ?",
                                 (_id_hash(session_id),)).fetchone()
        session = None if row is None else Session(*row)
        return session if session is not None and session.expires > time.time() else None

    def remove(self, session_id: str) -> None:
        db = self._db()
        with _transaction(db):
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (_id_hash(session_id),))

    # ------------------------------------------------------------------ rate limits
    def count_and_add(self, what: str, who: str, window: float, limit: int) -> float | None:
        """Record one event of ``what`` by ``who`` unless ``limit`` were recorded in the last ``window`` seconds;
        then (nothing recorded) the seconds until the oldest of them leaves the window."""
        db, now = self._db(), time.time()
        with _transaction(db):
            db.execute("DELETE FROM events WHERE what = ? AND at <= ?", (what, now - window))
            n, oldest = db.execute("SELECT COUNT(*), MIN(at) FROM events WHERE what = ? AND who = ?",
                                   (what, who)).fetchone()
            if n >= limit:
                return oldest + window - now
            db.execute("INSERT INTO events VALUES (?, ?, ?)", (what, who, now))
        return None


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an error): the write lock is taken at the start, so two
    processes' read-then-write (a rate limit's count) cannot interleave."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
