"""The served OpenAPI document tells the truth: schemathesis generates requests from it (valid and invalid)
and checks every answer's status, content type and body against what the document declares
(the full run is `schemathesis run URL --checks all`, see docs/explorer.md) — with accounts on, as an
admin's bearer token, so every route is reached (the refusals without it are tests/test_serve_accounts.py's)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from helpers import make_embeddings_run
from mmx.users import Users
from mmx_serve.app import create_app


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    run = make_embeddings_run(tmp_path_factory.mktemp("openapi"))
    _, token = Users.of_run(run).add("admin", "admin")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(run))
    return schema, {"Authorization": f"Bearer {token}"}


def test_the_document_declares_the_security_schemes(api_schema):
    schema, _ = api_schema
    doc = schema.raw_schema
    assert set(doc["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyCookie"}
    guarded = doc["paths"]["/api/reviews"]["post"]
    assert {"HTTPBearer": []} in guarded["security"] and {"401", "403"} <= set(guarded["responses"])
    assert "security" not in doc["paths"]["/api/login"]["post"]


def test_every_answer_matches_the_document(api_schema):
    api_schema, auth = api_schema
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 20
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=auth)

        check()
