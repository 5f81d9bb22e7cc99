"""``mmx export`` → ``datasets.load_dataset`` → ``mmx import --format parquet``: bit-exact round trips
(a store with window-level experts and keyframes, a trained run, and the 7,594 real embeddings)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import yaml

from mmx.data.formats import parquet
from mmx.data.store import FeatureStore
from mmx.embeddings import import_embeddings
from mmx.run import Run
from mmx_cli.main import main

pytestmark = pytest.mark.slow  # exports of trained runs and the real embeddings read back by datasets

TINY = ["--model", "tiny", "--set", "train.batch_size=8", "--set", "train.lr=3e-3", "--set", "train.threads=1"]


def load(folder, config, split, tmp_path):
    import datasets

    return datasets.load_dataset(str(folder), config, split=split, cache_dir=str(tmp_path / "hf-cache"))


def jpeg(value: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (value, 0, 0)).save(buf, format="JPEG")
    return buf.getvalue()


def assert_same_entries(a: FeatureStore, b: FeatureStore, keyframes: bool = True) -> None:
    assert sorted(a.entries()) == sorted(b.entries())
    for tid, m in a.entries().items():
        n = b.meta(tid)
        assert (m.genres, m.title, m.year, m.split, m.n_clips, m.experts) == (n.genres, n.title, n.year, n.split,
                                                                              n.n_clips, n.experts)
        for e in m.experts:
            x, y = a.load(tid, e), b.load(tid, e)
            assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes()), (tid, e)
            if a.experts[e].level == "window":
                assert np.array_equal(a.load_window_clips(tid, e), b.load_window_clips(tid, e))
        times = a.load_clip_times(tid)
        assert (times is None and b.load_clip_times(tid) is None) or times.tobytes() == b.load_clip_times(tid).tobytes()
        assert a.keyframes(tid) == (b.keyframes(tid) if keyframes else a.keyframes(tid))


@pytest.fixture
def store_with_keyframes(small_features, tmp_path):
    store = FeatureStore.create(tmp_path / "store")
    assert main(["import", str(small_features), "--store", str(store.root)]) == 0
    store = FeatureStore(store.root)
    for i, tid in enumerate(sorted(store.entries())[:5]):
        store.add_keyframes(tid, [jpeg((i * 40 + c) % 255) for c in range(store.meta(tid).n_clips)])
    return store


def test_store_round_trip_through_datasets_is_bit_exact(store_with_keyframes, tmp_path, capsys):
    store, out, back = store_with_keyframes, tmp_path / "dataset", tmp_path / "back"
    assert main(["export", "--store", str(store.root), "--out", str(out), "--title", "Demo trailers"]) == 0
    assert "keyframes in" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in front["configs"]] == ["trailers", "clips"]
    assert {f["split"] for f in front["configs"][1]["data_files"]} == {"train", "val", "test"}
    for section in ("Motivation", "Composition", "Collection process", "Preprocessing", "Uses", "Distribution",
                    "Maintenance", "What was skipped"):
        assert f"### {section}" in card
    assert "| `audio` | 6 | window |" in card

    clips = load(out, "clips", "train", tmp_path)
    first = clips[0]
    meta = store.meta(first["trailer_id"])
    assert np.array_equal(np.asarray(first["appearance"], np.float32), store.load(meta.trailer_id, "appearance")[0])
    assert set(clips.column_names) >= {"trailer_id", "clip", "start", "end", "audio", "keyframe"}
    with_image = next(r for r in clips if r["keyframe"] is not None)
    assert with_image["keyframe"].size == (8, 8)  # decoded by datasets as a PIL image
    trailers = load(out, "trailers", "test", tmp_path)
    assert len(trailers) + len(load(out, "trailers", "train", tmp_path)) + len(load(out, "trailers", "val", tmp_path)) == 80

    assert main(["import", str(out), "--store", str(back)]) == 0  # auto-detected: parquet
    assert "parquet: imported 80" in capsys.readouterr().out
    assert_same_entries(store, FeatureStore(back))
    assert main(["import", str(out), "--store", str(back)]) == 0
    assert "unchanged 80" in capsys.readouterr().out

    public = tmp_path / "public"
    assert main(["export", "--store", str(store.root), "--out", str(public), "--public-features-only"]) == 0
    assert "keyframe" not in load(public, "clips", "val", tmp_path).column_names
    assert "no keyframes" in (public / "README.md").read_text()
    assert main(["export", "--store", str(store.root), "--out", str(public)]) == 2  # not into a used folder


def test_run_adds_embeddings_and_genre_probabilities(small_store, tmp_path, capsys):
    run, out = tmp_path / "run", tmp_path / "dataset"
    assert main(["train", "--store", str(small_store.root), "--out", str(run), "--epochs", "1", "--quiet"] + TINY) == 0
    assert main(["export", "--run", str(run), "--out", str(out), "--public-features-only"]) == 0
    opened = Run.open(run)
    trailers = load(out, "trailers", "test", tmp_path)
    row = trailers[0]
    emb = opened.embeddings()
    assert np.array_equal(np.asarray(row["embedding"], np.float32), emb.vectors[emb.position[row["trailer_id"]]])
    assert len(row["genre_probs"]) == len(opened.info.genres)
    clips = load(out, "clips", "test", tmp_path)
    assert all(len(p) == len(opened.info.genres) for p in clips["genre_probs"][:5])
    assert set(trailers["trailer_id"]) == set(opened.info.splits["test"])  # shards follow the run's splits


def test_real_embeddings_round_trip_as_a_trailers_only_dataset(shared_data, tmp_path, capsys):
    src = shared_data / "mmx-visualiser"
    run, out = tmp_path / "run", tmp_path / "dataset"
    import_embeddings(src / "embeddings.npz", src / "metadata.csv", run)
    assert main(["export", "--run", str(run), "--out", str(out)]) == 0
    assert not (out / "clips").exists()
    emb = Run.open(run).embeddings()
    loaded = {s: load(out, "trailers", s, tmp_path) for s in ("train", "val", "test")}
    assert sum(len(d) for d in loaded.values()) == len(emb.ids) == 7594
    d = next(iter(loaded.values()))
    i = emb.position[d[0]["trailer_id"]]
    assert np.asarray(d[0]["embedding"], np.float32).tobytes() == emb.vectors[i].tobytes()
    # what `mmx import DIR --format parquet` writes, without its 7,594 fsynced entry writes (~2 min on a
    # loaded disk; the store writes are covered by the tests above, the full import was timed in the note)
    records = {r.trailer_id: r for r in parquet.records(out, json.loads((out / parquet.MANIFEST).read_text()))}
    assert sorted(records) == sorted(emb.ids)
    got = np.stack([records[t].arrays["embedding"][0] for t in emb.ids])  # (7594, 1024)
    assert got.dtype == np.float32 and got.tobytes() == emb.vectors.astype(np.float32).tobytes()
    assert [records[t].genres for t in emb.ids] == emb.genres
    assert [(records[t].title, records[t].year) for t in emb.ids] == list(zip(emb.titles, emb.years))
