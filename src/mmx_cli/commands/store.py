"""``mmx store verify STORE [--json]``: reread every entry of a feature store against its checksums."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="check a feature store (verify)",
                       description="Maintenance of a feature store.")
    commands = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    v = commands.add_parser(
        "verify", help="reread every entry against the checksums recorded when it was written",
        description="Reread every file of every entry and compare it with the size and checksum recorded when "
        "the entry was written; name each damaged entry (a changed byte, a truncated or missing file) and how to "
        "redo it. Writes nothing. Exit status 0 when every entry is whole, 1 otherwise.",
    )
    v.add_argument("store", metavar="STORE", help="feature store folder")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from mmx.data.store import FeatureStore

    store = FeatureStore(args.store)
    damage = store.verify()
    entries = len(store)
    if args.json:
        print(json.dumps({"store": str(store.root), "entries": entries, "ok": not damage,
                          "damaged": [{**asdict(d), "redo": redo_hint(d, store.root)} for d in damage]}, indent=2))
        return 1 if damage else 0
    if not damage:
        print(f"{store.root}: {entries} entries, every file whole")
        return 0
    trailers = sorted({d.trailer_id or d.folder for d in damage})
    print(f"{store.root}: {len(trailers)} of {entries} entries damaged:")
    for d in damage:
        print(f"  {d.trailer_id or '?'} ({d.folder}): {d.file} {d.reason}; {redo_hint(d, store.root)}")
    return 1


def redo_hint(d, root: Path) -> str:
    """What the user runs to make a damaged entry whole again."""
    if "video" in d.source:
        return f"`mmx extract {d.source['video']} --store {root}` extracts it again"
    if "npz" in d.source:
        return f"`mmx import {Path(d.source['npz']).parent} --store {root}` imports it again"
    if not d.trailer_id:
        return "its trailer is unknown: rerun the extract or import that made it (the entry is replaced)"
    return "import or extract it again"
