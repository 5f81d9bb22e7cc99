"""`mmx serve` as deployed: real server processes (never TestClient), real sockets.

The server outlives its clients and nothing outlives the server (findings finish without forking, a
killed server frees its port and leaves no process), every body is bounded before it is read, slow
clients are dropped, accounts fail closed, and several processes of one run share logins, sessions and
the review journal. The API document's truth in both modes, by schemathesis against a real process,
is tests/mmx_serve/test_document.py's.
"""

from __future__ import annotations

import json
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers import make_embeddings_run
from mmx.review import ReviewJournal
from mmx.users import Users
from mmx_serve.sessions import Session, SessionStore
from server_process import Served, alive, descendants, port_is_free, rss_mb

pytestmark = pytest.mark.slow  # real server processes and sockets

MIB = 2**20


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_embeddings_run(tmp_path_factory.mktemp("process"))


@pytest.fixture(scope="module")
def team(run) -> dict[str, str]:
    users = Users(run / "users.json")
    return {role: users.add(role, role)[1] for role in ("viewer", "reviewer", "admin")}


@pytest.fixture(scope="module")
def server(run, team):
    """One server process with accounts, and time-outs short enough to watch."""
    with Served(run, "--header-timeout", "1", "--body-timeout", "1", token=team["admin"]) as s:
        yield s


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------- raw HTTP
def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def post_raw(port: int, path: str, size: int, chunked: bool = False, headers: dict[str, str] | None = None) -> int | None:
    """POST ``size`` bytes to ``path`` as a careless or hostile client does: the body follows the headers unless the
    server answered first (it should refuse by the headers alone). The status, or None when the server closed the
    connection without one."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        block, sent = b"{" * (64 * 2**10), 0
        wait = 1.0  # time for an answer from the headers alone
        while sent < size and not select.select([s], [], [], wait)[0]:
            wait = 0.0
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(block)
        try:
            return status_of(s.recv(4096))
        except ConnectionResetError:
            return None


def closed_after(port: int, sent: bytes, limit: float) -> float:
    """Seconds until the server closes a connection that sent only ``sent`` (``limit`` + 1 when it does not)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(sent)
        start = time.monotonic()
        s.settimeout(limit + 1)
        try:
            while s.recv(4096):
                pass
        except socket.timeout:
            return limit + 1
        except ConnectionResetError:
            pass
        return time.monotonic() - start


# ---------------------------------------------------------------------------- the process
def test_public_without_users_refuses_to_start_before_loading_the_run(tmp_path):
    """`--public` means others reach the server, whatever the host (a proxy's is loopback): no users, no start."""
    run = make_embeddings_run(tmp_path / "public")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mmx_cli.main", "serve", "--run", str(run), "--host", "127.0.0.1",
                           "--public"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--public needs accounts" in done.stderr
    assert time.monotonic() - start < 5  # the run was not loaded (the interpreter's own start is ~1 s of it)


def test_findings_finish_and_nothing_forks_inside_the_server(server):
    deadline = time.time() + 90
    while (body := server.get("/api/findings/badges").json())["status"] != "ready":
        assert body["status"] in ("computing", "stale") and time.time() < deadline, body
        time.sleep(0.5)
    assert body["checked"]["trailers"] == 60
    assert descendants(server.pid) == set()  # scikit-learn, torch, the probe fits: all in the server's own process


