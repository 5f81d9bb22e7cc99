"""GPU readiness: every part of mmx that runs on a GPU, once, on CUDA; one JSON line (``bench/gpu.sh`` runs it).

No GPU has been lent to this project yet, so the GPU paths have never run: this script runs each of
them once, small, and says what it saw.

1. ``train`` — ``bench/train.py`` on CUDA: a few steps of both networks (``default``, ``paper``) in
   fp32 and bf16 (autocast, what ``train.precision=auto`` picks on a GPU), with their trailers/s,
   FLOP/s over each precision's matmul peak and profile (``--compile`` also under torch.compile);
2. ``coarse`` — ``mmx.train.coarse.train`` on CUDA, ``train.precision=auto``: a real run (batches from
   pinned memory, validation, checkpoints) of the default network for ``--epochs`` epochs on the same
   synthetic store; the precision it recorded and its last validation AUPRC_w;
3. ``embed`` — that run's network on CUDA embedding every trailer of the store through
   ``mmx.embeddings.embed_loader`` in fp32 and in bf16: the smallest cosine between the two vectors of
   a trailer (bf16 must not move an embedding);
4. ``extract`` — ``mmx extract --device cuda`` of the real clips (``--clips``, default
   ../shared/data/real-clips) with ``--experts`` (default appearance,scene: the experts whose packages
   fit beside PyAV in one device call, docs/scale.md), in the precision the GPU has: clips, windows
   and seconds per trailer;
5. ``search`` — ``--vectors`` (default 1,000,000) unit vectors of 512 and 2,048 dimensions on the GPU,
   searched by exact cosine (one matrix product and a top-k per block of queries) in fp32 and bf16:
   ms per query in batches of ``--batch`` and the recall@10 of bf16 against fp32.

Without CUDA it stops at once with a clear message (exit status 2) and a JSON line saying so.

    bash bench/gpu.sh [--clips DIR] [--experts appearance,scene] [--vectors 1000000] [--work DIR] [--compile]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import print_result  # noqa: E402  (bench/ is the script folder)

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "real-clips"
NO_CUDA = ("no CUDA device is visible to PyTorch (torch {version}, CUDA build: {cuda}): bench/gpu.sh checks the GPU "
           "paths and needs a GPU — run it on a machine with one (docs/scale.md, \"GPU readiness\")")


def train_steps(work: Path, args: argparse.Namespace) -> dict:
    """bench/train.py on CUDA: both networks, fp32 and bf16, a few round-robin steps each."""
    sys.path.insert(0, str(ROOT / "bench"))
    import train as bench_train

    argv = ["--store", str(work / "train-store"), "--trailers", str(args.trailers), "--steps", "3", "--repeats", "0"]
    return bench_train.main(argv + (["--compile"] if args.compile else []))


def coarse_run(work: Path, args: argparse.Namespace):
    """A real coarse run on CUDA (train.precision auto) on the synthetic store of ``train_steps``."""
    from mmx.config import RunConfig, merge
    from mmx.data.store import FeatureStore
    from mmx.distributed import DistInfo
    from mmx.run import Run
    from mmx.train.coarse import train

    out = work / "coarse"
    cfg = merge(RunConfig(), {"train": {"epochs": args.epochs, "batch_size": 16}})
    t0 = time.perf_counter()
    state = train(FeatureStore(work / "train-store"), out, cfg, dist=DistInfo(device=torch.device("cuda")))
    run = Run.open(out)
    return run, {"precision": run.info.precision, "epochs": state.epoch, "seconds": round(time.perf_counter() - t0, 1),
                 "val_auprc_weighted": round(state.history[-1]["val_auprc_weighted"], 4),
                 "epoch_precisions": sorted({h["precision"] for h in state.history})}


def embed_parity(run) -> dict:
    """The run's network on CUDA embedding every trailer in fp32 and bf16: how far bf16 moves a vector."""
    from mmx.data.loader import whole_trailer_batches
    from mmx.embeddings import embed_loader

    model = run.load_model().to("cuda")
    ids = sorted(run.store.entries())
    out, vectors = {}, {}
    for precision in ("fp32", "bf16"):
        batches = whole_trailer_batches(run.store, run.info.reading, ids, 32, model.cfg)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        _, vectors[precision] = embed_loader(model, batches, precision)
        torch.cuda.synchronize()
        out[f"{precision}_seconds"] = round(time.perf_counter() - t0, 3)
    a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (vectors["fp32"], vectors["bf16"]))
    out.update(trailers=len(ids), min_cosine_bf16_fp32=round(float((a * b).sum(1).min()), 5))
    return out


