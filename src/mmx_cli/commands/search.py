"""``mmx search --run RUN QUERY``: the trailers nearest to a trailer (or a new trailer's npz)."""

from __future__ import annotations

import argparse

from mmx.errors import InputError
from mmx_cli.commands.scenes import add_scene_search_args
from mmx_cli.common import print_json, reporter, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="find the trailers most similar to a query (cosine, fine-grained space)",
        description="QUERY is a trailer id of the run (it is left out of its own results) or the path of "
        "an .npz: a new trailer's per-clip features in the import format (embedded with the run's "
        "network, no retraining), or an `embedding` vector of the run's dimension.",
    )
    p.add_argument("--run", required=True, help="run folder (coarse, fine or imported embeddings)")
    p.add_argument("query", metavar="QUERY", nargs="?", help="trailer id, or path of a trailer's .npz")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    add_scene_search_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.scene or args.scene_video:
        from mmx_cli.commands.scenes import search_scenes

        return search_scenes(args)
    if args.query is None:
        raise InputError("give QUERY, --scene TRAILER_ID@SECONDS or --scene-video FILE")
    from mmx.api import search

    hits = search(args.run, args.query, args.k, reporter(args)).hits
    if args.json:
        print_json([h.as_dict() for h in hits])
        return 0
    rows = [
        [i + 1, h.score, h.title or h.trailer_id, h.trailer_id, "" if h.year is None else h.year, ", ".join(h.genres)]
        for i, h in enumerate(hits)
    ]
    print(f"nearest to {args.query}:")
    print(table(["#", "score", "title", "trailer_id", "year", "genres"], rows))
    return 0
