"""Helpers shared by the subcommands: config options, threads, progress, JSON output and plain-text tables.

Imported by every command module when the parser is built, so it imports nothing heavy: a
command's own libraries (torch, PyAV, FastAPI, …) are imported when the command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from mmx.config import RunConfig
from mmx.presets import DEFAULT_PRESET, MODELS, run_config
from mmx.progress import Reporter


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PRESET", default=None,
                   help=f"model preset: {', '.join(MODELS.names())} (default: {DEFAULT_PRESET}; mmx.presets.MODELS)")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON config file (see configs/)")
    p.add_argument(
        "--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
        help="override one config field, e.g. --set train.lr=1e-4 (repeatable)",
    )


def resolve_config(args: argparse.Namespace, flags: dict[str, Any] | None = None, base: RunConfig | None = None) -> RunConfig:
    """A command's RunConfig: the defaults (or ``base``) with the ``--model`` preset, then the ``--config``
    file, then the ``--set`` overrides, then ``flags`` (its own options), checked once on the result."""
    return run_config(getattr(args, "model", None), getattr(args, "config", None), getattr(args, "set", []), flags,
                      base)


def add_progress_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars and no progress lines")


def reporter(args: argparse.Namespace) -> Reporter:
    """Bars on a terminal, one plain line per epoch or video otherwise, nothing with --quiet."""
    return Reporter.auto(getattr(args, "quiet", False))


def set_threads(threads: int) -> None:
    """torch's CPU threads for this process (0: torch's default); decided here, by the application."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def table(header: list[str], rows: list[list[Any]]) -> str:
    """Plain aligned text table; first column left-aligned, the rest right-aligned."""
    cells = [header] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, r in enumerate(cells):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        lines.append(line.rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
