"""Small copies of real feature releases in their exact layouts, written with the tools their
own writers used (zarr v2 groups, pickle of numpy arrays, ``np.save``), dirt included.

Features carry a weak genre signal (a per-genre direction plus noise), so a few epochs of the
tiny model beat random scores.
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np

T12K_GENRES = ["action", "adventure", "comedy", "crime", "drama", "fantasy", "horror", "romance", "sci-fi", "thriller"]
MOVIENET_GENRES = sorted(["Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama",
                          "Family", "Fantasy", "History", "Horror", "Music", "Musical", "Mystery", "Romance", "Sci-Fi",
                          "Sport", "Thriller", "War", "Western"])


def labels(rng: np.random.Generator, n: int, n_genres: int) -> np.ndarray:
    """(n, G) multi-hot, 1–3 genres each."""
    y = np.zeros((n, n_genres), dtype=np.int64)
    for row in y:
        row[rng.choice(n_genres, size=rng.integers(1, 4), replace=False)] = 1
    return y


def rows_for(rng: np.random.Generator, y: np.ndarray, n_rows: int, dim: int, directions: np.ndarray) -> np.ndarray:
    """(n_rows, dim) float32: the genres' directions plus noise."""
    base = y @ directions[:, :dim]  # (dim,)
    return (base + rng.normal(0, 1.0, (n_rows, dim))).astype(np.float32)


# ---------------------------------------------------------------------------- Trailers12k
T12K_GROUPS = {"i_resnet_fpc24.zarr": 8, "k_r2plus1d_fps24_fpc24.zarr": 6}  # folder → num_features


def write_trailers12k(root: Path, n: int = 40, seed: int = 0) -> dict:
    """A Trailers12k folder of ``n`` clean trailers + dirty ones; returns what the dirt is."""
    import numcodecs
    import zarr

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    directions = rng.normal(0, 1.5, (len(T12K_GENRES), 8))
    groups = {}
    for folder, dim in T12K_GROUPS.items():
        g = zarr.open_group(str(root / folder), mode="w", zarr_format=2)  # the release: zarr v2 directory stores
        g.attrs["num_features"] = dim
        groups[folder] = g
    mids = [f"tt{1000000 + i:07d}" for i in range(n + 6)]
    y = labels(rng, len(mids), len(T12K_GENRES))

    def put(folder: str, mid: str, arr: np.ndarray) -> None:
        # zarr 2's defaults as the release was written: Blosc lz4, one chunk per (small) array
        a = groups[folder].create_array(mid, shape=arr.shape, dtype="float32", chunks=arr.shape,
                                        compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1))
        a[...] = arr

    for i, mid in enumerate(mids):
        t = int(rng.integers(12, 17))
        for folder, dim in T12K_GROUPS.items():
            put(folder, mid, rows_for(rng, y[i], t, dim, directions))
    dirty = {"missing": mids[n], "nan": mids[n + 1], "wrong_dim": mids[n + 2], "t_mismatch": mids[n + 3],
             "corrupt": mids[n + 4], "bad_row": mids[n + 5], "unknown": "tt9999999"}
    del groups["k_r2plus1d_fps24_fpc24.zarr"][dirty["missing"]]
    nan = groups["i_resnet_fpc24.zarr"][dirty["nan"]][...]
    nan[3, 2] = np.nan
    groups["i_resnet_fpc24.zarr"][dirty["nan"]][...] = nan
    t = groups["i_resnet_fpc24.zarr"][dirty["wrong_dim"]].shape[0]
    del groups["i_resnet_fpc24.zarr"][dirty["wrong_dim"]]
    put("i_resnet_fpc24.zarr", dirty["wrong_dim"], np.ones((t, 7), np.float32))
    del groups["i_resnet_fpc24.zarr"][dirty["t_mismatch"]]
    put("i_resnet_fpc24.zarr", dirty["t_mismatch"], np.ones((20, 8), np.float32))
    (root / "i_resnet_fpc24.zarr" / dirty["corrupt"] / "0.0").write_bytes(b"not a blosc chunk")
    put("i_resnet_fpc24.zarr", dirty["unknown"], np.ones((12, 8), np.float32))

    with open(root / "trailers12k_mgtc.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mid"] + T12K_GENRES + ["split0", "split1", "split2"])
        folds = [rng.permutation(np.arange(len(mids)) % 5) for _ in range(3)]  # 3/5 train, 1/5 val, 1/5 test
        for i, mid in enumerate(mids):
            codes = [{0: 0, 1: 0, 2: 0, 3: 1, 4: 2}[int(f[i])] for f in folds]
            flags = [str(v) for v in y[i]]
            if mid == dirty["bad_row"]:
                flags[0] = "2"
            w.writerow([mid] + flags + codes)
    return dirty


