"""`mmx users`: the token printed once and only a salted hash stored; rotate, change role, list, remove; errors
that name the user or the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import make_embeddings_run
from mmx.users import Users
from mmx_cli.main import main


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_embeddings_run(tmp_path_factory.mktemp("accounts"))


def test_users_cli_prints_the_token_once_and_stores_only_a_salted_hash(run, tmp_path, capsys):
    users = tmp_path / "team.json"
    assert main(["users", "add", "ana", "--role", "reviewer", "--run", str(run), "--users", str(users)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    stored = users.read_text()
    assert token.startswith("mmx_") and token not in stored and token.split("_", 2)[2] not in stored  # mmx_<key>_<secret>; the secret may hold "_"
    assert users.stat().st_mode & 0o777 == 0o600
    record = json.loads(stored)["users"][0]
    assert record["role"] == "reviewer" and len(record["salt"]) == 32 and len(record["hash"]) == 64
    assert Users(users).check(token).name == "ana" and Users(users).check(token[:-1] + ("y" if token.endswith("x") else "x")) is None

    assert main(["users", "add", "ana", "--role", "viewer", "--run", str(run), "--users", str(users)]) == 2
    assert "already has a user 'ana'" in capsys.readouterr().err
    assert main(["users", "token", "ana", "--run", str(run), "--users", str(users)]) == 0
    new = capsys.readouterr().out.strip().splitlines()[-1]
    assert Users(users).check(token) is None and Users(users).check(new).name == "ana"  # rotated
    assert main(["users", "role", "ana", "--role", "curator", "--run", str(run), "--users", str(users)]) == 0
    assert main(["users", "list", "--run", str(run), "--users", str(users)]) == 0
    assert "ana" in capsys.readouterr().out and Users(users).all()["ana"].role == "curator"
    assert main(["users", "remove", "ana", "--run", str(run), "--users", str(users)]) == 0
    assert "lets nobody in" in capsys.readouterr().out and users.exists() and Users(users).all() == {}
    assert main(["users", "remove", "bob", "--run", str(run), "--users", str(users)]) == 2
    assert "has no user 'bob'" in capsys.readouterr().err
    assert main(["users", "add", "ana", "--role", "viewer", "--run", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()
