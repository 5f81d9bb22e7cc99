"""Search at catalogue scale: FAISS build time, query latency and recall@10 against exact search.

For each size N: N random 2048-d embeddings (SYNTHETIC: standard normal, or a mixture of
``--clusters`` Gaussians, closer to real embeddings, which cluster by genre), ``--queries`` held-out
queries drawn the same way, one at a time (the latency a user of ``mmx search`` sees). Exact top-10
by a streamed brute force over the same vectors (never a second full-size copy), then for every
index kind (``mmx.index``): build seconds, p50/p99 ms per query, recall@10 = |approx ∩ exact| / 10.
The exact kind is reported too (its recall is 1 by construction). 1M × 2048 float32 is 8 GB: the
vectors are generated chunk by chunk into the index; ``exact`` is left out above ``--exact-max`` and
``hnsw`` (slow to build on a CPU) above ``--hnsw-max``.

    python bench/search.py [--sizes 10000,100000] [--kinds exact,ivf,hnsw] [--queries 200]
    python bench/search.py --sizes 1000000 --kinds ivf     # the catalogue-scale target, ~9 GB of RAM

The last line of the output is JSON: {size: {kind: {build_s, p50_ms, p99_ms, recall_at_10}}}.
"""

from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np

from mmx.embeddings import unit_rows
from mmx.index import (
    INDEXES,
    IndexConfig,
    ivf_cells,
    search,
    set_search_params,
    training_sample,
)

DIM = 2048
CHUNK = 50_000


def vectors(n: int, start: int, seed: int, centres: np.ndarray | None) -> np.ndarray:
    """Rows ``start .. start+n`` of the synthetic collection (the same rows whatever the chunking)."""
    rng = np.random.default_rng([seed, start])
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    if centres is not None:
        x = 0.5 * x + centres[rng.integers(0, len(centres), n)]
    return x


def chunks(size: int, seed: int, centres):
    for start in range(0, size, CHUNK):
        yield vectors(min(CHUNK, size - start), start, seed, centres)


def exact_top(size: int, queries: np.ndarray, seed: int, centres, k: int = 10) -> np.ndarray:
    """(Q, k) rows of the true top-k cosines, streamed over the collection."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    best_s = np.full((len(q), k), -np.inf, np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for c, x in enumerate(chunks(size, seed, centres)):
        s = q @ (x / np.linalg.norm(x, axis=1, keepdims=True)).T  # (Q, chunk)
        all_s = np.concatenate([best_s, s], 1)
        all_i = np.concatenate([best_i, np.arange(c * CHUNK, c * CHUNK + x.shape[0])[None].repeat(len(q), 0)], 1)
        top = np.argpartition(-all_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(all_s, top, 1), np.take_along_axis(all_i, top, 1)
    return best_i


def build(kind: str, size: int, seed: int, centres) -> faiss.Index:
    """The ``kind`` index of the collection, as ``mmx.index.build_index`` makes it, generated chunk by chunk."""
    cfg = IndexConfig(kind=kind)
    index = INDEXES.create(kind, DIM, size, cfg)
    if not index.is_trained:
        need = ivf_cells(size, cfg.nlist) * cfg.train_points
        index.train(training_sample(np.concatenate(list(_take(size, seed, centres, need))), need, cfg.seed))
    for x in chunks(size, seed, centres):
        index.add(unit_rows(x))
    set_search_params(index, cfg)
    return index


def _take(size: int, seed: int, centres, need: int):
    got = 0
    for x in chunks(size, seed, centres):
        if got >= need:
            return
        yield x
        got += x.shape[0]


def measure(index: faiss.Index, queries: np.ndarray, truth: np.ndarray) -> dict:
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, rows = search(index, q[None], 10)
        times.append((time.perf_counter() - t) * 1e3)
        found.append(rows[0])
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p99_ms": round(float(np.percentile(times, 99)), 3),
            "recall_at_10": round(float(recall), 4)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000", help="comma-separated collection sizes (the target: 1000000)")
    p.add_argument("--kinds", default="exact,ivf,hnsw", help="index kinds (mmx.index.INDEXES)")
    p.add_argument("--queries", type=int, default=200, help="queries per size")
    p.add_argument("--clusters", type=int, default=0, help="draw from a mixture of this many Gaussians (0: one)")
    p.add_argument("--exact-max", type=int, default=200_000, help="largest size at which the exact index is built")
    p.add_argument("--hnsw-max", type=int, default=20_000,
                   help="largest size at which the hnsw index is built (~1 min per 10k vectors on 2 cores)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, DIM), dtype=np.float32) if args.clusters else None
    result: dict = {"threads": faiss.omp_get_max_threads(), "dim": DIM, "clusters": args.clusters, "sizes": {}}
    for size in map(int, args.sizes.split(",")):
        queries = vectors(args.queries, 10**9, args.seed, centres)  # rows outside the collection
        truth = exact_top(size, queries, args.seed, centres)
        out = result["sizes"][str(size)] = {}
        for kind in args.kinds.split(","):
            if size > {"exact": args.exact_max, "hnsw": args.hnsw_max}.get(kind, size):
                continue
            t = time.perf_counter()
            index = build(kind, size, args.seed, centres)
            out[kind] = {"build_s": round(time.perf_counter() - t, 2), **measure(index, queries, truth)}
            print(json.dumps({"size": size, "kind": kind, **out[kind]}), flush=True)
            del index
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
