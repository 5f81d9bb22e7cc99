"""Collection health where curators work: `mmx check`'s findings in the explorer's API (computed in the
background, cached per state of the run), the placeholder genres the import leaves out, and `mmx report`'s
health section."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers import make_dirty_run
from mmx.data.vectors import read_placeholders
from mmx.health import run_collection
from mmx.health.report import CHECKS, check
from mmx.run import Run
from mmx_cli.main import main
from mmx_report.render import build_report
from mmx_serve import findings as findings_module
from mmx_serve.app import create_app
from mmx_serve.collection import ServeConfig, Snapshot


@pytest.fixture(scope="module")
def dirty_run(tmp_path_factory) -> Path:
    return make_dirty_run(tmp_path_factory.mktemp("dirty"))


@pytest.fixture()
def served(dirty_run, tmp_path, monkeypatch):
    """A fresh server on a copy of the dirty run (reviews change it), counting the checks it runs."""
    run = Path(shutil.copytree(dirty_run, tmp_path / "run"))
    runs = []

    def counted(coll, *args, **kw):
        runs.append(dict(coll.genres))
        return check(coll, *args, **kw)

    monkeypatch.setattr(findings_module, "check", counted)
    return TestClient(create_app(run)), run, runs


def badges(client: TestClient, timeout: float = 120) -> dict:
    """The badges answer once the findings are of the run as it is now (the check runs in the background)."""
    deadline = time.time() + timeout
    while True:
        body = client.get("/api/findings/badges").json()
        if body["status"] in ("ready", "failed") or time.time() > deadline:
            return body
        time.sleep(0.2)


def test_findings_are_computed_once_in_the_background_and_badge_the_trailers(served):
    client, run, runs = served
    first = client.get("/api/findings/badges").json()
    assert first["status"] == "computing" and first["trailers"] == {}  # the request did not wait for the check
    body = badges(client)
    assert body["status"] == "ready", body["error"]
    copy = body["trailers"]["film010b"]
    assert {"kind": "duplicate", "text": "possible duplicate of Horror Story 10", "other": "film010"}.items() \
        <= copy[0].items()
    assert any(b["text"] == "possible duplicate of Horror Story 10 (re-upload)" for b in body["trailers"]["film010"])
    labels = {(b["genre"], b["given"]) for b in body["trailers"]["film002"] if b["kind"] == "label"}
    assert {("Comedy", True), ("Horror", False)} <= labels  # the Horror trailer labelled Comedy
    for kind in ("duplicate", "label"):
        assert body["kinds"][kind] == sum(any(b["kind"] == kind for b in bs) for bs in body["trailers"].values())
    assert body["kinds"]["broken"] == 0  # imported embeddings: no experts to check
    placeholder = next(f for f in body["collection"] if f["kind"] == "placeholder genre")
    assert placeholder["genre"] == "none" and placeholder["evidence"]["trailers"] == 2
    # the same as `mmx check RUN`, and computed once for this state of the run
    expected = check(run_collection(Run.open(run)))
    page = client.get("/api/findings", params={"limit": 1000}).json()
    assert [(f["check"], f["kind"], f["trailers"], f.get("genre")) for f in page["findings"]] == \
        [(f.check, f.kind, f.trailers, f.genre) for f in expected.findings]
    client.get("/api/findings/badges")
    assert len(runs) == 1
    assert set(findings_module.BADGES) == set(CHECKS)  # every check's findings have their badge


def test_findings_filter_by_check_kind_and_trailer(served):
    client, _, _ = served
    badges(client)
    dups = client.get("/api/findings", params={"check": "duplicates"}).json()
    assert dups["total"] >= 1 and sorted(dups["findings"][0]["trailers"]) == ["film010", "film010b"]  # the copy first
    assert dups["findings"][0]["evidence"]["cosine"] > 0.999
    assert all(f["check"] == "duplicates" for f in dups["findings"])
    mine = client.get("/api/findings", params={"trailer": "film002", "kind": "label"}).json()["findings"]
    assert mine and all("film002" in f["trailers"] and f["check"] == "labels" for f in mine)
    page = client.get("/api/findings", params={"limit": 2, "offset": 1}).json()
    assert page["total"] >= 3 and len(page["findings"]) == 2 and page["findings"][0]["index"] == 1
    for params, words in (({"check": "spelling"}, "Input should be"), ({"kind": "x"}, "Input should be"),
                          ({"limit": 0}, "greater than or equal to 1")):
        r = client.get("/api/findings", params=params)
        assert r.status_code == 422 and words in str(r.json()["detail"])


@pytest.mark.slow
def test_a_review_marks_its_badge_at_once_and_the_check_runs_again_on_the_new_labels(served):
    client, run, runs = served
    badges(client)
    assert client.get("/api/health").json()["since_training"]["decisions"] == 0
    r = client.post("/api/reviews", json={"trailer_id": "film002", "genre": "Horror", "decision": "add"})
    assert r.status_code == 200
    client.post("/api/reviews", json={"trailer_id": "film002", "genre": "Comedy", "decision": "remove"})
    stale = client.get("/api/findings/badges").json()
    assert stale["status"] == "stale"  # the old findings, while the check runs again
    comedy = next(b for b in stale["trailers"]["film002"] if b.get("genre") == "Comedy")
    assert comedy["reviewed"] is True
    body = badges(client)
    assert body["status"] == "ready" and body["checked"]["decisions"] == 2
    assert runs[-1]["film002"] == ["Horror"]  # the check saw the reviewed labels
    since = client.get("/api/health").json()["since_training"]  # what the page's notice says
    assert since["decisions"] == 2 and since["retrain"] == f"mmx train --store STORE --reviews {run} --out NEW_RUN"
    assert not any(b.get("genre") == "Comedy" and b["given"] for b in body["trailers"].get("film002", []))
    out = run.parent / "labels.csv"
    assert main(["labels", "export", "--run", str(run), "--out", str(out)]) == 0
    assert "film002,Horror," in out.read_text()  # what the curator fixed is what the export carries


@pytest.mark.slow
def test_new_trailers_make_the_findings_stale(served):
    client, _, runs = served
    badges(client)
    main = client.app.state.explorer.collection.main
    main.snapshot = Snapshot(main.snapshot.neighbours, main.snapshot.xy)  # a new one, as an ingest gives (Space.reload)
    assert client.get("/api/findings/badges").json()["status"] == "stale"
    assert badges(client)["status"] == "ready" and len(runs) == 2


def test_a_failed_check_says_why(served, monkeypatch):
    client, _, _ = served

    def broken(coll, *args, **kw):
        raise MemoryError("the check ran out of memory")

    monkeypatch.setattr(findings_module, "check", broken)
    body = badges(client)
    assert body["status"] == "failed" and body["error"] == "MemoryError: the check ran out of memory"


def test_placeholder_genres_are_reported_at_import_and_recorded(tmp_path, capsys):
    run = make_dirty_run(tmp_path)
    assert read_placeholders(run / "trailers.csv") == {"film003": ["none"], "film004": ["none"]}
    assert Run.open(run).embeddings().genres[4] == ["Action"]  # left out of the genres ...
    assert run_collection(Run.open(run)).genres["film004"] == ["Action", "none"]  # ... but the check sees them
    assert main(["import-embeddings", str(tmp_path / "emb.npz"), "--labels", str(tmp_path / "meta.csv"),
                 "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert "note: meta.csv: 2 row(s) carry placeholder genre(s) 'none' (2)" in out


@pytest.mark.slow
def test_the_report_has_a_health_section(dirty_run, tmp_path):
    page = build_report(dirty_run, None, tmp_path / "report").read_text()
    section = page.split('<section id="health">')[1].split("</section>")[0]
    assert "Not available" not in section and "film010 ~ film010b" in section
    rows = {r["check"]: r for r in json.loads((tmp_path / "report" / "tables" / "health.json").read_text())}
    expected = check(run_collection(Run.open(dirty_run)))
    assert rows["duplicates"]["warnings"] == expected.counts()["duplicates"]["warning"] >= 1
    assert "1 placeholder genre" in rows["labels"]["found"]
    top = json.loads((tmp_path / "report" / "tables" / "health_top.json").read_text())
    dup = next(r for r in top if r["check"] == "duplicates")
    assert dup["trailers"] == "film010 ~ film010b" and dup["evidence"].startswith("cosine 1.0")


@pytest.fixture()
def quick(dirty_run, tmp_path, monkeypatch):
    """A fresh server on a copy of the dirty run that checks again 1.5 s after the run last changed (a burst's
    decisions, a few tens of ms apart, stay one burst even on a busy machine), recording
    each check's labels and whether it had a previous report; ``hold`` makes the next check wait for a release."""
    run = Path(shutil.copytree(dirty_run, tmp_path / "run"))
    runs, hold = [], {}

    def counted(coll, *args, **kw):
        runs.append((dict(coll.genres), kw.get("previous") is not None))
        gate = hold.pop("gate", None)
        if gate is not None:
            gate[0].set()  # the check has started
            assert gate[1].wait(60)  # ... and waits to be released
        return check(coll, *args, **kw)

    monkeypatch.setattr(findings_module, "check", counted)
    return TestClient(create_app(run, None, ServeConfig(recheck_delay=1.5))), runs, hold


