"""Every read path crossed with every way data varies (``variations``), for every network.

Collections (``variations.COLLECTIONS``): every per-trailer variation at once (an expert missing
from one trailer — one case per registered expert —, window-level experts with empty clips,
exactly ``data.min_clips`` clips, 2,000 clips, no clip times, keyframes or none, an expert recorded
broken — one vector repeated, a clip-level and a window-level one —, a dead opening where every
expert gives zeros, a genre with no positive in val and test); one trailer in val and in test;
stores that declare every expert while their trailers carry one (so an expert is missing from the
whole collection, and from every batch). Networks: the default (at tiny sizes), the paper's
structure (``tiny``), naive concatenation, and an imported-embeddings run made from the default
run's embeddings; every run reads broken experts as missing (``data.mask_broken_experts``,
``data.mask_noise_like``). Precisions: every run above in fp32; and, on the collection that carries
every per-trailer variation, each network trained and read in bf16 mixed precision
(``train.precision=bf16``: CPU autocast, which asks of the model's dtypes what GPU autocast asks),
the default one fine-tuned too: the default network through every read path that runs the network
(``NETWORK_PATHS``; the others read the vectors those wrote) but two whose network calls are
another path's (a query file is embedded as ``embed`` embeds; the explorer asks for timelines and
clip vectors), the others through the paths that ask each of the network's outputs once —
embedding, genre logits, clip vectors (``BF16_PATHS``): about 8 s more on two cores at load 4.

A read path is a function registered in ``READ_PATHS``; it runs through the CLI's ``main`` (or
the explorer's API) on one run and checks what it returns. Paths that do not apply to an
imported-embeddings run must refuse it with a clear error (exit status 2), not a traceback.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

import variations as var
from mmx.config import FinetuneConfig, load_config, merge
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.data.vectors import read_npz
from mmx.embeddings import import_embeddings
from mmx.presets import MODELS
from mmx.progress import QUIET
from mmx.run import Run
from mmx.train.coarse import train
from mmx.train.finetune import finetune
from mmx_cli.main import main
from mmx_serve.app import create_app

pytestmark = pytest.mark.slow  # every read path of every collection and network: minutes

TINY_SIZES = {k: v for k, v in vars(MODELS.create("tiny")).items()
              if k in ("expert_dim", "netvlad_clusters", "gem_dim", "clip_dim", "seq_len", "n_seqs", "seq_hidden",
                       "seq_dim", "bottleneck_hidden", "embed_dim", "head_hidden")}
NETWORKS = {  # name → model settings; "embeddings" is the imported-embeddings run of the default's vectors
    "default": {**vars(MODELS.create("default")), **TINY_SIZES},
    "paper": vars(MODELS.create("tiny")),
    "concat": {**vars(MODELS.create("tiny")), "fusion": "concat"},
    "embeddings": None,
}
PRECISIONS = ["fp32", "bf16"]  # train.precision of the runs (bf16 on BF16_COLLECTION only)


@dataclass
class Case:
    collection: var.Collection
    folder: Path  # the import folder (npz files are also search queries)
    store: FeatureStore
    run: Path
    network: str
    tmp: Path

    @property
    def has_model(self) -> bool:
        return self.network != "embeddings"

    @property
    def queries(self) -> list[str]:
        """The test split's trailers: every per-trailer variation."""
        return [t.trailer_id for t in self.collection.trailers if t.split == "test"]

    def trailer(self, tid: str) -> var.Trailer:
        return next(t for t in self.collection.trailers if t.trailer_id == tid)

    def cli(self, *argv: str) -> int:
        return main(list(argv))


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, tuple[Path, FeatureStore]]:
    out = {}
    for name, collection in var.COLLECTIONS.items():
        root = tmp_path_factory.mktemp(name)
        folder = var.build(collection, root / "features")
        store = FeatureStore.create(root / "store")
        store.register_experts(var.EXPERT_INFOS)  # declared even where no trailer carries them
        report = import_folder(folder, store)
        assert report.ok, report.problems
        out[name] = (folder, store)
    return out


BF16_COLLECTION = "mixed"  # the collection the bf16 runs are trained on: every per-trailer variation


