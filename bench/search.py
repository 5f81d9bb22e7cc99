"""Trailer search at catalogue scale, on vectors whose neighbour structure resembles real embeddings.

Isotropic noise (every point about as far from every other) and a few well-separated clusters
(every neighbour in the query's own blob) are both easy to tell from real trailer embeddings, and
they bracket FAISS's recall between ~0.07 and 1.0. This benchmark draws its vectors from the
7,594 real trailer embeddings of the authors' visualiser (``--real``, read from ../shared, never
copied) by a **smoothed bootstrap along the local neighbourhood** (a kernel density estimate whose
kernel is each trailer's own neighbourhood):

    x = unit( u_i + h · Σ_j w_j (u_j − u_i) / √k ),   w_j ~ N(0, 1),  j over the k nearest real neighbours of i

with u the unit real embeddings, i a real trailer drawn uniformly and h the bandwidth (``--h``,
default 0.7, chosen by ``--check``). New points fill the real manifold (between a trailer and its
neighbours, never off it) at any density, so a million of them keep the real clusters, their sizes and
their low intrinsic dimension. The 1,024-d result is lifted to the paper's 2,048 dimensions by a
random isometry (orthonormal columns: every cosine is kept), or projected on its leading principal
axes for the default model's 512 (``--dims``). Queries are drawn the same way.

``--check`` compares, at the real size (7,594), the real embeddings with 7,594 synthetic ones and
with the two old generators: cosine to the 1st and 10th neighbour, mean cosine of random pairs,
relative contrast (mean distance / 10th-neighbour distance; He et al. 2012), local intrinsic
dimensionality (MLE over 20 neighbours; Amsaleg et al. 2015) and IVF recall@10 at 1–8 probes.

For each dimension and size N, exact top-10 by brute force streamed over the collection (never a
second full-size copy), then every index kind as ``mmx.index.build_index`` makes it with
``IndexConfig``'s defaults (ivf: √N cells, ``--nprobes`` measured; hnsw: M 32, ``--efs`` measured;
exact: brute force; ``--storage`` float32 or float16) — or ``auto``, what ``mmx index`` builds
(``index_config_for``) — vectors generated chunk by chunk into the index: build seconds, p50/p99 ms
per query (one at a time, as ``mmx search`` asks) and recall@10. 1M × 2048 float32 is 8 GB in an
IVF index (4 GB in float16).

    python bench/search.py --check
    python bench/search.py --sizes 1000000 --kinds ivf      # the catalogue-scale figure, ~9 GB of RAM
    python bench/search.py --dims 512,2048 --kinds auto --sizes 100000,1000000   # what `mmx index` picks

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np
from _common import load_averages, print_result, search_latency  # noqa: E402  (bench/ is the script folder)

from mmx.data.vectors import unit_rows
from mmx.index import INDEXES, IndexConfig, index_config_for, ivf_cells, set_search_params, training_sample

DIM = 2048
CHUNK = 50_000
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "mmx-visualiser" / "embeddings.npz"


class RealLike:
    """Smoothed bootstrap of the real unit embeddings along each trailer's k nearest neighbours."""

    def __init__(self, real: np.ndarray, h: float, k: int = 10, seed: int = 0, dim: int = DIM):
        self.u = unit_rows(real.astype(np.float32))  # (R, 1024)
        sims = self.u @ self.u.T
        np.fill_diagonal(sims, -np.inf)
        self.neighbours = np.argpartition(-sims, k, axis=1)[:, :k]  # (R, k)
        self.h, self.k, self.seed = h, k, seed
        if dim >= self.u.shape[1]:
            rng = np.random.default_rng(seed)
            q, _ = np.linalg.qr(rng.standard_normal((dim, self.u.shape[1])).astype(np.float32))
            self.lift = q.T.copy()  # (1024, dim), orthonormal rows: x @ lift keeps every inner product
        else:  # the leading principal axes of the real embeddings, as a narrower trained embedding would keep
            self.lift = np.linalg.svd(self.u - self.u.mean(0), full_matrices=False)[2][:dim].T.copy()  # (1024, dim)

    def draw_low(self, n: int, start: int) -> np.ndarray:
        """(n, 1024) rows ``start .. start+n`` of the synthetic collection (the same whatever the chunking)."""
        rng = np.random.default_rng([self.seed, start])
        i = rng.integers(0, len(self.u), n)
        w = rng.standard_normal((n, self.k, 1), dtype=np.float32)
        out = np.empty((n, self.u.shape[1]), np.float32)
        for s in range(0, n, 4096):
            rows, ww = i[s : s + 4096], w[s : s + 4096]
            dev = self.u[self.neighbours[rows]] - self.u[rows][:, None]  # (b, k, 1024)
            out[s : s + 4096] = self.u[rows] + self.h * (ww * dev).sum(1) / np.sqrt(self.k)
        return unit_rows(out)

    def draw(self, n: int, start: int) -> np.ndarray:
        return unit_rows(self.draw_low(n, start) @ self.lift)  # (n, dim)


