"""Helpers shared by the subcommands: config options, JSON output and plain-text tables."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from mmx.config import RunConfig, load_config, merge
from mmx.model.mmx import MODELS


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, choices=MODELS.names(), help="model preset (default: paper)")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON config file (see configs/)")
    p.add_argument(
        "--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
        help="override one config field, e.g. --set train.lr=1e-4 (repeatable)",
    )


def resolve_config(args: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """Preset → config file → --set overrides, in that order, on top of ``base`` or the defaults."""
    cfg = base or RunConfig()
    if getattr(args, "model", None):
        cfg = merge(cfg, {"model": vars(MODELS.create(args.model))})
    return load_config(getattr(args, "config", None), getattr(args, "set", []), base=cfg)


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
