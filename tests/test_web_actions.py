"""Every action on a promise from the web (reliability.web.actions): through the ASGI app for
permissions and bad input, and in Chromium for each form, at phone width and without
JavaScript, and for one promise from the text box to done."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import at
from pydantic import SecretStr
from scenarios import FRIDAY_5PM, MONDAY_9, START, agency_with, past_promises
from sqlmodel import Session, col, select
from web_helpers import (
    CHROMIUM,
    chromium,
    csrf_of,
    served,
    shoot,
    signed_in,
    sqlite_copy,
    token_for,
)

from reliability import capture
from reliability.access import Actor, NotFound
from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import CheckIn, DueChange, Mistake, Notice, Promise
from reliability.scan import Scanner
from reliability.web.app import create_app

FRIDAY_27_CLOSE = at("2026-11-27T17:00-05:00")
PHONE = {"width": 375, "height": 740}


def monday_agency(ledger: Ledger) -> Ledger:
    """Monday 16 Nov 09:00 in New York: Alice (4 of her last 5 promises late) reports to Bob
    and owns the brand guide for Acme, due Friday; Bob owns the pitch deck; Carol manages
    nobody of theirs; Erin is an admin."""
    ledger.settings.web.secret_key = SecretStr("test-secret-key")
    agency_with(ledger, "en")
    past_promises(ledger, late=4, on_time=1)
    ledger.add_member(email="carol@example.com", name="Carol", role="manager",
                      timezone="America/New_York", now=START, actor="t")
    ledger.add_member(email="erin@example.com", name="Erin", role="admin",
                      timezone="Europe/Stockholm", now=START, actor="t")
    for title, owner in (("Brand guide", "alice"), ("Pitch deck", "bob")):
        ledger.add_promise(title=title, client_name="Acme", owner_email=f"{owner}@example.com",
                           due_at=FRIDAY_5PM, now=MONDAY_9, actor="t")
    return ledger


def promise_named(ledger: Ledger, title: str) -> Promise:
    with Session(ledger.engine) as session:
        return session.exec(select(Promise).where(Promise.title == title)
                            .order_by(col(Promise.id).desc())).first()


def count(ledger: Ledger, model: type) -> int:
    with Session(ledger.engine) as session:
        return len(session.exec(select(model)).all())


# -- through the ASGI app -------------------------------------------------------------------


@pytest.fixture
def app(ledger: Ledger) -> FastAPI:
    return create_app(monday_agency(ledger), clock=lambda: MONDAY_9)


def post(client: TestClient, path: str, data: dict[str, str], page: str = "/board") -> object:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def test_the_echo_stores_nothing_and_the_confirmation_stores_exactly_what_it_showed(
    app: FastAPI, ledger: Ledger,
) -> None:
    alice = signed_in(app, ledger, "alice@example.com")
    before = count(ledger, Promise)
    echo = post(alice, "/promises/new", {"text": "Q3 report for Acme by Friday"},
                "/promises/new")
    assert echo.status_code == 200
    assert "Fri 20 Nov 2026, 17:00 ET" in echo.text
    assert "the same time for Acme" in echo.text
    assert "Four of Alice&#39;s last five promises were late" in echo.text
    assert "Promise Fri 27 Nov instead" in echo.text
    assert count(ledger, Promise) == before
    proposal = re.search(r'name="proposal" value="([^"]+)"', echo.text).group(1)

    forged = post(alice, "/promises/new/confirm", {"proposal": proposal[:-2] + "xx",
                                                   "choice": "asked"})
    assert forged.status_code == 400 and count(ledger, Promise) == before
    bob = signed_in(app, ledger, "bob@example.com")
    assert post(bob, "/promises/new/confirm", {"proposal": proposal,
                                               "choice": "asked"}).status_code == 400

    erin = signed_in(app, ledger, "erin@example.com")  # an admin in Stockholm
    far = post(erin, "/promises/new", {"text": "Q3 report for Acme by Friday",
                                       "owner": "alice@example.com"}, "/promises/new")
    assert "Fri 20 Nov 2026, 23:00 Swedish time" in far.text
    assert "Fri 20 Nov 2026, 17:00 ET for Acme" in far.text

    done = post(alice, "/promises/new/confirm", {"proposal": proposal, "choice": "suggested"})
    assert done.status_code == 303
    stored = promise_named(ledger, "Q3 report")
    assert done.headers["location"] == f"/promises/{stored.id}"
    assert (stored.source, stored.raw_text) == ("web", "Q3 report for Acme by Friday")
    assert (stored.due_at, stored.asked_due_at) == (FRIDAY_27_CLOSE, FRIDAY_5PM)
    page = alice.get(done.headers["location"])
    assert "Logged #" in page.text and "due Fri 27 Nov 2026, 17:00" in page.text

    # A double click, or Back and confirm again, goes to the same promise and stores no other.
    again = post(alice, "/promises/new/confirm", {"proposal": proposal, "choice": "asked"})
    assert again.headers["location"] == f"/promises/{stored.id}"
    assert count(ledger, Promise) == before + 1
    assert "already logged" in alice.get(again.headers["location"]).text


def error_text(page: str) -> str:
    found = re.search(r'<p class="flash error">([^<]+)</p>', page)
    assert found, page
    return html.unescape(found.group(1))


def test_a_member_cannot_act_for_someone_outside_their_scope(app: FastAPI,
                                                              ledger: Ledger) -> None:
    pitch = promise_named(ledger, "Pitch deck").id
    alice = signed_in(app, ledger, "alice@example.com")
    for path, data in [(f"/promises/{pitch}/done", {}),
                       (f"/promises/{pitch}/check-in", {"status": "at_risk"}),
                       (f"/promises/{pitch}/cancel", {"cancel_reason": "no"}),
                       (f"/promises/{pitch}/move", {"due": "Monday", "reason": "no"}),
                       ("/requests/new", {"client": "Acme", "summary": "a quote",
                                          "owner": "bob@example.com", "reply_by": "Friday"}),
                       ("/mistakes/new", {"client": "Acme", "summary": "wrong file",
                                          "prevention": "a checklist",
                                          "promise": str(pitch)})]:
        refused = post(alice, path, data)
        assert refused.status_code == 404, path
        assert "Bob" not in refused.text, path  # the refusal names nobody
        if path.startswith("/promises/"):  # and reads as for a promise that does not exist
            missing = post(alice, path.replace(str(pitch), "99999"), data)
            assert missing.status_code == 404
            assert error_text(missing.text) == error_text(refused.text).replace(
                f"#{pitch}", "#99999") == (
                "there is no promise #99999 that you can change: the list of promises shows "
                "the ones you can change")
    echo = post(alice, "/promises/new", {"text": "Q3 report for Acme by Friday",
                                         "owner": "bob@example.com"}, "/promises/new")
    assert echo.status_code == 422
    assert "bob@example.com is not someone you can log a promise for" in echo.text
    carol = signed_in(app, ledger, "carol@example.com")
    assert post(carol, f"/promises/{pitch}/done", {}).status_code == 404
    assert promise_named(ledger, "Pitch deck").status == "open"
    assert count(ledger, Mistake) == count(ledger, CheckIn) == count(ledger, DueChange) == 0

    bob = signed_in(app, ledger, "bob@example.com")
    guide = promise_named(ledger, "Brand guide").id
    assert post(bob, f"/promises/{guide}/done", {}).status_code == 303
    assert promise_named(ledger, "Brand guide").status == "done"
    assert TestClient(app).post(f"/promises/{pitch}/done").status_code == 403  # no CSRF


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error">([^<]+)</p>', html)
    assert found, f"no message beside {name}"
    return found.group(1)


def test_bad_input_is_named_beside_its_field_and_the_form_keeps_what_was_typed(
    app: FastAPI, ledger: Ledger,
) -> None:
    guide = promise_named(ledger, "Brand guide").id
    alice = signed_in(app, ledger, "alice@example.com")
    page = f"/promises/{guide}"
    checkin = post(alice, f"{page}/check-in", {"status": "at_risk", "progress": "lots",
                                               "client_reason": "The print slot moved."}, page)
    assert checkin.status_code == 422
    assert "not a number" in field_error(checkin.text, "progress")
    assert 'value="The print slot moved."' in checkin.text
    move = post(alice, f"{page}/move", {"due": "Fryday", "reason": "print slot"}, page)
    assert move.status_code == 422 and "Fryday" in field_error(move.text, "due")
    assert 'value="print slot"' in move.text
    cancel = post(alice, f"{page}/cancel", {"cancel_reason": " "}, page)
    assert "empty" in field_error(cancel.text, "cancel_reason")
    echo = post(alice, "/promises/new", {"text": "Q3 report for Zeta by Friday"},
                "/promises/new")
    assert echo.status_code == 422 and "client" in field_error(echo.text, "text")
    assert 'value="Q3 report for Zeta by Friday"' in echo.text
    mistake = post(alice, "/mistakes/new", {
        "client": "Acme", "summary": "Invoice overcharged", "prevention": "Two-person check",
        "owner": "alice@example.com", "credit_amount": "12.345", "credit_currency": "USD"},
        "/mistakes/new")
    assert "12.345" in field_error(mistake.text, "credit_amount")
    request = post(alice, "/requests/new", {"client": "Acme", "summary": "a quote",
                                            "reply_by": ""}, "/requests/new")
    assert "when they will hear back" in field_error(request.text, "reply_by")
    assert count(ledger, CheckIn) == count(ledger, Mistake) == count(ledger, DueChange) == 0
    assert promise_named(ledger, "Brand guide").status == "open"


def test_what_the_client_may_be_told_reaches_the_delay_letter_and_the_team_note_does_not(
    app: FastAPI, ledger: Ledger,
) -> None:
    guide = promise_named(ledger, "Brand guide").id
    Scanner(ledger).tick(MONDAY_9)  # Alice's record makes it at risk: a delay draft
    ledger.check_in(guide, status="at_risk", note="Dana's team sat on the logo files.",
                    client_reason="The print house moved our slot to Tuesday.",
                    now=MONDAY_9, actor="alice@example.com")
    with Session(ledger.engine) as session:
        draft = session.exec(select(Notice).where(Notice.promise_id == guide,
                                                  Notice.kind == "delay_notice")).one()
    assert "The print house moved our slot to Tuesday." in draft.text
    assert "logo files" not in draft.text and "logo files" in draft.approver_note


def test_the_services_refuse_a_promise_or_mistake_for_someone_outside_the_actors_scope(
    app: FastAPI, ledger: Ledger,
) -> None:
    people = {member.email: member for member, _ in ledger.members()}
    alice, bob = Actor.of(people["alice@example.com"]), Actor.of(people["bob@example.com"])
    before = count(ledger, Promise)
    with pytest.raises(NotFound, match=r"bob@example\.com is not someone you can log a promise"):
        capture.log_promise(ledger, title="Deck", client_name="Acme",
                            owner_email="bob@example.com", due_at=FRIDAY_5PM, now=MONDAY_9,
                            actor=alice, source="web")
    with pytest.raises(NotFound, match=r"bob@example\.com is not someone you can log a mistake"):
        log_mistake(ledger, client_name="Acme", summary="wrong file", prevention="a checklist",
                    owner_email="bob@example.com", now=MONDAY_9, actor=alice)
    assert count(ledger, Promise) == before and count(ledger, Mistake) == 0
    view, _ = capture.log_promise(ledger, title="Deck", client_name="Acme",
                                  owner_email="alice@example.com", due_at=FRIDAY_5PM,
                                  now=MONDAY_9, actor=bob, source="web")
    assert view.owner.name == "Alice"


# -- in Chromium ----------------------------------------------------------------------------


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: these tests are about forms; the services run on both backends in
    their own tests."""
    return sqlite_copy(tmp_path, sqlite_template)


