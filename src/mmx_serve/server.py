"""``mmx serve`` as a process: a listening socket, uvicorn with the time-outs it lacks, one or several worker
processes, and nothing that outlives the server.

* **Nothing forks inside the server, and nothing outlives it.** The library keeps every pool
  in-process (the label check's probe fits, no data-loader workers, ingest extraction ``in_process``;
  cleanlab, whose default forked a worker pool here, is no longer used). Should
  any library fork anyway, ``guard_forks`` makes the child close the server's listening sockets (a
  forked child kept the port after the server was killed) and die with the thread that forked it
  (``PR_SET_PDEATHSIG``); worker processes likewise die with their supervisor, also on ``kill -9``.
* **A slow client is dropped** (``TimedH11Protocol``): a request's headers must arrive within
  ``header_timeout`` seconds of the connection (or of the previous answer on a kept-alive one), and
  its body may stall for at most ``body_timeout`` seconds at a time; uvicorn has neither, so half-sent
  requests held their connections, and file descriptors, for ever.
* **Several processes** (``workers`` > 1): uvicorn's supervisor binds once and starts the workers with
  ``spawn``; each builds its own app from ``AppSpec``. What they must share lives on disk: sessions and
  rate limits (``mmx_serve.sessions``), the review journal and ingests (locked files), new trailers
  (``Explorer.sync``).
* SIGTERM (or Ctrl-C) stops accepting, lets requests in flight finish for ``graceful_seconds``, and ends.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import os
import resource
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import h11
import uvicorn
from fastapi import FastAPI
from threadpoolctl import threadpool_limits
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess

from mmx_serve.auth import AuthConfig
from mmx_serve.collection import ServeConfig


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"  # loopback: only this machine (and a proxy on it) reaches the server
    port: int = 8000
    workers: int = 1  # processes answering requests; each holds the run in memory
    header_timeout: float = 10.0  # seconds a request's headers may take to arrive (then the connection is closed)
    body_timeout: float = 30.0  # seconds a request's body may stall between two reads (an upload going on is fine)
    keep_alive: int = 5  # seconds an idle kept-alive connection stays open
    graceful_seconds: int = 5  # on SIGTERM, requests in flight get this long before they are cut
    worker_start_seconds: int = 120  # a worker process must answer its supervisor within this long


@dataclass
class AppSpec:
    """What a worker process builds its app from (``mmx_serve.app.create_app``'s arguments)."""

    run: Path
    media_root: Path | None = None
    serve: ServeConfig = field(default_factory=ServeConfig)
    users: Path | None = None
    auth: AuthConfig = field(default_factory=AuthConfig)
    accounts_required: bool = False

    def create(self) -> FastAPI:
        from mmx_serve.app import create_app

        return create_app(self.run, self.media_root, self.serve, self.users, self.auth, self.accounts_required)


# ---------------------------------------------------------------------------- the process
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int | None = None) -> None:
    """End this process (SIGKILL) when the thread that started it ends, its parent killed included (Linux);
    at once when ``parent`` is given and is no longer the parent (it died before this was set)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def guard_forks(sockets: list[socket.socket]) -> None:
    """Make every child forked from now on close ``sockets`` (the port is the server's alone) and die with the
    thread that forked it."""
    def in_child() -> None:
        for s in sockets:
            s.close()
        die_with_parent()

    os.register_at_fork(after_in_child=in_child)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (IPv4 or IPv6 by ``host``), as uvicorn binds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def more_files() -> None:
    """Raise the soft limit of open files to the hard one: each connection is one (the default 1,024 runs out)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------------------- time-outs
class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header time-out and a body time-out (``ServerConfig``), read from the
    uvicorn config (``MmxUvicornConfig``)."""

    def __init__(self, config: MmxUvicornConfig, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout, self.body_timeout = config.header_timeout, config.body_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers" or "body" while a timer runs

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(arrived=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _watch(self, arrived: bool = False) -> None:
        """Arm the timer the request's state asks for: headers still to come (not while the keep-alive timer
        waits for a next request), a body still to come (again at every read), or none."""
        state = self.conn.their_state
        if state is h11.IDLE and self.timeout_keep_alive_task is None and not self.transport.is_closing():
            if self._waiting_for != "headers":  # the deadline counts from the first byte of the headers
                self._start("headers", self.header_timeout)
        elif state is h11.SEND_BODY:
            if arrived or self._waiting_for != "body":
                self._start("body", self.body_timeout)
        else:
            self._stop()

    def _start(self, waiting_for: str, seconds: float) -> None:
        self._stop()
        self._waiting_for = waiting_for
        self._timer = self.loop.call_later(seconds, self._expired)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._waiting_for = None, None

    def _expired(self) -> None:
        if self._waiting_for == "body" and self.flow.read_paused:  # the app is slow to read, not the client
            self._start("body", self.body_timeout)
            return
        self.logger.info("closed a connection whose request %s did not arrive in time", self._waiting_for)
        self._timer, self._waiting_for = None, None
        self.transport.close()


class MmxUvicornConfig(uvicorn.Config):
    """uvicorn's config with the time-outs of ``TimedH11Protocol``."""

    def __init__(self, app, server: ServerConfig, **kwargs):
        super().__init__(app, http=TimedH11Protocol, timeout_keep_alive=server.keep_alive,
                         timeout_graceful_shutdown=server.graceful_seconds, log_level="warning",
                         # a worker answers the supervisor's pings only once it has imported torch and the rest:
                         # uvicorn's 5 s made the supervisor kill and restart every worker, for ever, on 2 busy cores
                         timeout_worker_healthcheck=server.worker_start_seconds, **kwargs)
        self.header_timeout, self.body_timeout = server.header_timeout, server.body_timeout


# ---------------------------------------------------------------------------- serving
def worker_app(spec: AppSpec, supervisor: int) -> FastAPI:
    """A worker process's app (uvicorn calls it in the worker); the worker dies with its supervisor."""
    die_with_parent(supervisor)
    threadpool_limits(1, user_api="blas")
    return spec.create()


def serve(app: FastAPI | None, spec: AppSpec, cfg: ServerConfig) -> None:
    """Serve ``app`` (made from ``spec``; None with several workers, which build their own from ``spec``) on
    ``cfg.host:cfg.port`` until SIGTERM or Ctrl-C."""
    more_files()
    sock = bind(cfg.host, cfg.port)
    guard_forks([sock])
    if cfg.workers == 1:
        # requests run in parallel threads: one BLAS thread each, not a pool per request
        threadpool_limits(1, user_api="blas")
        uvicorn.Server(MmxUvicornConfig(app or spec.create(), cfg)).run(sockets=[sock])
        return
    factory = functools.partial(worker_app, spec, os.getpid())
    Multiprocess(MmxUvicornConfig(factory, cfg, factory=True, workers=cfg.workers), sockets=[sock]).run()
