"""Training speed of each network preset and precision: trailers/s, share of that precision's matmul peak, profile.

Every figure is measured for each preset in ``--model`` (default: ``default,paper`` — the shipped
``ModelConfig()``, 256-d experts and a 512-d embedding, and the paper's sizes, 768-d experts and a
2048-d bottleneck; both 40 × 9-clip sequences) and each precision in ``--precision`` (default
``fp32,bf16``: ``train.precision``; bf16 is autocast mixed precision, mmx.precision), each named in
the JSON under ``networks`` as ``PRESET/PRECISION`` (``+compile`` with ``--compile``):

* ``trailers_per_s`` — one training step as ``mmx train`` takes it (forward through every path with
  the path losses, backward, fused Adam with AMSGrad; ``mmx.train.coarse.train_one_epoch``) on a
  batch of 32 trailers of ~100 clips, 4 experts (appearance 2048, scene 512, motion 1024, audio 128
  per window), batch already in memory — a batch drawn anew from the store for every round, so that
  its clip count is new as in an epoch (oneDNN builds a bf16 product for every new shape:
  ``mmx.model.layers.linear``); the median of ``--steps`` steps, taken in turn with every other
  case and with a matmul of each precision (round robin: on a shared machine a change of load
  reaches all of them alike, so their ratios hold where the absolute figures drift); beside it
  ``trailers_per_cpu_s``, over the CPU seconds the process spent (user + system, all its threads):
  on a busy machine the wall time counts the waits for a core, the CPU time only the work (and
  OpenMP's spinning);
* ``peak_fraction`` — FLOP/s of that step (matmul FLOPs counted by ``FlopCounterMode`` on the first
  round's batch, scaled to each round's clip count) over the
  FLOP/s of a large ``torch.mm`` measured here *in that precision* (``mm_peak_gflops``, the median
  over the rounds);
* ``profile`` — one step under ``torch.profiler``: the self time of the matrix products
  (``matmul_s``) and of everything else (``other_s``: elementwise, normalisation, gathers, Adam),
  with the five costliest other operators (``top_other``): what a faster step has to fuse;
* ``compile_s`` (``--compile``) — ``torch.compile`` (inductor) of the network: the first steps'
  time over the compiled step's, counted apart (a batch of another clip count compiles once more);
  ``break_even_steps`` says after how many steps the compiled network has paid for itself;
* ``io_ratio`` (``--repeats`` > 0) — a training epoch read from the memory-mapped store
  (``make_loader``) over the same epoch with every batch already collated in RAM (best of
  ``--repeats`` each; the store files are in the page cache after writing).

SYNTHETIC DATA (random features, bench/synthetic.py). The store is written to ``--store``
(default /tmp/mmx-bench-train, reused by later runs). The machine's load average is in the JSON:
on a shared machine compare only figures of one run.

    python bench/train.py [--model default,paper] [--precision fp32,bf16] [--compile] [--trailers 128] [--batch 32]
                          [--steps 5] [--repeats 1] [--threads N]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
from _common import load, matmul_peak, print_result  # noqa: E402  (bench/ is the script folder)
from synthetic import write_store  # noqa: E402  (bench/ is the script folder)
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from mmx.config import RunConfig, merge
from mmx.data.dataset import evenly_spaced
from mmx.data.loader import make_loader
from mmx.distributed import DistInfo
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.model.mmx import MODELS, PathLogits, create_model
from mmx.precision import autocast, native_bf16_cpu
from mmx.train.coarse import genre_labels, prepare_run_info, train_one_epoch
from mmx.train.loop import adam, keep_freed_memory
from mmx.train.loop import compiled as compiled_net

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
MATMUL_OPS = ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "addmv", "mv", "_linear_pointwise")  # CPU operators
MATMUL_KERNELS = ("gemm", "cutlass", "xmma", "nvjet", "wgmma", "cublas")  # CUDA kernel names of matrix products


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step(net, batch, loss_fn, optimizer, dist: DistInfo, precision: str) -> None:
    """What ``train_one_epoch`` does with one batch (path losses on, as the default config trains)."""
    with autocast(dist.device, precision):
        loss = sum(loss_fn(part, batch.labels) for part in net(batch).float())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def is_matmul(name: str, cuda: bool) -> bool:
    if cuda:
        return any(k in name.lower() for k in MATMUL_KERNELS)
    return name.split("::")[-1].split(".")[-1] in MATMUL_OPS


def profile_step(run_step, device: torch.device) -> dict:
    """One step's self times — of the CPU operators, or on a GPU of its kernels — split into matrix products
    and the rest."""
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        run_step()
        _sync(device)
    totals: dict[str, float] = defaultdict(float)
    for e in prof.key_averages():
        if cuda and e.device_type != DeviceType.CUDA:
            continue  # on a GPU the kernels' own times; the operators that launched them only wait
        totals[e.key] += (e.self_device_time_total if cuda else e.self_cpu_time_total) / 1e6
    matmul = sum(s for k, s in totals.items() if is_matmul(k, cuda))
    other = {k: s for k, s in totals.items() if not is_matmul(k, cuda)}
    top = sorted(other.items(), key=lambda kv: -kv[1])[:5]
    return {"matmul_s": round(matmul, 4), "other_s": round(sum(other.values()), 4),
            "matmul_share": round(matmul / max(matmul + sum(other.values()), 1e-9), 3),
            "top_other": {k: round(s, 4) for k, s in top}}


class Case:
    """One network preset in one precision (compiled or not): its model, optimizer and batches, stepped on demand."""

    def __init__(self, preset: str, precision: str, compiled: bool, store, args: argparse.Namespace, dist: DistInfo,
                 rounds: list[list[str]]):
        self.preset, self.precision, self.compiled, self.dist = preset, precision, compiled, dist
        self.cfg = merge(RunConfig(), {"model": vars(MODELS.create(preset)), "train": {"batch_size": args.batch}})
        self.info = info = prepare_run_info(store, self.cfg)
        torch.manual_seed(0)
        self.model = create_model(info.expert_infos(), len(info.genres), self.cfg.model).to(dist.device)
        self.net = PathLogits(self.model)  # train.path_losses with the scene path: every path's logits, as training takes them
        self.loss_fn = WeightedBCELoss(positive_weights(genre_labels(store, info, info.splits["train"]), 30.0)).to(dist.device)
        tc = self.cfg.train
        self.optimizer = adam(self.model.parameters(), tc.lr, tc.weight_decay, tc.amsgrad)  # as training builds it
        views = evenly_spaced(self.cfg.model.n_seqs, self.cfg.model.seq_len)
        self.loader = make_loader(store, info.reading, info.splits["train"], args.batch, views, shuffle_seed=0, dist=dist)
        self.batches = [b.to(dist.device) for b in self.loader]
        self.rounds = [next(iter(make_loader(store, info.reading, ids, len(ids), views, dist=dist))).to(dist.device) for ids in rounds]
        self.model.train()
        with FlopCounterMode(display=False) as counter:  # the network's FLOPs (fp32: no bf16 row padding counted)
            step(self.net, self.rounds[0], self.loss_fn, self.optimizer, dist, "fp32")
        self.flops_per_clip = counter.get_total_flops() / clips(self.rounds[0])
        self.first: list[float] = []
        if compiled:  # every clip count of the epoch once: each compiles what it needs
            self.net = compiled_net(self.net, True, dist.device)  # as train.compile does
            self.first = [timed(lambda b=b: self.step(b)) for b in self.batches]
        self.step()  # warm: what a first step does once (allocations, oneDNN's kernels for the first shapes)
        self.times: list[float] = []
        self.cpu_times: list[float] = []  # this process's CPU seconds of each timed step (user + system)
        self.flops: list[float] = []

    def timed_step(self, r: int) -> None:
        batch = self.rounds[r]
        cpu = time.process_time()
        self.times.append(timed(lambda: self.step(batch)))
        self.cpu_times.append(time.process_time() - cpu)
        self.flops.append(self.flops_per_clip * clips(batch))

    @property
    def name(self) -> str:
        return f"{self.preset}/{self.precision}" + ("+compile" if self.compiled else "")

    def step(self, batch=None) -> None:
        step(self.net, self.batches[0] if batch is None else batch, self.loss_fn, self.optimizer, self.dist, self.precision)
        _sync(self.dist.device)

    def result(self, peak: float, repeats: int) -> dict:
        step_s = statistics.median(self.times)
        flops = statistics.median(f / t for f, t in zip(self.flops, self.times))  # FLOP/s of the median step
        batch = self.rounds[0]
        out = {"model": self.preset, "precision": self.precision, "compile": self.compiled,
               "sizes": {k: getattr(self.cfg.model, k) for k in ("expert_dim", "seq_hidden", "bottleneck_hidden", "embed_dim")},
               "parameters": sum(p.numel() for p in self.model.parameters()), "clips_in_batch": int(batch.avail.shape[0]),
               "step_s": round(step_s, 4), "step_s_range": [round(min(self.times), 4), round(max(self.times), 4)],
               "trailers_per_s": round(len(batch.ids) / step_s, 2),
               "step_cpu_s": round(statistics.median(self.cpu_times), 4),
               "trailers_per_cpu_s": round(len(batch.ids) / statistics.median(self.cpu_times), 2),
               "step_gflop": round(statistics.fmean(self.flops) / 1e9, 2), "achieved_gflops": round(flops / 1e9, 2),
               "peak_fraction": round(flops / peak, 3), "profile": profile_step(self.step, self.dist.device)}
        if self.compiled:
            out["compile_s"] = round(sum(self.first) - len(self.first) * step_s, 1)
        if repeats:  # an epoch from the memory-mapped store against the same epoch from RAM
            epoch = lambda loader: timed(lambda: train_one_epoch(  # noqa: E731
                self.net, loader, self.loss_fn, self.optimizer, dist=self.dist, precision=self.precision, path_losses=True))
            store_s = [epoch(self.loader) for _ in range(repeats)]
            ram_s = [epoch(self.batches) for _ in range(repeats)]
            out.update({"epoch_trailers": len(self.info.splits["train"]), "epoch_store_s": round(min(store_s), 3),
                        "epoch_ram_s": round(min(ram_s), 3), "io_ratio": round(min(store_s) / min(ram_s), 3)})
        return out


def clips(batch) -> int:
    return int(batch.avail.shape[0])


def with_compile_time(eager: dict, compiled: dict) -> None:
    """``break_even_steps`` of a compiled network: its compile time over the time it saves per step."""
    saved = eager["step_s"] - compiled["step_s"]
    compiled["break_even_steps"] = round(compiled["compile_s"] / saved) if saved > 0 else None


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default,paper", help="network presets (mmx.model.MODELS), comma-separated")
    p.add_argument("--precision", default="fp32,bf16", help="train.precision values (fp32, bf16), comma-separated")
    p.add_argument("--compile", action="store_true", help="also time each network under torch.compile (inductor)")
    p.add_argument("--store", default="/tmp/mmx-bench-train", help="synthetic store folder (written when missing)")
    p.add_argument("--trailers", type=int, default=128, help="trailers in the store (80 %% train: the epoch)")
    p.add_argument("--clips", type=int, default=100, help="clips per trailer (±20 %%)")
    p.add_argument("--batch", type=int, default=32, help="trailers per step (paper: 32)")
    p.add_argument("--steps", type=int, default=5, help="timed steps of each case for trailers/s (in turn, round robin)")
    p.add_argument("--repeats", type=int, default=1, help="epochs timed from the store and from RAM (best taken; 0: skip)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as a training command's process does (mmx.train.loop.run_stage)

    dist = DistInfo(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    precisions = [x for x in args.precision.split(",") if x]
    unknown = [x for x in precisions if x not in DTYPES]
    if unknown:
        p.error(f"--precision {', '.join(unknown)}: use fp32 and/or bf16")
    store = write_store(args.store, args.trailers, args.clips)
    load_before = load()
    train_ids = prepare_run_info(store, RunConfig()).splits["train"]
    rng = np.random.default_rng(0)
    rounds = [sorted(rng.choice(train_ids, size=args.batch, replace=False).tolist()) for _ in range(args.steps)]
    cases = [Case(name, precision, compiled, store, args, dist, rounds) for name in args.model.split(",") if name
             for precision in precisions for compiled in ([False, True] if args.compile else [False])]
    peaks: dict[str, list[float]] = {x: [] for x in precisions}
    for r in range(args.steps):  # round robin: a drift in the machine's speed reaches every case alike
        for x in precisions:
            peaks[x].append(matmul_peak(dist.device, DTYPES[x], reps=2))
        for case in cases:
            case.timed_step(r)
    peak = {x: statistics.median(v) for x, v in peaks.items()}
    networks = {case.name: case.result(peak[case.precision], args.repeats) for case in cases}
    for name, row in networks.items():
        if row["compile"]:
            with_compile_time(networks[name.removesuffix("+compile")], row)
    result = {
        "device": str(dist.device), "cpu_bf16_units": native_bf16_cpu(),
        "threads": torch.get_num_threads(), "batch": args.batch,
        "mm_peak_gflops": {x: round(peak[x] / 1e9, 1) for x in precisions}, "rounds": args.steps,
        "load_average": [load_before, load()], "networks": networks,
        "data": f"synthetic: {args.trailers} trailers of ~{args.clips} clips",
    }
    return print_result(result)


if __name__ == "__main__":
    main()
