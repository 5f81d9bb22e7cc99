"""The served OpenAPI document tells the truth: schemathesis generates requests from it (valid and invalid)
and checks every answer's status, content type and body against what the document declares
(the full run is `schemathesis run URL --checks all`, see docs/explorer.md)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from helpers import make_embeddings_run
from mmx_serve.app import create_app


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    app = create_app(make_embeddings_run(tmp_path_factory.mktemp("openapi")))
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


def test_every_answer_matches_the_document(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 11
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate()

        check()
