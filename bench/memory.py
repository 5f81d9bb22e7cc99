"""Peak memory of training over a store the size of MMX-Trailer-20: it must stay far below the store.

Writes (once, reused later) a SYNTHETIC store of ``--trailers`` trailers × ~``--clips`` clips × 4
experts at the paper's sizes (bench/synthetic.py; 8,800 × 100 is ~13 GB) with
``FeatureStore.write_entry``, then trains the paper's network (batch 32) for ``--steps`` steps over it
through the memory-mapped loader in a fresh process, and reports that process's peak resident set
(``peak_rss_gb``) beside the store's size on disk. Pages of the store that the kernel keeps cached
are not counted in the training process's RSS unless it maps them, which is what memory-mapping buys.

    python bench/memory.py [--trailers 8800] [--clips 100] [--steps 20] [--store /tmp/mmx-bench-memory]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path

import torch

from mmx.config import RunConfig
from mmx.data.dataset import evenly_spaced
from mmx.data.loader import make_loader
from mmx.data.store import FeatureStore
from mmx.losses import WeightedBCELoss, positive_weights
from mmx.model.mmx import create_model
from mmx.train.coarse import genre_labels, prepare_run_info, train_one_epoch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the spawned process finds bench/ too
from _common import print_result  # noqa: E402
from synthetic import write_store  # noqa: E402


def train_steps(store_root: str, steps: int, batch: int) -> None:
    """``steps`` training steps of the paper's network over the store, the way ``train`` reads it."""
    store = FeatureStore(store_root)
    cfg = RunConfig()
    info = prepare_run_info(store, cfg)
    ids = info.splits["train"][: steps * batch]
    torch.manual_seed(0)
    model = create_model(info.expert_infos(), len(info.genres), cfg.model)
    loss_fn = WeightedBCELoss(positive_weights(genre_labels(store, info, info.splits["train"]), 30.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-5, amsgrad=True)
    loader = make_loader(store, info.reading, ids, batch, evenly_spaced(cfg.model.n_seqs, cfg.model.seq_len), shuffle_seed=0)
    train_one_epoch(model, loader, loss_fn, optimizer)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default="/tmp/mmx-bench-memory", help="synthetic store folder (written when missing)")
    p.add_argument("--trailers", type=int, default=8800, help="trailers (MMX-Trailer-20: 8,803)")
    p.add_argument("--clips", type=int, default=100, help="clips per trailer (±20 %%)")
    p.add_argument("--steps", type=int, default=20, help="training steps of --batch trailers")
    p.add_argument("--batch", type=int, default=32)
    args = p.parse_args(argv)

    t = time.perf_counter()
    store = write_store(args.store, args.trailers, args.clips)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=train_steps, args=(args.store, args.steps, args.batch))
    child.start()
    child.join()
    if child.exitcode:
        sys.exit(f"training process failed with exit code {child.exitcode}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kilobytes
    result = {
        "trailers": len(store), "store_gb": round(store.nbytes() / 1e9, 2), "write_s": round(write_s, 1),
        "steps": args.steps, "batch": args.batch, "train_s": round(time.perf_counter() - t, 1),
        "peak_rss_gb": round(peak_kb / 1e6, 3),
    }
    return print_result(result)


if __name__ == "__main__":
    main()
