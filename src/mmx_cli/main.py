"""``mmx`` entry point. Every module in ``mmx_cli.commands`` with a ``register(subparsers)``
function adds one subcommand.

Command modules import only ``argparse`` and ``mmx_cli.common`` at their top; what a command
needs (torch, PyAV, FastAPI, …) is imported when it runs, so ``mmx --help`` and ``mmx CMD --help``
answer at once and a missing optional extra only matters to the commands that use it. Errors:
an ``MmxError`` (bad input the user can fix) is printed as one line naming the file and what to
do, exit status 2; a missing extra likewise names the extra to install; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import mmx_cli.commands as commands
from mmx import __version__
from mmx.errors import MissingExtra, MmxError

# top-level module → the extra of pyproject.toml that installs it
EXTRAS = {
    "av": "extract", "cv2": "extract", "scenedetect": "extract", "timm": "extract", "torchvision": "extract",
    "PIL": "extract", "fastapi": "serve", "starlette": "serve", "pydantic": "serve", "uvicorn": "serve",
    "multipart": "serve", "httpx": "serve", "fastapi_offline": "serve",
    "playwright": "serve", "matplotlib": "report", "ray": "scale", "faiss": "scale", "yt_dlp": "dataset",
    "zarr": "data", "numcodecs": "data", "pyarrow": "data", "datasets": "data",
    "pandas": "notebook", "tensorboard": "track", "mlflow": "track",
}


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


def missing_extra(e: ModuleNotFoundError, command: str) -> MissingExtra | None:
    """The MissingExtra for a module that an optional extra installs; None for any other module."""
    top = (e.name or "").split(".")[0]
    return MissingExtra(EXTRAS[top], top, command) if top in EXTRAS else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        try:
            return int(args.func(args) or 0)
        except ModuleNotFoundError as e:
            extra = missing_extra(e, args.command)
            if extra is None:
                raise
            raise extra from None
    except MmxError as e:
        print(f"mmx {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mmx {args.command}: interrupted; what was finished is kept (--resume continues)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mmx … | head`: the reader has gone; nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — Python flushes stdout once more at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