@pytest.fixture
def server(ledger: Ledger) -> Iterator[str]:
    with served(create_app(monday_agency(ledger), clock=lambda: MONDAY_9)) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


def page_for(browser: object, base: str, ledger: Ledger, email: str, **options: object) -> object:
    page = browser.new_context(viewport=options.pop("viewport", PHONE), **options).new_page()
    page.goto(f"{base}/sign-in")
    page.fill("#token", token_for(ledger, email))
    page.click("text=Sign in with token")
    page.wait_for_url(f"{base}/board")
    return page


def fits(page: object) -> bool:
    """Styled by app.css, and no wider than the phone: nothing scrolls sideways."""
    styled = page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")
    return styled == "1100px" and (
        page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"])


def flash(page: object) -> str:
    return page.locator(".flash.ok").inner_text()


browser_test = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                  reason="needs Debian's chromium: apt-get install -y chromium")


@browser_test
def test_a_promise_goes_from_the_text_box_to_done_and_the_report_counts_it(
    browser: object, server: str, ledger: Ledger, cli: Cli,
) -> None:
    page = page_for(browser, server, ledger, "alice@example.com",
                    viewport={"width": 1280, "height": 900})
    page.click("text=Log a promise")
    page.fill("#text", "Q3 report for Acme by Friday")
    page.click("text=Check it")
    echo = page.locator("#echo").inner_text()
    assert "Q3 report" in echo and "Acme" in echo and "Likely to run late" in echo
    page.click("text=Promise Fri 27 Nov instead")
    assert "Logged #" in flash(page)
    promise_id = int(page.url.rsplit("/", 1)[1])

    page.select_option("#status", "at_risk")
    page.fill("#progress", "40")
    page.fill("#note", "Dana's team sat on the logo files.")
    page.fill("#client_reason", "The print house moved our slot to Tuesday.")
    page.click("text=Save check-in")
    assert "at risk, 40% done" in flash(page)
    Scanner(ledger).tick(MONDAY_9)

    page.goto(f"{server}/drafts")
    page.locator("#drafts a", has_text="Q3 report").first.click()
    letter = page.input_value("#text")
    assert "The print house moved our slot to Tuesday." in letter
    assert "logo files" not in letter
    page.click("text=Approve and send")
    assert "Approved" in flash(page)

    page.goto(f"{server}/promises/{promise_id}")
    page.click("text=Mark done")
    assert "is done" in flash(page) and "counts as late" not in flash(page)
    with Session(ledger.engine) as session:
        stored = session.get(Promise, promise_id)
        assert (stored.status, stored.source, stored.due_at) == ("done", "web",
                                                                 FRIDAY_27_CLOSE)
    result = cli("--as-of", "2026-11-30T09:00-05:00", "report", "--from", "2026-11-16",
                 "--to", "2026-11-30", "--json")
    [week] = [w for w in json.loads(result.stdout)["weeks"] if w["week"] == "2026-W48"]
    assert (week["due"], week["kept_on_time"]) == (1, 1)  # due Fri 27 Nov, done on Monday
    page.context.close()


