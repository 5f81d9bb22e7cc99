"""The errors mmx raises for things a user can fix, under one root.

Every message names the file, row, trailer or setting concerned and says what to do. The command
line prints an ``MmxError`` as one line and exits with status 2; any other exception is a bug and
keeps its traceback. The subclasses are the few that callers catch::

    MmxError
    ├── ConfigError        a config file, override or flag names an unknown field or a bad value
    ├── InputError         a file the user gave cannot be used (import folder, label list, npz, query)
    ├── StoreError         a feature store is missing, not a store, inconsistent, or cannot be written
    ├── RunError           a run folder is missing, incomplete, or does not fit the request
    │   └── UnknownTrailerError   a trailer id that is not in the run (the message suggests close ids)
    ├── TrainError         training or fine-tuning cannot start on this data or run
    ├── ExtractError       a video cannot be extracted
    │   └── VideoError     FFmpeg cannot read the file as a video
    ├── WeightsError       an expert's weights cannot be used
    │   ├── WeightsMissing     the weight file is not where it is expected
    │   └── WeightsCorrupt     the file is there but does not hold what it should
    └── MissingExtra       the command needs an optional dependency group that is not installed
"""

from __future__ import annotations

from dataclasses import dataclass


class MmxError(Exception):
    """Bad input or state that the user can fix; the message says what to do."""


class ConfigError(MmxError, ValueError):
    """A config file, override or flag names an unknown field or gives a value it cannot take."""


class InputError(MmxError):
    """A file the user gave (import folder, label list, embeddings npz, query) cannot be used."""


class StoreError(MmxError):
    """The store folder is missing, not a store, inconsistent or cannot be written."""


class RunError(MmxError):
    """The run folder is missing, incomplete or does not fit the request."""


class UnknownTrailerError(RunError, KeyError):
    """A trailer id that is not in the run or its store; the message suggests close ids.

    Also a ``KeyError``: it is what a lookup by trailer id raises.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrainError(MmxError):
    """Training or fine-tuning cannot start on this data or run; the message says what to change."""


class ExtractError(MmxError):
    """A video cannot be extracted; the message names the file and the reason."""


class VideoError(ExtractError):
    """FFmpeg cannot open or decode the file as a video."""


class WeightsError(MmxError):
    """An expert's weight file cannot be used."""


class WeightsMissing(WeightsError):
    """A weight file is not where it is expected; the message names the path and how to get it."""


class WeightsCorrupt(WeightsError):
    """A weight file exists but does not hold what the expert needs (checksum, layout, shapes)."""


class MissingExtra(MmxError):
    """The command needs an optional dependency group (``pip install 'mmx[EXTRA]'``)."""

    def __init__(self, extra: str, module: str, command: str | None = None):
        what = f"`mmx {command}`" if command else "this feature"
        super().__init__(f"{what} needs the {extra!r} extra ({module} is not installed): pip install 'mmx[{extra}]'")
        self.extra, self.module = extra, module


@dataclass
class Problem:
    """One input a batch could not use (or used with a warning), reported at the end: where, and why."""

    where: str  # file or "labels.csv row N"
    reason: str
