"""Durable files, the floor every writer stands on: a write a reader never sees half of, a journal a crash never tears,
a folder's renames made durable, a file's content hash. No other module of mmx is imported here.

* ``atomic_write`` — the one write of every file mmx makes: the bytes go to a temporary file beside the target,
  which is fsynced, renamed over the target, and the folder fsynced; the temporary file is removed when anything
  fails, so a reader sees the old file or the new one;
* ``journal_append`` — appends whole lines under an exclusive lock (the review and ingest journals);
* ``fsync_dir`` — makes a rename or a new file in a folder durable;
* ``sha256_file`` — a file's content hash, read in chunks.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: str | Path, data: bytes | str | Callable[[Path], None], mode: int = 0o644) -> Path:
    """Write ``path`` so that a reader sees the old file or the new one, never half.

    ``data`` is the bytes (or text, UTF-8) of the file, or a function that writes the file at the
    path it is given (for writers that want a path: safetensors, torch, faiss, csv). ``mode``: the
    file's permissions from its first byte on (0o600 for secrets such as the users file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; outputs are meant to be read by others too
        with os.fdopen(fd, "wb") as f:
            if not callable(data):
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
        if callable(data):
            data(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def journal_append(path: str | Path) -> Iterator[Callable[[bytes], None]]:
    """Append lines to a journal (``reviews.jsonl``, ``ingests.jsonl``) under its exclusive lock.

    Yields ``append(line)``, which writes one whole line and fsyncs it. A line torn by a crash is cut
    first, so what was acknowledged before stays and the file never holds half a line; what the
    caller reads inside the block is every line appended before it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            with os.fdopen(os.dup(fd), "rb") as f:
                past = f.read()
            os.ftruncate(fd, past.rfind(b"\n") + 1)  # cut a line torn by a crash

        def append(line: bytes) -> None:
            if os.write(fd, line) != len(line):
                raise OSError(f"short write to {path}")
            os.fsync(fd)

        yield append
    finally:
        os.close(fd)  # closing releases the lock


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (hex), read ``chunk`` bytes at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
