"""Scene search at catalogue scale: FAISS build time, query latency and recall@10 over 128-d scene vectors.

SYNTHETIC DATA. A scene vector is the network's fused, L2-normalised 128-d clip vector; real ones
are alike within a trailer, within a genre and within a kind of shot (dialogue, explosion, landscape),
so the synthetic ones are drawn that way: trailers of ``--clips`` clips, each clip

    unit(a·genre + b·trailer + c·shot kind + d·noise)      (random unit directions; 20 genres, 500 shot kinds)

with (a, b, c, d) = (0.45, 0.55, 0.5, 0.5) by default: clips of one trailer have cosine ≈ 0.5, clips of
one genre ≈ 0.2 and of one shot kind ≈ 0.25, unrelated clips ≈ 0. Queries are clips of trailers
outside the collection, drawn the same way, asked one at a time (what `mmx search --scene` does).

For each size N: exact top-10 by FAISS brute force (batched), then for every index kind build seconds
and, for each query-time setting (``--nprobes`` for ivf, ``--ef-searches`` for hnsw), p50/p99 ms per
query and recall@10 = |approx ∩ exact| / 10. The kinds are built as ``mmx.scenes`` builds them
(``mmx.index.build_index`` with ``mmx.scenes.searching.SceneIndexConfig``'s settings); the default settings
``mmx scenes`` picks for N are marked ``"chosen": true``.

    python bench/scenes.py [--sizes 100000,300000,1000000] [--kinds exact,ivf,hnsw] [--queries 1000]

The last line of the output is JSON: {sizes: {N: {kind: {build_s, settings: [{p50_ms, p99_ms, recall_at_10}]}}}}.
"""

from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np
from _common import load_averages, print_result, search_latency  # noqa: E402  (bench/ is the script folder)

from mmx.data.vectors import unit_rows
from mmx.index import IndexConfig, build_index, sized_config
from mmx.scenes.searching import SceneIndexConfig

DIM = 128
GENRES, SHOT_KINDS = 20, 500


def directions(n: int, rng: np.random.Generator) -> np.ndarray:
    return unit_rows(rng.standard_normal((n, DIM), dtype=np.float32))


class SceneWorld:
    """The generator: genre and shot-kind directions shared by every trailer."""

    def __init__(self, seed: int, weights: tuple[float, float, float, float], clips: int):
        rng = np.random.default_rng(seed)
        self.genres, self.shots = directions(GENRES, rng), directions(SHOT_KINDS, rng)
        self.weights, self.clips, self.seed = weights, clips, seed

    def trailers(self, first: int, count: int) -> np.ndarray:
        """(count · clips, 128) unit clip vectors of trailers ``first .. first+count`` (same rows whatever the batching)."""
        a, b, c, d = self.weights
        rng = np.random.default_rng([self.seed, first])
        n = count * self.clips
        genre = np.repeat(rng.integers(0, GENRES, count), self.clips)
        trailer = np.repeat(directions(count, rng), self.clips, axis=0)  # (n, 128)
        shot = rng.integers(0, SHOT_KINDS, n)
        x = a * self.genres[genre] + b * trailer + c * self.shots[shot] + d * directions(n, rng)
        return unit_rows(x)

    def collection(self, size: int) -> np.ndarray:
        n_trailers = -(-size // self.clips)
        parts = [self.trailers(t, min(1000, n_trailers - t)) for t in range(0, n_trailers, 1000)]
        return np.concatenate(parts)[:size]


def exact_top(base: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    index = faiss.IndexFlatIP(DIM)
    index.add(base)
    return index.search(queries, k)[1]


def settings_of(kind: str, args) -> list[dict]:
    if kind == "ivf":
        return [{"nprobe": int(v)} for v in args.nprobes.split(",")]
    if kind == "hnsw":
        return [{"ef_search": int(v)} for v in args.ef_searches.split(",")]
    return [{}]


def apply(index: faiss.Index, setting: dict) -> None:
    if "nprobe" in setting:
        faiss.extract_index_ivf(index).nprobe = setting["nprobe"]
    if "ef_search" in setting:
        index.hnsw.efSearch = setting["ef_search"]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated collection sizes")
    p.add_argument("--kinds", default="exact,ivf,hnsw", help="index kinds (mmx.index.INDEXES)")
    p.add_argument("--queries", type=int, default=1000, help="queries per size, asked one at a time")
    p.add_argument("--clips", type=int, default=100, help="clips per synthetic trailer")
    p.add_argument("--weights", default="0.45,0.55,0.5,0.5", help="a,b,c,d: genre, trailer, shot kind, noise")
    p.add_argument("--nprobes", default="8,16,32,64", help="ivf: cells scanned per query to measure")
    p.add_argument("--ef-searches", default="32,64,128", help="hnsw: candidate lists to measure")
    p.add_argument("--hnsw-max", type=int, default=1_000_000, help="largest size at which hnsw is built")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    weights = tuple(float(w) for w in args.weights.split(","))
    world = SceneWorld(args.seed, weights, args.clips)
    scene_cfg = SceneIndexConfig()
    result: dict = {"threads": faiss.omp_get_max_threads(), "dim": DIM, "weights": weights,
                    "load_before": load_averages(), "scene_index": vars(scene_cfg), "sizes": {}}
    for size in map(int, args.sizes.split(",")):
        base = world.collection(size)  # (N, 128)
        queries = world.trailers(10**7, -(-args.queries // args.clips))[: args.queries]  # trailers outside it
        truth = exact_top(base, queries)
        chosen = sized_config(size, scene_cfg)
        out = result["sizes"][str(size)] = {"chosen_kind": chosen.kind}
        for kind in args.kinds.split(","):
            if kind == "hnsw" and size > args.hnsw_max:
                continue
            cfg = chosen if kind == chosen.kind else IndexConfig(kind=kind, hnsw_m=scene_cfg.hnsw_m,
                                                                 ef_construction=scene_cfg.ef_construction)
            t = time.perf_counter()
            index = build_index(base, cfg)
            row = out[kind] = {"build_s": round(time.perf_counter() - t, 2), "settings": []}
            if kind == "ivf":
                row["nlist"] = faiss.extract_index_ivf(index).nlist
            for setting in settings_of(kind, args):
                apply(index, setting)
                m = {**setting, **search_latency(index, queries, truth)}
                m["chosen"] = kind == chosen.kind and all(getattr(chosen, k) == v for k, v in setting.items())
                row["settings"].append(m)
                print(json.dumps({"size": size, "kind": kind, "build_s": row["build_s"], **m}), flush=True)
            del index
    result["load_after"] = load_averages()
    return print_result(result)


if __name__ == "__main__":
    main()
