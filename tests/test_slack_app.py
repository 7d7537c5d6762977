"""The Slack app through its real HTTP endpoint: signed requests, /promise, buttons, modals."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from helpers import at
from pydantic import SecretStr
from scenarios import FRIDAY_5PM, TUESDAY_9, WEDNESDAY_9, agency_with, past_promises, q3_report
from servers.slack_api import SlackApi, slack_api
from servers.socket_mode import socket_mode_server
from slack_harness import (
    SIGNING_SECRET,
    SlackWorkspace,
    Swappable,
    command_body,
    signed_headers,
)
from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session, col, select

from reliability import slack_app
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import CheckIn, Client, Event, Member, Mistake, Notice, Promise
from reliability.outbox import Outbox
from reliability.scan import Scanner
from reliability.web.app import create_app

MONDAY_10 = at("2026-11-16T10:00-05:00")


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with slack_api() as running:
        running.add_user("UALICE", "Alice", email="alice@example.com", tz="America/New_York")
        running.add_user("UBOB", "Bob", email="bob@example.com", tz="America/New_York")
        running.add_user("UNEW", "Nora New", email="nora@example.com", tz="Europe/Stockholm")
        yield running


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture
def agency(ledger: Ledger, api: SlackApi) -> Ledger:
    ledger.settings.slack = api.settings()
    ledger.settings.slack.signing_secret = SecretStr(SIGNING_SECRET)
    return agency_with(ledger, "en")


@pytest.fixture
def slack(server: tuple[Swappable, str], agency: Ledger, api: SlackApi,
          clock: Clock) -> Iterator[SlackWorkspace]:
    target, url = server
    target.app = create_app(agency)
    target.app.state.clock = clock
    workspace = SlackWorkspace(url, api)
    yield workspace
    workspace.http.close()


def wednesday_draft(ledger: Ledger) -> Notice:
    """The delay draft of the Acme scenario, scanned without freezing the clock: a frozen
    clock would also stop the event loop serving the app in the background."""
    past_promises(ledger, late=1, on_time=5)
    promise_id = q3_report(ledger)
    Scanner(ledger).tick(TUESDAY_9)
    ledger.check_in(promise_id, status="at_risk", note="Waiting on the ad account data.",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")
    Scanner(ledger).tick(WEDNESDAY_9)
    with Session(ledger.engine) as session:
        return session.exec(select(Notice).where(Notice.kind == "delay_notice")).one()


def promises(ledger: Ledger) -> list[Promise]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(Promise).order_by(col(Promise.id))).all())


def member(ledger: Ledger, email: str) -> Member:
    with Session(ledger.engine) as session:
        return session.exec(select(Member).where(Member.email == email)).one()


def shown(reply: dict[str, Any]) -> str:
    """Everything a person reads in a message: its text and every block's words."""
    words = [reply.get("text", "")]
    for block in reply.get("blocks", []):
        words.append((block.get("text") or {}).get("text", ""))
        words += [(e.get("text") or {}).get("text", "") if isinstance(e.get("text"), dict)
                  else e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(words)


def button(reply: dict[str, Any], action_id: str) -> str:
    for block in reply.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {shown(reply)}")


# -- signed requests only ------------------------------------------------------------------------


def test_slacks_documented_signature_vector_verifies_and_a_changed_byte_does_not() -> None:
    body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id="
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

    class At:
        def __init__(self, now: float) -> None:
            self.moment = now

        def now(self) -> float:
            return self.moment

    verifier = SignatureVerifier("8f742231b10e8888abcd99yyyzzz85a5", clock=At(1531420618 + 60))
    assert verifier.generate_signature(timestamp="1531420618", body=body) == expected
    assert verifier.is_valid(body=body, timestamp="1531420618", signature=expected)
    assert not verifier.is_valid(body=body.replace("foobar", "foobaz"), timestamp="1531420618",
                                 signature=expected)
    late = SignatureVerifier("8f742231b10e8888abcd99yyyzzz85a5", clock=At(1531420618 + 301))
    assert not late.is_valid(body=body, timestamp="1531420618", signature=expected)


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "six minutes old", "tampered"])
def test_a_request_not_signed_by_slack_gets_401_and_changes_nothing(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi, how: str) -> None:
    url = api.response_url("forged")
    body = command_body("done 1", user="UALICE", response_url=url)
    headers = {
        "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
        "wrong secret": signed_headers(body, secret="not-the-secret"),
        "six minutes old": signed_headers(body, timestamp=int(time.time()) - 360),
        "tampered": signed_headers(body.replace("done+1", "done+2")),
    }[how]
    q3_report(agency)
    response = slack.post(body, headers=headers)
    assert response.status_code == 401
    # a correctly signed request afterwards is processed, so the forged one had its chance
    ok, later = slack.command("list")
    assert ok.status_code == 200
    api.replies(later)
    assert api.responses.get("forged") is None
    assert [p.status for p in promises(agency)] == ["open"]