@pytest.fixture(scope="module")
def runs(stores, tmp_path_factory) -> dict[tuple[str, str, str], Path]:
    """(collection, network, precision) → a run trained for 2 epochs (the embeddings run: the default's vectors);
    in bf16 the networks of ``BF16_COLLECTION``, the default one fine-tuned for an epoch too."""
    out = {}
    base = load_config(overrides=["train.batch_size=4", "train.lr=3e-3", "train.threads=1",
                                  "data.mask_broken_experts=true", "data.mask_noise_like=true"])
    for name, (folder, store) in stores.items():
        root = tmp_path_factory.mktemp(f"runs-{name}")
        for network, model in NETWORKS.items():
            for precision in PRECISIONS if name == BF16_COLLECTION else ["fp32"]:
                if model is None:
                    continue
                cfg = merge(base, {"model": model, "train": {"epochs": 2, "precision": precision}})
                train(store, root / f"{network}-{precision}", cfg, reporter=QUIET)
                out[name, network, precision] = root / f"{network}-{precision}"
        if name == BF16_COLLECTION:  # NT-Xent in bf16 over every variation: each epoch recorded in its precision
            fine = finetune(root / "default-bf16", root / "fine-bf16", FinetuneConfig(epochs=1, batch_size=4, precision="bf16",
                                                                                    proj_hidden=16, threads=1))
            assert {h["precision"] for h in fine.history} == {"bf16"}
            assert np.isfinite(read_npz(root / "fine-bf16" / "embeddings.npz")[1]).all()
        assert main(["embed", "--run", str(root / "default-fp32")]) == 0
        labels = root / "labels.csv"
        with open(folder / "labels.csv", newline="") as f, open(labels, "w", newline="") as g:
            rows = list(csv.DictReader(f))
            writer = csv.DictWriter(g, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        import_embeddings(root / "default-fp32" / "embeddings.npz", labels, root / "embeddings")
        out[name, "embeddings", "fp32"] = root / "embeddings"
    return out


def test_broken_variations_are_recorded_and_runs_mask_them(stores, runs):
    folder, store = stores["mixed"]
    for t in var.COLLECTIONS["mixed"].trailers:
        dead = store.dead(t.trailer_id)
        planted = set(t.broken) | (set(var.EXPERT_INFOS) - set(t.missing) if t.dead_opening else set())
        assert set(dead) == planted, t.trailer_id
    assert Run.open(runs["mixed", "default", "fp32"]).info.mask_broken
    assert {p: Run.open(runs["mixed", "default", p]).info.precision for p in PRECISIONS} == {p: p for p in PRECISIONS}


# ---------------------------------------------------------------------------- the read paths
READ_PATHS: dict[str, Callable] = {}  # name → check(case, capsys)
# paths that need a network → the command an imported-embeddings run must refuse with a clear error
REFUSED: dict[str, Callable[[Case], list[str]]] = {}


def read_path(name: str, refused: Callable[[Case], list[str]] | None = None):
    def deco(fn: Callable) -> Callable:
        READ_PATHS[name] = fn
        if refused is not None:
            REFUSED[name] = refused
        return fn
    return deco


def _run(c: Case, *argv: str) -> list[str]:
    return [argv[0], "--run", str(c.run), *argv[1:]]


def _json(capsys) -> object:
    return json.loads(capsys.readouterr().out)


@read_path("embed")
def _embed(c: Case, capsys) -> None:
    out = c.tmp / "emb.npz"
    assert c.cli("embed", "--run", str(c.run), "--out", str(out)) == 0
    ids, vectors = read_npz(out)
    assert set(c.queries) <= set(ids) and np.isfinite(vectors).all() and (np.linalg.norm(vectors, axis=1) > 0).all()


@read_path("predict", refused=lambda c: _run(c, "predict", c.queries[0]))
def _predict(c: Case, capsys) -> None:
    for tid in c.queries:  # one trailer a call: a batch that lacks whatever that trailer lacks
        assert c.cli("predict", "--run", str(c.run), tid, "--json") == 0, tid
        (row,) = _json(capsys)
        p = np.array(list(row["probabilities"].values()))
        assert row["trailer_id"] == tid and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all(), tid


@read_path("timeline", refused=lambda c: _run(c, "predict", c.queries[0], "--timeline"))
def _timeline(c: Case, capsys) -> None:
    for tid in c.queries:
        assert c.cli("predict", "--run", str(c.run), tid, "--timeline", "--json") == 0, tid
        (row,) = _json(capsys)
        t = c.trailer(tid)
        assert len(row["clips"]) == t.n_clips, tid
        assert (row["clips"][-1]["end"] is None) == (not t.times), tid
        assert all(np.isfinite(list(clip["probabilities"].values())).all() for clip in row["clips"]), tid


@read_path("search-id")
def _search_id(c: Case, capsys) -> None:
    for tid in c.queries:
        assert c.cli("search", "--run", str(c.run), tid, "-k", "3", "--json") == 0, tid
        hits = _json(capsys)
        assert 1 <= len(hits) <= 3 and tid not in [h["trailer_id"] for h in hits], tid
        assert all(np.isfinite(h["score"]) for h in hits), tid


@read_path("search-npz", refused=lambda c: _run(c, "search", str(c.folder / f"{c.queries[0]}.npz")))
def _search_npz(c: Case, capsys) -> None:
    for tid in c.queries:  # the trailer's own import file as a new trailer: it finds itself first
        assert c.cli("search", "--run", str(c.run), str(c.folder / f"{tid}.npz"), "-k", "3", "--json") == 0, tid
        hits = _json(capsys)
        assert hits[0]["trailer_id"] == tid and hits[0]["score"] == pytest.approx(1.0, abs=1e-4), tid


def _scenes(c: Case) -> None:
    assert c.cli("scenes", "--run", str(c.run), "--quiet") == 0


@read_path("scenes", refused=lambda c: _run(c, "scenes"))
def _scene_vectors(c: Case, capsys) -> None:
    _scenes(c)
    from mmx.scenes.scene_set import load_scenes

    scenes = load_scenes(c.run)
    for t in c.collection.trailers:
        rows = scenes.rows_of(t.trailer_id)
        assert len(rows) == t.n_clips, t.trailer_id  # every clip, also past the 40 windows of a long one
        assert np.isfinite(scenes.vectors[rows.start:rows.stop]).all(), t.trailer_id


@read_path("scene-search", refused=lambda c: _run(c, "search", "--scene", f"{c.queries[0]}@3"))
def _scene_search(c: Case, capsys) -> None:
    _scenes(c)
    capsys.readouterr()
    for tid in c.queries:
        code = c.cli("search", "--run", str(c.run), "--scene", f"{tid}@3", "-k", "3", "--json")
        out = capsys.readouterr()
        if not c.trailer(tid).times:  # no clip times: a second cannot be placed, and it says so
            assert code == 2 and "clip times" in out.err, (tid, out.err)
            continue
        assert code == 0, (tid, out.err)
        body = json.loads(out.out)
        assert body["query"]["clip"] == 1 and len(body["results"]) == 3, tid


@read_path("evaluate", refused=lambda c: _run(c, "evaluate"))
def _evaluate(c: Case, capsys) -> None:
    assert c.cli("evaluate", "--run", str(c.run), "--json") == 0
    out = _json(capsys)
    assert out["n"] == len(c.queries) and 0 <= out["auprc_weighted"] <= 1
    assert "probe" in out and "random" in out


@read_path("evaluate-retrieval")
def _retrieval(c: Case, capsys) -> None:
    assert c.cli("evaluate", "--run", str(c.run), "--retrieval", "--json", "-k", "3") == 0
    out = _json(capsys)
    assert 0 <= out["precision_at_3"] <= 1 and np.isfinite(out["map"])


@read_path("evaluate-scenes", refused=lambda c: _run(c, "evaluate", "--scenes", "--truth", str(c.folder / "truth.json")))
def _scene_eval(c: Case, capsys) -> None:
    _scenes(c)
    capsys.readouterr()
    assert c.cli("evaluate", "--run", str(c.run), "--scenes", "--truth", str(c.folder / "truth.json"),
                 "--json", "-k", "3") == 0
    out = _json(capsys)
    assert 0 <= out["mmx_precision_at_3"] <= 1 and 0 <= out["random_precision_at_3"] <= 1
    carried = {e for t in c.collection.trailers for e in var.CLIP_EXPERTS if e not in t.missing + c.collection.absent}
    if carried:  # raw features beside the scene vectors, on the trailers that carry them
        assert out["raw_expert"] in carried and 0 <= out["raw_precision_at_3"] <= 1
        assert out["trailers_without_raw"] == sum(out["raw_expert"] in t.missing for t in c.collection.trailers)
    else:
        assert out["raw_expert"] is None and out["raw_precision_at_3"] is None


@read_path("suggest", refused=lambda c: _run(c, "suggest", "--out", str(c.tmp / "s.csv")))
def _suggest(c: Case, capsys) -> None:
    out = c.tmp / "suggest.csv"
    assert c.cli("suggest", "--run", str(c.run), "--out", str(out)) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(0 <= float(r["probability"]) <= 1 for r in rows)


@read_path("labels-export")
def _labels(c: Case, capsys) -> None:
    out = c.tmp / "labels.csv"
    assert c.cli("labels", "export", "--run", str(c.run), "--out", str(out)) == 0
    with open(out, newline="") as f:
        ids = {r["trailer_id"] for r in csv.DictReader(f)}
    assert set(c.queries) <= ids


@read_path("report")
def _report(c: Case, capsys) -> None:
    out = c.tmp / "report"
    assert c.cli("report", "--run", str(c.run), "--out", str(out)) == 0
    assert "Fig. 8" in (out / "report.html").read_text()
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"fig1_tsne", "fig4_dataset"} <= figures
    assert any(f.startswith("fig8") for f in figures) == c.has_model  # the timeline needs a network


