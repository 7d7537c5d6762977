"""The web tests' shared setup: the Wednesday scenario behind a signed-in test client."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import uvicorn
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


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def sqlite_copy(tmp_path: Path, template: Path) -> str:
    """A database of the test's own: the browser tests test pages, not storage."""
    path = tmp_path / "reliability.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn on a free port, for a browser; its base URL."""
    port = free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def shoot(page: object, name: str, width: str) -> None:
    """A full-page screenshot in test-artifacts/, for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
