"""Durable writes: a file written atomically is the old one or the new one, never a half-written one."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from mmx.durable import atomic_write


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write(target, b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temp left