def test_without_slack_settings_the_endpoint_says_so_and_the_rest_of_the_app_works(
        server: tuple[Swappable, str], ledger: Ledger) -> None:
    target, url = server
    target.app = create_app(ledger)
    response = httpx.post(url + "/slack/events", content=b"x=1")
    assert response.status_code == 503
    assert "RELIABILITY_SLACK__SIGNING_SECRET" in response.text
    assert httpx.get(url + "/healthz").text == "ok"


def test_socket_mode_without_an_app_token_explains_what_to_set(ledger: Ledger) -> None:
    with pytest.raises(UserError, match="RELIABILITY_SLACK__APP_TOKEN"):
        slack_app.run_socket_mode(ledger)


# -- /promise: understood, echoed, stored only when confirmed ---------------------------------


def test_promise_echoes_title_client_and_due_in_the_clients_time_and_stores_nothing(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    response, url = slack.command("Q3 report for Acme by Friday")
    assert (response.status_code, response.content) == (200, b"")  # the ack, at once
    [reply] = api.replies(url)  # the echo follows through the command's response_url
    words = shown(reply)
    assert "*Q3 report* for *Acme*" in words
    assert "Fri 20 Nov, 17:00 (America/New_York)" in words
    assert "<@UALICE>" in words
    assert [e["text"]["text"] for e in reply["blocks"][-1]["elements"]] == [
        "Looks right", "Change date", "Cancel"]
    assert promises(agency) == []


def test_looks_right_logs_the_promise_for_the_caller_created_from_their_slack_profile(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    echo = slack.answer("Q3 report for Acme by Friday", user="UNEW")
    _, url = slack.click("promise_confirm", button(echo, "promise_confirm"), user="UNEW")
    [reply] = api.replies(url)
    assert reply["replace_original"] is True
    assert "Logged #1" in shown(reply)
    [promise] = promises(agency)
    # Read in the team's time zone: a newcomer's echo does not show whose clients exist.
    assert (promise.title, promise.due_at, promise.source) == (
        "Q3 report", at("2026-11-20T17:00Z"), "slack")
    nora = member(agency, "nora@example.com")
    assert promise.owner_id == nora.id
    assert (nora.name, nora.slack_user_id, nora.timezone, nora.digest_channel) == (
        "Nora New", "UNEW", "Europe/Stockholm", "slack")


def test_a_manager_may_name_a_report_as_owner_but_not_the_other_way_round(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    agency.link_slack_user(email="bob@example.com", slack_user_id="UBOB", name="Bob",
                           timezone=None, now=MONDAY_10, actor="t")
    refused = slack.answer("<@UBOB|bob> Q3 report for Acme by Friday")  # Alice names Bob
    assert "<@UBOB> is not someone you can log a promise for" in shown(refused)
    assert "bob@example.com" not in str(refused)  # the refusal tells no email
    assert "promise_confirm" not in str(refused)  # no echo of Bob's record, no button
    echo = slack.answer("<@UALICE|alice> Q3 report for Acme by Friday", user="UBOB")
    assert "<@UALICE>" in shown(echo)
    _, url = slack.click("promise_confirm", button(echo, "promise_confirm"), user="UBOB")
    api.replies(url)
    [promise] = promises(agency)
    assert promise.owner_id == member(agency, "alice@example.com").id


def test_a_confirm_button_with_changed_facts_is_refused(slack: SlackWorkspace, agency: Ledger,
                                                        api: SlackApi) -> None:
    value = button(slack.answer("Q3 report for Acme by Friday"), "promise_confirm")
    body, _, mac = value.rpartition(".")
    forged = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB") + "." + mac
    _, url = slack.click("promise_confirm", forged)
    [reply] = api.replies(url)
    assert "not made by this app" in shown(reply) and not reply.get("replace_original")
    assert promises(agency) == []


def test_cancel_stores_nothing_and_says_so(slack: SlackWorkspace, agency: Ledger,
                                          api: SlackApi) -> None:
    slack.answer("Q3 report for Acme by Friday")
    _, url = slack.click("promise_cancel", "cancel")
    assert "nothing was logged" in shown(api.replies(url)[0])
    assert promises(agency) == []


def test_change_date_opens_a_modal_and_the_new_date_replaces_the_echo(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    echo = slack.answer("Q3 report for Acme by Friday")
    _, url = slack.click("promise_change_date", button(echo, "promise_change_date"))
    [modal] = api.opened()
    assert "Fri 20 Nov, 17:00" in shown(modal)

    refused = slack.submit(modal, {"when": "whenever"})
    assert refused.status_code == 200
    assert refused.json()["response_action"] == "errors"
    assert "by Friday" in refused.json()["errors"]["when"]

    assert slack.submit(modal, {"when": "next Tuesday 3pm"}).status_code == 200
    [updated] = api.replies(url)
    assert "Tue 24 Nov, 15:00 (America/New_York)" in shown(updated)
    _, done = slack.click("promise_confirm", button(updated, "promise_confirm"))
    api.replies(done)
    assert promises(agency)[0].due_at == at("2026-11-24T15:00-05:00")


def test_an_unknown_client_can_be_added_from_a_modal_and_the_promise_follows(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    reply = slack.answer("Brand audit for Globex by Friday")
    assert "*Globex* is not one of your clients yet" in shown(reply)
    _, url = slack.click("client_add", button(reply, "client_add"))
    [modal] = api.opened()

    refused = slack.submit(modal, {"name": "Globex", "email": "not an email", "locale": "sv",
                                   "timezone": "Europe/Stockholm"})
    assert "email" in refused.json()["errors"]
    assert [c.name for c in agency.clients()] == ["Acme"]

    ok = slack.submit(modal, {"name": "Globex", "email": "ops@globex.example", "locale": "sv",
                              "timezone": "Europe/Stockholm", "country": "se"})
    assert ok.status_code == 200 and not ok.content
    [preview] = api.replies(url)
    assert "*Brand audit* for *Globex*" in shown(preview)
    assert "Fri 20 Nov, 17:00 (Europe/Stockholm)" in shown(preview)
    _, done = slack.click("promise_confirm", button(preview, "promise_confirm"))
    api.replies(done)
    [promise] = promises(agency)
    assert promise.due_at == at("2026-11-20T17:00+01:00")
    with Session(agency.engine) as session:
        globex = session.exec(select(Client).where(Client.name == "Globex")).one()
    assert (globex.locale, globex.country, promise.client_id) == ("sv", "SE", globex.id)


def test_a_refused_new_client_is_marked_on_the_field_the_service_names(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    """The error goes under the field the service names, not one guessed from its words
    (a clash with "Ozone Labs" is about the name, though it says "zone")."""
    agency.add_client(name="Ozone Labs", email="hi@ozone.example", now=MONDAY_10, actor="t")
    response = slack.answer("Brand audit for Globex by Friday")
    slack.click("client_add", button(response, "client_add"))
    [modal] = api.opened()
    refused = slack.submit(modal, {"name": "ozone labs", "email": "ops@globex.example",
                                   "locale": "en", "timezone": "Europe/Stockholm"})
    assert list(refused.json()["errors"]) == ["name"]
    assert "'Ozone Labs' already exists" in refused.json()["errors"]["name"]


@pytest.mark.parametrize(("text", "expected"), [
    ("help", "/promise list"),
    ("", "/promise mistake"),
    ("Q3 report for Acme", "by Friday"),
    ("Q3 report by Friday", "Which client"),
    ("status 4 sideways", "at-risk"),
    ("move 4 Monday", "because"),
    ("mistake Acme oops", "prevent:"),
])
def test_a_line_that_cannot_be_used_gets_a_helpful_answer(slack: SlackWorkspace, text: str,
                                                          expected: str) -> None:
    assert expected in shown(slack.answer(text))


@pytest.mark.parametrize("text", ["Q3 报告 给 Acme 周五前", "Q3-rapport till Acme senast fredag"])
def test_chinese_and_swedish_promises_are_understood(slack: SlackWorkspace, text: str) -> None:
    words = shown(slack.answer(text))
    assert "*Acme*" in words and "Fri 20 Nov, 17:00 (America/New_York)" in words


# -- the sub-commands --------------------------------------------------------------------------


def test_list_shows_my_open_promises_with_their_risk_level(slack: SlackWorkspace,
                                                          agency: Ledger, api: SlackApi) -> None:
    q3_report(agency)
    response, url = slack.command("list")
    assert response.status_code == 200
    words = shown(api.replies(url)[0])
    assert "#1 *Q3 report* · Acme · due Fri 20 Nov, 17:00 (America/New_York)" in words
    assert "on track" in words


def test_team_lists_my_reports_promises_for_a_manager_only(slack: SlackWorkspace,
                                                           agency: Ledger, api: SlackApi) -> None:
    q3_report(agency)
    _, url = slack.command("team", user="UBOB")
    assert "Q3 report" in shown(api.replies(url)[0]) and "Alice" in shown(api.replies(url)[0])
    _, mine = slack.command("team")
    assert "Nobody reports to you" in shown(api.replies(mine)[0])


def test_a_member_linked_from_slack_reads_in_their_slack_language(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    api.add_user("UKARIN", "Karin Berg", email="karin@example.com", tz="Europe/Stockholm",
                 locale="sv-SE")
    agency.add_member(email="karin@example.com", name="Karin Berg", role="admin",
                      timezone="Europe/Stockholm", now=at("2026-11-16T09:00-05:00"), actor="t")
    promise_id = q3_report(agency)

    _, url = slack.command(f"status {promise_id} at-risk 40% data saknas", user="UKARIN")

    said = shown(api.replies(url)[0])
    assert (f"Avstämning för #{promise_id} *Q3 report*: i riskzonen, 40\u00a0% klart."
            in said), said
    assert member(agency, "karin@example.com").locale == "sv"


def test_done_status_and_move_change_the_promise_through_the_ledger(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    promise_id = q3_report(agency)
    _, url = slack.command(f"status {promise_id} at-risk 40% waiting on data")
    assert "at risk, 40% done" in shown(api.replies(url)[0])
    _, url = slack.command(f"move {promise_id} to next Monday because the data came late")
    assert "Mon 23 Nov, 17:00" in shown(api.replies(url)[0])
    _, url = slack.command(f"done {promise_id}")
    assert "is done" in shown(api.replies(url)[0])
    [promise] = promises(agency)
    assert (promise.status, promise.due_at) == ("done", at("2026-11-23T17:00-05:00"))
    with Session(agency.engine) as session:
        [checkin] = session.exec(select(CheckIn)).all()
    assert (checkin.status, checkin.progress, checkin.note) == ("at_risk", 40, "waiting on data")


def test_nobody_but_the_owner_their_manager_or_an_admin_may_change_a_promise(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    agency.add_member(email="nora@example.com", name="Nora", timezone="Europe/Stockholm",
                      now=MONDAY_10, actor="t")
    promise_id = q3_report(agency)
    _, url = slack.command(f"done {promise_id}", user="UNEW")
    refusal = shown(api.replies(url)[0])
    assert f"there is no promise #{promise_id} that you can change" in refusal
    assert "Alice" not in refusal
    assert promises(agency)[0].status == "open"


def test_a_slack_user_no_admin_added_may_log_their_own_promise_and_nothing_else(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    """Nora is in the Slack workspace but not in the team: she may not change a promise,
    add a client or make someone else (or herself) a member by naming them."""
    promise_id = q3_report(agency)
    _, url = slack.command(f"done {promise_id}", user="UNEW")
    assert "nora@example.com is not a member of this team yet" in shown(api.replies(url)[0])

    response = slack.answer("Brand audit for Globex by Friday")  # Alice's echo, Nora's click
    slack.click("client_add", button(response, "client_add"), user="UNEW")
    [modal] = api.opened()
    refused = slack.submit(modal, {"name": "Globex", "email": "ops@globex.example",
                                   "locale": "en", "timezone": "Europe/Stockholm"}, user="UNEW")
    assert "not a member of this team yet" in refused.json()["errors"]["name"]

    api.add_user("UZED", "Zed", email="zed@example.com", tz="America/New_York")
    mention = slack.answer("<@UZED|zed> Q3 report for Acme by Friday")
    _, url = slack.click("promise_confirm", button(mention, "promise_confirm"))
    assert "zed@example.com is not a member of this team yet" in shown(api.replies(url)[0])

    assert [c.name for c in agency.clients()] == ["Acme"]
    assert promises(agency)[0].status == "open" and len(promises(agency)) == 1
    assert {m.email for m, _ in agency.members()} == {"alice@example.com", "bob@example.com"}


def test_a_mistake_is_logged_with_its_remediation_draft_and_prevention_step(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    _, url = slack.command("mistake Acme formula error in the report; prevent: second person "
                           "checks formula edits")
    words = shown(api.replies(url)[0])
    assert "Mistake #1 logged for Acme" in words and "waits for your approval" in words
    with Session(agency.engine) as session:
        [logged] = session.exec(select(Mistake)).all()
        [draft] = session.exec(select(Notice).where(Notice.kind == "mistake_remediation")).all()
    assert (logged.summary, logged.prevention) == ("formula error in the report",
                                                   "second person checks formula edits")
    assert draft.status == "draft"


# -- check-in buttons on the request the outbox sent ------------------------------------------


def test_a_check_in_button_records_the_answer_and_a_note_can_follow(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi, clock: Clock) -> None:
    slack.command("list")  # Alice uses the app once: check-ins now come to her in Slack
    api.wait_until(lambda: member(agency, "alice@example.com").slack_user_id == "UALICE")
    promise_id = q3_report(agency)
    Scanner(agency).tick(TUESDAY_9)
    assert Outbox(agency).deliver(TUESDAY_9).sent
    [request] = api.posted("DALICE")
    clock.now = at("2026-11-17T09:40-05:00")

    _, url = slack.click("checkin_at_risk", str(promise_id), message=request)
    [updated] = api.replies(url)
    assert updated["replace_original"] is True
    assert "*Q3 report* for Acme is due" in shown(updated)
    assert "You said *at risk* today at 9:40 AM." in shown(updated)

    _, note_url = slack.click("checkin_note", button(updated, "checkin_note"), message=updated)
    [modal] = api.opened()
    assert slack.submit(modal, {"note": "waiting on the ad account data",
                                "progress": "30"}).status_code == 200
    [with_note] = api.replies(note_url)
    assert "waiting on the ad account data" in shown(with_note)
    with Session(agency.engine) as session:
        checkins = session.exec(select(CheckIn).order_by(col(CheckIn.id))).all()
    assert [(c.status, c.progress, c.note) for c in checkins] == [
        ("at_risk", None, None), ("at_risk", 30, "waiting on the ad account data")]


# -- drafts in the owner's DM ---------------------------------------------------------------------


@pytest.fixture
def offered(slack: SlackWorkspace, agency: Ledger, api: SlackApi,
            clock: Clock) -> tuple[Notice, dict[str, Any]]:
    slack.command("list")
    api.wait_until(lambda: member(agency, "alice@example.com").slack_user_id == "UALICE")
    draft = wednesday_draft(agency)
    clock.now = WEDNESDAY_9
    assert slack_app.offer_drafts(agency, now=WEDNESDAY_9) == [draft.id]
    assert slack_app.offer_drafts(agency, now=WEDNESDAY_9) == []
    assert api.posted("DALICE") == []  # the offer waits in the outbox like any message
    Outbox(agency).deliver(WEDNESDAY_9)
    [message] = offers(api)
    return draft, message


def test_two_workers_offer_each_draft_once_and_deliver_the_offer_once(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi, clock: Clock) -> None:
    """The scheduler's draft offers run on every worker: the offer is an outbox message under
    one key, so two workers at once queue it once and deliver it once."""
    slack.command("list")
    api.wait_until(lambda: member(agency, "alice@example.com").slack_user_id == "UALICE")
    draft = wednesday_draft(agency)
    clock.now = WEDNESDAY_9
    with ThreadPoolExecutor(2) as workers:
        offered = list(workers.map(lambda _: slack_app.offer_drafts(agency, now=WEDNESDAY_9),
                                   range(2)))
        list(workers.map(lambda name: Outbox(agency, worker=name).deliver(WEDNESDAY_9),
                         ["worker-1", "worker-2"]))
    assert sorted(offered, key=len) == [[], [draft.id]]
    [message] = offers(api)
    assert message["metadata"]["event_payload"]["idempotency_key"] == f"draft_offer:{draft.id}"


def offers(api: SlackApi) -> list[dict[str, Any]]:
    """The drafts offered in Alice's DM (other messages to her go there too)."""
    return [post for post in api.posted("DALICE")
            if post["metadata"]["event_payload"]["idempotency_key"].startswith("draft_offer:")]


def status_of(ledger: Ledger, notice_id: int | None) -> Notice:
    with Session(ledger.engine) as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        return notice


def test_a_draft_reaches_its_owner_once_with_the_text_and_four_choices(
        offered: tuple[Notice, dict[str, Any]]) -> None:
    _, message = offered
    words = shown(message)
    assert "Draft delay notice to Acme" in words and "Q3 report" in words
    assert "Proposed new date" in words and "Waiting on the ad account data" in words
    assert [e["text"]["text"] for e in message["blocks"][-1]["elements"]] == [
        "Send", "Edit", "Snooze", "Not needed"]


def test_send_approves_the_draft_and_the_message_shows_it(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi,
        offered: tuple[Notice, dict[str, Any]]) -> None:
    draft, message = offered
    _, url = slack.click("draft_send", str(draft.id), message=message)
    [updated] = api.replies(url)
    assert "Approved" in shown(updated) and "draft_send" not in str(updated["blocks"])
    assert status_of(agency, draft.id).status == "queued"
    _, again = slack.click("draft_send", str(draft.id), message=message)
    [refused] = api.replies(again)
    assert "it is queued" in shown(refused) and not refused.get("replace_original")


def test_not_needed_cancels_the_draft(slack: SlackWorkspace, agency: Ledger, api: SlackApi,
                                      offered: tuple[Notice, dict[str, Any]]) -> None:
    draft, message = offered
    _, url = slack.click("draft_cancel", str(draft.id), message=message)
    assert "Not needed" in shown(api.replies(url)[0])
    assert status_of(agency, draft.id).status == "cancelled"


def test_snooze_brings_the_draft_back_the_next_business_morning(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi,
        offered: tuple[Notice, dict[str, Any]]) -> None:
    draft, message = offered
    _, url = slack.click("draft_snooze", str(draft.id), message=message)
    assert "Snoozed until Thu 19 Nov, 09:00" in shown(api.replies(url)[0])
    assert status_of(agency, draft.id).snoozed_until == at("2026-11-19T09:00-05:00")
    assert slack_app.offer_drafts(agency, now=at("2026-11-19T08:59-05:00")) == []
    assert slack_app.offer_drafts(agency, now=at("2026-11-19T09:00-05:00")) == [draft.id]
    Outbox(agency).deliver(at("2026-11-19T09:00-05:00"))
    assert len(offers(api)) == 2


def test_edit_opens_the_text_and_date_and_a_new_date_rewrites_the_draft(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi,
        offered: tuple[Notice, dict[str, Any]]) -> None:
    draft, message = offered
    slack.click("draft_edit", str(draft.id), message=message,
                container={"type": "message", "channel_id": "DALICE",
                           "message_ts": message["ts"]})
    [modal] = api.opened()
    assert modal["blocks"][0]["element"]["initial_value"] == draft.text
    refused = slack.submit(modal, {"text": draft.text, "date": "2026-11-19"})
    assert "after the date being moved" in refused.json()["errors"]["date"]

    assert slack.submit(modal, {"text": draft.text, "date": "2026-11-27"}).status_code == 200
    api.wait_until(lambda: "Fri 27 Nov" in shown(offers(api)[0]))
    edited = status_of(agency, draft.id)
    assert edited.proposed_due_at == at("2026-11-27T17:00-05:00")
    assert "November 27" in edited.text and edited.status == "draft"
    with Session(agency.engine) as session:
        kinds = session.exec(select(Event.kind).where(Event.promise_id == draft.promise_id)).all()
    assert "notice.edited" in kinds


def test_socket_mode_answers_a_slash_command_without_a_public_url(
    agency: Ledger, api: SlackApi, clock: Clock
) -> None:
    with socket_mode_server() as socket:
        api.socket_url = socket.url
        agency.settings.slack.app_token = SecretStr(api.app_token)

        async def connect_and_ask() -> dict[str, Any]:
            handler = slack_app.socket_mode_handler(agency, clock=clock)
            await handler.connect_async()
            try:
                await asyncio.to_thread(socket.connected.wait, 10)
                envelope = await asyncio.to_thread(socket.send, "slash_commands", {
                    "token": "legacy", "team_id": "T0000001", "channel_id": "C0000GENERAL",
                    "user_id": "UALICE", "user_name": "alice", "command": "/promise",
                    "text": "Q3 report for Acme by Friday", "api_app_id": "A0000001",
                    "response_url": api.response_url("socket"), "trigger_id": "1.2.3",
                })
                return await asyncio.to_thread(socket.ack, envelope)
            finally:
                await handler.close_async()

        ack = asyncio.run(connect_and_ask())
    reply = shown(ack["payload"])
    assert "Q3 report" in reply and "Acme" in reply and "Looks right" in reply


# -- the forecast at capture --------------------------------------------------------------


@pytest.fixture
def late_alice(agency: Ledger) -> Ledger:
    """Alice, known to Slack, whose last five promises ran late four times."""
    agency.link_slack_user(email="alice@example.com", slack_user_id="UALICE", name="Alice",
                           timezone="America/New_York", now=MONDAY_10, actor="t")
    past_promises(agency, late=4, on_time=1)
    return agency


def test_the_echo_says_how_likely_the_promise_is_kept_and_offers_the_likely_day(
        slack: SlackWorkspace, late_alice: Ledger) -> None:
    response = slack.answer("Q3 report for Acme by Friday")
    words = shown(response)
    assert "Likely to run late (" in words
    assert "Four of Alice's last five promises were late, typically by 1 business day." in words
    assert "Alice will likely be done by Fri 27 Nov (80% of similar promises were)." in words
    assert [e["text"]["text"] for e in response["blocks"][-1]["elements"]] == [
        "Looks right", "Promise Fri 27 Nov instead", "Change date", "Cancel"]
    assert len(promises(late_alice)) == 5  # her record only: nothing stored yet


def test_promising_the_likely_day_stores_it_with_the_date_first_asked(
        slack: SlackWorkspace, late_alice: Ledger, api: SlackApi) -> None:
    response = slack.answer("Q3 report for Acme by Friday")
    _, url = slack.click("promise_confirm_suggested",
                         button(response, "promise_confirm_suggested"))
    assert "due Fri 27 Nov, 17:00" in shown(api.replies(url)[0])
    promise = promises(late_alice)[-1]
    assert promise.due_at == promise.suggested_due_at == at("2026-11-27T17:00-05:00")
    assert promise.asked_due_at == FRIDAY_5PM


def test_looks_right_keeps_the_date_asked_and_records_the_day_offered(
        slack: SlackWorkspace, late_alice: Ledger, api: SlackApi) -> None:
    response = slack.answer("Q3 report for Acme by Friday")
    _, url = slack.click("promise_confirm", button(response, "promise_confirm"))
    api.replies(url)
    promise = promises(late_alice)[-1]
    assert (promise.due_at, promise.asked_due_at) == (FRIDAY_5PM, None)
    assert promise.suggested_due_at == at("2026-11-27T17:00-05:00")
    assert promise.capture_p_late is not None and promise.capture_p_late > 0.5


def test_a_slack_user_not_yet_a_member_may_not_name_a_colleague_or_read_their_record(
        slack: SlackWorkspace, late_alice: Ledger, api: SlackApi) -> None:
    named = slack.answer("<@UALICE|alice> Q4 plan for Acme by Friday", user="UNEW")
    assert "<@UNEW> is not a member of this team yet" in shown(named)
    assert "promise_confirm" not in json.dumps(named) and "Alice" not in shown(named)
    own = shown(slack.answer("Q4 plan for Acme by Friday", user="UNEW"))
    assert "so this is a rough guess" in own
    assert "Alice" not in own and "team's" not in own
    assert len(promises(late_alice)) == 5 and {m.email for m, _ in late_alice.members()} == {
        "alice@example.com", "bob@example.com"}


def test_a_slack_user_not_yet_a_member_cannot_tell_from_the_echo_whether_a_client_exists(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    known = shown(slack.answer("Report for Acme by Friday", user="UNEW"))
    unknown = slack.answer("Report for Zeta Corp by Friday", user="UNEW")
    assert known.replace("Acme", "X") == shown(unknown).replace("Zeta Corp", "X")
    assert "known clients" not in shown(slack.answer("Report by Friday", user="UNEW"))
    _, url = slack.click("promise_confirm", button(unknown, "promise_confirm"), user="UNEW")
    refused = shown(api.replies(url)[0])
    assert "Zeta Corp is not a client of this team" in refused and "Acme" not in refused
    assert promises(agency) == [] and {m.email for m, _ in agency.members()} == {
        "alice@example.com", "bob@example.com"}


# -- every reply in the reader's language ----------------------------------------------------

# A Swedish and a Chinese colleague, each linked to Slack with their own language.
READERS = {"sv": ("UKARIN", "Karin Berg", "karin@example.com"),
           "zh": ("UCHEN", "陈梅", "chen@example.com")}


def reader(agency: Ledger, api: SlackApi, locale: str) -> str:
    """The Slack user id of a member who reads `locale` (Slack itself says English)."""
    user, name, email = READERS[locale]
    api.add_user(user, name, email=email, tz="Europe/Stockholm")
    agency.add_member(email=email, name=name, timezone="Europe/Stockholm", locale=locale,
                      slack_user_id=user, now=at("2026-11-16T09:00-05:00"), actor="t")
    return user


@pytest.mark.parametrize(("locale", "echo", "buttons"), [
    ("sv", ["Stämmer det här?\n*Q3 report* till *Acme*\n"
            "Leverans *fre 20 nov. kl. 17.00 (New York-tid)*"],
     ["Det stämmer", "Ändra datum", "Avbryt"]),
    ("zh", ["请确认以下信息：\n*Acme*：*Q3 report*\n"
            "截止时间：*11月20日（周五）17:00（美国东部时间）*"],
     ["确认无误", "修改日期", "取消"]),
])
def test_a_member_reads_the_echo_and_its_buttons_in_their_language(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi, locale: str, echo: list[str],
        buttons: list[str]) -> None:
    user = reader(agency, api, locale)
    reply = slack.answer("Q3 report for Acme by Friday", user=user)
    words = shown(reply)
    assert all(line in words for line in echo), words
    assert [e["text"]["text"] for e in reply["blocks"][-1]["elements"]] == buttons
    assert "chance it runs late" not in words and "Due" not in words

    _, url = slack.click("promise_confirm", button(reply, "promise_confirm"), user=user)
    [logged] = api.replies(url)
    assert {"sv": "ansvarig: du", "zh": "负责人：您"}[locale] in shown(logged)
    assert [p.title for p in promises(agency)] == ["Q3 report"]


@pytest.mark.parametrize(("locale", "expected", "later"), [
    ("sv", ["Vilken kund gäller *Q3 report*?", "`/promise hjälp` visar allt jag kan göra."],
     "Börja med kundens namn, t.ex. `/promise mistake Acme fel i formeln; förebygg: …` "
     "(kunder: Acme, Ozone)."),
    ("zh", ["*Q3 report*是给哪位客户的？", "`/promise 帮助` 可查看全部用法。"],
     "请以客户名称开头，例如 `/promise mistake Acme 公式错误；预防：…`（已有客户：Acme、Ozone）。"),
])
def test_a_member_is_told_what_went_wrong_in_their_language(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi, locale: str,
        expected: list[str], later: str) -> None:
    """Known clients are listed the reader's way: 'Acme, Ozone', 'Acme、Ozone'."""
    agency.add_client(name="Ozone", email="hi@ozone.example", now=MONDAY_10, actor="t")
    user = reader(agency, api, locale)
    words = shown(slack.answer("Q3 report by Friday", user=user))
    assert all(line in words for line in expected), words
    _, url = slack.command("mistake Zeta oops; prevent: check", user=user)
    assert shown(api.replies(url)[0]).startswith(later)


@pytest.mark.parametrize(("locale", "expected", "listed"), [
    ("sv", ["*/promise* loggar och följer upp de löften du ger kunder.", "`/promise lista`"],
     "#1 *Q3 report* · Acme · leverans fre 20 nov. kl. 17.00 (New York-tid) · "
     ":large_green_circle: enligt plan"),
    ("zh", ["*/promise* 用于记录并跟进您对客户的承诺。", "`/promise 帮助`"],
     "#1 *Q3 report* · Acme · 11月20日（周五）17:00（美国东部时间）截止 · "
     ":large_green_circle: 正常"),
])
def test_help_and_lists_are_in_the_readers_language(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi, locale: str,
        expected: list[str], listed: str) -> None:
    user = reader(agency, api, locale)
    words = shown(slack.answer("help", user=user))
    assert all(line in words for line in expected), words
    agency.add_promise(title="Q3 report", client_name="Acme", owner_email=READERS[locale][2],
                       due_at=FRIDAY_5PM, now=MONDAY_10, actor="t")
    _, url = slack.command("list", user=user)
    assert listed in shown(api.replies(url)[0])


def test_someone_not_a_member_reads_the_teams_language(slack: SlackWorkspace, agency: Ledger,
                                                       api: SlackApi) -> None:
    agency.settings.team.locale = "sv"
    api.add_user("USTRANGER", "Sam Stranger", email=None)
    assert "*/promise* loggar" in shown(slack.answer("help", user="USTRANGER"))
