"""The served OpenAPI document tells the truth, in both of the server's modes: schemathesis (its command line,
``--checks all``) generates requests from the document — valid and invalid, with and without credentials —
against a real ``mmx serve`` process, and checks every answer's status, content type and body against what
the document declares. With accounts it sends an admin's token (so every route is reached; the refusals
without one are tests/mmx_serve/test_auth.py's); without accounts no operation may ask for a credential."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from helpers import make_embeddings_run
from mmx.users import Users
from mmx_serve.app import create_app
from server_process import Served

pytestmark = pytest.mark.slow  # schemathesis against real server processes

OPERATIONS = 21


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(a run without accounts, a run with an admin, the admin's token)."""
    root = tmp_path_factory.mktemp("openapi")
    open_run, team_run = make_embeddings_run(root / "open"), make_embeddings_run(root / "team")
    _, token = Users.of_run(team_run).add("admin", "admin")
    return open_run, team_run, token


def document(run) -> dict:
    return TestClient(create_app(run)).get("/api/openapi.json").json()


def operations(doc: dict) -> list[dict]:
    return [op for methods in doc["paths"].values() for op in methods.values()]


def test_with_accounts_every_guarded_operation_declares_its_credentials(runs):
    _, team_run, _ = runs
    doc = document(team_run)
    assert set(doc["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyCookie"}
    assert len(operations(doc)) == OPERATIONS
    guarded = doc["paths"]["/api/reviews"]["post"]
    assert {"HTTPBearer": []} in guarded["security"] and {"401", "403", "413"} <= set(guarded["responses"])
    for open_to_all in (("/api/login", "post"), ("/api/session", "get"), ("/api/logout", "post")):
        assert "security" not in doc["paths"][open_to_all[0]][open_to_all[1]]
    assert all({"401", "403"} <= set(op["responses"]) for op in operations(doc) if op.get("security"))


def test_without_accounts_no_operation_asks_for_a_credential(runs):
    open_run, _, _ = runs
    doc = document(open_run)
    assert "securitySchemes" not in doc["components"] and len(operations(doc)) == OPERATIONS
    assert not any("security" in op or "401" in op["responses"] for op in operations(doc))


def test_schemathesis_finds_nothing_against_real_servers_in_both_modes(runs, tmp_path):
    """Both servers at once (each run takes ~45 s, mostly schemathesis' coverage phase)."""
    open_run, team_run, token = runs
    with Served(open_run) as alone, Served(team_run, token=token) as team:
        checks = {name: subprocess.Popen(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/openapi.json", "--checks", "all",
             "--max-examples", "3", "--seed", "1", *auth], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=tmp_path)
            for name, server, auth in (("without accounts", alone, []),
                                       ("with accounts", team, ["-H", f"Authorization: Bearer {token}"]))}
        outputs = {name: p.communicate(timeout=400)[0] for name, p in checks.items()}
    for name, p in checks.items():
        assert p.returncode == 0, f"{name}:\n{outputs[name][-6000:]}"
        assert "passed" in outputs[name] and "unique failure" not in outputs[name]