@read_path("explorer")
def _explorer(c: Case, capsys) -> None:
    client = TestClient(create_app(c.run))
    for tid in c.queries:
        d = client.get(f"/api/trailers/{tid}")
        assert d.status_code == 200, (tid, d.text)
        body = d.json()
        assert np.isfinite(list(body["probabilities"].values())).all(), tid
        if c.has_model:
            assert len(body["timeline"]) == c.trailer(tid).n_clips, tid
        key = client.get("/api/keyframe", params={"id": tid, "clip": 0})
        scenes = client.get("/api/scenes", params={"id": tid, "clip": 0, "k": 3})
        if not c.has_model:
            assert key.status_code == scenes.status_code == 409, tid
            continue
        assert key.status_code == (200 if c.trailer(tid).keyframes else 404), (tid, key.text)
        assert scenes.status_code == 200 and len(scenes.json()["results"]) == 3, (tid, scenes.text)


# the read paths that run the network (the rest read what these wrote: the run's embeddings)
NETWORK_PATHS = [p for p in READ_PATHS if p in REFUSED or p in ("embed", "explorer")]
BF16_PATHS = {net: [p for p in NETWORK_PATHS if p not in ("search-npz", "explorer")] if net == "default"
              else ["embed", "predict", "scenes"] for net, model in NETWORKS.items() if model}
CASES = [(coll, net, "fp32", path) for coll in var.COLLECTIONS for net in NETWORKS for path in READ_PATHS]
CASES += [(BF16_COLLECTION, net, "bf16", path) for net, paths in BF16_PATHS.items() for path in paths]


@pytest.mark.parametrize("collection, network, precision, path", CASES,
                         ids=["-".join(x for x in c if x != "fp32") for c in CASES])
def test_read_path(collection, network, precision, path, stores, runs, tmp_path, capsys):
    folder, store = stores[collection]
    case = Case(var.COLLECTIONS[collection], folder, store, runs[collection, network, precision], network, tmp_path)
    if not case.has_model and path in REFUSED:
        code, err = main(REFUSED[path](case)), capsys.readouterr().err
        assert code == 2 and "embeddings" in err and "Traceback" not in err, err
        return
    READ_PATHS[path](case, capsys)
