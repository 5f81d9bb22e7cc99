"""Load test of `mmx serve`: concurrent clients asking for similar trailers and trailer details.

Starts ``mmx serve --run RUN`` on a free loopback port (or uses ``--url`` of a server already
running on loopback), warms it up, then runs ``--clients`` clients for ``--seconds`` seconds, or
until ``--max-requests`` requests were sent, whichever comes first. Each client picks trailers at
random and alternates ``GET /api/search?id=…&k=10`` and ``GET /api/trailers/{id}``. Latencies
are measured per request (client side, so they include queueing in the server).

    python bench/serve.py --run RUN [--clients 50] [--seconds 30] [--max-requests 100000]

The last line of the output is JSON: requests, errors, requests per second, p50/p99 in ms (all
requests and per endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import numpy as np

from mmx_cli.commands.serve import is_loopback

ENDPOINTS = {
    "search": lambda tid: f"/api/search?id={quote(tid, safe='')}&k=10",
    "detail": lambda tid: f"/api/trailers/{quote(tid, safe='')}",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: str, port: int, timeout: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mmx_cli.main", "serve", "--run", run, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"mmx serve exited with status {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.terminate()
    sys.exit(f"mmx serve did not answer on port {port} within {timeout:.0f} s")


async def client(http: httpx.AsyncClient, ids: list[str], seed: int, stop: float, budget: list[int],
                 out: dict[str, list[float]], errors: list[str]) -> None:
    rng = random.Random(seed)
    names = list(ENDPOINTS)
    i = seed
    while time.perf_counter() < stop and budget[0] > 0:
        budget[0] -= 1
        name = names[i % len(names)]
        i += 1
        t = time.perf_counter()
        try:
            r = await http.get(ENDPOINTS[name](rng.choice(ids)))
            ok = r.status_code == 200
            why = f"{name}: HTTP {r.status_code}"
        except httpx.HTTPError as e:
            ok, why = False, f"{name}: {type(e).__name__}"
        if ok:
            out[name].append(time.perf_counter() - t)
        else:
            errors.append(why)


def summary(latencies: list[float]) -> dict:
    ms = np.asarray(latencies) * 1000
    if not len(ms):
        return {"requests": 0}
    return {"requests": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2)}


async def load(url: str, clients: int, seconds: float, max_requests: int) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        health = (await http.get("/api/health")).json()
        ids = (await http.get("/api/map")).json()["ids"]  # also computes the map if it is not cached
        for tid in ids[:20]:  # warm-up: imports, first model call
            await http.get(ENDPOINTS["detail"](tid))
        out: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        errors: list[str] = []
        budget = [max_requests]
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(*(client(http, ids, s, stop, budget, out, errors) for s in range(clients)))
        wall = time.perf_counter() - start
    every = [x for v in out.values() for x in v]
    return {
        "run": health["run"], "kind": health["kind"], "trailers": health["trailers"], "clients": clients,
        "seconds": round(wall, 2), "errors": len(errors), "error_kinds": sorted(set(errors))[:10],
        "requests_per_s": round((len(every) + len(errors)) / wall, 1),
        **summary(every), "endpoints": {name: summary(v) for name, v in out.items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--run", help="run folder: a server is started on a free loopback port")
    target.add_argument("--url", help="a server already running on loopback, e.g. http://127.0.0.1:8000")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--seconds", type=float, default=30, help="duration (default 30, at most 300)")
    p.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    p.add_argument("--start-timeout", type=float, default=600, help="seconds to wait for the server to start")
    args = p.parse_args()
    if not (1 <= args.clients <= 500 and 0 < args.seconds <= 300 and args.max_requests > 0):
        sys.exit("--clients must be 1..500, --seconds 0..300 and --max-requests > 0")
    proc = None
    if args.run:
        if not Path(args.run).is_dir():
            sys.exit(f"{args.run} is not a run folder")
        port = free_port()
        proc = start_server(args.run, port, args.start_timeout)
        url = f"http://127.0.0.1:{port}"
    else:
        url = args.url.rstrip("/")
        if not is_loopback(urlsplit(url).hostname or ""):
            sys.exit(f"{url} is not a loopback address; this load test only runs against this machine")
    try:
        result = asyncio.run(load(url, args.clients, args.seconds, args.max_requests))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