# ---------------------------------------------------------------------------- MovieNet (Sulun et al.)
def write_movienet(root: Path, n: int = 40, seed: int = 0, dim: int = 12) -> dict:
    """features.pkl + splits.json as extract_features.py / dataset.py lay them out (dims shrunk)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    directions = rng.normal(0, 1.5, (len(MOVIENET_GENRES), dim))
    ids = [f"yt{i:03d}_-x{i}" for i in range(n + 4)]
    y = labels(rng, len(ids), len(MOVIENET_GENRES))
    samples = {}
    for i, tid in enumerate(ids):
        n_scenes = int(rng.integers(12, 20))
        feats = {
            "asr_sentiment": rows_for(rng, y[i], 1, dim, directions) if i % 3 else [],  # no speech: []
            "face_emotion": rows_for(rng, y[i], int(rng.integers(3, 30)), dim, directions) if i % 4 else [],
            "ocr_sentiment": rows_for(rng, y[i], 1, dim, directions),
            "clip": rows_for(rng, y[i], n_scenes, dim, directions),
            "beats": rows_for(rng, y[i], int(rng.integers(20, 60)), dim, directions),
        }
        samples[tid] = {"features": feats, "label": y[i].astype(np.float32)}  # their multi-hot: torch → numpy float32
    dirty = {"no_clip": ids[n], "nan": ids[n + 1], "bad_label": ids[n + 2], "no_genre": ids[n + 3]}
    samples[dirty["no_clip"]]["features"]["clip"] = []
    samples[dirty["nan"]]["features"]["beats"][0, 0] = np.nan
    samples[dirty["bad_label"]]["label"] = np.ones(5, np.float32)
    samples[dirty["no_genre"]]["label"] = np.zeros(len(MOVIENET_GENRES), np.float32)
    stats = {k: {"mean": np.float32(0.1), "std": np.float32(1.0), "min": np.float32(-3), "max": np.float32(3)}
             for k in ("clip", "beats", "face_emotion", "asr_sentiment", "ocr_sentiment")}
    data = {"samples": samples, "stats": stats, "idx_to_label": dict(enumerate(MOVIENET_GENRES))}
    with open(root / "features.pkl", "wb") as f:
        pickle.dump(data, f)  # as their utils.pickle_save
    order = rng.permutation(ids)
    splits = {"trn": list(order[: int(0.6 * len(ids))]), "val": list(order[int(0.6 * len(ids)): int(0.8 * len(ids))]),
              "tst": list(order[int(0.8 * len(ids)):]) + ["never_downloaded"]}
    (root / "splits.json").write_text(json.dumps(splits, indent=2))
    return dirty


# ---------------------------------------------------------------------------- video_features
def write_video_features(root: Path, n: int = 30, seed: int = 0) -> dict:
    """<out>/<feature_type>[/<model>]/<stem>_<key>.npy for i3d, r21d, resnet and vggish + labels.csv."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(0, 1.5, (6, 16))
    genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Thriller"]
    y = labels(rng, n + 2, len(genres))
    i3d, r21d = root / "i3d", root / "r21d" / "r2plus1d_18_16_kinetics"
    resnet, vggish = root / "resnet" / "resnet50", root / "vggish"
    for d in (i3d, r21d, resnet, vggish):
        d.mkdir(parents=True, exist_ok=True)
    stems = [f"trailer_{i:03d}" for i in range(n + 2)]
    for i, stem in enumerate(stems):
        fps, seconds = 25.0, float(rng.uniform(24, 40))
        stacks = int(seconds * fps) // 64  # i3d: 64-frame stacks, timestamp = where the stack ends
        np.save(i3d / f"{stem}_rgb.npy", rows_for(rng, y[i], stacks, 16, directions))
        np.save(i3d / f"{stem}_flow.npy", rows_for(rng, y[i], stacks, 16, directions))
        np.save(i3d / f"{stem}_fps.npy", np.array(fps))
        np.save(i3d / f"{stem}_timestamps_ms.npy", (np.arange(1, stacks + 1) * 64 / fps * 1000))
        np.save(r21d / f"{stem}_r21d.npy", rows_for(rng, y[i], int(seconds * fps) // 16, 12, directions))
        frames = int(seconds)  # resnet extracted at extraction_fps=1
        np.save(resnet / f"{stem}_resnet.npy", rows_for(rng, y[i], frames, 10, directions))
        np.save(resnet / f"{stem}_fps.npy", np.array(1.0))
        np.save(resnet / f"{stem}_timestamps_ms.npy", np.arange(frames) * 1000.0)
        np.save(vggish / f"{stem}_vggish.npy", rows_for(rng, y[i], int(seconds / 0.96), 8, directions))
    dirty = {"bad_times": stems[n], "no_label": stems[n + 1], "no_features": "trailer_999"}
    np.save(resnet / f"{dirty['bad_times']}_timestamps_ms.npy", np.arange(3) * 1000.0)
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trailer_id", "genres", "split"])
        for i, stem in enumerate(stems):
            if stem != dirty["no_label"]:
                w.writerow([stem, "|".join(g for g, v in zip(genres, y[i]) if v), ["train", "train", "train", "val", "test"][i % 5]])
        w.writerow([dirty["no_features"], "Drama", "train"])
    return dirty


def reasons(report) -> dict[str, str]:
    """Where → why, for each problem an import reported."""
    return {p.where: p.reason for p in report.problems}
