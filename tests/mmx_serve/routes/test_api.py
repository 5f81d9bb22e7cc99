"""`mmx serve`'s JSON API: listing, details, search, the map, ingest, and each refusal with a status and words that say why."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import extract_fakes  # noqa: F401  (registers the cheap fake experts the model run is made of)
from helpers import GENRES, make_coarse_run, make_embeddings_run, make_video
from mmx.data.importer import import_folder
from mmx.data.store import FeatureStore
from mmx.data.vectors import read_npz, write_npz
from mmx.embeddings import ensure_embeddings
from mmx.inference import label_suggestions
from mmx.ingests import IngestLog
from mmx.retrieval import nearest
from mmx.run import RunDir
from mmx.synthetic.features import SyntheticConfig, generate
from mmx_cli.main import main
from mmx_serve.app import create_app
from mmx_serve.collection import Collection, ServeConfig


@pytest.fixture(scope="session")
def emb_run(tmp_path_factory) -> Path:
    return make_embeddings_run(tmp_path_factory.mktemp("serve-emb"))


@pytest.fixture(scope="module")
def model_run(tmp_path_factory) -> RunDir:
    """A tiny coarse run on a store whose experts are the fake extractor's, so videos can be ingested."""
    root = tmp_path_factory.mktemp("serve-model")
    cfg = SyntheticConfig(
        n_trailers=40, seed=2, clips=(10, 16), dims={"fake_colour": 6, "fake_loudness": 2},
        snr={"fake_colour": 1.5, "fake_loudness": 0.8}, window_expert="fake_loudness",
    )
    store = FeatureStore.create(root / "store")
    assert import_folder(generate(root / "features", cfg), store).ok
    return make_coarse_run(store, root / "run")


@pytest.fixture(scope="module")
def client(emb_run) -> TestClient:
    return TestClient(create_app(emb_run))


