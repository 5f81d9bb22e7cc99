"""A team's explorer: roles, bearer tokens, login sessions, CSRF, expiry, rate limits, security headers, and who
made each write (the review journal, its export, ingests); --public needs accounts."""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers import make_embeddings_run
from mmx.review import ReviewJournal
from mmx.users import Users
from mmx_cli.main import main
from mmx_serve.app import create_app
from mmx_serve.auth import AuthConfig
from server_process import Served

ROLES = ("viewer", "reviewer", "curator", "admin")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_embeddings_run(tmp_path_factory.mktemp("accounts"))


@pytest.fixture()
def team(run, tmp_path) -> tuple[Path, dict[str, str]]:
    """A users file with one user per role; name → token."""
    users = Users(tmp_path / "users.json")
    return users.path, {role: users.add(f"{role}1", role)[1] for role in ROLES}


def app_client(run: Path, users: Path, **auth) -> TestClient:
    return TestClient(create_app(run, users=users, auth_cfg=AuthConfig(**auth)))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_public_needs_users(run, tmp_path, capsys):
    empty = tmp_path / "users.json"
    assert main(["serve", "--run", str(run), "--host", "0.0.0.0", "--public"]) == 2
    assert "--public needs accounts" in capsys.readouterr().err
    Users(empty).add("x", "viewer")
    Users(empty).remove("x")  # the file stays, with nobody in it: still refused
    assert main(["serve", "--run", str(run), "--host", "0.0.0.0", "--public", "--users", str(empty)]) == 2
    assert "has no user" in capsys.readouterr().err
    assert main(["serve", "--run", str(run), "--users", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---------------------------------------------------------------------------- roles
READS = [("get", "/api/health", None), ("get", "/api/trailers", None), ("get", "/api/trailers/film001", None),
         ("get", "/api/search?id=film001&k=3", None), ("get", "/api/map", None), ("get", "/api/reviews?id=film001", None)]
REVIEW = ("post", "/api/reviews", {"trailer_id": "film002", "genre": "Horror", "decision": "reject"})
ALLOWED = {"viewer": 0, "reviewer": 1, "curator": 2, "admin": 2}  # 0 reads, 1 also reviews, 2 also ingests


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_its_routes_and_refused_the_others(run, team, role):
    users, tokens = team
    client = app_client(run, users)
    h = bearer(tokens[role])
    for method, url, body in READS:
        assert getattr(client, method)(url, headers=h).status_code == 200, url
    assert client.get("/api/atlas", headers=h).status_code == 409  # let in, then refused: this run has no pictures
    r = client.post(REVIEW[1], json=REVIEW[2], headers=h)
    assert r.status_code == (200 if ALLOWED[role] >= 1 else 403)
    if r.status_code == 403:
        assert "viewer1 is a viewer; this needs the reviewer role" in r.json()["detail"]
    r = client.post("/api/ingest", data={"path": "x.mp4"}, headers=h)
    if ALLOWED[role] >= 2:  # allowed, and then refused for what it is (an imported-embeddings run cannot ingest)
        assert r.status_code == 409 and "without a network" in r.json()["detail"]
    else:
        assert r.status_code == 403 and "needs the curator role" in r.json()["detail"]


def test_no_credential_or_a_bad_one_is_401_with_a_clear_message(run, team):
    users, tokens = team
    client = app_client(run, users)
    r = client.get("/api/trailers")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/atlas?level=0&sheet=0").status_code == 401
    assert "Authorization: Bearer" in r.json()["detail"]
    assert client.get("/api/trailers", headers=bearer(tokens["viewer"][:-2] + "zz")).status_code == 401
    assert client.get(f"/api/trailers?token={tokens['viewer']}").status_code == 401  # never read from a URL
    assert client.get("/").status_code == 200 and client.get("/api/session").json()["accounts"] is True


def test_a_server_without_users_is_the_single_user_tool(run, tmp_path):
    client = app_client(run, tmp_path / "none.json")
    assert client.get("/api/trailers").status_code == 200
    assert client.get("/api/session").json() == {"accounts": False, "user": None, "csrf": None}
    assert client.post("/api/login", json={"token": "x"}).status_code == 409


def test_expired_token_and_users_changed_while_serving(run, team):
    users, tokens = team
    client = app_client(run, users)
    data = json.loads(users.read_text())
    for u in data["users"]:
        if u["role"] == "viewer":
            u["expires"] = "2020-01-01T00:00:00+00:00"
    users.write_text(json.dumps(data))
    r = client.get("/api/trailers", headers=bearer(tokens["viewer"]))
    assert r.status_code == 401 and "expired on 2020-01-01" in r.json()["detail"]
    Users(users).remove("reviewer1")  # read again by the running server
    assert client.get("/api/trailers", headers=bearer(tokens["reviewer"])).status_code == 401
    assert client.get("/api/trailers", headers=bearer(tokens["admin"])).status_code == 200


# ---------------------------------------------------------------------------- login, sessions, CSRF
def test_login_sets_a_strict_httponly_cookie_and_writes_need_the_csrf_token(run, team):
    users, tokens = team
    client = app_client(run, users)
    r = client.post("/api/login", json={"token": tokens["reviewer"]})
    assert r.status_code == 200 and r.json()["user"] == {"name": "reviewer1", "role": "reviewer"}
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
    assert r.headers["cache-control"] == "no-store" and tokens["reviewer"] not in r.text
    csrf = r.json()["csrf"]
    assert client.get("/api/session").json()["csrf"] == csrf
    assert client.get("/api/trailers").status_code == 200  # the cookie reads
    refused = client.post(REVIEW[1], json=REVIEW[2])
    assert refused.status_code == 403 and "x-csrf-token" in refused.json()["detail"]
    assert client.post(REVIEW[1], json=REVIEW[2], headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post(REVIEW[1], json=REVIEW[2], headers={"X-CSRF-Token": csrf}).status_code == 200
    client.post("/api/logout")
    assert client.get("/api/trailers").status_code == 401
    assert client.get("/api/session").json()["user"] is None


@pytest.mark.slow
def test_sessions_expire_and_end_with_a_new_token(run, team):
    users, tokens = team
    client = app_client(run, users, session_hours=1 / 3600)
    session_id = client.post("/api/login", json={"token": tokens["viewer"]}).cookies["mmx_session"]
    assert client.get("/api/trailers").status_code == 200
    time.sleep(1.1)
    client.cookies.clear()  # the browser forgets it after Max-Age; the server does not take it either
    r = client.get("/api/trailers", headers={"Cookie": f"mmx_session={session_id}"})
    assert r.status_code == 401 and "session has ended" in r.json()["detail"]
    client = app_client(run, users)
    client.post("/api/login", json={"token": tokens["curator"]})
    assert client.get("/api/session").json()["user"]["name"] == "curator1"
    Users(users).rotate("curator1")
    assert "new token" in client.get("/api/trailers").json()["detail"]
    assert client.get("/api/session").json() == {"accounts": True, "user": None, "csrf": None}  # as every route says


def test_failed_logins_are_rate_limited_and_nothing_secret_is_logged(run, team, caplog):
    """Guessing is slowed per address; a valid token still logs in from that address (everyone behind one proxy
    shares it), and succeeding does not count towards the limit."""
    users, tokens = team
    client = app_client(run, users, logins_per_minute=3)
    caplog.set_level(logging.DEBUG)
    wrong = {"token": "mmx_00000000_" + "a" * 43}
    for _ in range(2):
        assert client.post("/api/login", json=wrong).status_code == 401
    for _ in range(3):
        assert client.post("/api/login", json={"token": tokens["viewer"]}).status_code == 200
    assert client.post("/api/login", json=wrong).status_code == 401  # the third failure
    r = client.post("/api/login", json=wrong)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "too many failed logins" in r.json()["detail"]
    assert client.post("/api/login", json={"token": tokens["reviewer"]}).status_code == 200
    assert all(t not in caplog.text for t in tokens.values())


def test_ingests_are_rate_limited_per_user(run, team):
    users, tokens = team
    client = app_client(run, users, ingests_per_hour=2)
    for status in (409, 409, 429):  # 409: this run cannot ingest, but the attempt counts
        assert client.post("/api/ingest", data={"path": "x.mp4"}, headers=bearer(tokens["curator"])).status_code == status
    assert client.post("/api/ingest", data={"path": "x.mp4"}, headers=bearer(tokens["admin"])).status_code == 409


def test_security_headers(run, team):
    users, _ = team
    client = app_client(run, users)
    for url in ("/", "/api/session", "/static/app.js"):
        h = client.get(url).headers
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer" and "frame-ancestors 'none'" in h["content-security-policy"]
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]


# ---------------------------------------------------------------------------- who decided
def test_the_journal_and_export_say_who_decided_and_show_conflicts(run, team, tmp_path, capsys):
    users, tokens = team
    client = app_client(run, users)
    journal = ReviewJournal(run)
    journal.path.unlink(missing_ok=True)
    # an old line, from before accounts: no user field, still read
    journal.path.write_text(json.dumps({"trailer_id": "film003", "genre": "Drama", "decision": "reject",
                                        "previous": ["Drama"], "labels": ["Drama"], "time": "2026-01-01T00:00:00+00:00"}) + "\n")
    tid = "film001"
    given = client.get(f"/api/reviews?id={tid}", headers=bearer(tokens["viewer"])).json()["given"]
    genre = next(g for g in client.get("/api/health", headers=bearer(tokens["viewer"])).json()["vocabulary"]
                 if g not in given)
    add = {"trailer_id": tid, "genre": genre, "decision": "add"}
    assert client.post("/api/reviews", json=add, headers=bearer(tokens["reviewer"])).status_code == 200
    review = client.post("/api/reviews", json={**add, "decision": "remove"}, headers=bearer(tokens["curator"])).json()
    assert [d["user"] for d in review["decisions"]] == ["reviewer1", "curator1"]
    assert [d["user"] for d in review["conflicts"][genre]] == ["reviewer1", "curator1"]
    assert genre not in review["labels"]  # the latest decision wins
    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert "user" not in lines[0] and lines[1]["user"] == "reviewer1" and lines[2]["user"] == "curator1"
    assert journal.decisions("film003")[0].user is None

    out = tmp_path / "labels.csv"
    assert main(["labels", "export", "--run", str(run), "--out", str(out), "--with-reviewer", "--only-reviewed"]) == 0
    assert f"1 (trailer, genre) with disagreeing reviewers, the latest decision kept: {tid} {genre}" in capsys.readouterr().out
    rows = {r["trailer_id"]: r for r in csv.DictReader(out.open())}
    assert rows[tid]["reviewers"] == "reviewer1|curator1" and rows[tid]["conflicts"] == genre
    assert rows["film003"]["reviewers"] == "" and rows["film003"]["conflicts"] == ""
    journal.path.unlink()


def test_admins_manage_users_through_the_api(run, team):
    users, tokens = team
    client = app_client(run, users)
    assert client.get("/api/users", headers=bearer(tokens["curator"])).status_code == 403
    listed = client.get("/api/users", headers=bearer(tokens["admin"])).json()["users"]
    assert {u["name"] for u in listed} == {"viewer1", "reviewer1", "curator1", "admin1"}
    assert all(set(u) == {"name", "role", "created", "expires"} for u in listed)  # no salt, no hash
    made = client.post("/api/users", json={"name": "bo", "role": "viewer", "days": 1}, headers=bearer(tokens["admin"]))
    assert made.status_code == 200 and client.get("/api/trailers", headers=bearer(made.json()["token"])).status_code == 200
    again = client.post("/api/users", json={"name": "bo", "role": "viewer"}, headers=bearer(tokens["admin"]))
    assert again.status_code == 409
    assert client.delete("/api/users/bo", headers=bearer(tokens["admin"])).json()["removed"]["name"] == "bo"
    assert client.delete("/api/users/bo", headers=bearer(tokens["admin"])).status_code == 404
    assert client.delete("/api/users/admin1", headers=bearer(tokens["admin"])).status_code == 409
    assert client.get("/api/trailers", headers=bearer(made.json()["token"])).status_code == 401


def test_an_upload_is_refused_before_its_body_is_read(run, team):
    users, tokens = team
    client = app_client(run, users)
    big = {"Content-Length": str(10**12)}  # over any limit: answered 401/403 first, not 413
    r = client.post("/api/ingest", content=b"", headers=big)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/api/ingest", content=b"", headers={**big, **bearer(tokens["reviewer"])}).status_code == 403
    assert client.post("/api/ingest", content=b"", headers={**big, **bearer(tokens["curator"])}).status_code == 413


# ---------------------------------------------------------------------------- kill -9 during writes
@pytest.mark.slow
def test_every_acknowledged_decision_survives_kill_9(tmp_path):
    import signal
    import threading

    import httpx

    run = make_embeddings_run(tmp_path / "k")
    users = Users(tmp_path / "users.json")
    _, token = users.add("ana", "reviewer")
    with Served(run, "--users", str(users.path), token=token) as server:
        ids = server.get("/api/map").json()["ids"]
        genre = server.get("/api/health").json()["vocabulary"][0]
        acked, stop = [], threading.Event()

        def writer(own: list[str]) -> None:  # each writer its own trailers: an answer's last decision is its own
            with httpx.Client(base_url=server.url, headers=bearer(token), timeout=10) as http:
                for i in range(10**6):
                    if stop.is_set():
                        return
                    try:
                        r = http.post("/api/reviews", json={"trailer_id": own[i % len(own)], "genre": genre,
                                                            "decision": "reject"})
                    except httpx.TransportError:
                        return  # the server was killed
                    last = r.json()["decisions"][-1]
                    acked.append((last["trailer_id"], last["time"], last["user"]))

        threads = [threading.Thread(target=writer, args=(ids[k::4],)) for k in range(4)]
        for t in threads:
            t.start()
        while len(acked) < 40:
            time.sleep(0.05)
        server.signal(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(20)
    raw = ReviewJournal(run).path.read_bytes()
    journalled = {(d.trailer_id, d.time, d.user) for d in ReviewJournal(run).decisions()}
    assert len(acked) >= 40 and set(acked) <= journalled  # nothing acknowledged was lost
    assert raw.count(b"\n") >= len(acked) and all(json.loads(line) for line in raw.splitlines()[:-1])
