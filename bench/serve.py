"""Load test of `mmx serve` with accounts: concurrent clients searching, reading details and reviewing.

Starts ``mmx serve --run RUN --users FILE`` on a free loopback port, with a throw-away users file
holding one reviewer whose bearer token every client sends (or uses ``--url`` of a server already
running on loopback, with ``--token``), warms it up, then runs ``--clients`` clients for
``--seconds`` seconds, or until ``--max-requests`` requests were sent, whichever comes first.
Each client picks trailers at random and, for each request, an endpoint by ``--mix`` (default: 60 %
``GET /api/search?id=…&k=10``, 30 % ``GET /api/trailers/{id}``, and with ``--reviews`` 10 % ``POST
/api/reviews``, a ``reject``, which leaves labels as they are but is journalled in RUN/reviews.jsonl:
give a copy of a run). The server runs as deployed: accounts on, every body bounded, header and body
time-outs, ``--workers`` processes. Latencies are measured per request (client side, so they include
queueing in the server).

``--kill`` checks durability instead: review writes from every client, ``kill -9`` of the server
after ``--seconds``, a restart, and every acknowledged decision looked for in the journal (each
client reviews its own trailers, so the answer's last decision is the one it made).

    python bench/serve.py --run RUN [--clients 16] [--seconds 30] [--reviews] [--workers N] [--max-requests 100000]
    python bench/serve.py --run RUN_COPY --kill [--clients 16] [--seconds 5]

The last line of the output is JSON: requests, errors, requests per second, p50/p99 in ms (all
requests and per endpoint) and the load average; with ``--kill``, acknowledged, found, missing,
torn lines and the restart time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import numpy as np
from _common import MMX, free_port, load_averages, print_result  # noqa: E402  (bench/ is the script folder)

from mmx.review import ReviewJournal
from mmx.users import Users
from mmx_cli.commands.serve import is_loopback
from mmx_serve.server import ServerConfig

ENDPOINTS = {
    "search": lambda tid: ("GET", f"/api/search?id={quote(tid, safe='')}&k=10", None),
    "detail": lambda tid: ("GET", f"/api/trailers/{quote(tid, safe='')}", None),
    "review": lambda tid: ("POST", "/api/reviews", {"trailer_id": tid, "genre": GENRE[0], "decision": "reject"}),
}
GENRE = [""]  # the genre reviews reject: the run's first (set once the vocabulary is known)


def start_server(run: str, port: int, timeout: float, users: Path, token: str, workers: int = 1) -> subprocess.Popen:
    cmd = [*MMX, "serve", "--run", run, "--port", str(port), "--users", str(users), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"mmx serve exited with status {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2,
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.terminate()
    sys.exit(f"mmx serve did not answer on port {port} within {timeout:.0f} s")


async def client(http: httpx.AsyncClient, ids: list[str], mix: dict[str, float], seed: int, stop: float,
                 budget: list[int], out: dict[str, list[float]], errors: list[str], acked: list[tuple] | None) -> None:
    rng = random.Random(seed)
    names, weights = list(mix), list(mix.values())
    while time.perf_counter() < stop and budget[0] > 0:
        budget[0] -= 1
        name = rng.choices(names, weights)[0]
        method, url, body = ENDPOINTS[name](rng.choice(ids))
        t = time.perf_counter()
        try:
            r = await http.request(method, url, json=body)
            ok = r.status_code == 200
            why = f"{name}: HTTP {r.status_code}"
        except httpx.HTTPError as e:
            ok, why = False, f"{name}: {type(e).__name__}"
        if ok:
            out[name].append(time.perf_counter() - t)
            if acked is not None and name == "review":
                last = r.json()["decisions"][-1]  # this client's trailers are its own: the last decision is this one
                acked.append((last["trailer_id"], last["genre"], last["time"], last["user"]))
        else:
            errors.append(why)


def summary(latencies: list[float]) -> dict:
    ms = np.asarray(latencies) * 1000
    if not len(ms):
        return {"requests": 0}
    return {"requests": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2)}


async def load(url: str, token: str, clients: int, seconds: float, max_requests: int, mix: dict[str, float],
               acked: list[tuple] | None = None) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30, headers=headers) as http:
        health = (await http.get("/api/health")).json()
        GENRE[0] = health["vocabulary"][0]
        ids = (await http.get("/api/map")).json()["ids"]  # also computes the map if it is not cached
        for tid in ids[:20]:  # warm-up: imports, first model call
            await http.get(ENDPOINTS["detail"](tid)[1])
        out: dict[str, list[float]] = {name: [] for name in mix}
        errors: list[str] = []
        budget = [max_requests]
        start = time.perf_counter()
        stop = start + seconds
        own = (lambda s: ids[s::clients]) if acked is not None else (lambda s: ids)  # --kill: each its own trailers
        await asyncio.gather(*(client(http, own(s), mix, s, stop, budget, out, errors, acked) for s in range(clients)))
        wall = time.perf_counter() - start
    every = [x for v in out.values() for x in v]
    return {
        "run": health["run"], "kind": health["kind"], "trailers": health["trailers"], "clients": clients,
        "mix": mix, "search": health["index"],  # None: exact search
        "seconds": round(wall, 2), "errors": len(errors), "error_kinds": sorted(set(errors))[:10],
        "requests_per_s": round((len(every) + len(errors)) / wall, 1),
        **summary(every), "endpoints": {name: summary(v) for name, v in out.items()},
        "load_average": load_averages(),
    }


def kill_during_writes(run: str, port: int, users: Path, token: str, clients: int, seconds: float,
                       start_timeout: float) -> dict:
    """Review writes from ``clients`` clients, ``kill -9`` after ``seconds``, a restart; acknowledged vs journalled."""
    proc = start_server(run, port, start_timeout, users, token)
    acked: list[tuple] = []
    url = f"http://127.0.0.1:{port}"

    async def writes_then_kill() -> None:
        task = asyncio.create_task(load(url, token, clients, 3600, 10**9, {"review": 1.0}, acked))
        await asyncio.sleep(seconds)
        proc.send_signal(signal.SIGKILL)  # mid-write: some requests are answered, some cut
        await asyncio.sleep(0.5)  # answers already on their way are read
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(writes_then_kill())
    proc.wait(10)
    journal = ReviewJournal(run)
    raw = journal.path.read_bytes().splitlines(keepends=True)
    torn = sum(not line.endswith(b"\n") for line in raw)
    t = time.perf_counter()
    proc = start_server(run, port, start_timeout, users, token)  # the restarted server reads the journal
    restart_s = time.perf_counter() - t
    proc.terminate()
    proc.wait(10)
    found = {(d.trailer_id, d.genre, d.time, d.user) for d in journal.decisions()}
    missing = [a for a in acked if a not in found]
    return {"acknowledged": len(acked), "found": len(acked) - len(missing), "missing": missing[:10],
            "torn_lines": torn, "restart_s": round(restart_s, 2), "writes_per_s": round(len(acked) / seconds, 1),
            "load_average": load_averages()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--run", help="run folder: a server is started on a free loopback port")
    target.add_argument("--url", help="a server already running on loopback, e.g. http://127.0.0.1:8000")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--seconds", type=float, default=30, help="duration (default 30, at most 300)")
    p.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    p.add_argument("--start-timeout", type=float, default=600, help="seconds to wait for the server to start")
    p.add_argument("--token", help="with --url: a reviewer's bearer token")
    p.add_argument("--reviews", action="store_true", help="add review writes (rejects) to the mix (journalled)")
    p.add_argument("--mix", default="search=60,detail=30,review=10",
                   help="share of each request kind (default search=60,detail=30,review=10; review only with --reviews)")
    p.add_argument("--workers", type=int, default=1, help="with --run: server worker processes (default 1)")
    p.add_argument("--kill", action="store_true", help="with --run: kill -9 during review writes, then check the journal")
    args = p.parse_args()
    if not (1 <= args.clients <= 500 and 0 < args.seconds <= 300 and args.max_requests > 0):
        sys.exit("--clients must be 1..500, --seconds 0..300 and --max-requests > 0")
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    if set(mix) - set(ENDPOINTS):
        sys.exit(f"--mix names {', '.join(sorted(set(mix) - set(ENDPOINTS)))}; the kinds are {', '.join(ENDPOINTS)}")
    if not args.reviews:
        mix.pop("review", None)
    with tempfile.TemporaryDirectory(prefix="mmx-bench-serve-") as tmp:
        proc = None
        if args.run:
            if not Path(args.run).is_dir():
                sys.exit(f"{args.run} is not a run folder")
            users = Path(tmp) / "users.json"
            _, token = Users(users).add("bench", "reviewer")
            port = free_port()
            if args.kill:
                print_result(kill_during_writes(args.run, port, users, token, args.clients, args.seconds,
                                                args.start_timeout))
                return
            proc = start_server(args.run, port, args.start_timeout, users, token, args.workers)
            url = f"http://127.0.0.1:{port}"
        else:
            url, token = args.url.rstrip("/"), args.token or ""
            if not is_loopback(urlsplit(url).hostname or ""):
                sys.exit(f"{url} is not a loopback address; this load test only runs against this machine")
        try:
            result = asyncio.run(load(url, token, args.clients, args.seconds, args.max_requests, mix))
            defaults = ServerConfig()  # what `mmx serve` runs with: accounts on, every body bounded, time-outs
            result["server"] = {"workers": args.workers, "accounts": True, "body_limits": True,
                                "header_timeout_s": defaults.header_timeout,
                                "body_timeout_s": defaults.body_timeout} if args.run else "given by --url"
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    print_result(result)


if __name__ == "__main__":
    main()
