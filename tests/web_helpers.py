"""The web tests' shared setup: the Wednesday scenario behind a signed-in test client."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import at
from pydantic import SecretStr
from scenarios import START, agency_with, wednesday_draft

from reliability.ledger import Ledger
from reliability.members import issue_personal_token
from reliability.web.app import create_app

WEDNESDAY_10 = at("2026-11-18T10:00-05:00")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def wednesday_agency(ledger: Ledger) -> Ledger:
    """Bob manages Alice, whose Q3 report for Acme is at risk with a delay draft; Carol
    manages nobody of theirs and Erin is an admin."""
    ledger.settings.web.secret_key = SecretStr("test-secret-key")
    wednesday_draft(agency_with(ledger, "en"))
    ledger.add_member(email="carol@example.com", name="Carol", role="manager",
                      timezone="America/New_York", now=START, actor="t")
    ledger.add_member(email="erin@example.com", name="Erin", role="admin",
                      timezone="Europe/Stockholm", now=START, actor="t")
    return ledger


def app_for(ledger: Ledger, now: datetime = WEDNESDAY_10) -> FastAPI:
    return create_app(ledger, clock=lambda: now)


def token_for(ledger: Ledger, email: str) -> str:
    return issue_personal_token(ledger, email, now=START, actor="test")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def signed_in(app: FastAPI, ledger: Ledger, email: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/sign-in")
    response = client.post("/sign-in/token", data={
        "token": token_for(ledger, email), "next": "/board", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 200 and "At risk" in response.text
    return client
