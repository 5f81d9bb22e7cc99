"""`mmx scenes`, `mmx search --scene/--scene-video/--other-trailers` and `mmx evaluate --scenes` end to end,
on generated videos (known shot genres) extracted with the cheap fake experts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import extract_fakes  # noqa: F401  (registers the fake experts)
from helpers import make_coarse_run
from mmx.data.store import FeatureStore
from mmx.extract import ExtractConfig
from mmx.extract.batch import extract_videos
from mmx.run import Run
from mmx.scenes.compute import clip_vectors
from mmx.scenes.scene_set import load_scenes
from mmx.synthetic.videos import VideoCorpusConfig, generate_videos
from mmx_cli.main import main

pytestmark = pytest.mark.slow  # videos extracted, a run trained, scenes searched end to end

EXPERTS = ["fake_colour", "fake_loudness"]


@pytest.fixture(scope="module")
def video_run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scene-videos")
    videos = root / "videos"
    generate_videos(videos, VideoCorpusConfig(n_videos=8, seed=1, width=64, height=48, shots=(10, 11),
                                              shot_frames=(16, 18), genres=["Action", "Comedy", "Horror"]))
    store = FeatureStore.create(root / "store")
    report = extract_videos([videos], store, ExtractConfig(experts=EXPERTS, flow_workers=0),
                            labels=videos / "labels.csv", progress=False)
    assert report.ok, report.failed
    run = make_coarse_run(FeatureStore(root / "store"), root / "run").root
    assert main(["scenes", "--run", str(run), "--quiet"]) == 0
    return run, videos


def search(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main(["search", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_scene_vectors_are_the_networks_clip_vectors(video_run):
    run = Run.open(video_run[0])
    scenes = load_scenes(run.root)
    tid = scenes.trailer_ids[2]
    direct = clip_vectors(run.model(), run.store, run.info, [tid], precision=run.precision)[tid]
    rows = scenes.rows_of(tid)
    np.testing.assert_allclose(scenes.vectors[rows.start : rows.stop],
                               direct / np.linalg.norm(direct, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(scenes.start[rows.start : rows.stop], run.store.load_clip_times(tid)[:, 0], atol=1e-5)


def test_search_by_scene_second(video_run, capsys, tmp_path):
    run = Run.open(video_run[0])
    scenes = load_scenes(run.root)
    tid = scenes.trailer_ids[0]
    rows = scenes.rows_of(tid)
    second = float(scenes.start[rows[4]]) + 0.05
    out = search(capsys, "--run", str(run.root), "--scene", f"{tid}@{second}", "-k", "5",
                 "--keyframes", str(tmp_path / "kf"))
    assert out["query"]["trailer_id"] == tid and out["query"]["clip"] == 4 and len(out["results"]) == 5
    assert all(r["keyframe"] and Path(r["keyframe"]).read_bytes()[:2] == b"\xff\xd8" for r in out["results"])
    other = search(capsys, "--run", str(run.root), "--scene", f"{tid}@{second}", "-k", "20", "--other-trailers")
    assert len(other["results"]) == 20 and all(r["trailer_id"] != tid for r in other["results"])
    assert main(["search", "--run", str(run.root), "--scene", f"{tid}@9999"]) == 2
    assert main(["search", "--run", str(run.root), "--scene", "no-at-sign"]) == 2


def test_search_by_video_uses_the_runs_experts(video_run, capsys):
    from mmx.api import video_scene_vector

    run, videos = video_run
    opened = Run.open(run)
    scenes = load_scenes(run)
    rows = scenes.rows_of("synth003")
    own = scenes.vectors[rows.start : rows.stop].mean(0)
    q = video_scene_vector(opened, videos / "synth003.mp4")  # extracted again: the very same clip vectors
    np.testing.assert_allclose(q, own / np.linalg.norm(own), atol=1e-4)
    out = search(capsys, "--run", str(run), "--scene-video", str(videos / "synth003.mp4"), "-k", "5")
    assert out["query"] is None and len(out["results"]) == 5
    assert out["results"][0]["score"] == pytest.approx(float((scenes.vectors @ q).max()), abs=1e-4)


def test_evaluate_scenes_on_known_shot_genres(video_run, capsys):
    run = video_run[0]
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--scenes", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["trailers"] == 8 and result["scenes"] >= 70 and set(result["shot_genres"]) <= {"Action", "Comedy", "Horror"}
    for key in ("mmx_precision_at_10", "raw_precision_at_10", "random_precision_at_10"):
        assert 0 <= result[key] <= 1
    assert result["random_precision_at_10"] < 0.6


def test_imported_embeddings_have_no_scenes(tmp_path, capsys):
    from helpers import make_embeddings_run

    run = make_embeddings_run(tmp_path)
    assert main(["scenes", "--run", str(run)]) == 2
    assert "coarse or fine run" in capsys.readouterr().err
    assert main(["search", "--run", str(run), "--scene", "film001@1"]) == 2


# ---------------------------------------------------------------------------- trailers join the run
@pytest.fixture()
def run_copy(video_run, tmp_path) -> Path:
    """A copy of the video run (and its store) that new trailers may join."""
    src = video_run[0].parent
    shutil.copytree(src / "run", tmp_path / "run")
    shutil.copytree(src / "store", tmp_path / "store")
    info = tmp_path / "run" / "run.json"
    info.write_text(info.read_text().replace(str(src / "store"), str(tmp_path / "store")))
    return tmp_path / "run"


def new_videos(folder: Path, n: int) -> list[Path]:
    generate_videos(folder, VideoCorpusConfig(n_videos=n, seed=7, width=64, height=48, shots=(6, 7),
                                              shot_frames=(16, 18), genres=["Action", "Comedy"]))
    return [p.rename(p.with_name(f"new-{p.name}")) for p in sorted(folder.glob("*.mp4"))]


def test_added_trailers_join_every_derived_file(run_copy, tmp_path, capsys):
    from mmx.index import load_run_index

    assert main(["embed", "--run", str(run_copy)]) == 0
    assert main(["index", "--run", str(run_copy), "--kind", "hnsw"]) == 0
    videos = new_videos(tmp_path / "new", 3)
    side = videos.pop()  # extracted into the store behind the run's back: it joins with the added ones
    extract_videos([side], FeatureStore(Run.open(run_copy).info.store), ExtractConfig(experts=EXPERTS, flow_workers=0),
                   progress=False)
    capsys.readouterr()
    assert main(["add", *map(str, videos), "--run", str(run_copy), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "stale" not in out.err and "scenes.npz" in out.out and "index-hnsw.faiss" in out.out
    run = Run.open(run_copy)  # reopened, as after a restart: everything is read from disk
    new = sorted(p.stem for p in [*videos, side])
    assert set(new) <= set(run.embeddings().ids) and set(new) <= set(load_scenes(run_copy).trailer_ids)
    assert set(new) <= set(load_run_index(run).ids)  # the index still matches the embeddings
    hit = search(capsys, "--run", str(run_copy), "--scene", f"{new[0]}@0.5", "-k", "3")
    assert hit["query"]["trailer_id"] == new[0] and len(hit["results"]) == 3
    near = search(capsys, "--run", str(run_copy), new[1], "-k", "3")
    assert len(near) == 3 and new[1] not in {h["trailer_id"] for h in near}


def test_a_stale_artifact_is_named_with_its_command(run_copy, tmp_path, capsys):
    import os

    # trailers extracted into the store after `mmx scenes`: the scene vectors no longer cover the store
    extract_videos(new_videos(tmp_path / "new", 1), FeatureStore(Run.open(run_copy).info.store),
                   ExtractConfig(experts=EXPERTS, flow_workers=0), progress=False)
    capsys.readouterr()
    assert main(["search", "--run", str(run_copy), "--scene", "synth000@0.5"]) == 2
    err = capsys.readouterr().err
    assert "scenes.npz holds 8 trailers" in err and "1 added since it was built" in err
    assert f"mmx scenes --run {run_copy}" in err
    assert main(["info", str(run_copy), "--json"]) == 0  # `mmx info` lists what is stale, with the same words
    stale = json.loads(capsys.readouterr().out)["stale"]
    assert any("scenes.npz holds 8 trailers" in s and "mmx scenes --run" in s for s in stale)
    assert any("embeddings.npz" in s and "mmx embed --run" in s for s in stale)
    assert main(["scenes", "--run", str(run_copy), "--quiet"]) == 0
    os.utime(run_copy / "best.safetensors")  # new weights: what was computed from the old ones is stale
    more = new_videos(tmp_path / "more", 1)
    more = [more[0].rename(more[0].with_name("later.mp4"))]
    capsys.readouterr()
    assert main(["add", str(more[0]), "--run", str(run_copy), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "scenes.npz is older than the run's weights" in err and f"`mmx scenes --run {run_copy}`" in err
    assert "later" in FeatureStore(Run.open(run_copy).info.store).entries()  # the trailer itself is kept
    assert "later" not in load_scenes(run_copy).trailer_ids  # and the stale scenes left as they were


def test_added_and_ingested_trailers_are_checked_with_the_run(run_copy, video_run, tmp_path, capsys):
    """`mmx check RUN` and the explorer's findings cover the trailers that joined the run after training: a
    training video added again is a duplicate (not a split leak: the copy has no split), a silent track is found."""
    import time

    from fastapi.testclient import TestClient

    from mmx.synthetic.videos import VideoCorpusConfig, make_trailer
    from mmx_serve.app import create_app

    videos = video_run[1]
    first, second = sorted(Run.open(run_copy).info.splits["train"])[:2]
    shutil.copy(videos / f"{first}.mp4", tmp_path / "again.mp4")
    make_trailer(tmp_path / "hush.mp4", ["Horror"] * 10, [18] * 10, VideoCorpusConfig(width=64, height=48),
                 np.random.default_rng(3), silent=True)
    added = [str(tmp_path / "again.mp4"), str(tmp_path / "hush.mp4")]
    assert main(["add", *added, "--run", str(run_copy), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["check", str(run_copy), "--json"]) == 0  # no error: the copy is no split leak
    report = json.loads(capsys.readouterr().out)
    assert report["n_trailers"] == 10
    assert [sorted(f["trailers"]) for f in report["findings"] if f["check"] == "duplicates"] == [["again", first]]
    assert ("hush", "fake_loudness", "zero features") in {
        (f["trailers"][0], f.get("expert"), f["kind"]) for f in report["findings"] if f["check"] == "experts"}

    client = TestClient(create_app(run_copy, videos))

    def duplicates() -> list[list[str]]:  # once the findings are of the run as it is now
        deadline = time.time() + 120
        while (page := client.get("/api/findings", params={"check": "duplicates"}).json())["status"] != "ready":
            assert page["status"] != "failed" and time.time() < deadline, page
            time.sleep(0.2)
        return sorted(sorted(f["trailers"]) for f in page["findings"])

    assert duplicates() == [["again", first]]
    r = client.post("/api/ingest", data={"path": f"{second}.mp4", "trailer_id": "once more"})
    assert r.status_code == 200, r.text
    assert duplicates() == [["again", first], ["once more", second]]
    assert client.get("/api/findings", params={"check": "leaks"}).json()["total"] == 0
