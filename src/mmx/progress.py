"""Progress that suits where it goes: bars on a terminal, plain lines in a log file, nothing when quiet.

A ``Reporter`` is what long-running library functions (training, extraction, indexing) take
instead of a ``progress`` flag and a ``log`` callable:

* ``"bars"`` — tqdm bars, and ``line`` messages written above them (``tqdm.write``);
* ``"lines"`` — no bars at all; every ``line`` (one per epoch, one per video, with its figures)
  is printed as it is, so a redirected log holds just the lines that matter;
* ``"quiet"`` — nothing.

``Reporter.auto(quiet)`` picks bars when stderr is a terminal and lines otherwise. Bars and
messages go to stderr, so that what a command prints on stdout (a table, JSON) stays clean.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

MODES = ("bars", "lines", "quiet")


@dataclass(frozen=True)
class Reporter:
    mode: str = "lines"  # "bars", "lines" or "quiet" (MODES)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    @classmethod
    def auto(cls, quiet: bool = False) -> "Reporter":
        """Bars when stderr is a terminal, plain lines otherwise; nothing when ``quiet``."""
        if quiet:
            return cls("quiet")
        return cls("bars" if sys.stderr.isatty() else "lines")

    @property
    def bars(self) -> bool:
        return self.mode == "bars"

    def bar(self, items: Iterable[T], desc: str = "", total: int | None = None, unit: str = "it",
            initial: int = 0, leave: bool = False) -> Iterator[T]:
        """``items`` with a bar in ``"bars"`` mode; the items unchanged otherwise."""
        if not self.bars:
            yield from items
            return
        from tqdm.auto import tqdm  # only where a bar is drawn

        yield from tqdm(items, desc=desc, total=total, unit=unit, initial=initial, leave=leave, dynamic_ncols=True)

    def line(self, text: str) -> None:
        """One message line (above the bars when there are bars)."""
        if self.mode == "quiet":
            return
        if self.bars:
            from tqdm.auto import tqdm

            tqdm.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def silent(self) -> "Reporter":
        """A reporter that says nothing (for processes other than the main one, for nested work)."""
        return Reporter("quiet")


QUIET = Reporter("quiet")
