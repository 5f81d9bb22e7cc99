"""What the bench scripts share: a free loopback port, the machine's load, a matrix product's peak speed,
nearest-neighbour latency and recall, ``mmx`` in a child process (timed, with its own peak memory), and the
JSON line every bench ends with.

bench/ is the script folder: a script imports this as ``from _common import ...`` (its own folder is first on
``sys.path`` when Python runs it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

MMX = [sys.executable, "-m", "mmx_cli.main"]  # `mmx` in a child process: this interpreter, the code it imports


def free_port() -> int:
    """A loopback port nothing listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(digits: int = 2) -> float:
    """The 1-minute load average: what else the machine was doing while a bench measured."""
    return round(os.getloadavg()[0], digits)


def load_averages() -> list[float]:
    """The 1-, 5- and 15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def print_result(result, **dumps):
    """Print ``result`` as the bench's last line (one line of JSON; numpy numbers as floats); returns it."""
    print(json.dumps(result, **{"default": float, **dumps}), flush=True)
    return result


def matmul_peak(device, dtype, n: int = 2048, reps: int = 10, seconds: float = 0.0, threads: int | None = None) -> float:
    """FLOP/s of an n×n×n ``torch.mm`` on ``device``: the best of at least ``reps`` products and of as many as
    ``seconds`` allow, after one untimed (with ``threads`` intra-op threads when given)."""
    import torch  # here: the benches that time no network never load it

    from mmx.experts.torch_expert import torch_threads

    device = torch.device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    best, done = float("inf"), 0
    with torch_threads(threads) if threads else nullcontext():
        torch.mm(a, b)
        end = time.perf_counter() + seconds
        while done < reps or time.perf_counter() < end:
            sync()
            t = time.perf_counter()
            torch.mm(a, b)
            sync()
            best, done = min(best, time.perf_counter() - t), done + 1
    return 2 * n**3 / best


def search_latency(index, queries: np.ndarray, truth: np.ndarray, k: int = 10) -> dict:
    """One query at a time through a FAISS ``index``: median and 99th-percentile milliseconds, recall@k against
    ``truth`` (the exact top k of every query), and the load while it ran."""
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        rows = index.search(q[None], k)[1]
        times.append((time.perf_counter() - t) * 1e3)
        found.append(rows[0])
    recall = np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)])
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p99_ms": round(float(np.percentile(times, 99)), 3),
            f"recall_at_{k}": round(float(recall), 4), "load": load()}


@dataclass
class Finished:
    """An ``mmx`` command that ran in a child process."""

    seconds: float  # wall seconds, the process start included
    stdout: str
    stderr: str
    peak_rss_kb: int  # the child's own peak resident memory (Linux: kilobytes)


def run_mmx(*args: str, ok: tuple[int, ...] = (0, 1)) -> Finished:
    """``mmx ARGS`` in a fresh process; exits naming the command and its error output unless its status is ``ok``
    (0 done, 1 done with findings or failures it reports)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*MMX, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - t0
        out.seek(0), err.seek(0)
        done = Finished(seconds, out.read().decode(), err.read().decode(), usage.ru_maxrss)
    if proc.returncode not in ok:
        raise SystemExit(f"mmx {' '.join(args)} failed (exit status {proc.returncode}):\n{done.stderr[-2000:]}")
    return done
