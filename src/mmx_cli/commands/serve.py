"""``mmx serve --run RUN``: the explorer page and JSON API (FastAPI + uvicorn), on loopback by default."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="explore a run in the browser: map of pictures, scenes, similar scenes and trailers, label review",
        description="Serves a web page at / and a JSON API under /api (docs at /api/docs). The map of the "
        "collection is computed once and cached in the run folder (layout.npz, the map of `mmx report` too).",
    )
    p.add_argument("--run", required=True, help="run folder (coarse, fine or imported embeddings)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--media-root", metavar="DIR", help="folder of the trailers' videos: played from a scene's start, "
                   "and read by path by POST /api/ingest (nothing outside it is ever served)")
    p.add_argument("--max-upload-mb", type=int, default=512, help="largest video upload accepted (default 512)")
    p.add_argument("--recheck-delay", type=float, default=2.0, metavar="SECONDS",
                   help="the health findings are checked again once no review decision or ingest came for this "
                        "long (default 2; a burst of decisions gives one re-check)")
    p.add_argument("--users", metavar="FILE", help="users file (default RUN/users.json, made by `mmx users add`); "
                   "when it exists every request needs a user's token or a login")
    p.add_argument("--public", action="store_true", help="others reach this server (a non-loopback address, or a "
                   "proxy in front of a loopback one): accounts are required, so it needs users (`mmx users add NAME "
                   "--role ... --run RUN`) and never runs open")
    p.add_argument("--workers", type=int, default=1, help="processes answering requests (default 1); each holds the "
                   "run in memory, and they share logins, rate limits, reviews and ingests through the run folder")
    p.add_argument("--header-timeout", type=float, default=10, metavar="SECONDS",
                   help="a request's headers must arrive within this long, or the connection is closed (default 10)")
    p.add_argument("--body-timeout", type=float, default=30, metavar="SECONDS",
                   help="a request's body may stall this long between two reads (default 30)")
    p.add_argument("--secure-cookie", action="store_true", help="mark the login cookie Secure (the page is reached "
                   "over https, e.g. through a TLS-terminating proxy; see docs/deployment.md)")
    p.add_argument("--session-hours", type=float, default=12, help="a login on the page lasts this long (default 12)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def refusal(args: argparse.Namespace) -> str | None:
    """Why the server must not start with these flags, or None (decided before the run is loaded)."""
    from mmx.users import Users

    users = Users.of_run(args.run, args.users)
    if args.users and not users.exists:
        return f"--users {args.users} does not exist; make it with `mmx users add NAME --role ROLE --users FILE`"
    for flag in ("recheck_delay", "header_timeout", "body_timeout"):
        if getattr(args, flag) < 0:
            return f"--{flag.replace('_', '-')} {getattr(args, flag):g} is negative; give seconds ≥ 0"
    if args.workers < 1:
        return f"--workers {args.workers} is not a number of processes; give 1 or more"
    if not args.public and not is_loopback(args.host):
        return f"{args.host} is not a loopback address; add --public (with users) to serve it to other machines"
    if args.public and not users.all():
        return (f"--public needs accounts, and {users.path} has no user; add one with `mmx users add NAME --role "
                f"admin --run {args.run}`")
    return None


def run(args: argparse.Namespace) -> int:
    why = refusal(args)
    if why is not None:
        print(f"mmx serve: error: {why}", file=sys.stderr)
        return 2
    if args.media_root and not Path(args.media_root).is_dir():
        print(f"mmx serve: error: --media-root {args.media_root} is not a folder", file=sys.stderr)
        return 2
    from mmx.embeddings import ensure_embeddings
    from mmx.progress import Reporter
    from mmx.run import ModelRun, Run
    from mmx_serve.auth import AuthConfig
    from mmx_serve.collection import ServeConfig
    from mmx_serve.server import AppSpec, ServerConfig, serve  # the `serve` extra (else one line naming it)

    opened = Run.open(args.run)
    for r in [opened] + ([opened.parent] if isinstance(opened, ModelRun) and opened.parent is not None else []):
        ensure_embeddings(r, Reporter.auto())  # a trained run's embeddings, computed once when missing or stale
    spec = AppSpec(Path(args.run), Path(args.media_root) if args.media_root else None,
                   ServeConfig(max_upload_mb=args.max_upload_mb, recheck_delay=args.recheck_delay),
                   Path(args.users) if args.users else None,
                   AuthConfig(session_hours=args.session_hours, secure_cookie=args.secure_cookie),
                   accounts_required=args.public)
    cfg = ServerConfig(args.host, args.port, args.workers, args.header_timeout, args.body_timeout)
    app = spec.create()
    explorer = app.state.explorer
    explorer.prepare(Reporter.auto())  # maps and scene vectors, computed once: the workers read them
    for note in explorer.notes():
        print(f"mmx serve: note: {note}", file=sys.stderr)
    users = app.state.auth.users
    print(f"mmx serve: http://{args.host}:{args.port}/ — " + (f"{len(users.all())} user(s) in {users.path}"
          if users.exists else "single user, no login (`mmx users add` turns accounts on)")
          + (f", {args.workers} worker processes" if args.workers > 1 else ""), file=sys.stderr)
    serve(app if args.workers == 1 else None, spec, cfg)
    return 0
