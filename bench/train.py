"""Training speed of each network preset: trailers/s, share of the machine's matmul peak, I/O cost.

Every figure is measured for each preset in ``--model`` (default: ``default,paper`` — the shipped
``ModelConfig()``, 256-d experts and a 512-d embedding, and the paper's sizes, 768-d experts and a
2048-d bottleneck; both 40 × 9-clip sequences), each named in the JSON under ``networks``:

* ``trailers_per_s`` — one training step (forward, backward, Adam) on a batch of 32 trailers of
  ~100 clips, 4 experts (appearance 2048, scene 512, motion 1024, audio 128 per window), batch
  already in memory;
* ``peak_fraction`` — FLOP/s of that step (matmul FLOPs counted by ``FlopCounterMode``) over the
  FLOP/s of a large ``torch.mm`` measured here at the same dtype (float32 on CPUs, bf16 on GPUs);
* ``io_ratio`` — a training epoch read from the memory-mapped store (``make_loader``) over the same
  epoch with every batch already collated in RAM (best of ``--repeats`` each; the store files are
  in the page cache after writing, as on a machine whose RAM holds the store).

SYNTHETIC DATA (random features, bench/synthetic.py). The store is written to ``--store``
(default /tmp/mmx-bench-train, reused by later runs).

    python bench/train.py [--model default,paper] [--trailers 128] [--batch 32] [--steps 5] [--repeats 2] [--threads N]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from synthetic import write_store  # noqa: E402  (bench/ is the script folder)
from torch.utils.flop_counter import FlopCounterMode

from mmx.config import RunConfig, merge
from mmx.data.dataset import evenly_spaced
from mmx.data.loader import make_loader
from mmx.distributed import DistInfo
from mmx.inference import autocast
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.model.mmx import MODELS, create_model
from mmx.train.coarse import genre_labels, prepare_run_info, train_one_epoch
from mmx.train.loop import adam


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """FLOP/s of an n×n×n ``torch.mm`` (best of ``reps``)."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    best = float("inf")
    for _ in range(reps + 1):
        _sync(device)
        t = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step(model, batch, loss_fn, optimizer, dist: DistInfo) -> None:
    with autocast(dist):
        loss = loss_fn(model(batch).float(), batch.labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def time_network(preset: str, store, args: argparse.Namespace, dist: DistInfo, peak: float) -> dict:
    """One preset's step time, FLOP/s over ``peak`` and store-versus-RAM epoch time."""
    cfg = merge(RunConfig(), {"model": vars(MODELS.create(preset)), "train": {"batch_size": args.batch}})
    info = prepare_run_info(store, cfg)
    torch.manual_seed(0)
    model = create_model(info.expert_infos(), len(info.genres), cfg.model).to(dist.device)
    loss_fn = WeightedBCELoss(positive_weights(genre_labels(store, info, info.splits["train"]), 30.0)).to(dist.device)
    optimizer = adam(model.parameters(), cfg.train.lr, cfg.train.weight_decay, cfg.train.amsgrad)  # as training builds it
    views = evenly_spaced(cfg.model.n_seqs, cfg.model.seq_len)

    # one step, batch in memory
    loader = make_loader(store, info, info.splits["train"], args.batch, views, shuffle_seed=0, dist=dist)
    batch = next(iter(loader)).to(dist.device)
    model.train()
    with FlopCounterMode(display=False) as counter:
        step(model, batch, loss_fn, optimizer, dist)
    flops = counter.get_total_flops()
    times = []
    for _ in range(args.steps):
        _sync(dist.device)
        t = time.perf_counter()
        step(model, batch, loss_fn, optimizer, dist)
        _sync(dist.device)
        times.append(time.perf_counter() - t)
    step_s = statistics.median(times)

    # an epoch from the memory-mapped store against the same epoch from RAM
    in_ram = [b.to(dist.device) for b in loader]
    store_s, ram_s = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        train_one_epoch(model, loader, loss_fn, optimizer, dist=dist)
        store_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        train_one_epoch(model, in_ram, loss_fn, optimizer, dist=dist)
        ram_s.append(time.perf_counter() - t)
    sizes = {k: getattr(cfg.model, k) for k in ("expert_dim", "seq_hidden", "bottleneck_hidden", "embed_dim")}
    return {
        "model": preset, "sizes": sizes, "parameters": sum(p.numel() for p in model.parameters()),
        "clips_in_batch": int(batch.avail.shape[0]),
        "step_s": round(step_s, 4), "trailers_per_s": round(len(batch.ids) / step_s, 2),
        "step_gflop": round(flops / 1e9, 2), "achieved_gflops": round(flops / step_s / 1e9, 2),
        "peak_fraction": round(flops / step_s / peak, 3),
        "epoch_trailers": len(info.splits["train"]), "epoch_store_s": round(min(store_s), 3),
        "epoch_ram_s": round(min(ram_s), 3), "io_ratio": round(min(store_s) / min(ram_s), 3),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default,paper", help="network presets (mmx.model.MODELS), comma-separated")
    p.add_argument("--store", default="/tmp/mmx-bench-train", help="synthetic store folder (written when missing)")
    p.add_argument("--trailers", type=int, default=128, help="trailers in the store (80 %% train: the epoch)")
    p.add_argument("--clips", type=int, default=100, help="clips per trailer (±20 %%)")
    p.add_argument("--batch", type=int, default=32, help="trailers per step (paper: 32)")
    p.add_argument("--steps", type=int, default=5, help="timed steps for trailers/s")
    p.add_argument("--repeats", type=int, default=2, help="epochs timed from the store and from RAM (best taken)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    dist = DistInfo(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if dist.device.type == "cuda" else torch.float32
    store = write_store(args.store, args.trailers, args.clips)
    peak = matmul_peak(dist.device, dtype)
    networks = {name: time_network(name, store, args, dist, peak) for name in args.model.split(",") if name}
    result = {
        "device": str(dist.device), "dtype": str(dtype).removeprefix("torch."), "threads": torch.get_num_threads(),
        "batch": args.batch, "mm_peak_gflops": round(peak / 1e9, 2), "networks": networks,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
