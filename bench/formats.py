"""What importing a Trailers12k-sized release costs, and the 3-fold protocol on a cut of it.

Writes a GENERATED release in Trailers12k's exact layout (``tests/release_miniatures.py`` rules:
one zarr v2 group of ``--trailers`` arrays (``--clips`` × ``--dim`` float32, Blosc lz4, one chunk
each; 12,000 × 96 × 768 ≈ 3.5 GB) + ``trailers12k_mgtc.csv`` with ten genres and three folds; the
features carry a weak genre signal), then:

1. ``mmx import RELEASE --store STORE`` in a child process: seconds and the child's peak RSS
   (``ru_maxrss`` of the children), beside the release's size on disk;
2. the first ``--cut`` trailers linked into a store of their own (``FeatureStore.link_entry``) and
   ``mmx kfold`` on it (``--epochs`` per fold, default model, one torch thread): seconds per fold
   and the µAP/mAP/wAP/sAP mean ± sd.

Everything is written under ``--work`` and deleted at the end unless ``--keep``.

    python bench/formats.py [--work /tmp/mmx-bench-formats] [--trailers 12000] [--clips 96] [--dim 768]
                            [--cut 1000] [--epochs 5] [--skip-kfold] [--keep]

The last line of the output is JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from _common import print_result, run_mmx  # noqa: E402  (bench/ is the script folder)

from mmx.data.store import FeatureStore

GENRES = ["action", "adventure", "comedy", "crime", "drama", "fantasy", "horror", "romance", "sci-fi", "thriller"]
GROUP = "ik_swin_fps24_fpc24.zarr"  # DIViTA's best backbone: 768-d Swin-3D


def write_release(root: Path, n: int, clips: int, dim: int, seed: int = 0) -> float:
    """The release under ``root``; returns seconds."""
    import numcodecs
    import zarr

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    g = zarr.open_group(str(root / GROUP), mode="w", zarr_format=2)
    g.attrs["num_features"] = dim
    directions = rng.normal(0, 0.08, (len(GENRES), dim)).astype(np.float32)  # weak: single clips barely tell
    blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1)
    with open(root / "trailers12k_mgtc.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mid"] + GENRES + ["split0", "split1", "split2"])
        folds = [rng.permutation(np.arange(n) % 10) for _ in range(3)]  # 70 / 10 / 20 per fold
        for i in range(n):
            y = np.zeros(len(GENRES), np.float32)
            y[rng.choice(len(GENRES), size=rng.integers(1, 4), replace=False)] = 1
            x = rng.standard_normal((clips, dim), dtype=np.float32) + y @ directions  # (T, F)
            mid = f"tt{i:07d}"
            g.create_array(mid, shape=x.shape, dtype="float32", chunks=x.shape, compressors=blosc)[...] = x
            codes = [0 if f[i] < 7 else 1 if f[i] < 8 else 2 for f in folds]
            w.writerow([mid] + [int(v) for v in y] + codes)
            if (i + 1) % 1000 == 0:
                print(f"  wrote {i + 1}/{n} trailers ({time.perf_counter() - start:.0f} s)", flush=True)
    return time.perf_counter() - start


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/mmx-bench-formats"))
    p.add_argument("--trailers", type=int, default=12000)
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--cut", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--skip-kfold", action="store_true")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    if args.work.exists():
        raise SystemExit(f"{args.work} exists; remove it or pick another --work")
    release, store = args.work / "release", args.work / "store"
    out: dict = {"trailers": args.trailers, "clips": args.clips, "dim": args.dim}
    try:
        out["generate_s"] = round(write_release(release, args.trailers, args.clips, args.dim), 1)
        out["release_gb"] = round(du(release) / 1e9, 2)
        print(f"release: {out['release_gb']} GB written in {out['generate_s']} s", flush=True)
        done = run_mmx("import", str(release), "--store", str(store))
        out["import_s"] = round(done.seconds, 1)
        out["import_peak_rss_gb"] = round(done.peak_rss_kb / 1e6, 2)
        out["store_gb"] = round(du(store) / 1e9, 2)
        print((done.stdout + done.stderr).strip().splitlines()[0],
              f"\nimport: {done.seconds:.0f} s, peak RSS {out['import_peak_rss_gb']} GB", flush=True)
        if not args.skip_kfold:
            src, cut = FeatureStore(store), FeatureStore.create(args.work / "cut")
            for tid in sorted(src.entries())[: args.cut]:
                cut.link_entry(src, tid)
            done = run_mmx("kfold", "--store", str(cut.root), "--out", str(args.work / "kfold"),
                           "--epochs", str(args.epochs), "--set", "train.threads=1", "--json", "--quiet")
            text = done.stdout + done.stderr
            summary = json.loads(text[text.index("{"):])
            out.update(kfold_s=round(done.seconds, 1), kfold_epochs=args.epochs, cut=args.cut,
                       kfold_mean=summary["mean"], kfold_sd=summary["sd"],
                       fold_s=[f["seconds"] for f in summary["folds"]])
            print(f"kfold on {args.cut}: {done.seconds:.0f} s; mean {summary['mean']}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    print_result(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
