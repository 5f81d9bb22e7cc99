"""``mmx scenes --run RUN``: every clip's scene vector of a trained run, indexed for scene search."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenes",
        help="compute and index every clip's scene vector of a trained run (scene search, the explorer)",
        description="Runs the run's network (coarse or fine) over every trailer of its store and keeps every "
        "clip's fused 128-d vector with its trailer, clip number and start/end seconds in RUN/scenes.npz, "
        "indexed in RUN/scenes.faiss (exact up to 50,000 scenes, IVF beyond). Query it with "
        "`mmx search --run RUN --scene TRAILER_ID@SECONDS`.",
    )
    p.add_argument("--run", required=True, help="run folder (coarse or fine)")
    p.add_argument("--batch-size", type=int, default=8, help="trailers per forward pass (default 8)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.api import index_scenes
    from mmx.progress import Reporter
    from mmx.run import Run
    from mmx.scenes.searching import open_scenes

    opened = Run.open(args.run)
    scenes = index_scenes(opened, Reporter.auto(args.quiet), args.batch_size)
    index = open_scenes(opened)[1]
    kind = "none" if index is None else type(index).__name__
    print(f"{len(scenes)} scenes of {len(scenes.trailer_ids)} trailers ({scenes.vectors.shape[1]}-d, {kind}) "
          f"→ {opened.root}")
    return 0


def add_scene_search_args(p: argparse.ArgumentParser) -> None:
    """The scene options of `mmx search` (the scenes of `mmx scenes --run RUN`)."""
    g = p.add_argument_group("scene search (needs `mmx scenes --run RUN` first)")
    q = g.add_mutually_exclusive_group()
    q.add_argument("--scene", metavar="TRAILER_ID@SECONDS", help="query: the clip of a trailer covering that second")
    q.add_argument("--scene-video", metavar="FILE", help="query: a short video, extracted with the run's experts "
                   "(the mean of its clips' scene vectors)")
    g.add_argument("--other-trailers", action="store_true", help="leave the query's own trailer out")
    g.add_argument("--keyframes", metavar="DIR", help="write each hit's keyframe into DIR (its path is printed)")


def parse_scene_query(text: str) -> tuple[str, float]:
    """``TRAILER_ID@SECONDS`` → (trailer id, seconds)."""
    from mmx.errors import InputError

    tid, at, seconds = text.rpartition("@")
    try:
        value = float(seconds)
    except ValueError:
        value = math.nan
    if not at or not tid or not math.isfinite(value) or value < 0:
        raise InputError(f"scene query {text!r} must be TRAILER_ID@SECONDS, e.g. t001@12.5")
    return tid, value


def write_keyframes(run, hits: list, folder: str | Path) -> list[str | None]:
    """Each hit's keyframe written as ``folder/<rank>-<trailer>-<clip>.jpg``; None where the store has none."""
    from mmx.durable import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[str | None] = []
    for rank, h in enumerate(hits, 1):
        data = run.store.keyframe(h.trailer_id, h.clip) if h.trailer_id in run.store else None
        if data is None:
            out.append(None)
            continue
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in h.trailer_id)
        out.append(str(atomic_write(folder / f"{rank:02d}-{safe}-{h.clip:03d}.jpg", data)))
    return out


def search_scenes(args: argparse.Namespace) -> int:
    from mmx.api import search_scenes as nearest_scenes
    from mmx.progress import Reporter
    from mmx.run import Run
    from mmx_cli.common import print_json, table

    opened = Run.open(args.run)
    tid, seconds = parse_scene_query(args.scene) if args.scene is not None else (None, None)
    found = nearest_scenes(opened, tid, seconds, args.scene_video, args.k, args.other_trailers,
                           Reporter("quiet" if args.json else "lines"))
    query, hits = found.scene, found.hits
    paths = write_keyframes(opened, hits, args.keyframes) if args.keyframes else [None] * len(hits)
    rows = [{**h.as_dict(), "score": round(h.score, 5), "keyframe": p} for h, p in zip(hits, paths)]
    if args.json:
        print_json({"query": None if query is None else {"trailer_id": query.trailer_id, "clip": query.clip,
                                                         "start": query.start, "end": query.end},
                    "results": rows})
        return 0
    what = args.scene_video if query is None else f"{query.trailer_id} clip {query.clip} ({query.start}–{query.end} s)"
    print(f"scenes nearest to {what}:")
    print(table(["#", "score", "title", "trailer_id", "clip", "start", "end", "keyframe"],
                [[i + 1, r["score"], r["title"], r["trailer_id"], r["clip"], r["start"], r["end"], r["keyframe"] or ""]
                 for i, r in enumerate(rows)]))
    return 0


def evaluate_scenes_command(run, args: argparse.Namespace) -> int:
    """`mmx evaluate --run RUN --scenes`: scene precision@k by shot genre beside raw appearance and random."""
    from mmx.scenes.evaluation import evaluate_scenes, find_truth
    from mmx.scenes.searching import open_scenes
    from mmx_cli.common import print_json, table

    open_scenes(run)  # says what to run when the scenes are missing
    result = evaluate_scenes(run, args.truth or find_truth(run), args.k)
    if args.json:
        print_json(result)
        return 0
    k = result["k"]
    print(f"scene retrieval: {result['scenes']} scenes of {result['trailers']} trailers with a known shot genre "
          f"({', '.join(f'{g} {n}' for g, n in result['shot_genres'].items())}); hits from other trailers only")
    rows = [["MMX scene vectors", result[f"mmx_precision_at_{k}"]]]
    if result["raw_expert"] is not None:
        rows.append([f"raw {result['raw_expert']} features", result[f"raw_precision_at_{k}"]])
    rows.append(["random", result[f"random_precision_at_{k}"]])
    print(table(["scenes", f"precision@{k} (same shot genre)"], rows))
    if result["trailers_without_raw"]:
        print(f"{result['trailers_without_raw']} trailer(s) without {result['raw_expert']} features are left out "
              "of all three rows")
    elif result["raw_expert"] is None:
        print("no trailer has clip-level expert features to compare with (raw row left out)")
    return 0