@browser_test
@pytest.mark.parametrize("mode", ["phone", "no-javascript"])
def test_the_log_form_works_at_phone_width_and_without_javascript(
    browser: object, server: str, ledger: Ledger, mode: str,
) -> None:
    page = page_for(browser, server, ledger, "bob@example.com",
                    java_script_enabled=mode == "phone")
    page.goto(f"{server}/promises/new")
    page.fill("#text", "Brochure for Acme by tomorrow")
    page.select_option("#owner", "alice@example.com")
    page.click("text=Check it")
    assert "Tue 17 Nov 2026, 17:00 ET" in page.locator("#echo").inner_text()
    assert fits(page)
    shoot(page, f"log-echo-{mode}", "phone")
    page.locator("#confirm-form button").last.click()
    assert "owned by Alice" in flash(page)
    assert promise_named(ledger, "Brochure").source == "web"
    assert fits(page)
    page.context.close()


@browser_test
def test_moving_a_date_from_the_promise_page(browser: object, server: str,
                                            ledger: Ledger) -> None:
    guide = promise_named(ledger, "Brand guide").id
    page = page_for(browser, server, ledger, "bob@example.com")
    page.goto(f"{server}/promises/{guide}")
    page.click("summary:has-text('Move the date')")
    page.fill("#due", "Fryday")
    page.fill("#reason", "The print house moved our slot")
    page.click("text=Move it")
    assert "Fryday" in page.locator("#due-error").inner_text()
    assert fits(page)
    shoot(page, "promise-move-error", "phone")
    assert page.input_value("#reason") == "The print house moved our slot"
    page.fill("#due", "Dec 1")
    page.check("input[name=client_told]")
    page.click("text=Move it")
    assert "moved to Tue 01 Dec 2026" in flash(page)
    assert fits(page)
    with Session(ledger.engine) as session:
        change = session.exec(select(DueChange)).one()
    assert change.client_told and change.reason == "The print house moved our slot"
    page.context.close()


