"""``mmx scenes --run RUN``: every clip's scene vector of a trained run, indexed for scene search."""

from __future__ import annotations

import argparse


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
    from mmx.progress import Reporter
    from mmx.run import Run
    from mmx.scenes import compute_scenes, open_scenes

    opened = Run.open(args.run)
    scenes = compute_scenes(opened, Reporter.auto(args.quiet), args.batch_size)
    index = open_scenes(opened)[1]
    kind = "none" if index is None else type(index).__name__
    print(f"{len(scenes)} scenes of {len(scenes.trailer_ids)} trailers ({scenes.vectors.shape[1]}-d, {kind}) "
          f"→ {opened.root}")
    return 0