class Isotropic:
    """The old generator: standard normal 2048-d vectors."""

    def draw(self, n: int, start: int) -> np.ndarray:
        return unit_rows(np.random.default_rng([7, start]).standard_normal((n, DIM), dtype=np.float32))

    draw_low = draw


class Blobs(Isotropic):
    """The old clustered generator: 1,000 Gaussian clusters, noise 0.5 around unit-variance centres."""

    def __init__(self, clusters: int = 1000):
        self.centres = np.random.default_rng(1).standard_normal((clusters, DIM), dtype=np.float32)

    def draw(self, n: int, start: int) -> np.ndarray:
        rng = np.random.default_rng([8, start])
        return unit_rows(0.5 * rng.standard_normal((n, DIM), dtype=np.float32)
                         + self.centres[rng.integers(0, len(self.centres), n)])

    draw_low = draw


# ---------------------------------------------------------------------------- structure check
def structure(u: np.ndarray, queries: int = 1000, seed: int = 0) -> dict:
    """Neighbour statistics of unit rows ``u`` (N, D), over ``queries`` rows of it."""
    rng = np.random.default_rng(seed)
    q = rng.choice(len(u), min(queries, len(u)), replace=False)
    sims = u[q] @ u.T  # (Q, N)
    sims[np.arange(len(q)), q] = -np.inf
    top = -np.sort(-sims, axis=1)[:, :20]  # (Q, 20) best first
    dist = np.sqrt(np.maximum(2 - 2 * top, 1e-12))
    lid = -1 / np.mean(np.log(dist[:, :-1] / dist[:, -1:]), axis=1)  # MLE over 20 neighbours
    finite = np.where(np.isfinite(sims), sims, np.nan)
    mean_dist = np.nanmean(np.sqrt(np.maximum(2 - 2 * finite, 0)), axis=1)
    out = {
        "cos_1st": float(top[:, 0].mean()), "cos_10th": float(top[:, 9].mean()),
        "cos_random": float(np.nanmean(finite)), "relative_contrast": float(np.mean(mean_dist / dist[:, 9])),
        "lid_20": float(np.median(lid)),
    }
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(u.shape[1]), u.shape[1], ivf_cells(len(u)), faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(u)
    index.add(u)
    truth = np.argsort(-sims, axis=1)[:, :10]
    for nprobe in (1, 2, 4, 8):
        index.nprobe = nprobe
        found = index.search(u[q], 11)[1]
        found = [[r for r in row if r != own][:10] for row, own in zip(found, q)]
        out[f"ivf_recall_nprobe_{nprobe}"] = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
    return {k: round(v, 4) for k, v in out.items()}


def check(real: np.ndarray, hs: list[float]) -> dict:
    n = len(real)
    out = {"real": structure(unit_rows(real.astype(np.float32)))}
    for h in hs:
        out[f"real_like_h{h}"] = structure(RealLike(real, h).draw_low(n, 0))
    out["isotropic"] = structure(Isotropic().draw(n, 0))
    out["blobs_1000"] = structure(Blobs().draw(n, 0))
    for name, row in out.items():
        print(json.dumps({"generator": name, "n": n, **row}), flush=True)
    return out


# ---------------------------------------------------------------------------- the benchmark
def chunks(gen, size: int):
    for start in range(0, size, CHUNK):
        yield start, gen.draw(min(CHUNK, size - start), start)


