"""The errors a user can fix: one root the command line prints as a line, the tree the module draws, messages
that are the text given (a trailer-id lookup is a ``KeyError`` without the quotes) and a missing extra's install
command."""

from __future__ import annotations

import inspect

import pytest

from mmx import errors
from mmx.errors import (
    ConfigError,
    ExtractError,
    InputError,
    MissingExtra,
    MmxError,
    RunError,
    UnknownTrailerError,
    VideoError,
    WeightsCorrupt,
    WeightsError,
    WeightsMissing,
)


def test_every_error_is_an_mmx_error_in_the_tree_the_module_draws():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if c.__module__ == errors.__name__ and issubclass(c, BaseException)]
    assert all(issubclass(c, MmxError) for c in classes)
    assert issubclass(ConfigError, ValueError)  # what a bad value is to Python too
    assert issubclass(UnknownTrailerError, RunError) and issubclass(UnknownTrailerError, KeyError)
    assert issubclass(VideoError, ExtractError)
    assert issubclass(WeightsMissing, WeightsError) and issubclass(WeightsCorrupt, WeightsError)
    undrawn = [c.__name__ for c in classes if c.__name__ not in errors.__doc__]
    assert not undrawn, f"the tree in mmx/errors.py's docstring leaves out {undrawn}"


def test_an_unknown_trailer_reads_as_its_message_and_is_caught_as_a_key_error():
    message = "'t0x' is not in the run; did you mean t01?"
    with pytest.raises(KeyError) as caught:
        raise UnknownTrailerError(message)
    assert str(caught.value) == message  # a plain KeyError would print it quoted
    assert str(UnknownTrailerError()) == ""
    assert str(InputError("labels.csv: no rows")) == "labels.csv: no rows"


def test_a_missing_extra_names_the_extra_the_module_and_the_install_command():
    e = MissingExtra("serve", "uvicorn", "serve")
    assert str(e) == "`mmx serve` needs the 'serve' extra (uvicorn is not installed): pip install 'mmx[serve]'"
    assert (e.extra, e.module) == ("serve", "uvicorn")
    assert str(MissingExtra("notebook", "pandas")).startswith("this feature needs the 'notebook' extra")
