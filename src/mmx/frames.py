"""Answers as pandas DataFrames: the one place mmx imports pandas (the ``notebook`` extra), only when a
``to_frame()`` is called, so that the library and its command line never need it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmx.errors import MissingExtra

if TYPE_CHECKING:
    from pandas import DataFrame  # what every to_frame() returns


def data_frame(rows: list[dict], columns: list[str], floats: list[str] = ()) -> DataFrame:
    """A DataFrame of ``rows`` with exactly ``columns`` in that order (an empty one keeps them); the ``floats``
    columns are float64, None read as NaN (a missing second, an unknown year)."""
    try:
        import pandas as pd
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] != "pandas":
            raise
        raise MissingExtra("notebook", "pandas") from None
    frame = pd.DataFrame(rows, columns=columns)
    for name in floats:
        frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    return frame