def exact_top(gen, size: int, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """(Q, k) rows of the true top-k cosines, streamed over the collection."""
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.zeros((len(queries), k), np.int64)
    for start, x in chunks(gen, size):
        s = queries @ x.T  # (Q, chunk)
        all_s = np.concatenate([best_s, s], 1)
        all_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(x)), s.shape)], 1)
        top = np.argpartition(-all_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(all_s, top, 1), np.take_along_axis(all_i, top, 1)
    return best_i


def build(gen, cfg: IndexConfig, size: int, dim: int) -> faiss.Index:
    """The ``cfg`` index of the collection, as ``mmx.index.build_index`` makes it, filled chunk by chunk."""
    index = INDEXES.create(cfg.kind, dim, size, cfg)
    if not index.is_trained:
        need = ivf_cells(size, cfg.nlist) * cfg.train_points
        sample = np.concatenate([x for start, x in chunks(gen, min(size, max(need, CHUNK)))])
        index.train(training_sample(sample, need, cfg.seed))
    for _, x in chunks(gen, size):
        index.add(x)
    set_search_params(index, cfg)
    return index


def index_config(kind: str, size: int, dim: int, storage: str) -> IndexConfig:
    """``auto``: what ``mmx index`` builds for this size and dimension; else the kind with the defaults."""
    return index_config_for(size, dim) if kind == "auto" else IndexConfig(kind=kind, storage=storage)


def sweep(kind: str, cfg: IndexConfig, args: argparse.Namespace) -> list[dict]:
    """The query-time settings to measure: ``--nprobes`` (ivf), ``--efs`` (hnsw), the chosen one (auto), none (exact)."""
    if kind == "ivf":
        return [{"nprobe": int(v)} for v in args.nprobes.split(",")]
    if kind == "hnsw":
        return [{"efSearch": int(v)} for v in args.efs.split(",")]
    return [{"nprobe": cfg.nprobe} if cfg.kind == "ivf" else {"efSearch": cfg.ef_search} if cfg.kind == "hnsw" else {}]


def run_dim(gen, dim: int, args: argparse.Namespace) -> dict:
    out: dict = {}
    queries = gen.draw(args.queries, 10**9)  # rows outside the collection
    for size in map(int, args.sizes.split(",")):
        truth = exact_top(gen, size, queries)
        out[str(size)] = {}
        for kind in args.kinds.split(","):
            cfg = index_config(kind, size, dim, args.storage)
            t = time.perf_counter()
            index = build(gen, cfg, size, dim)
            row = out[str(size)][kind] = {"build_s": round(time.perf_counter() - t, 2), "kind": cfg.kind,
                                          "storage": cfg.storage, "nlist": getattr(index, "nlist", None),
                                          "settings": []}
            for setting in sweep(kind, cfg, args):
                for name, value in setting.items():
                    faiss.ParameterSpace().set_index_parameter(index, name, value)
                m = {**setting, **search_latency(index, queries, truth)}
                row["settings"].append(m)
                print(json.dumps({"dim": dim, "size": size, "kind": kind, **{k: v for k, v in row.items()
                                                                             if k != "settings"}, **m}), flush=True)
            del index
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", default=str(REAL), help="the real embeddings (npz with `embedding`)")
    p.add_argument("--check", action="store_true", help="compare neighbour statistics at the real size and stop")
    p.add_argument("--hs", default="0.4,0.7,1.0", help="--check: bandwidths to compare")
    p.add_argument("--h", type=float, default=0.7, help="bandwidth of the smoothed bootstrap")
    p.add_argument("--generator", default="real-like", choices=["real-like", "isotropic", "blobs"])
    p.add_argument("--dims", default=str(DIM), help="embedding dimensions, comma-separated (real-like: 512, 2048)")
    p.add_argument("--sizes", default="100000", help="comma-separated collection sizes (the target: 1000000)")
    p.add_argument("--kinds", default="ivf", help="index kinds (mmx.index.INDEXES), or auto (what `mmx index` picks)")
    p.add_argument("--storage", default="float32", help="float32 or float16 vectors in ivf and hnsw indexes")
    p.add_argument("--nprobes", default="32,64,128", help="ivf: cells scanned per query to measure (32 = default)")
    p.add_argument("--efs", default="128", help="hnsw: efSearch values to measure (128 = default)")
    p.add_argument("--queries", type=int, default=300, help="queries per size, asked one at a time")
    args = p.parse_args(argv)
    with np.load(args.real, allow_pickle=False) as z:
        real = z["embedding"]
    if args.check:
        out = check(real, [float(h) for h in args.hs.split(",")])
        return print_result(out)
    result: dict = {"threads": faiss.omp_get_max_threads(), "generator": args.generator, "h": args.h,
                    "load_before": load_averages(), "dims": {}}
    for dim in map(int, args.dims.split(",")):
        if args.generator != "real-like" and dim != DIM:
            raise SystemExit(f"--generator {args.generator} draws {DIM}-d vectors only")
        gen = {"real-like": lambda: RealLike(real, args.h, dim=dim), "isotropic": Isotropic, "blobs": Blobs}[
            args.generator]()
        result["dims"][str(dim)] = run_dim(gen, dim, args)
    result["load_after"] = load_averages()
    return print_result(result)


if __name__ == "__main__":
    main()
