"""Fixtures several library test files share: files of imported embeddings, a finished run, a store with planted
faults (what `mmx check` must find) and a run trained on it, the quickstart notebook's work folder."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

import mmx
from helpers import ROOT, make_coarse_run, random_collection, tiny_cfg
from mmx.data.store import EntryMeta, FeatureStore
from mmx.data.vectors import write_npz
from mmx.inputs import ExpertInfo
from mmx.progress import QUIET
from mmx.synthetic.faults import ExpertFault, copy_clips, plant_expert_fault
from mmx.train.coarse import train


@pytest.fixture
def emb_files(tmp_path):
    """emb.npz (30 trailers, then a duplicate, one without metadata, a NaN row, a zero row) and meta.csv."""
    x, genres = random_collection(30, 8, 5)
    ids = [f"t{i:02d}" for i in range(30)]
    bad_ids = ids + ["t00", "nometa", "nan-row", "zero-row"]
    bad_x = np.concatenate([x, x[:1], x[:1], np.full((1, 8), np.nan), np.zeros((1, 8))]).astype(np.float32)
    write_npz(tmp_path / "emb.npz", bad_ids, bad_x)
    with open(tmp_path / "meta.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trailer_id", "genres", "title", "year"])
        for tid, gs in zip(ids, genres):
            w.writerow([tid, "|".join(gs), f"Title {tid}", 2000])
        w.writerow(["nan-row", "Drama", "", ""])
        w.writerow(["zero-row", "Drama", "", ""])
    return tmp_path, ids, x, genres


@pytest.fixture(scope="session")
def trained(small_store, tmp_path_factory) -> Path:
    """A finished 3-epoch coarse run on the small store (its scenes are made by the test of run files)."""
    out = tmp_path_factory.mktemp("runs") / "run"
    train(small_store, out, tiny_cfg(3), reporter=QUIET)
    return out


GENRES = ["Action", "Comedy", "Horror"]  # of the planted store
DIMS = {"image": 16, "motion": 12}


def clips(rng, protos, gidx, style, n):
    """(n, d) per expert: genre look + the trailer's style + what each clip shows of its own."""
    return {e: protos[e][gidx].mean(0) + style[e] + rng.normal(size=(n, d)) for e, d in DIMS.items()}


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """60 trailers; a trimmed noisy copy across splits, another trailer of the same film, broken experts, flipped labels."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("health") / "store"
    store = FeatureStore.create(root)
    store.register_experts({e: ExpertInfo(d) for e, d in DIMS.items()})
    protos = {e: 2.0 * rng.normal(size=(len(GENRES), d)) for e, d in DIMS.items()}
    truth, flipped = {}, []
    for i in range(60):
        gidx = sorted(rng.choice(3, size=1 + (i % 3 == 0), replace=False))
        style = {e: 0.8 * rng.normal(size=d) for e, d in DIMS.items()}
        arrays = clips(rng, protos, gidx, style, int(rng.integers(20, 31)))
        genres = [GENRES[g] for g in gidx]
        truth[f"t{i:02d}"] = (arrays, style, gidx)
        if i in (5, 17, 29):  # a genre added that the trailer does not show
            extra = next(g for g in GENRES if g not in genres)
            genres.append(extra)
            flipped.append((f"t{i:02d}", extra))
        split = "test" if i % 10 == 0 else "val" if i % 10 == 5 else "train"
        store.write_entry(EntryMeta(f"t{i:02d}", genres, len(arrays["image"]), [], split=split), arrays)
    orig, style, gidx = truth["t01"]
    copy = copy_clips(orig, np.arange(4, 24), rng, of_spread=False)  # trimmed, re-encoded
    store.write_entry(EntryMeta("copy", ["Action"], 20, [], split="test"), copy)
    other = clips(rng, protos, gidx, style, 25)  # another trailer of the same film: same look, other shots
    store.write_entry(EntryMeta("sequel", ["Action"], 25, [], split="test"), other)
    def fresh(gidx=(1,)):
        return clips(rng, protos, list(gidx), {e: 0.8 * rng.normal(size=d) for e, d in DIMS.items()}, 24)

    broken = fresh()
    plant_expert_fault(broken, ExpertFault("motion", "zero"))
    store.write_entry(EntryMeta("zeros", ["Comedy"], 24, [], split="train"), broken)
    stuck = fresh()
    plant_expert_fault(stuck, ExpertFault("image", "constant", clips=(5, 12)))
    store.write_entry(EntryMeta("stuck", ["Comedy"], 24, [], split="train"), stuck)
    rows = np.concatenate([t[0]["motion"] for t in truth.values()])
    noisy = fresh([2])
    plant_expert_fault(noisy, ExpertFault("motion", "noise"), rng, (rows.mean(0), rows.std(0)))
    store.write_entry(EntryMeta("noisy", ["Horror"], 24, [], split="train"), noisy)
    store.write_entry(EntryMeta("short", ["none"], 6, [], split="train"), {e: x[:6] for e, x in fresh().items()})
    store.write_entry(EntryMeta("silent", [], 24, [], split="train"), {"image": fresh()["image"]})
    return root, flipped


@pytest.fixture(scope="session")
def planted_run(planted, tmp_path_factory):
    """A tiny network trained on the planted store (more epochs than its cross-fitted copies train)."""
    root = tmp_path_factory.mktemp("netfit") / "run"
    return make_coarse_run(FeatureStore(planted[0]), root, epochs=12).root


NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory) -> Path:
    """docs/notebooks/quickstart.ipynb executed in a kernel of this Python, in a fresh folder; its work folder."""
    import nbformat
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("quickstart")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    src = str(Path(mmx.__file__).resolve().parents[1])  # the kernel imports the mmx under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute(
        env=env)
    nbformat.write(nb, folder / "executed.ipynb")
    return folder / "mmx-quickstart"
