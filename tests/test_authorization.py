"""Who may see and change each message, walked through every interface.

The table below is the one in docs/web.md. Alice owns a remediation draft for Acme; her
second formula mistake escalated to Bob, her manager; Bob has his daily digest. Carol is
a manager of nobody here, Erin an admin, and Nora a Slack user nobody has added. Each case
does one action as one person through one interface and checks what they see: the change
made, or one clear refusal and nothing written.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import Cli
from fastapi.testclient import TestClient
from helpers import at
from pydantic import SecretStr
from scenarios import START, agency_with, notices_of, tick
from servers.slack_api import SlackApi, slack_api
from slack_harness import SIGNING_SECRET, SlackWorkspace, Swappable
from sqlmodel import Session, col, func, select
from web_helpers import csrf_of, signed_in, token_for, wednesday_agency

from reliability import digest, notices, slack_views
from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import Event, Member, Notice, Promise
from reliability.web.app import create_app

NOW = at("2026-11-18T10:00-05:00")
PEOPLE = {"owner": "alice", "manager": "bob", "other manager": "carol", "admin": "erin",
          "newcomer": "nora"}
# Who may see and change each message: the table in docs/web.md.
MAY = {
    "draft": {"owner", "manager", "admin"},
    "escalation": {"manager", "admin"},
    "digest": {"manager", "admin"},
}
ACTIONS = {
    "draft": {"web": ("see", "approve", "edit", "cancel"), "api": ("see", "approve", "cancel"),
              "slack": ("see", "approve", "edit", "snooze", "cancel")},
    "escalation": {"web": ("see", "cancel"), "api": ("see", "cancel"), "slack": ("cancel",)},
    "digest": {"web": ("see", "cancel"), "api": ("see", "cancel"), "slack": ("cancel",)},
}
CASES = [(message, interface, action, role)
         for message, by_interface in ACTIONS.items()
         for interface, actions in by_interface.items()
         for action in actions
         for role in PEOPLE
         if interface == "slack" or role != "newcomer"]  # Nora has only Slack


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with slack_api() as running:
        for name in ("alice", "bob", "carol", "erin", "nora"):
            running.add_user(f"U{name.upper()}", name.title(), email=f"{name}@example.com",
                             tz="America/New_York")
        yield running


@pytest.fixture
def team(ledger: Ledger, api: SlackApi) -> dict[str, int]:
    """The three messages of the module docstring, by name."""
    ledger.settings.web.secret_key = SecretStr("test-secret-key")
    ledger.settings.slack = api.settings()
    ledger.settings.slack.signing_secret = SecretStr(SIGNING_SECRET)
    agency_with(ledger, "en")
    for name, role in (("carol", "manager"), ("erin", "admin")):
        ledger.add_member(email=f"{name}@example.com", name=name.title(), role=role,
                          timezone="America/New_York", now=START, actor="t")
    for index in range(2):
        logged = log_mistake(ledger, client_name="Acme", summary=f"Formula error {index}",
                             prevention="A second person checks formula edits.",
                             category="formula", owner_email="alice@example.com",
                             now=NOW - timedelta(hours=2 - index), actor="alice@example.com")
    assert logged.escalation_id is not None and logged.draft_id is not None
    with ledger.transaction() as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        queued = digest.queue_digest(session, ledger.settings, bob, now=NOW, actor="t")
        assert queued is not None
        digest_id = queued.id or 0
    return {"draft": logged.draft_id, "escalation": logged.escalation_id, "digest": digest_id}


@pytest.fixture
def slack(server: tuple[Swappable, str], ledger: Ledger, api: SlackApi,
          team: dict[str, int]) -> Iterator[SlackWorkspace]:
    target, url = server
    target.app = create_app(ledger, clock=lambda: NOW)
    workspace = SlackWorkspace(url, api)
    yield workspace
    workspace.http.close()


def written(ledger: Ledger, notice_id: int) -> tuple[Any, ...]:
    """The message as stored and the events about messages: what a refusal must not touch."""
    with Session(ledger.engine) as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        events = session.exec(select(func.count()).select_from(Event)
                              .where(col(Event.kind).startswith("notice."))).one()
        return (notice.status, notice.text, notice.snoozed_until, notice.cancel_reason, events)


def act(interface: str, action: str, person: str, notice_id: int, ledger: Ledger,
        slack: SlackWorkspace, api: SlackApi) -> str:
    """Do `action` as `person` through `interface`; what they are shown."""
    email = f"{person}@example.com"
    if interface == "web":
        browser = signed_in(create_app(ledger, clock=lambda: NOW), ledger, email)
        if action == "see":
            return browser.get(f"/drafts/{notice_id}").text
        token = csrf_of(browser.get("/drafts").text)
        form = {"csrf_token": token, "reason": f"{person} says no", "proposed_due": "",
                "text": f"Rewritten by {person}."}
        return browser.post(f"/drafts/{notice_id}/{action}", data=form).text
    if interface == "api":
        client = TestClient(create_app(ledger, clock=lambda: NOW),
                            headers={"Authorization": f"Bearer {token_for(ledger, email)}"})
        if action == "see":
            with Session(ledger.engine) as session:
                status = (session.get(Notice, notice_id) or Notice()).status
            listed = client.get("/api/drafts", params={"status": status}).json()["items"]
            return "\n".join(row["text"] for row in listed if row["id"] == notice_id) or (
                f"#{notice_id} is not listed")
        return client.post(f"/api/drafts/{notice_id}/{action}").text
    user = f"U{person.upper()}"
    if action == "see":
        _, url = slack.click("draft_edit", str(notice_id), user=user)
        api.wait_until(lambda: api.views or api.responses.get(url.rsplit("/", 1)[-1]))
        return str(api.views[0]["blocks"]) if api.views else str(api.replies(url))
    if action == "edit":
        url = api.response_url("edit")
        modal = slack_views.edit_draft_modal(notice_id=notice_id, text="", proposed_day=None,
                                             meta={"notice_id": notice_id, "response_url": url},
                                             locale="en")
        answer = slack.submit(modal, {"text": f"Rewritten by {person}."}, user=user).text
        return answer + str(api.replies(url))  # the draft as it now reads, or the refusal
    button = {"approve": "draft_send", "snooze": "draft_snooze", "cancel": "draft_cancel"}
    _, url = slack.click(button[action], str(notice_id), user=user)
    return str(api.replies(url))


def changed(action: str, before: tuple[Any, ...], after: tuple[Any, ...]) -> bool:
    status, text, snoozed, _, _ = after
    return {"approve": status == "queued", "cancel": status == "cancelled",
            "snooze": snoozed is not None, "edit": text != before[1]}[action]


@pytest.mark.parametrize(("message", "interface", "action", "role"), CASES)
def test_each_action_on_each_message_is_allowed_only_to_the_people_the_table_names(
        message: str, interface: str, action: str, role: str, ledger: Ledger,
        team: dict[str, int], slack: SlackWorkspace, api: SlackApi) -> None:
    notice_id = team[message]
    before = written(ledger, notice_id)
    shown = act(interface, action, PEOPLE[role], notice_id, ledger, slack, api)
    after = written(ledger, notice_id)
    if role in MAY[message]:
        if action == "see":
            with Session(ledger.engine) as session:
                text = (session.get(Notice, notice_id) or Notice()).text
            assert text.splitlines()[0][:30] in html.unescape(shown).replace("\\n", "\n")
        else:
            assert changed(action, before, after), shown
    else:
        assert (f"#{notice_id} is not listed" if (interface, action) == ("api", "see")
                else "nora@example.com is not a member of this team yet" if role == "newcomer"
                else f"no message #{notice_id} you can see") in html.unescape(shown)
        assert after == before


def test_a_manager_cannot_read_the_digest_of_a_manager_who_reports_to_them(
        ledger: Ledger, team: dict[str, int]) -> None:
    """Dave manages Frank and reports to Bob: Dave's digest, about Frank's work, is Dave's
    alone (and an admin's), whoever sits above him."""
    ledger.add_member(email="dave@example.com", name="Dave", role="manager",
                      manager_email="bob@example.com", timezone="America/New_York",
                      now=START, actor="t")
    ledger.add_member(email="frank@example.com", name="Frank", manager_email="dave@example.com",
                      timezone="America/New_York", now=START, actor="t")
    view = ledger.add_promise(title="Brand audit", client_name="Acme",
                              owner_email="frank@example.com", due_at=NOW + timedelta(days=2),
                              now=NOW - timedelta(days=3), actor="t")
    with ledger.transaction() as session:
        audit = session.get(Promise, view.promise.id)
        assert audit is not None
        audit.level = "at_risk"  # as the scan would assess it
        session.add(audit)
        dave = session.exec(select(Member).where(Member.email == "dave@example.com")).one()
        queued = digest.queue_digest(session, ledger.settings, dave, now=NOW, actor="t")
        assert queued is not None and "“Brand audit” for Acme (Frank)" in queued.text
    app = create_app(ledger, clock=lambda: NOW)

    def queued_for(email: str) -> list[dict[str, Any]]:
        client = TestClient(app, headers={"Authorization": f"Bearer {token_for(ledger, email)}"})
        listed = client.get("/api/drafts", params={"status": "queued"}).json()["items"]
        return [row for row in listed if row["id"] == queued.id]

    assert queued_for("bob@example.com") == []
    assert [row["recipient"] for row in queued_for("dave@example.com")] == ["dave@example.com"]
    assert len(queued_for("erin@example.com")) == 1


def test_a_managers_manager_may_act_on_a_draft_two_levels_down(
        ledger: Ledger, team: dict[str, int]) -> None:
    """Carol manages Bob, who manages Alice: Carol answers for Alice's draft too."""
    with ledger.transaction() as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        carol = session.exec(select(Member).where(Member.email == "carol@example.com")).one()
        bob.manager_id = carol.id
        session.add(bob)
    client = TestClient(create_app(ledger, clock=lambda: NOW), headers={
        "Authorization": f"Bearer {token_for(ledger, 'carol@example.com')}"})
    approved = client.post(f"/api/drafts/{team['draft']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "queued"


@pytest.mark.parametrize("role", list(PEOPLE))
def test_only_the_owners_side_may_complete_a_promise_from_slack(
        role: str, ledger: Ledger, slack: SlackWorkspace, api: SlackApi) -> None:
    view = ledger.add_promise(title="Q3 report", client_name="Acme",
                              owner_email="alice@example.com", due_at=NOW + timedelta(days=2),
                              now=NOW - timedelta(days=2), actor="t")
    promise_id = view.promise.id or 0
    _, url = slack.command(f"done {promise_id}", user=f"U{PEOPLE[role].upper()}")
    shown = str(api.replies(url))
    with Session(ledger.engine) as session:
        status = (session.get(Promise, promise_id) or Promise()).status
    if role in {"owner", "manager", "admin"}:
        assert status == "done" and "is done" in shown
    else:
        assert status == "open" and "Alice" not in shown  # the refusal names nobody
        assert (f"there is no promise #{promise_id} that you can change" in shown
                or "is not a member of this team yet" in shown)


@pytest.mark.parametrize("message", list(MAY))
def test_the_cli_acts_as_the_operator_and_may_cancel_any_message(
        message: str, ledger: Ledger, team: dict[str, int], cli: Cli) -> None:
    notice_id = team[message]
    result = cli("drafts", "cancel", str(notice_id), "--reason", "the operator says so")
    assert result.exit_code == 0, result.stderr
    assert written(ledger, notice_id)[0] == "cancelled"


@pytest.mark.parametrize("role", ["owner", "manager", "admin"])
def test_a_promise_shows_its_owner_no_escalation_about_them_on_the_page_or_in_the_api(
        role: str, ledger: Ledger) -> None:
    """Alice's unapproved delay draft escalated to Bob at 13:30 and the operator then
    cancelled it: the escalation, its text and the events about it are Bob's side's."""
    wednesday_agency(ledger)
    tick(ledger, at("2026-11-18T13:30-05:00"))
    [escalation] = notices_of(ledger, "escalation")
    with ledger.transaction() as session:
        notices.cancel(session, escalation.id or 0, reason="Bob phoned Alice instead",
                       now=at("2026-11-18T13:40-05:00"), actor="operator")
    later = at("2026-11-18T14:00-05:00")
    email = f"{PEOPLE[role]}@example.com"
    client = TestClient(create_app(ledger, clock=lambda: later),
                        headers={"Authorization": f"Bearer {token_for(ledger, email)}"})
    detail = client.get(f"/api/promises/{escalation.promise_id}").json()
    page = signed_in(create_app(ledger, clock=lambda: later), ledger, email).get(
        f"/promises/{escalation.promise_id}").text
    seen = {
        "listed": escalation.id in [n["id"] for n in detail["notices"]],
        "timeline": any("scalation" in f"{e['title']} {e['detail']}" or
                        "Bob phoned" in str(e["detail"]) for e in detail["timeline"]),
        "page": any(word in page for word in ("Escalation", f"/drafts/{escalation.id}",
                                              "Bob phoned", escalation.subject)),
    }
    expected = role in MAY["escalation"]
    assert seen == dict.fromkeys(seen, expected)
    assert any(n["kind"] == "delay_notice" for n in detail["notices"])
