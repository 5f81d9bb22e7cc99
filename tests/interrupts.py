"""Simulated kills for resume tests."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest

from mmx.run import RunDir


@contextmanager
def killed_at_state_write(n: int) -> Iterator[None]:
    """The ``n``-th ``RunDir.write_state`` raises KeyboardInterrupt: the process dies after that
    epoch's checkpoint files are written and before its state pointer is. The block must die there."""
    real = RunDir.write_state
    calls = {"n": 0}

    def dying(self: RunDir, state: dict) -> None:
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        real(self, state)

    RunDir.write_state = dying
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        RunDir.write_state = real
