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
    p.add_argument("--public", action="store_true", help="allow binding a non-loopback address (needs users: "
                   "`mmx users add NAME --role ... --run RUN`)")
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
    """Why the server must not start with these flags, or None."""
    from mmx.users import Users

    users = Users.of_run(args.run, args.users)
    if args.users and not users.exists:
        return f"--users {args.users} does not exist; make it with `mmx users add NAME --role ROLE --users FILE`"
    if args.recheck_delay < 0:
        return f"--recheck-delay {args.recheck_delay:g} is negative; give seconds ≥ 0"
    if is_loopback(args.host):
        return None
    if not args.public:
        return f"{args.host} is not a loopback address; add --public (with users) to serve it to other machines"
    if not users.all():
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
    import uvicorn  # the serving stack is the `serve` extra: without it, one line naming it (mmx_cli.main)
    from threadpoolctl import threadpool_limits

    from mmx.embeddings import ensure_embeddings
    from mmx.progress import Reporter
    from mmx.run import ModelRun, Run
    from mmx_serve.app import create_app
    from mmx_serve.auth import AuthConfig
    from mmx_serve.state import ServeConfig

    opened = Run.open(args.run)
    for r in [opened] + ([opened.parent] if isinstance(opened, ModelRun) and opened.parent is not None else []):
        ensure_embeddings(r, Reporter.auto())  # a trained run's embeddings, computed once when missing or stale
    # requests already run in parallel threads: one BLAS thread each, not a pool per request
    threadpool_limits(1, user_api="blas")
    auth = AuthConfig(session_hours=args.session_hours, secure_cookie=args.secure_cookie)
    cfg = ServeConfig(max_upload_mb=args.max_upload_mb, recheck_delay=args.recheck_delay)
    app = create_app(args.run, args.media_root, cfg, args.users, auth)
    explorer = app.state.explorer
    explorer.prepare(Reporter.auto())
    for note in explorer.notes():
        print(f"mmx serve: note: {note}", file=sys.stderr)
    users = app.state.auth.users
    print(f"mmx serve: http://{args.host}:{args.port}/ — " + (f"{len(users.all())} user(s) in {users.path}"
          if users.exists else "single user, no login (`mmx users add` turns accounts on)"), file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