BURST = [("film002", "Horror", "add"), ("film002", "Comedy", "remove"), ("film001", "Romance", "reject")]


@pytest.mark.slow
def test_a_burst_of_decisions_gives_one_recheck_of_the_labels_only(quick):
    client, runs, _ = quick
    first = badges(client)
    for tid, genre, decision in BURST:  # each decision asks for the findings again, as the page does
        assert client.post("/api/reviews", json={"trailer_id": tid, "genre": genre, "decision": decision}).status_code \
            == 200
        assert client.get("/api/findings/badges").json()["status"] == "stale"
    body = badges(client)
    assert body["status"] == "ready" and body["checked"]["decisions"] == 3
    assert len(runs) == 2 and runs[0][1] is False and runs[1][1] is True  # one re-check, given the first report
    assert runs[1][0]["film002"] == ["Horror"]  # with every decision of the burst
    assert body["checked"]["kept"] == ["duplicates", "leaks", "experts"]  # they read no labels: kept as they were
    assert body["trailers"]["film010b"] == first["trailers"]["film010b"]


@pytest.mark.slow
def test_decisions_during_a_check_give_one_more_check_when_it_ends(quick):
    client, runs, hold = quick
    badges(client)
    started, release = threading.Event(), threading.Event()
    hold["gate"] = (started, release)
    client.post("/api/reviews", json={"trailer_id": "film002", "genre": "Horror", "decision": "add"})
    assert client.get("/api/findings/badges").json()["status"] == "stale"
    assert started.wait(60)  # the re-check runs (and waits) ...
    for tid, genre, decision in BURST[1:]:  # ... while two more decisions come
        client.post("/api/reviews", json={"trailer_id": tid, "genre": genre, "decision": decision})
    release.set()
    body = badges(client)
    assert body["status"] == "ready" and body["checked"]["decisions"] == 3
    assert len(runs) == 3 and runs[1][0]["film002"] == ["Comedy", "Horror"] and runs[2][0]["film002"] == ["Horror"]


@pytest.mark.slow
def test_an_ingest_checks_everything_again(quick):
    client, runs, _ = quick
    badges(client)
    client.post("/api/reviews", json={"trailer_id": "film002", "genre": "Horror", "decision": "add"})
    main = client.app.state.explorer.collection.main
    main.snapshot = Snapshot(main.snapshot.neighbours, main.snapshot.xy)  # a new one, as an ingest gives
    body = badges(client)
    assert body["status"] == "ready" and body["checked"]["kept"] == [] and [p for _, p in runs] == [False, False]