@browser_test
def test_cancelling_a_promise_and_marking_one_done_from_the_board(
    browser: object, server: str, ledger: Ledger,
) -> None:
    Scanner(ledger).tick(MONDAY_9)  # Alice's brand guide is at risk on the board
    page = page_for(browser, server, ledger, "alice@example.com", java_script_enabled=False)
    card = page.locator("article.card.risk", has_text="Brand guide")
    shoot(page, "board-actions", "phone")
    card.locator("text=Mark done").click()
    assert "Brand guide for Acme is done" in flash(page)
    assert page.url.endswith("/board")
    q3 = ledger.add_promise(title="Q4 plan", client_name="Acme",
                            owner_email="alice@example.com", due_at=FRIDAY_5PM,
                            now=MONDAY_9, actor="t").promise.id
    page.goto(f"{server}/promises/{q3}")
    page.click("summary:has-text('Cancel the promise')")
    page.fill("#cancel_reason", "Acme dropped the project")
    page.click("button:has-text('Cancel the promise')")
    assert "is cancelled" in flash(page)
    assert promise_named(ledger, "Q4 plan").cancel_reason == "Acme dropped the project"
    assert fits(page)
    page.context.close()


@browser_test
def test_acknowledging_a_request_drafts_the_receipt(browser: object, server: str,
                                                     ledger: Ledger) -> None:
    page = page_for(browser, server, ledger, "alice@example.com")
    page.goto(f"{server}/requests/new")
    page.select_option("#client", "Acme")
    page.fill("#summary", "a quote for the Boston office")
    page.fill("#reply_by", "Wednesday")
    page.click("button:has-text('Acknowledge')")
    assert "The receipt to Acme is drafted" in flash(page)
    assert "/drafts/" in page.url and page.locator("#text").is_visible()
    assert promise_named(ledger, "Reply: a quote for the Boston office").source == "web"
    assert fits(page)
    page.context.close()


@browser_test
def test_logging_a_mistake_with_its_prevention_step_and_credit(browser: object, server: str,
                                                               ledger: Ledger) -> None:
    guide = promise_named(ledger, "Brand guide").id
    page = page_for(browser, server, ledger, "alice@example.com")
    page.goto(f"{server}/promises/{guide}")
    page.click("text=Log a mistake about it")
    page.fill("#summary", "The invoice charged two print runs")
    page.fill("#prevention", "A second person checks every invoice")
    page.fill("#credit_amount", "200")
    page.fill("#credit_currency", "USD")
    page.select_option("#credit_method", "credit_note")
    page.select_option("#credit_basis", "overcharge")
    page.check("input[name=fixed]")
    shoot(page, "log-mistake", "phone")
    page.click("text=Log the mistake")
    assert "Mistake #1 logged for Acme" in flash(page)
    assert fits(page)
    with Session(ledger.engine) as session:
        mistake = session.exec(select(Mistake)).one()
    assert (mistake.promise_id, mistake.credit_amount, mistake.credit_method, mistake.fixed) \
        == (guide, 200.0, "credit_note", True)
    page.context.close()
