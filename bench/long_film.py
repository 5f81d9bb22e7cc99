"""A feature-length film through mmx: extraction memory and time against a trailer's, then embedding,
timeline and the explorer's detail on it.

The film and the trailer are SYNTHETIC, made by the demo's video generator (``mmx.synthetic.videos``:
genre-styled shots with drifting stripes and tones) at low resolution, written frame by frame so
that making a 100-minute file never holds it in memory; shots last ``--shot-seconds`` (a real
film's shots average 3–6 s, so a 100-minute film has ~1,500 of them). Both are extracted by
``mmx extract --profile default`` (the offline experts: EfficientNet-Lite0, I3D, GIST, musicnn) in
a fresh process each, and the process's peak resident set (``ru_maxrss`` of that child) and wall
time are reported; ``film_over_trailer`` is the film's seconds per minute of video over the
trailer's (1.0 = time linear in duration). The extraction writes into the store of a network with
the default sizes trained for one epoch on generated per-clip features of the real experts' sizes,
so that the film can then be embedded (``mmx embed``), get a timeline over all its clips
(``mmx predict --timeline``) and be opened in the explorer (``GET /api/trailers/ID``, first call
and cached), each timed.

    python bench/long_film.py [--minutes 100] [--trailer-minutes 2] [--work /tmp/mmx-bench-film] [--read-only]

The load average is printed beside every phase (the machine is shared). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
from _common import load, print_result, run_mmx  # noqa: E402  (bench/ is the script folder)


def write_film(path: Path, minutes: float, shot_seconds: tuple[float, float], size: tuple[int, int],
               fps: int = 24, seed: int = 0) -> None:
    """A generated film of ``minutes`` at ``size`` (w, h), shots of ``shot_seconds``, mono 16 kHz sound."""
    from mmx.synthetic.videos import GENRE_STYLES, render_shot, render_tone, write_video

    rng = np.random.default_rng(seed)
    styles = list(GENRE_STYLES.values())
    lengths: list[int] = []
    while sum(lengths) < minutes * 60 * fps:
        lengths.append(int(rng.uniform(*shot_seconds) * fps))
    picks = rng.integers(0, len(styles), len(lengths))
    sound = np.concatenate([render_tone(styles[k], n / fps, 16000, rng) for k, n in zip(picks, lengths)])

    def frames():
        for i, (k, n) in enumerate(zip(picks, lengths)):
            yield from render_shot(styles[k], n, *size, rng, even=i % 2 == 0)

    write_video(path, frames(), fps, sound, 16000)


def extract(video: Path, store: Path, minutes: float) -> dict:
    """``mmx extract --profile default`` of ``video`` in a fresh process: its wall seconds, the seconds its
    summary line reports (extraction without the process start), and the process's own peak RSS (GB)."""
    done = run_mmx("extract", str(video), "--store", str(store), "--profile", "default", "--quiet", ok=(0,))
    seconds = float(re.search(r"of video in ([0-9.]+) s", done.stdout).group(1))
    return {"minutes": minutes, "wall_s": round(done.seconds, 1), "extract_s": seconds,
            "s_per_min": round(seconds / minutes, 2), "peak_rss_gb": round(done.peak_rss_kb / 2**20, 3), "load": load()}


def make_run(work: Path) -> Path:
    """A default-size network trained one epoch on generated features at the real experts' sizes."""
    from mmx.config import load_config, merge
    from mmx.data.importer import import_folder
    from mmx.data.store import FeatureStore
    from mmx.experts import EXPERTS
    from mmx.progress import QUIET
    from mmx.synthetic.features import SyntheticConfig, generate
    from mmx.train.coarse import train

    run = work / "run"
    if (run / "best.safetensors").exists():
        return run
    dims = {n: EXPERTS.get(n).dim for n in ("appearance", "motion", "scene", "audio")}
    cfg = SyntheticConfig(n_trailers=60, seed=0, clips=(20, 60), dims=dims, snr={n: 1.0 for n in dims})
    store = FeatureStore.create(work / "store")
    import_folder(generate(work / "features", cfg), store)
    train(store, run, merge(load_config(), {"train": {"epochs": 1}}), reporter=QUIET)
    return run


def read_paths(run: Path, film: str) -> dict:
    """Seconds of embedding the store, the film's timeline and its explorer detail (first and cached)."""
    from fastapi.testclient import TestClient

    from mmx.run import Run
    from mmx.timeline import trailer_timeline
    from mmx_serve.app import create_app

    out = {}
    t0 = time.perf_counter()
    run_mmx("embed", "--run", str(run), ok=(0,))
    out["embed_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    timeline = trailer_timeline(Run.open(run), film)
    out["timeline_s"] = round(time.perf_counter() - t0, 2)
    out["film_clips"] = len(timeline.clips)
    client = TestClient(create_app(run))
    for key in ("detail_first_s", "detail_cached_s"):
        t0 = time.perf_counter()
        r = client.get(f"/api/trailers/{film}")
        out[key] = round(time.perf_counter() - t0, 3)
        assert r.status_code == 200 and len(r.json()["timeline"]) == out["film_clips"], r.text[:300]
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=100.0, help="length of the film (default 100)")
    p.add_argument("--trailer-minutes", type=float, default=2.0, help="length of the trailer it is compared with")
    p.add_argument("--shot-seconds", type=float, nargs=2, default=(2.0, 6.0), help="shot length range")
    p.add_argument("--size", type=int, nargs=2, default=(160, 96), help="picture width and height")
    p.add_argument("--work", default="/tmp/mmx-bench-film", help="folder for the videos, store and run (kept)")
    p.add_argument("--read-only", action="store_true", help="reuse the kept extraction; time the read paths again")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    videos = {"trailer": (work / "trailer.mp4", args.trailer_minutes), "film": (work / "film.mp4", args.minutes)}
    for name, (path, minutes) in videos.items():
        if not path.exists():
            write_film(path.with_suffix(".tmp.mp4"), minutes, tuple(args.shot_seconds), tuple(args.size),
                                     seed=1 if name == "film" else 2)
            path.with_suffix(".tmp.mp4").rename(path)
    run = make_run(work)
    from mmx.run import Run

    store = Run.open(run).store
    result = {"bench": "long_film", "profile": "default", "size": list(args.size), "shot_seconds": list(args.shot_seconds),
              "network": "default sizes (ModelConfig()), 1 epoch on 60 generated trailers"}
    done = work / "extraction.json"  # the extraction figures, kept: --read-only times the read paths again
    if args.read_only and done.exists():
        result.update(json.loads(done.read_text()))
    else:
        for name, (path, minutes) in videos.items():
            if name in store:
                store.remove_entry(name)
            result[name] = extract(path, store.root, minutes)
            store.refresh()
            result[name]["clips"] = store.meta(name).n_clips
            print(f"{name}: {result[name]}", flush=True)
        done.write_text(json.dumps({k: result[k] for k in videos}))
    result["film_over_trailer"] = round(result["film"]["s_per_min"] / result["trailer"]["s_per_min"], 3)
    result.update(read_paths(run, "film"))
    return print_result(result)


if __name__ == "__main__":
    main()
