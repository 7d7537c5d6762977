"""Schemathesis against /openapi.json, signed in as a manager: no input makes the API fail."""

import shutil
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from web_helpers import app_for, token_for, wednesday_agency

from reliability.ledger import Ledger

EXAMPLES = 25  # per operation: a few hundred requests in all, in seconds

@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "reliability.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    return wednesday_agency(ledger)


@pytest.fixture
def app(agency: Ledger) -> FastAPI:
    return app_for(agency)


@pytest.fixture
def bearer(agency: Ledger) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(agency, 'bob@example.com')}"}


def test_no_request_makes_the_api_fail(app: FastAPI, bearer: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=bearer)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer,
                                   checks=[not_a_server_error, response_schema_conformance])

        no_server_error()


def test_the_openapi_document_covers_what_the_pages_show(app: FastAPI,
                                                         bearer: dict[str, str]) -> None:
    client = TestClient(app)
    assert client.get("/openapi.json").status_code == 401
    paths = client.get("/openapi.json", headers=bearer).json()["paths"]
    assert {"/api/promises", "/api/promises/{promise_id}", "/api/at-risk", "/api/drafts",
            "/api/drafts/{notice_id}/approve", "/api/drafts/{notice_id}/cancel",
            "/api/digest", "/api/metrics"} <= set(paths)
    assert not any(path.startswith(("/board", "/sign-in", "/drafts")) for path in paths)