@pytest.fixture()
def media(tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    make_video(root / "new film.mp4")
    return root


# ---------------------------------------------------------------------------- reading
def test_health_and_listing_filters_and_pages(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["trailers"] == 60 and health["spaces"] == ["embeddings"]
    assert health["ingest"] is False and health["vocabulary"] == GENRES
    page = client.get("/api/trailers", params={"limit": 7, "offset": 56}).json()
    assert page["total"] == 60 and len(page["items"]) == 4
    horror = client.get("/api/trailers", params={"genre": "Horror", "limit": 500}).json()
    assert horror["total"] == len([i for i in range(60) if i % 4 == 2 or (i % 4 == 1 and i % 5 == 0)])
    assert all("Horror" in t["genres"] for t in horror["items"])
    years = client.get("/api/trailers", params={"year_from": 2000, "year_to": 2004, "limit": 500}).json()
    assert years["total"] == 10 and all(2000 <= t["year"] <= 2004 for t in years["items"])
    found = client.get("/api/trailers", params={"q": "comedy story 1"}).json()
    assert {t["trailer_id"] for t in found["items"]} == {"film001", "film013", "film017"}


def test_detail_votes_genres_from_neighbours(client, emb_run):
    d = client.get("/api/trailers/%23Film 007").json()
    assert d["trailer_id"] == "#Film 007" and d["genres"] == ["Romance"] and d["source"] == "neighbour vote"
    emb = ensure_embeddings(emb_run)
    hits = nearest(emb, "#Film 007", 15)
    for g in GENRES:  # share of the 15 nearest trailers carrying the genre
        assert d["probabilities"][g] == pytest.approx(sum(g in h.genres for h in hits) / 15, abs=1e-4)
    assert d["predicted"][0] == "Romance" and d["timeline"] is None
    assert set(d["suggested_add"]) == set(d["predicted"]) - {"Romance"}


def test_search_is_exact_cosine(client, emb_run):
    body = client.get("/api/search", params={"id": "film010", "k": 5}).json()
    ids, vectors = read_npz(Path(emb_run) / "embeddings.npz")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit[ids.index("film010")]
    scores[ids.index("film010")] = -np.inf
    best = np.argsort(-scores)[:5]
    assert [r["trailer_id"] for r in body["results"]] == [ids[i] for i in best]
    np.testing.assert_allclose([r["score"] for r in body["results"]], scores[best], rtol=1e-5)
    assert all(r["genres"][0] == "Horror" for r in body["results"])  # the clusters are well apart


def test_search_uses_a_faiss_index_when_the_run_has_one(tmp_path):
    index = pytest.importorskip("mmx.index", reason="faiss is not installed")
    run = make_embeddings_run(tmp_path)
    exact = TestClient(create_app(run)).get("/api/search", params={"id": "film003", "k": 8}).json()["results"]
    index.build_run_index(run, index.IndexConfig(kind="hnsw"))
    client = TestClient(create_app(run))
    assert client.get("/api/health").json()["index"] == {"embeddings": "hnsw"}
    hits = client.get("/api/search", params={"id": "film003", "k": 8}).json()["results"]
    assert [h["trailer_id"] for h in hits] == [h["trailer_id"] for h in exact]  # HNSW is exact on 60 points
    np.testing.assert_allclose([h["score"] for h in hits], [h["score"] for h in exact], rtol=1e-5)


def test_map_covers_every_trailer_and_is_cached(client, emb_run):
    m = client.get("/api/map").json()
    assert m["count"] == len(m["ids"]) == len(m["x"]) == len(m["y"]) == 60
    assert m["genres"] == GENRES and m["labels"][7] == [GENRES.index("Romance")]
    cache = Path(emb_run) / "layout.npz"  # the run's map, shared with the report (mmx.layout)
    with np.load(cache, allow_pickle=False) as z:
        assert z["trailer_id"].tolist() == m["ids"] and z["xy"].shape == (60, 2)
    # t-SNE keeps clusters: each point's nearest map neighbour mostly shares its primary genre
    xy = np.c_[m["x"], m["y"]]
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1) + np.eye(60) * 1e9
    same = [m["labels"][i][0] == m["labels"][j][0] for i, j in enumerate(d.argmin(1))]
    assert np.mean(same) > 0.9
    again = Collection(emb_run).main.layout()  # read back from the cache, not recomputed
    np.testing.assert_allclose(again.xy, xy, atol=1e-3)


def test_map_is_made_again_when_the_embeddings_change(tmp_path):
    run = make_embeddings_run(tmp_path)
    first = Collection(run).main.layout().xy
    ids, vectors = read_npz(run / "embeddings.npz")
    # a retrained run: same ids, new vectors (each trailer another's: a map is the same up to a turn whatever
    # the order of the features, and mmx.layout turns every map the same way)
    write_npz(run / "embeddings.npz", ids, vectors[::-1].copy())
    second = Collection(run).main.layout().xy
    assert np.abs(second - first).max() > 1


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="map"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("url, status, words", [
    ("/api/trailers/nope", 404, "not in the run"),
    ("/api/trailers/film01", 404, "did you mean"),
    ("/api/search?id=nope", 404, "not in the run"),
    ("/api/search?id=film001&k=0", 422, "greater than or equal to 1"),
    ("/api/search?id=film001&k=101", 422, "less than or equal to 100"),
    ("/api/search?id=film001&k=ten", 422, "valid integer"),
    ("/api/search?k=3", 422, "Field required"),
    ("/api/search?id=film001&space=fine", 422, "Input should be 'embeddings'"),
    ("/api/trailers?limit=0", 422, "greater than or equal to 1"),
    ("/api/trailers?offset=-1", 422, "greater than or equal to 0"),
    ("/api/trailers?year_from=abc", 422, "valid integer"),
    ("/api/map?space=../x", 422, "Input should be 'embeddings'"),
])
def test_bad_queries_get_clear_errors(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status
    assert words in str(r.json()["detail"])


def test_ingest_refused_for_embeddings_only_run(client, media):
    r = client.post("/api/ingest", files={"file": ("a.mp4", (media / "new film.mp4").read_bytes(), "video/mp4")})
    assert r.status_code == 409 and "without a network" in r.json()["detail"]


def test_serve_refuses_public_bind_without_flag(emb_run, capsys):
    assert main(["serve", "--run", str(emb_run), "--host", "0.0.0.0"]) == 2
    assert "--public" in capsys.readouterr().err
    assert main(["serve", "--run", str(emb_run), "--host", "192.168.1.5", "--port", "1"]) == 2


# ---------------------------------------------------------------------------- ingest
@pytest.fixture()
def model_client(model_run, media) -> TestClient:
    return TestClient(create_app(model_run.root, media, ServeConfig(max_upload_mb=1)))


def entries(run: RunDir) -> set[str]:
    return set(FeatureStore(run.read_info().store).entries())


@pytest.mark.slow
def test_model_run_details_have_genre_head_and_timeline(model_client, model_run):
    tid = model_run.read_info().splits["test"][0]
    d = model_client.get(f"/api/trailers/{tid}").json()
    assert d["source"] == "genre head" and d["vocabulary"] == model_run.read_info().genres
    n_clips = FeatureStore(model_run.read_info().store).meta(tid).n_clips
    assert len(d["timeline"]) == n_clips and len(d["timeline"][0]["probabilities"]) == len(d["vocabulary"])
    s = label_suggestions(model_run, [tid])[0]
    assert d["probabilities"] == pytest.approx(s["probabilities"], abs=1e-4)
    assert d["suggested_add"] == s["added"] and d["suggested_drop"] == s["missing"]


@pytest.mark.slow
def test_bad_uploads_store_nothing(model_client, model_run, tmp_path):
    before = entries(model_run)
    text = model_client.post("/api/ingest", files={"file": ("notes.mp4", b"just some text" * 100, "video/mp4")})
    assert text.status_code == 415 and "not a video" in text.json()["detail"]
    suffix = model_client.post("/api/ingest", files={"file": ("x.txt", b"hello", "text/plain")})
    assert suffix.status_code == 415
    big = model_client.post("/api/ingest", files={"file": ("big.mp4", b"\0" * (2 * 2**20), "video/mp4")})
    assert big.status_code == 413 and "nothing was stored" in big.json()["detail"]
    none = model_client.post("/api/ingest", data={"title": "x"})
    assert none.status_code == 422
    assert entries(model_run) == before
    assert read_npz(model_run.root / "embeddings.npz")[0] == sorted(before)


@pytest.mark.slow
@pytest.mark.parametrize("path, status", [
    ("../outside.mp4", 403), ("sub/../../outside.mp4", 403), ("/etc/passwd", 403),
    ("escape.mp4", 403), ("missing.mp4", 404), ("loop.mp4", 422), ("a\0b.mp4", 422), ("a" * 300 + ".mp4", 422),
])
def test_paths_outside_media_root_are_forbidden(model_client, media, path, status):
    (media.parent / "outside.mp4").write_bytes((media / "new film.mp4").read_bytes())
    (media / "escape.mp4").symlink_to(media.parent / "outside.mp4")  # a link out of the media root
    (media / "loop.mp4").symlink_to(media / "loop.mp4")  # a link to itself
    r = model_client.post("/api/ingest", data={"path": path})
    assert r.status_code == status, r.text
    assert r.headers["x-content-type-options"] == "nosniff"  # answered by the app, not a 500 from outside it


@pytest.mark.slow
def test_ingest_refuses_genres_outside_the_vocabulary_and_oversized_chunked_uploads(model_client, model_run):
    before = entries(model_run)
    r = model_client.post("/api/ingest", data={"path": "new film.mp4", "genres": "Action|Western"})
    assert r.status_code == 422 and "'Western' are not among this run's genres" in r.text
    chunks = (b"\0" * 2**16 for _ in range(32))  # 2 MiB without a Content-Length (chunked), over the 1 MiB limit
    big = model_client.post("/api/ingest", content=chunks,
                            headers={"content-type": "multipart/form-data; boundary=x"})
    assert big.status_code == 413 and "nothing was stored" in big.json()["detail"]
    assert entries(model_run) == before


def test_a_failure_is_answered_500_with_the_security_headers(emb_run, monkeypatch):
    app = create_app(emb_run)
    monkeypatch.setattr(app.state.explorer, "health", lambda: 1 / 0)
    r = TestClient(app, raise_server_exceptions=False).get("/api/health")
    assert r.status_code == 500 and "log has the details" in r.json()["detail"]
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'none'" in r.headers["content-security-policy"]


@pytest.mark.slow
def test_ingest_joins_the_collection_and_survives_a_restart(model_client, model_run, media):
    before = entries(model_run)
    r = model_client.post("/api/ingest", data={"path": "new film.mp4", "title": "A New Film", "year": "2024",
                                               "genres": "Action|Comedy"})
    assert r.status_code == 200, r.text
    body = r.json()
    t = body["trailer"]
    assert t["trailer_id"] == "new film" and t["title"] == "A New Film" and t["genres"] == ["Action", "Comedy"]
    assert len(t["timeline"]) >= 9 and len(body["neighbours"]) == 10
    assert entries(model_run) == before | {"new film"}
    assert body["added_by"]["user"] is None and body["added_by"]["source"] == "new film.mp4"  # no accounts: nobody
    assert [(e.trailer_id, e.user) for e in IngestLog(model_run.root).entries()] == [("new film", None)]
    again = model_client.post("/api/ingest", data={"path": "new film.mp4"})
    assert again.status_code == 409
    # a fresh server (a restart) finds it, with the same vector the network gives the store entry
    fresh = TestClient(create_app(model_run.root))
    assert fresh.get("/api/trailers/new film").json()["title"] == "A New Film"
    assert fresh.get("/api/map").json()["count"] == len(before) + 1
    emb = ensure_embeddings(model_run)  # embeddings.npz is fresh: not recomputed, includes the new trailer
    assert "new film" in emb.ids and emb.ids == sorted(emb.ids)
    hits = fresh.get("/api/search", params={"id": "new film", "k": 10}).json()["results"]
    assert [h["trailer_id"] for h in hits] == [h["trailer_id"] for h in body["neighbours"]]


@pytest.mark.slow
def test_a_trailer_another_process_added_shows_within_a_second(model_run, media):
    """Two apps of one run are two server processes (their own memory): what one ingests, the other shows."""
    one, other = TestClient(create_app(model_run.root, media)), TestClient(create_app(model_run.root, media))
    count = other.get("/api/map").json()["count"]
    assert one.post("/api/ingest", data={"path": "new film.mp4", "trailer_id": "seen elsewhere"}).status_code == 200
    time.sleep(1.1)  # Explorer.sync looks at the run's files once a second at most
    assert other.get("/api/map").json()["count"] == count + 1
    assert other.get("/api/trailers/seen elsewhere").status_code == 200
    assert other.post("/api/ingest", data={"path": "new film.mp4", "trailer_id": "seen elsewhere"}).status_code == 409


@pytest.mark.slow
def test_concurrent_uploads_do_not_corrupt_the_store(model_run, tmp_path):
    client = TestClient(create_app(model_run.root))
    videos = [make_video(tmp_path / f"up{i}.mp4", seed=i) for i in range(3)]
    before = entries(model_run)
    results = {}

    def upload(v: Path) -> None:
        results[v.stem] = client.post("/api/ingest", files={"file": (v.name, v.read_bytes(), "video/mp4")})

    threads = [threading.Thread(target=upload, args=(v,)) for v in videos]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r.status_code == 200 for r in results.values()), {k: r.text for k, r in results.items()}
    assert entries(model_run) == before | {"up0", "up1", "up2"}
    ids, vectors = read_npz(model_run.root / "embeddings.npz")
    assert ids == sorted(before | {"up0", "up1", "up2"}) and np.isfinite(vectors).all()
    assert client.get("/api/map").json()["count"] == len(ids)