def test_bodies_are_refused_before_they_are_read(server, team):
    """4 anonymous 50 MiB POSTs and a chunked one: 401 (credentials first) or 413, and the server does not grow."""
    before = rss_mb(server.pid)
    statuses = {}

    def send(path: str, chunked: bool = False) -> None:
        statuses[path, chunked] = post_raw(server.port, path, 50 * MIB, chunked)

    threads = [threading.Thread(target=send, args=(p,)) for p in
               ("/api/login", "/api/reviews", "/api/users", "/api/ingest")]
    threads.append(threading.Thread(target=send, args=("/api/login", True)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses[("/api/login", False)] == 413  # open to all: refused by its size
    assert statuses[("/api/reviews", False)] == statuses[("/api/users", False)] == 401
    assert statuses[("/api/ingest", False)] == 401
    assert statuses[("/api/login", True)] in (413, None)  # a chunked body is refused once past 4 KiB
    assert rss_mb(server.pid) - before < 50
    # a reviewer's oversized review is refused by its size, a viewer's by its role
    assert post_raw(server.port, "/api/reviews", 5 * MIB, headers=bearer(team["reviewer"])) == 413
    assert post_raw(server.port, "/api/reviews", 5 * MIB, headers=bearer(team["viewer"])) == 403
    assert server.get("/api/health").status_code == 200


def test_slow_and_half_sent_requests_are_dropped(server):
    assert closed_after(server.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\n", limit=5) < 4  # headers never end
    body_stalls = b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    assert closed_after(server.port, body_stalls, limit=5) < 4
    # many at once (file descriptors are finite): all dropped, and the server still answers
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    for s in held:
        s.sendall(b"GET / HTTP/1.1\r\n")
    time.sleep(3)
    for s in held:
        s.settimeout(2)
        assert s.recv(100) == b""
        s.close()
    assert server.get("/api/health").status_code == 200


def test_accounts_fail_closed_when_the_users_file_goes_missing(server, run, team):
    users, away = run / "users.json", run / "users.json.away"
    assert server.post("/api/reviews", json={}, headers={}).status_code == 401
    shutil.move(users, away)
    try:
        assert server.get("/api/health").status_code == 401  # even the admin's token: nobody is let in
        anonymous = server.post("/api/reviews", headers={},
                                json={"trailer_id": "film000", "genre": "Action", "decision": "add"})
        assert anonymous.status_code == 401
        assert server.get("/api/session", headers={}).json()["accounts"] is True
    finally:
        shutil.move(away, users)
    assert server.get("/api/health").status_code == 200
    assert "nobody is let in" in server.output()
    assert all(d.user is not None for d in ReviewJournal(run).decisions())


def test_several_processes_share_logins_sessions_and_the_journal(server, run, team):
    """A second server of the run with two worker processes: a login made on one process is a session on every
    other, a logout ends it everywhere, review writes from all of them land whole in one journal; killing its
    supervisor (kill -9) takes its workers with it."""
    with Served(run, "--workers", "2", token=team["admin"]) as other:
        processes = descendants(other.pid)  # the workers (and multiprocessing's resource tracker)
        assert sum("spawn_main" in Path(f"/proc/{p}/cmdline").read_text() for p in processes) == 2
        login = httpx.post(f"{server.url}/api/login", json={"token": team["reviewer"]})
        assert login.status_code == 200
        cookie, csrf = {"mmx_session": login.cookies["mmx_session"]}, login.json()["csrf"]
        for _ in range(6):  # new connections: both workers answer some
            seen = httpx.get(f"{other.url}/api/session", cookies=cookie).json()
            assert seen["user"] == {"name": "reviewer", "role": "reviewer"} and seen["csrf"] == csrf

        acked: list[tuple[str, str, str]] = []

        def write(url: str, trailers: list[str]) -> None:
            with httpx.Client(base_url=url, cookies=cookie, headers={"X-CSRF-Token": csrf}, timeout=30) as http:
                for tid in trailers:
                    r = http.post("/api/reviews", json={"trailer_id": tid, "genre": "Action", "decision": "reject"})
                    assert r.status_code == 200, r.text
                    last = r.json()["decisions"][-1]
                    acked.append((last["trailer_id"], last["time"], last["user"]))

        ids = server.get("/api/map").json()["ids"]
        threads = [threading.Thread(target=write, args=(url, ids[k::4])) for k, url in
                   enumerate([server.url, other.url, server.url, other.url])]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(acked) == len(ids)
        lines = (run / "reviews.jsonl").read_bytes().splitlines()
        assert all(json.loads(line) for line in lines)
        assert set(acked) <= {(d.trailer_id, d.time, d.user) for d in ReviewJournal(run).decisions()}

        assert httpx.post(f"{other.url}/api/logout", cookies=cookie).status_code == 200
        assert httpx.get(f"{server.url}/api/session", cookies=cookie).json()["user"] is None
        other.signal(signal.SIGKILL)
        other.proc.wait(10)
        deadline = time.time() + 10
        while any(alive(p) for p in processes) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in processes) and port_is_free(other.port)


def test_sigterm_ends_the_server_and_frees_its_port(run, team):
    with Served(run, token=team["admin"]) as s:
        s.signal(signal.SIGTERM)
        assert s.proc.wait(15) in (0, -signal.SIGTERM)  # uvicorn ends by raising the signal it caught
        assert port_is_free(s.port)


def test_the_api_docs_page_loads_nothing_from_elsewhere(server):
    """Swagger UI from the server's own files, under the page's Content-Security-Policy, in Chromium."""
    from playwright import sync_api

    page_csp = server.get("/api/docs").headers["content-security-policy"]
    assert "script-src 'self'" in page_csp and "default-src 'self'" in page_csp
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        problems, requests = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{server.url}/api/docs")
        page.wait_for_selector(".opblock", timeout=30000)
        operations = page.locator(".opblock").count()
        browser.close()
    assert operations == 21 and not problems, problems
    assert all(r.startswith(server.url) for r in requests), [r for r in requests if not r.startswith(server.url)]


def test_kill_9_frees_the_port_at_once_and_leaves_no_process(server):
    """The last test of the module's server (after its findings ran)."""
    children = descendants(server.pid)
    server.signal(signal.SIGKILL)
    server.proc.wait(10)
    assert port_is_free(server.port) and not any(alive(c) for c in children)


GUARDED_FORK = """
import os, sys, threading, time
from mmx_serve.server import bind, guard_forks
sock = bind("127.0.0.1", 0)
sock.listen()
guard_forks([sock])
r, w = os.pipe()
def forker():  # as a library's pool forks from a request thread
    pid = os.fork()
    if pid == 0:
        os.write(w, b"closed" if sock.fileno() == -1 else b"open")
        time.sleep(60)  # outlives the thread that forked it, unless it dies with it
        os._exit(0)
    print(pid, os.read(r, 10).decode(), flush=True)  # the child is past its fork hook: the thread may end
thread = threading.Thread(target=forker)
thread.start()
thread.join()
time.sleep(1)
"""


def test_a_child_forked_inside_the_server_drops_its_port_and_dies_with_its_thread():
    done = subprocess.run([sys.executable, "-c", GUARDED_FORK], capture_output=True, text=True, timeout=60)
    pid, state = done.stdout.split()
    assert state == "closed" and not alive(int(pid)), done.stderr


def test_sessions_and_rate_limits_are_shared_through_one_file(tmp_path):
    """Two stores of one file (as two processes hold them): a session made by one is seen and ended by the other;
    the rate limit counts the events of both."""
    a, b = SessionStore(tmp_path / "users.sessions.db"), SessionStore(tmp_path / "users.sessions.db")
    a.add("sid", Session("ana", "k1", time.time() + 60, "csrf"))
    assert b.get("sid") == Session("ana", "k1", a.get("sid").expires, "csrf") and b.get("other") is None
    b.remove("sid")
    assert a.get("sid") is None
    a.add("old", Session("ana", "k1", time.time() - 1, "csrf"))
    assert b.get("old") is None  # expired
    assert [s.count_and_add("login", "1.2.3.4", 60, 3) for s in (a, b, a)] == [None, None, None]
    wait = b.count_and_add("login", "1.2.3.4", 60, 3)
    assert wait is not None and 59 < wait <= 60
    assert a.count_and_add("login", "5.6.7.8", 60, 3) is None  # per address
    assert (tmp_path / "users.sessions.db").stat().st_mode & 0o777 == 0o600
