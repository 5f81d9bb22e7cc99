"""``mmx users add|list|token|role|remove --run RUN``: the accounts of a team's explorer (``mmx.users``)."""

from __future__ import annotations

import argparse

ROLE_HELP = "viewer reads; reviewer also decides on labels; curator also adds trailers; admin also manages users"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "users",
        help="who may use `mmx serve`: accounts with roles and tokens",
        description="Users are kept in RUN/users.json (or --users FILE) with only a salted hash of their token. "
        "Once the file exists, `mmx serve` asks every request for a token (Authorization: Bearer, or a login "
        f"on the page). Roles: {ROLE_HELP}.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help: str, func, with_name: bool = True) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help, description=help)
        if with_name:
            a.add_argument("name", help="user name (letters, digits, _.@-)")
        a.add_argument("--run", required=True, help="run folder the users are for")
        a.add_argument("--users", metavar="FILE", help="users file (default RUN/users.json)")
        a.set_defaults(func=func)
        return a

    add = action("add", "add a user and print its token (shown once)", add_user)
    add.add_argument("--role", required=True, choices=["viewer", "reviewer", "curator", "admin"], help=ROLE_HELP)
    add.add_argument("--days", type=float, default=90, help="days until the token expires (default 90; 0: never)")
    action("list", "list the users, their roles and when their tokens expire", list_users, with_name=False)
    token = action("token", "give a user a new token (the old one and its sessions stop working)", rotate)
    token.add_argument("--days", type=float, default=90, help="days until the token expires (default 90; 0: never)")
    role = action("role", "change a user's role", set_role)
    role.add_argument("--role", required=True, choices=["viewer", "reviewer", "curator", "admin"], help=ROLE_HELP)
    action("remove", "remove a user (its token and sessions stop working)", remove)


def _users(args: argparse.Namespace):
    from pathlib import Path

    from mmx.users import Users, UsersError

    if args.users is None and not Path(args.run).is_dir():
        raise UsersError(f"run folder {args.run} does not exist; give the run `mmx serve --run` serves "
                         "(or --users FILE)")
    return Users.of_run(args.run, args.users)


def _print_token(user, token: str) -> None:
    expires = f"expires {user.expires}" if user.expires else "never expires"
    print(f"{user.name} ({user.role}), token {expires}; it is shown only now:")
    print(token)


def add_user(args: argparse.Namespace) -> int:
    user, token = _users(args).add(args.name, args.role, args.days or None)
    _print_token(user, token)
    return 0


def rotate(args: argparse.Namespace) -> int:
    user, token = _users(args).rotate(args.name, args.days or None)
    _print_token(user, token)
    return 0


def set_role(args: argparse.Namespace) -> int:
    user = _users(args).set_role(args.name, args.role)
    print(f"{user.name} is now {user.role}")
    return 0


def remove(args: argparse.Namespace) -> int:
    users = _users(args)
    user = users.remove(args.name)
    left = len(users.all())
    print(f"removed {user.name} ({user.role}); {left} user(s) left" + ("" if left else
          f" — {users.path} stays, so a server on this run lets nobody in until a user is added"))
    return 0


def list_users(args: argparse.Namespace) -> int:
    users = _users(args)
    if not users.exists:
        print(f"no users file {users.path}: `mmx serve` on this run is single-user (loopback only)")
        return 0
    for u in users.all().values():
        print(f"{u.name:<24} {u.role:<9} created {u.created}  " + (f"expires {u.expires}" if u.expires else "never expires"))
    return 0
