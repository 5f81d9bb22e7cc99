"""``mmx predict --run RUN ID...``: genre probabilities and suggested label changes (Tbl. 4) — ``mmx.predict``;
``--video FILE``: the genres of a new video file (``mmx.predict_video``).

With ``--timeline``: per clip, the genre probabilities of the window centred on it (Fig. 8,
``mmx.trailer_timeline``); ``--plot FILE`` draws them as a clips × genres heat map (needs matplotlib),
``--vtt FILE`` writes them as a WebVTT track (one cue per scene, ``mmx.webvtt``) that video players show.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from mmx.errors import RunError
from mmx_cli.common import print_json, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="genres of trailers, with labels to add or drop")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("ids", nargs="*", metavar="TRAILER_ID", help="trailer ids of the run's store")
    p.add_argument("--video", metavar="FILE", help="instead of ids: a new video file, extracted with the run's experts "
                   "(the run is not changed; `mmx add` makes it join)")
    p.add_argument("--threshold", type=float, help="sigmoid threshold (default: the run's, 0.3)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--timeline", action="store_true", help="scene-level genre timeline: probabilities per clip")
    p.add_argument("--plot", metavar="FILE", help="with --timeline: save a heat map (png, pdf, svg); one id only")
    p.add_argument("--vtt", metavar="FILE", help="with --timeline: write a WebVTT track, one cue per scene with its "
                   "top genres and probabilities (players show it while the trailer plays); one id only")
    p.add_argument("--top", type=int, default=3, help="with --vtt: genres named per cue (default 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.timeline:
        return run_timeline(args)
    if args.plot or args.vtt:
        raise RunError("--plot and --vtt draw a timeline; add --timeline")
    if bool(args.ids) == bool(args.video):
        raise RunError("give trailer ids of the run's store, or --video FILE")
    from mmx.api import predict, predict_video

    if args.video:
        found = predict_video(args.run, args.video, args.threshold, progress=not args.json)
    else:
        found = predict(args.run, args.ids, args.threshold)
    if args.json:
        print_json(found.to_records())
        return 0
    for r in found.items:
        print(f"{r.trailer_id}  {r.title}")
        print(f"  given:     {', '.join(r.genres) or '-'}")
        print(f"  predicted: {', '.join(r.predicted) or '-'}")
        if r.added or r.missing:
            print(f"  suggest:   add {', '.join(r.added) or '-'}; drop {', '.join(r.missing) or '-'}")
        top = sorted(r.probabilities.items(), key=lambda kv: -kv[1])[:8]
        print("  " + "  ".join(f"{g} {p:.2f}" for g, p in top))
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    if len(args.ids) != 1 and (args.plot or args.vtt):
        raise RunError("--plot and --vtt draw one trailer's timeline; give a single trailer id")
    if args.video or not args.ids:
        raise RunError("--timeline is drawn for trailers of the run's store; give their ids")
    from mmx.durable import atomic_write
    from mmx.run import Run
    from mmx.timeline import trailer_timeline, webvtt

    run = Run.open(args.run)
    timelines = [trailer_timeline(run, tid) for tid in args.ids]
    if args.plot:
        plot_timeline(timelines[0], Path(args.plot))
    if args.vtt:
        atomic_write(args.vtt, webvtt(timelines[0], args.top))
    if args.json:
        print_json([asdict(t) for t in timelines])
        return 0
    for t in timelines:
        print(f"{t.trailer_id}  {t.title}  (given: {', '.join(t.genres) or '-'})")
        rows = []
        for c in t.clips:
            when = "-" if c.start is None else f"{c.start:7.2f}-{c.end:.2f}"
            rows.append([c.clip, when] + [f"{g} {p:.2f}" for g, p in t.top(c.clip)])
        print(table(["clip", "seconds", "top genre", "2nd", "3rd"], rows))
    for flag, what in ((args.plot, "timeline plot"), (args.vtt, "WebVTT track")):
        if flag:
            print(f"{what} → {flag}")
    return 0


def plot_timeline(t, path: Path) -> None:
    """Heat map of the timeline: genres down, clips (or seconds) across (the paper's Fig. 8)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    probs = t.matrix().T  # (G, n_clips)
    has_times = bool(t.clips) and t.clips[0].start is not None
    # clip boundaries on the x axis: seconds when known (clips differ in length), else clip numbers
    edges = [c.start for c in t.clips] + [t.clips[-1].end] if has_times else np.arange(len(t.clips) + 1) - 0.5
    fig, ax = plt.subplots(figsize=(max(8.0, len(t.clips) * 0.12), 0.3 * len(t.vocabulary) + 1.5))
    im = ax.pcolormesh(edges, np.arange(len(t.vocabulary) + 1) - 0.5, probs, cmap="viridis", vmin=0, vmax=1)
    ax.invert_yaxis()
    ax.set_yticks(range(len(t.vocabulary)), t.vocabulary)
    ax.set_xlabel("seconds" if has_times else "clip")
    ax.set_title(f"{t.title or t.trailer_id}\ngenre probability per clip (given: {', '.join(t.genres) or '-'})")
    fig.colorbar(im, ax=ax, label="probability")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
