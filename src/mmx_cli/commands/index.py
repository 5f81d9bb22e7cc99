"""``mmx index --run RUN [--kind exact|ivf|hnsw]``: a FAISS index of the run's trailer embeddings.

Without ``--kind`` the index is chosen by collection size and dimension (``mmx.index.index_config_for``);
the other options override its settings."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from mmx_cli.common import add_progress_args, reporter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="build a FAISS search index of a run's trailer embeddings (for large catalogues)",
        description="Index RUN/embeddings.npz (computed first when missing) as RUN/index-KIND.faiss. Search uses "
        "the newest index that matches the embeddings; without one it searches exactly, which is right "
        "for a few hundred thousand trailers. exact = brute force; ivf = k-means cells, --nprobe per query; "
        "hnsw = graph, --ef-search per query. Without --kind: exact while N × dim ≤ 8.4M, else ivf with float16 "
        "vectors (the settings bench/search.py measured best; see the README).",
    )
    p.add_argument("--run", required=True, help="run folder (coarse, fine or imported embeddings)")
    p.add_argument("--kind", help="index kind: exact, ivf or hnsw (mmx.index.INDEXES; default: by size and dimension)")
    p.add_argument("--nlist", type=int, help="ivf: number of cells (default √N)")
    p.add_argument("--nprobe", type=int, help="ivf: cells scanned per query (default 32)")
    p.add_argument("--hnsw-m", type=int, help="hnsw: neighbours per node (default 32)")
    p.add_argument("--ef-search", type=int, help="hnsw: candidates per query (default 128)")
    p.add_argument("--storage", help="ivf, hnsw: float32 or float16 vectors")
    add_progress_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmx.embeddings import ensure_embeddings
    from mmx.index import IndexConfig, build_run_index, index_config_for, load_run_index
    from mmx.run import Run

    run = Run.open(args.run)
    vectors = ensure_embeddings(run, reporter(args)).vectors  # (N, D)
    base = IndexConfig(kind=args.kind) if args.kind else index_config_for(*vectors.shape)
    options = {"nlist": args.nlist, "nprobe": args.nprobe, "hnsw_m": args.hnsw_m, "ef_search": args.ef_search,
               "storage": args.storage}
    cfg = replace(base, **{k: v for k, v in options.items() if v is not None})
    t0 = time.perf_counter()
    path = build_run_index(run, cfg)
    found = load_run_index(run, cfg.kind)
    print(f"indexed {found.index.ntotal} trailers ({found.index.d}-d, {cfg.kind}, {cfg.storage}) in "
          f"{time.perf_counter() - t0:.1f} s → {path}")
    return 0
