"""The dashboard in a real browser: Debian's Chromium driven by Playwright, at two widths.

Screenshots of every page land in test-artifacts/ (desktop and phone) for people to look at.
"""

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers.smtp import smtp_server
from sqlmodel import Session, select
from web_helpers import (
    CHROMIUM,
    app_for,
    chromium,
    served,
    shoot,
    sqlite_copy,
    token_for,
    wednesday_agency,
)

from reliability.ledger import Ledger
from reliability.models import Notice

pytest.importorskip("playwright.sync_api")

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="needs Debian's chromium: apt-get install -y chromium")


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """One backend is enough here: the browser tests the pages, not the storage."""
    return sqlite_copy(tmp_path, sqlite_template)


@pytest.fixture
def server(ledger: Ledger) -> Iterator[str]:
    wednesday_agency(ledger)
    with served(app_for(ledger)) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


def sign_in(page: object, base: str, token: str) -> None:
    page.goto(f"{base}/board")
    assert "/sign-in" in page.url
    page.fill("#token", token)
    page.click("text=Sign in with token")
    page.wait_for_url(f"{base}/board")


def draft_status(ledger: Ledger) -> str:
    with Session(ledger.engine) as session:
        return session.exec(select(Notice.status).where(Notice.kind == "delay_notice")).one()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_bob_signs_in_edits_and_approves_the_draft_and_sees_it_leave_the_inbox(
    browser: object, server: str, ledger: Ledger, width: str,
) -> None:
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    page.goto(f"{server}/sign-in")
    shoot(page, "sign-in", width)
    sign_in(page, server, token_for(ledger, "bob@example.com"))

    card = page.locator("article.card.risk", has_text="Q3 report")
    assert card.is_visible()
    assert "Alice reported it at risk yesterday: “Waiting on the ad account data”" in (
        card.inner_text())
    assert "likely late" in card.inner_text()
    shoot(page, "board", width)

    for name, path in [("promises", "/promises?status="), ("mistakes", "/mistakes"),
                       ("reliability", "/reliability"), ("clients", "/clients"),
                       ("client", "/clients/1"), ("calendar", "/calendar")]:
        page.goto(server + path)
        assert page.locator("h1").is_visible()
        shoot(page, name, width)
    page.goto(f"{server}/board")
    card.locator("h2 a").click()
    assert page.locator("ol.timeline li").count() >= 4
    shoot(page, "promise", width)

    page.goto(f"{server}/drafts")
    shoot(page, "drafts", width)
    page.locator("#drafts a").first.click()
    page.fill("#text", "Hi Dana,\n\nThe Q3 report needs until Tuesday; the data arrived late."
                       "\n\nAlice")
    page.click("text=Save changes")
    assert page.locator(".flash.ok").is_visible()
    assert "the data arrived late" in page.input_value("#text")
    shoot(page, "draft", width)
    page.click("text=Approve and send")
    page.wait_for_url(f"{server}/drafts")
    assert "No drafts waiting" in page.locator("#drafts").inner_text()
    assert "Q3 report" in page.locator("#recent").inner_text()
    assert draft_status(ledger) == "queued"
    shoot(page, "drafts-after-approval", width)
    if width == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width]["width"]
    context.close()


def test_a_sign_in_link_works_once_and_sign_out_everywhere_ends_the_session(
    browser: object, server: str, ledger: Ledger,
) -> None:
    page = browser.new_context(viewport=WIDTHS["phone"]).new_page()
    arrived = threading.Event()
    with smtp_server() as mail:
        mail.on_message = lambda count: arrived.set()
        ledger.settings.smtp = mail.settings()
        page.goto(f"{server}/drafts")
        page.fill("#email", "bob@example.com")
        page.click("text=Send link")
        assert "on its way" in page.locator(".flash.ok").inner_text()
        assert arrived.wait(10), "the sign-in email did not arrive"
        [message] = mail.messages
    link = re.search(r"http://127\.0\.0\.1:8000(/sign-in/link/\S+)", message.get_content())
    assert link, "the email has no sign-in link"
    page.goto(server + link.group(1))
    shoot(page, "sign-in-link", "phone")
    page.click("form.card button")
    page.wait_for_url(f"{server}/drafts")

    page.goto(server + link.group(1))
    assert "already been used" in page.locator(".flash.error").inner_text()
    shoot(page, "sign-in-link-used", "phone")
    page.goto(f"{server}/board")
    page.click("text=Sign out everywhere")
    page.wait_for_url(f"{server}/sign-in")
    assert "signed out on every device" in page.locator(".flash.ok").inner_text()
    page.goto(f"{server}/board")
    assert "/sign-in" in page.url
    page.context.close()
