"""``mmx experts [--json]``: the registered experts, their output size and whether their weights are here."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experts", help="list the expert networks and whether their weight files are present")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.experts.catalog import catalog  # the expert networks: PyTorch
    from mmx.experts.packages import NODEPS, PACKAGES, WEIGHTS_COMMAND
    from mmx.experts.weights import WEIGHTS_ENV
    from mmx_cli.common import print_json, table

    info = catalog()
    if args.json:
        print_json(info)
        return 0
    rows = [[e["name"], e["modality"], e["dim"], e["level"],
             ", ".join(short(w["path"]) for w in e["weights"]) or "-",
             "yes" if e["ready"] else "MISSING"] for e in info["experts"]]
    print(table(["expert", "modality", "dim", "level", "weight files", "present"], rows))
    missing = [e for e in info["experts"] if not e["ready"]]
    if missing:
        print(f"\nmissing weight files (nothing is downloaded; user files are looked up in {info['weights_dir']}, "
              f"${WEIGHTS_ENV}):")
        for e in missing:
            print(f"  {e['name']}: {e['weights'][0]['path']}\n    from {e['source']}")
        nodeps = [p.name for p in PACKAGES if p.install == NODEPS and set(p.experts) & {e["name"] for e in missing}]
        if nodeps:
            print(f"`{WEIGHTS_COMMAND}` adds {' and '.join(nodeps)}")
    return 0


def short(path: str) -> str:
    """File name, with its folder when the name alone says nothing (TF checkpoints: ``MSD_musicnn/.index``)."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.name.startswith(".") else p.name