def extract_clips(work: Path, args: argparse.Namespace) -> dict:
    """``mmx extract --device cuda`` of the real clips."""
    from mmx.data.store import FeatureStore
    from mmx_cli.main import main as mmx

    store_root = work / "clips-store"
    t0 = time.perf_counter()
    code = mmx(["extract", str(args.clips), "--store", str(store_root), "--device", "cuda", "--experts", args.experts,
                "--quiet"])
    seconds = time.perf_counter() - t0
    store = FeatureStore(store_root)
    trailers = {t: {"clips": store.meta(t).n_clips, "experts": sorted(store.meta(t).experts)} for t in sorted(store.entries())}
    precisions = {t: {e: s.get("precision", "fp32") for e, s in store.meta(t).source.get("experts", {}).items()}
                  for t in trailers}
    return {"exit_status": code, "seconds": round(seconds, 1), "trailers": trailers, "precisions": precisions}


def search(args: argparse.Namespace) -> dict:
    """Exact cosine top-10 over ``args.vectors`` unit vectors on the GPU, fp32 and bf16."""
    out = {}
    g = torch.Generator(device="cuda").manual_seed(0)
    for dim in (512, 2048):
        x = torch.randn(args.vectors, dim, device="cuda", generator=g)
        x /= x.norm(dim=1, keepdim=True)  # (N, D) fp32: 2 GB at 512-d, 8 GB at 2,048-d
        rows = torch.randint(0, args.vectors, (args.queries,), device="cuda", generator=g)
        q = x[rows] + 0.5 * torch.randn(args.queries, dim, device="cuda", generator=g) / dim**0.5  # near a stored vector
        q /= q.norm(dim=1, keepdim=True)
        found, ms = {}, {}
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            xs, qs = x.to(dtype), q.to(dtype)
            torch.topk(qs[:args.batch] @ xs.T, 10, dim=1)  # warm-up: cuBLAS picks its kernel
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            top = [torch.topk(qs[i:i + args.batch] @ xs.T, 10, dim=1).indices for i in range(0, len(qs), args.batch)]
            torch.cuda.synchronize()
            ms[name] = round((time.perf_counter() - t0) * 1e3 / len(qs), 4)
            found[name] = torch.cat(top)
            del xs
        hits = (found["bf16"].unsqueeze(2) == found["fp32"].unsqueeze(1)).any(2).float().mean()
        out[str(dim)] = {"ms_per_query": ms, "recall_at_10_bf16_vs_fp32": round(float(hits), 4),
                         "own_vector_first_fp32": round(float((found["fp32"][:, 0] == rows).float().mean()), 4)}
        del x
        torch.cuda.empty_cache()
    return {"vectors": args.vectors, "queries": args.queries, "batch": args.batch, "dims": out}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=Path, default=CLIPS, help="folder of real videos to extract (default ../shared/data/real-clips)")
    p.add_argument("--experts", default="appearance,scene", help="experts for the extraction (mmx experts)")
    p.add_argument("--work", type=Path, default=Path("/tmp/mmx-bench-gpu"), help="stores and runs (written)")
    p.add_argument("--trailers", type=int, default=64, help="synthetic trailers for the training steps and run")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the coarse run on CUDA")
    p.add_argument("--vectors", type=int, default=1_000_000, help="vectors searched")
    p.add_argument("--queries", type=int, default=1000, help="queries searched")
    p.add_argument("--batch", type=int, default=100, help="queries per matrix product")
    p.add_argument("--compile", action="store_true", help="also time the training steps under torch.compile")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        message = NO_CUDA.format(version=torch.__version__, cuda=torch.version.cuda or "no")
        print(f"bench/gpu.sh: {message}", file=sys.stderr)
        print_result({"bench": "gpu", "ok": False, "error": message})
        return 2
    if not args.clips.is_dir():
        p.error(f"--clips {args.clips} is not a folder of videos (on a device machine: copy ../shared/data/real-clips "
                "into the checkout and name it here; docs/scale.md)")
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result: dict = {"bench": "gpu", "ok": True, "device": torch.cuda.get_device_name(), "torch": torch.__version__,
                    "bf16_supported": torch.cuda.is_bf16_supported()}
    result["train"] = train_steps(args.work, args)
    run, result["coarse"] = coarse_run(args.work, args)
    result["embed"] = embed_parity(run)
    result["extract"] = extract_clips(args.work, args)
    result["search"] = search(args)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
