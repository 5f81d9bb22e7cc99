"""A real ``mmx serve`` process for tests that must see the server as deployed (TestClient hides it: the
process, its children, its port, its socket time-outs, several processes sharing a run)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()  # after "(command)": state, ppid, …
            if fields[0] != "Z":
                parent[int(entry.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        children = {c for c, pp in parent.items() if pp == p}
        found |= children
        todo += children
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class Served:
    """``mmx serve --run RUN --port P *args`` as a subprocess: started, waited for (``/api/health`` answers),
    killed on exit."""

    def __init__(self, run: Path, *args: str, token: str | None = None, timeout: float = 120):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.log = tempfile.TemporaryFile("w+")  # a pipe nobody reads would block a talkative server
        self.proc = subprocess.Popen([sys.executable, "-m", "mmx_cli.main", "serve", "--run", str(run),
                                      "--port", str(self.port), *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"mmx serve exited with {self.proc.returncode}: {self.output()}")
            assert time.time() < deadline, f"mmx serve did not answer on port {self.port} in {timeout:.0f} s"
            try:
                if httpx.get(f"{self.url}/api/health", headers=self.headers, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)

    def output(self) -> str:
        """What the server wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.url + path, headers=kw.pop("headers", self.headers), timeout=30, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return httpx.post(self.url + path, headers=kw.pop("headers", self.headers), timeout=30, **kw)

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()
