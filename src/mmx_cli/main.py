"""``mmx`` entry point. Every module in ``mmx_cli.commands`` with a ``register(subparsers)``
function adds one subcommand; errors the library raises for bad input are printed as one line
naming the file and what to do, with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import mmx_cli.commands as commands
from mmx import __version__
from mmx.errors import MmxError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmx",
        description="Multi-modal movie-trailer genre classification and fine-grained retrieval.",
    )
    parser.add_argument("--version", action="version", version=f"mmx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"mmx_cli.commands.{mod.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MmxError as e:
        print(f"mmx {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mmx {args.command}: interrupted; what was finished is kept (--resume continues)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
