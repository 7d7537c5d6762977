"""Clients, members and Paste notes in a real browser (Debian's Chromium through Playwright) at
phone width, without JavaScript: forms, a message under the field at fault, flash messages."""

from helpers import at
from sqlmodel import Session, select
from test_browser import (  # the browser, the server on SQLite and the sign-in steps
    browser,
    database_url,
    pytestmark,
    server,
    sign_in,
)
from web_helpers import ARTIFACTS, token_for

from reliability.ledger import Ledger
from reliability.models import Member, Promise

__all__ = ["browser", "database_url", "pytestmark", "server"]
PHONE = {"width": 375, "height": 812}
NOTES = {
    "en": ("Acme", "bob@example.com",
           "Acme sync\n- Alice will send the revised deck by Friday.\n"
           "- Action: Bob to share the media budget by Monday.\n"),
    "sv": ("Nordbanken", "alice@example.com",
           "Avstämning\n- Erik skickar offerten senast fredag.\n"
           "- Vi levererar skisserna senast måndag.\n"),
    "zh": ("华信", "alice@example.com",
           "周会纪要\n1. 李伟周五前把报价发给您。\n2. 我们下周一前交付设计稿。\n"),
}


def phone_page(browser: object, server: str, ledger: Ledger, email: str) -> object:
    page = browser.new_context(viewport=PHONE, java_script_enabled=False).new_page()
    sign_in(page, server, token_for(ledger, email))
    return page


def fits_the_phone(page: object) -> bool:
    """Nothing wider than the screen: checked with JavaScript in a second, scripted page."""
    context = page.context.browser.new_context(viewport=PHONE,
                                               storage_state=page.context.storage_state())
    probe = context.new_page()
    probe.goto(page.url)
    width = probe.evaluate("document.documentElement.scrollWidth")
    context.close()
    return width <= PHONE["width"]


def shoot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)


def test_an_admin_adds_and_edits_a_client_and_adds_a_member_with_a_role_and_language(
        browser: object, server: str, ledger: Ledger) -> None:
    page = phone_page(browser, server, ledger, "erin@example.com")
    page.goto(f"{server}/clients")
    page.click("text=Add a client")
    page.fill("#name", "Globex")
    page.fill("#email", "hank@globex.example")
    page.fill("#contact_name", "Hank Scorpio")
    page.select_option("#locale", "sv")
    page.fill("#timezone", "Europe/Stockholm")
    page.fill("#country", "Atlantis")
    page.click("text=Add client")
    assert "unknown country 'Atlantis'" in page.inner_text("#country-error")
    assert page.input_value("#contact_name") == "Hank Scorpio"
    shoot(page, "client-new-error")
    assert fits_the_phone(page)
    page.fill("#country", "SE")
    page.click("text=Add client")
    assert page.inner_text(".flash.ok") == "Client Globex added."
    page.click("text=Edit details")
    page.fill("#greeting", "Hej Hank")
    page.check("#confirm_promises")
    page.click("text=Save changes")
    assert page.inner_text(".flash.ok") == "Saved Globex: greeting, confirm promises."
    assert ledger.client_named("Globex").greeting == "Hej Hank"

    page.click("nav >> text=Members")
    page.click("text=Add a member")
    page.fill("#email", "frank@example.com")
    page.fill("#name", "Frank")
    page.select_option("#manager", "bob@example.com")
    page.fill("#timezone", "Europe/Stockholm")
    page.click("text=Add member")
    assert "Frank <frank@example.com> added as member" in page.inner_text(".flash.ok")
    page.select_option("#role", "manager")
    page.click("text=Change role")
    assert page.inner_text(".flash.ok").startswith("Frank is now manager")
    page.select_option("#locale", "zh")
    page.click("text=Save details")
    assert page.inner_text(".flash.ok") == "Saved Frank: locale."
    shoot(page, "member")
    assert fits_the_phone(page)
    with Session(ledger.engine) as session:
        frank = session.exec(select(Member).where(Member.email == "frank@example.com")).one()
    assert (frank.role, frank.locale) == ("manager", "zh")
    page.context.close()


def test_notes_in_english_swedish_and_chinese_log_one_promise_and_drop_another(
        browser: object, server: str, ledger: Ledger) -> None:
    start = at("2026-09-01T09:00-04:00")
    ledger.add_client(name="Nordbanken", email="anna@nordbanken.example", locale="sv",
                      timezone="Europe/Stockholm", country="SE", now=start, actor="t")
    ledger.add_client(name="华信", email="zhang@huaxin.example", locale="zh",
                      timezone="Asia/Shanghai", country="CN", now=start, actor="t")
    # Bob logs what the notes say his reports promised (a manager logs for their reports).
    ledger.add_member(email="erik@example.com", name="Erik Lind", now=start, actor="t",
                      manager_email="bob@example.com")
    ledger.add_member(email="liwei@example.com", name="李伟", now=start, actor="t",
                      manager_email="bob@example.com")
    page = phone_page(browser, server, ledger, "bob@example.com")
    logged = []
    for language, (client, author, notes) in NOTES.items():
        page.goto(f"{server}/board")
        page.click("nav >> text=Paste notes")
        page.fill("#notes", notes)
        page.select_option("#client", client)
        page.select_option("#author", author)
        page.click("text=Find promises")
        findings = page.locator("li.finding")
        assert findings.count() == 2, language
        first = findings.nth(0)
        logged.append(first.locator("input[name=title]").input_value())
        first.locator("text=Log promise").click()
        assert page.inner_text(".flash.ok").startswith("Logged #"), language
        assert "Logged as" in findings.nth(0).inner_text()
        findings.nth(1).locator("text=Drop").click()
        assert page.inner_text(".flash.ok").startswith("Dropped: "), language
        assert "Dropped" in page.locator("li.finding").nth(1).inner_text()
        shoot(page, f"notes-{language}")
    assert fits_the_phone(page)
    with Session(ledger.engine) as session:
        stored = session.exec(select(Promise).where(Promise.source == "notes")
                              .order_by(Promise.id)).all()
    assert [p.title for p in stored] == logged
    assert len(logged) == 3
    page.context.close()
