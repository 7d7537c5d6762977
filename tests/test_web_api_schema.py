"""Schemathesis against /openapi.json, signed in as a manager: no input makes the API fail,
reads and writes alike (every POST with a random Idempotency-Key unless schemathesis made
one up), on SQLite and on PostgreSQL (where a NUL byte in text is an error of the
database's own)."""

import uuid
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from web_helpers import app_for, token_for, wednesday_agency

from reliability.ledger import Ledger

EXAMPLES = 20  # per operation and mode: a few hundred requests per backend, in seconds
# What schemathesis may not think of: NUL and other control characters, bytes that are not
# UTF-8, and strings far over any documented maximum.
HOSTILE = ["\x00", "a\x00b", "\x1b[31m", "%00", "%FF", "x" * 10_000, "9999-12-31",
           "99999999999999999999"]


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
    assert len(operations) >= 25
    negative = schemathesis.GenerationMode.NEGATIVE  # out-of-schema values: long, wrong type
    for operation, mode in [(operation, mode) for operation in operations
                            for mode in schemathesis.GenerationMode
                            if mode != negative or _has_inputs(operation)]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            key = {} if "Idempotency-Key" in (case.headers or {}) or case.method != "POST" \
                else {"Idempotency-Key": str(uuid.uuid4())}
            case.call_and_validate(headers={**bearer, **key},
                                   checks=[not_a_server_error, response_schema_conformance])

        no_server_error()


def _has_inputs(operation: Any) -> bool:
    return any(len(part) for part in (operation.path_parameters, operation.query,
                                       operation.body))


def test_nul_and_huge_values_in_any_parameter_are_refused_not_a_server_error(
    app: FastAPI, bearer: dict[str, str],
) -> None:
    client = TestClient(app, headers=bearer)
    paths = client.get("/openapi.json").json()["paths"]
    for template, methods in paths.items():
        for method, operation in methods.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            for value in HOSTILE:
                path = template.replace("{promise_id}", "1").replace("{notice_id}", "1")
                for name in names:
                    for query in ({name: value}, f"{name}=%FF%00"):
                        response = client.request(method, path, params=query)
                        assert response.status_code < 500, (method, path, name, value[:20])
                if "{" in template:
                    response = client.request(method, template.split("{")[0] + quote(value))
                    assert response.status_code < 500, (method, template, value[:20])
                if method == "post":
                    response = client.post(path, json={"reason": value})
                    assert response.status_code < 500, (method, path, value[:20])


def test_the_openapi_document_covers_what_the_pages_show(app: FastAPI,
                                                         bearer: dict[str, str]) -> None:
    client = TestClient(app)
    assert client.get("/openapi.json").status_code == 401
    paths = client.get("/openapi.json", headers=bearer).json()["paths"]
    assert {"/api/promises", "/api/promises/{promise_id}", "/api/at-risk", "/api/drafts",
            "/api/drafts/{notice_id}/approve", "/api/drafts/{notice_id}/cancel",
            "/api/digest", "/api/metrics", "/api/promises/parse",
            "/api/promises/{promise_id}/checkins", "/api/promises/{promise_id}/done",
            "/api/promises/{promise_id}/cancel", "/api/promises/{promise_id}/move",
            "/api/requests", "/api/mistakes", "/api/clients", "/api/clients/{client_id}",
            "/api/clients/{client_id}/ratings", "/api/members", "/api/members/{member_id}",
            "/api/members/{member_id}/remove", "/api/drafts/{notice_id}", "/api/tokens",
            "/api/tokens/{token_id}/revoke"} <= set(paths)
    create = paths["/api/promises"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert set(create["responses"]) >= {"201", "401", "403", "409", "422"}
    assert not any(path.startswith(("/board", "/sign-in", "/drafts")) for path in paths)

