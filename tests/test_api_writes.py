"""The API's writes through the real app: every action, who may do it, the one error shape,
Idempotency-Key (replays, conflicts, 20 copies at once against a real server) and service
tokens. Wednesday 18 Nov 10:00: Alice's Q3 report for Acme is at risk; Bob manages her,
Carol manages others, Erin is an admin (tests/web_helpers.py)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from conftest import Cli
from fastapi import FastAPI
from fastapi.testclient import TestClient
from scenarios import MONDAY_9, agency_with, past_promises
from slack_harness import Swappable
from sqlmodel import Session, col, func, select
from web_helpers import WEDNESDAY_10, app_for, csrf_of, signed_in, token_for, wednesday_agency

from reliability.ledger import Ledger
from reliability.models import (
    CheckIn,
    Client,
    Event,
    IdempotencyKey,
    Member,
    Mistake,
    Notice,
    Promise,
    ServiceToken,
)
from reliability.web import idempotent


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    return wednesday_agency(ledger)


@pytest.fixture
def app(agency: Ledger) -> FastAPI:
    return app_for(agency)


def as_(app: FastAPI, ledger: Ledger, email: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token_for(ledger, email)}"})


def q3_report(ledger: Ledger) -> Promise:
    with Session(ledger.engine) as session:
        return session.exec(select(Promise).where(Promise.title == "Q3 report")).one()


def count(ledger: Ledger, model: Any, *conditions: Any) -> int:
    with Session(ledger.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def error_of(response: httpx.Response) -> dict[str, Any]:
    document = response.json()
    assert set(document) == {"error"}, document
    assert set(document["error"]) == {"code", "message", "field", "hint"}, document
    return dict(document["error"])


# -- logging a promise ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "title"), [
    ("Brand deck for Acme by Friday", "Brand deck"),
    ("Kvartalsrapport till Acme senast fredag", "Kvartalsrapport"),
    ("给Acme的季度报告周五前", "季度报告"),
])
def test_a_line_in_any_language_is_logged_with_the_forecast_at_capture(
    app: FastAPI, agency: Ledger, text: str, title: str,
) -> None:
    alice = as_(app, agency, "alice@example.com")
    response = alice.post("/api/promises", json={"text": text})
    assert response.status_code == 201, response.text
    made = response.json()
    promise = made["promise"]
    assert (promise["title"], promise["client"], promise["owner"], promise["due_at"]) == (
        title, "Acme", "alice@example.com", "2026-11-20T17:00:00-05:00")
    assert made["forecast"]["chance"] == "Likely to be kept"
    assert made["forecast"]["reason"]["text"].startswith(
        "One of Alice's last six promises was late")
    assert alice.get(f"/api/promises/{promise['id']}").json()["promise"] == promise
    with Session(agency.engine) as session:
        stored = session.get(Promise, promise["id"])
        event = session.exec(select(Event).where(Event.promise_id == promise["id"])).one()
    assert stored is not None and (stored.source, stored.raw_text) == ("api", text)
    assert (event.kind, event.actor) == ("promise.made", "alice@example.com")
    assert event.payload["forecast"]["p_late"] == made["forecast"]["p_late"]


def test_parse_says_what_a_line_would_be_logged_as_and_stores_nothing(
    app: FastAPI, agency: Ledger,
) -> None:
    alice = as_(app, agency, "alice@example.com")
    before = count(agency, Promise), count(agency, Event)
    response = alice.post("/api/promises/parse", json={"text": "Brand deck for Acme tomorrow"})
    assert response.status_code == 200
    parsed = response.json()
    assert (parsed["title"], parsed["client"], parsed["due_at"]) == (
        "Brand deck", "Acme", "2026-11-19T17:00:00-05:00")
    assert parsed["forecast"]["likely_done_by"] == "2026-11-19T17:00:00-05:00"
    assert parsed["suggested_due_at"] is None
    assert (count(agency, Promise), count(agency, Event)) == before


def test_use_suggested_date_promises_the_likely_day_and_keeps_the_ask(
    ledger: Ledger,
) -> None:
    agency = agency_with(ledger, "en")
    past_promises(agency, late=4, on_time=1)
    app = app_for(agency, MONDAY_9)
    alice = as_(app, agency, "alice@example.com")
    line = {"title": "Q3 report", "client": "Acme", "due": "2026-11-20T17:00-05:00"}
    parsed = alice.post("/api/promises/parse", json={"text": "Q3 report", "client": "Acme",
                                                     "due": "2026-11-20T17:00-05:00"}).json()
    assert parsed["suggested_due_at"] == "2026-11-27T17:00:00-05:00"
    taken = alice.post("/api/promises", json={**line, "use_suggested_date": True}).json()
    assert taken["promise"]["due_at"] == "2026-11-27T17:00:00-05:00"
    assert taken["asked_due_at"] == "2026-11-20T17:00:00-05:00"
    assert taken["forecast"]["suggested_due_at"] == "2026-11-27T17:00:00-05:00"


def _not_for(response: httpx.Response, email: str) -> dict[str, Any]:
    """The refusal, with the email the caller typed taken out."""
    assert response.status_code == 404, response.text
    return {key: str(value).replace(email, "EMAIL") for key, value in
            error_of(response).items()}


@pytest.mark.parametrize("path", ["/api/promises", "/api/requests"])
def test_a_promise_or_request_is_for_oneself_ones_reports_or_by_an_admin_anyone(
    app: FastAPI, agency: Ledger, path: str
) -> None:
    def ask(who: str, owner: str) -> httpx.Response:
        body = ({"text": "Brand deck for Acme by Friday", "owner": owner}
                if path == "/api/promises" else
                {"request": "New logo files", "client": "Acme", "reply_by": "Friday 5pm",
                 "owner": owner})
        return as_(app, agency, who).post(path, json=body)

    before = count(agency, Promise)
    outside, nobody = ask("carol@example.com", "alice@example.com"), ask(
        "carol@example.com", "zed@example.com")
    upward = ask("alice@example.com", "bob@example.com")
    # A colleague outside one's team and someone not on the team get the same answer.
    assert _not_for(outside, "alice@example.com") == _not_for(nobody, "zed@example.com") == (
        _not_for(upward, "bob@example.com")) == {
        "code": "not_found", "message": "EMAIL is not someone you can log a promise for",
        "field": "owner",
        "hint": "choose yourself or someone who reports to you; their manager or an admin "
                "can do it for them"}
    assert count(agency, Promise) == before
    for who in ("alice@example.com", "bob@example.com", "erin@example.com"):
        made = ask(who, "alice@example.com")
        assert made.status_code == 201, made.text
        assert made.json()["promise"]["owner"] == "alice@example.com"
    unknown = ask("erin@example.com", "zed@example.com")  # an admin sees who is a member
    assert unknown.status_code == 422 and error_of(unknown)["message"] == (
        "unknown member 'zed@example.com'")


def test_parsing_with_an_owner_tells_a_non_admin_nothing_about_who_is_a_member(
    app: FastAPI, agency: Ledger
) -> None:
    def parse(who: str, owner: str) -> httpx.Response:
        return as_(app, agency, who).post("/api/promises/parse", json={
            "text": "Brand deck for Acme by Friday", "owner": owner})

    assert _not_for(parse("carol@example.com", "alice@example.com"), "alice@example.com") == (
        _not_for(parse("carol@example.com", "zed@example.com"), "zed@example.com"))
    assert parse("bob@example.com", "alice@example.com").status_code == 200
    assert parse("erin@example.com", "alice@example.com").status_code == 200
    assert error_of(parse("erin@example.com", "zed@example.com"))["message"] == (
        "unknown member 'zed@example.com'")


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"text": "Brand deck for Zeta by Friday"}, "client", "which client is it for?"),
    ({"text": "Brand deck", "client": "Zeta", "due": "Friday"}, "client",
     "unknown client 'Zeta'"),
    ({"text": "Brand deck", "client": "Acme", "due": "someday"}, "due", "'someday'"),
    ({"title": "Brand deck"}, "client", "with a title, say the client and the due date"),
    ({"text": "x", "title": "y"}, "text", "give either text or title"),
    ({"text": "Brand deck for Acme by Friday", "colour": "red"}, "colour", "Extra inputs"),
    ({"text": 5}, "text", "valid string"),
])
def test_bad_input_is_one_error_shape_naming_the_field_with_a_hint(
    app: FastAPI, agency: Ledger, body: dict[str, Any], field: str, words: str,
) -> None:
    before = count(agency, Promise)
    response = as_(app, agency, "alice@example.com").post("/api/promises", json=body)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid", field)
    assert words in error["message"] and error["hint"]
    assert count(agency, Promise) == before


# -- acting on a promise: who may --------------------------------------------------------


ACTIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("checkins", {"status": "at_risk", "progress": 60, "note": "Still waiting on data.",
                  "waiting_for": "the ad account export"}),
    ("move", {"due": "2026-11-24T17:00-05:00", "reason": "data arrived late",
              "client_told": True}),
    ("cancel", {"reason": "the client dropped the campaign"}),
    ("done", None),
]


@pytest.mark.parametrize(("action", "body"), ACTIONS)
@pytest.mark.parametrize(("who", "allowed"), [
    ("alice@example.com", True), ("bob@example.com", True), ("carol@example.com", False),
    ("erin@example.com", True)])
def test_the_owner_their_manager_and_an_admin_act_on_a_promise_another_manager_cannot(
    app: FastAPI, agency: Ledger, action: str, body: dict[str, Any] | None, who: str,
    allowed: bool,
) -> None:
    promise = q3_report(agency)
    response = as_(app, agency, who).post(f"/api/promises/{promise.id}/{action}", json=body)
    if not allowed:
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
        assert q3_report(agency) == promise
        return
    assert response.status_code in (200, 201), response.text
    shown = response.json().get("promise", response.json())
    expected = {"checkins": ("open", "2026-11-20T17:00:00-05:00"),
                "move": ("open", "2026-11-24T17:00:00-05:00"),
                "cancel": ("cancelled", "2026-11-20T17:00:00-05:00"),
                "done": ("done", "2026-11-20T17:00:00-05:00")}[action]
    assert (shown["status"], shown["due_at"]) == expected
    with Session(agency.engine) as session:
        last = session.exec(select(Event).where(Event.promise_id == promise.id)
                            .order_by(col(Event.id).desc())).first()
    assert last is not None and last.actor == who


def test_a_promise_that_does_not_exist_is_a_404_like_one_that_is_not_yours(
    app: FastAPI, agency: Ledger,
) -> None:
    carol = as_(app, agency, "carol@example.com")
    missing = carol.post("/api/promises/999/done")
    not_hers = carol.post(f"/api/promises/{q3_report(agency).id}/done")
    assert missing.status_code == not_hers.status_code == 404
    assert error_of(missing)["code"] == error_of(not_hers)["code"] == "not_found"


def test_a_check_in_keeps_the_note_for_the_team_and_asks_the_client_for_what_is_missing(
    app: FastAPI, agency: Ledger,
) -> None:
    promise = q3_report(agency)
    response = as_(app, agency, "alice@example.com").post(
        f"/api/promises/{promise.id}/checkins",
        json={"status": "at_risk", "progress": 60, "note": "Our analyst is out sick.",
              "waiting_for": "the ad account export"})
    assert response.status_code == 201
    checkin = response.json()
    assert (checkin["status"], checkin["progress"], checkin["at"]) == (
        "at_risk", 60, "2026-11-18T10:00:00-05:00")
    with Session(agency.engine) as session:
        draft = session.exec(select(Notice).where(Notice.kind == "delay_notice")).one()
        stored = session.get(CheckIn, checkin["id"])
    assert stored is not None and stored.waiting_for == "the ad account export"
    assert "Our analyst is out sick." in (draft.approver_note or "")
    assert "Our analyst is out sick." not in draft.text
    assert "the ad account export" in draft.text


def test_a_move_needs_a_readable_date_and_a_reason(app: FastAPI, agency: Ledger) -> None:
    alice = as_(app, agency, "alice@example.com")
    promise = q3_report(agency)
    unreadable = alice.post(f"/api/promises/{promise.id}/move",
                            json={"due": "when pigs fly", "reason": "x"})
    assert unreadable.status_code == 422 and error_of(unreadable)["field"] == "due"
    no_reason = alice.post(f"/api/promises/{promise.id}/move", json={"due": "next Tuesday"})
    assert no_reason.status_code == 422 and error_of(no_reason)["field"] == "reason"
    done_twice = alice.post(f"/api/promises/{promise.id}/done")
    assert done_twice.status_code == 200
    again = alice.post(f"/api/promises/{promise.id}/done")
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    assert q3_report(agency).due_at == promise.due_at


def test_acknowledging_a_request_promises_a_reply_and_drafts_the_receipt(
    app: FastAPI, agency: Ledger,
) -> None:
    response = as_(app, agency, "alice@example.com").post("/api/requests", json={
        "request": "a breakdown of Q3 ad spend by channel", "client": "Acme",
        "reply_by": "tomorrow 3pm"})
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["promise"]["title"] == "Reply: a breakdown of Q3 ad spend by channel"
    assert made["promise"]["due_at"] == "2026-11-19T15:00:00-05:00"
    with Session(agency.engine) as session:
        receipt = session.get(Notice, made["draft_id"])
    assert receipt is not None
    assert (receipt.kind, receipt.status) == ("request_acknowledgement", "draft")


# -- mistakes ---------------------------------------------------------------------------


def test_a_member_logs_her_own_mistake_with_a_credit_and_a_prevention_step(
    app: FastAPI, agency: Ledger,
) -> None:
    response = as_(app, agency, "alice@example.com").post("/api/mistakes", json={
        "client": "Acme", "summary": "The October invoice double-counted ad spend",
        "prevention": "A second person checks every invoice before it goes",
        "category": "invoicing", "fixed": True,
        "credit": {"amount": "500", "currency": "USD", "method": "credit_note",
                   "basis": "overcharge"}})
    assert response.status_code == 201, response.text
    logged = response.json()
    assert (logged["owner"], logged["credit"], logged["repeat"]) == (
        "alice@example.com", "$500.00", False)
    with Session(agency.engine) as session:
        draft = session.get(Notice, logged["draft_id"])
        step = session.get(Promise, logged["prevention_promise_id"])
    assert draft is not None and draft.kind == "mistake_remediation"
    assert step is not None and step.internal and step.title.startswith("Prevention: ")


@pytest.mark.parametrize(("who", "status"), [("bob@example.com", 201),
                                             ("carol@example.com", 404),
                                             ("erin@example.com", 201)])
def test_only_alices_side_logs_a_mistake_of_hers(app: FastAPI, agency: Ledger, who: str,
                                                 status: int) -> None:
    response = as_(app, agency, who).post("/api/mistakes", json={
        "client": "Acme", "summary": "Sent the draft deck", "prevention": "Label drafts",
        "owner": "alice@example.com"})
    assert response.status_code == status, response.text
    if status == 404:
        assert error_of(response)["field"] == "owner"
        assert count(agency, Mistake) == 0


def test_a_mistake_about_a_promise_outside_ones_scope_is_refused(app: FastAPI,
                                                                agency: Ledger) -> None:
    response = as_(app, agency, "carol@example.com").post("/api/mistakes", json={
        "client": "Acme", "summary": "x", "prevention": "y",
        "promise_id": q3_report(agency).id})
    assert response.status_code == 404 and error_of(response)["field"] == "promise"


def test_a_credit_that_is_not_money_is_refused_naming_the_credit(app: FastAPI,
                                                                agency: Ledger) -> None:
    response = as_(app, agency, "alice@example.com").post("/api/mistakes", json={
        "client": "Acme", "summary": "x", "prevention": "y",
        "credit": {"amount": "lots", "currency": "USD"}})
    error = error_of(response)
    assert (response.status_code, error["field"]) == (422, "credit")
    assert error["hint"] == "give digits 0-9 with up to 2 decimals, e.g. 500"


# -- clients and members ----------------------------------------------------------------


def test_anyone_adds_a_client_and_managers_change_its_details(app: FastAPI,
                                                              agency: Ledger) -> None:
    alice = as_(app, agency, "alice@example.com")
    made = alice.post("/api/clients", json={
        "name": "Globex", "email": "Hank@Globex.example", "contact_name": "Hank Scorpio",
        "locale": "sv", "timezone": "Europe/Stockholm", "country": "SE"})
    assert made.status_code == 201, made.text
    client = made.json()
    assert (client["email"], client["locale"], client["timezone"]) == (
        "hank@globex.example", "sv", "Europe/Stockholm")
    refused = alice.patch(f"/api/clients/{client['id']}", json={"greeting": "Hej Hank"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    bob = as_(app, agency, "bob@example.com")
    changed = bob.patch(f"/api/clients/{client['id']}",
                        json={"greeting": "Hej Hank", "country": None})
    assert changed.status_code == 200
    assert (changed.json()["greeting"], changed.json()["country"]) == ("Hej Hank", None)
    bad = bob.patch(f"/api/clients/{client['id']}", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "timezone"
    clash = bob.patch(f"/api/clients/{client['id']}", json={"name": "ACME"})
    assert clash.status_code == 422 and error_of(clash)["field"] == "name"
    with Session(agency.engine) as session:
        stored = session.exec(select(Client).where(Client.name == "Globex")).one()
        events = session.exec(select(Event).where(Event.kind == "client.edited")).all()
    assert (stored.greeting, stored.timezone) == ("Hej Hank", "Europe/Stockholm")
    assert [e.payload["changes"] for e in events] == [
        {"greeting": [None, "Hej Hank"], "country": ["SE", None]}]


def test_a_client_added_or_changed_by_the_api_may_be_addressed_as_du(
        app: FastAPI, agency: Ledger) -> None:
    bob = as_(app, agency, "bob@example.com")
    made = bob.post("/api/clients", json={"name": "Globex", "email": "hank@globex.example",
                                          "locale": "sv", "address": "du"})
    assert made.status_code == 201 and made.json()["address"] == "du"
    back = bob.patch(f"/api/clients/{made.json()['id']}", json={"address": "ni"})
    assert back.status_code == 200 and back.json()["address"] == "ni"
    cleared = bob.patch(f"/api/clients/{made.json()['id']}", json={"address": None})
    assert cleared.status_code == 422
    assert agency.client_named("Globex").address == "ni"


def test_a_client_rating_is_recorded(app: FastAPI, agency: Ledger) -> None:
    with Session(agency.engine) as session:
        acme = session.exec(select(Client)).one()
    response = as_(app, agency, "alice@example.com").post(
        f"/api/clients/{acme.id}/ratings", json={"overall": 4, "to_make_it_5": "Call sooner"})
    assert response.status_code == 201
    assert (response.json()["overall"], response.json()["recorded_by"]) == (
        4, "alice@example.com")


def test_only_an_admin_adds_changes_and_removes_members(app: FastAPI, agency: Ledger) -> None:
    dave = {"email": "dave@example.com", "name": "Dave", "manager": "bob@example.com",
            "timezone": "America/New_York"}
    bob = as_(app, agency, "bob@example.com")
    refused = bob.post("/api/members", json=dave)
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    erin = as_(app, agency, "erin@example.com")
    made = erin.post("/api/members", json=dave)
    assert made.status_code == 201, made.text
    member = made.json()
    assert (member["manager"], member["role"]) == ("bob@example.com", "member")
    assert bob.patch(f"/api/members/{member['id']}", json={"role": "admin"}).status_code == 403
    changed = erin.patch(f"/api/members/{member['id']}",
                         json={"role": "manager", "locale": "sv", "manager": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["locale"], changed.json()["manager"]) == (
        "manager", "sv", None)
    with Session(agency.engine) as session:
        bob_id = session.exec(select(Member.id).where(Member.email == "bob@example.com")).one()
    cycle = erin.patch(f"/api/members/{bob_id}", json={"manager": "alice@example.com"})
    assert cycle.status_code == 422 and error_of(cycle)["field"] == "manager"
    assert bob.post(f"/api/members/{member['id']}/remove").status_code == 403
    removed = erin.post(f"/api/members/{member['id']}/remove")
    assert removed.status_code == 200 and removed.json()["removed"] is True


def test_a_session_cookie_needs_the_csrf_header_for_every_write(app: FastAPI,
                                                                agency: Ledger) -> None:
    alice = signed_in(app, agency, "alice@example.com")
    line = {"text": "Brand deck for Acme by Friday"}
    refused = alice.post("/api/promises", json=line)
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    token = csrf_of(alice.get("/drafts").text)
    assert alice.post("/api/promises", json=line,
                      headers={"X-CSRF-Token": token}).status_code == 201


def test_without_a_token_every_write_is_a_401_in_the_one_shape(app: FastAPI) -> None:
    response = TestClient(app).post("/api/promises", json={"text": "x"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "sign_in_required"
    assert response.headers["www-authenticate"] == "Bearer"


# -- idempotency ------------------------------------------------------------------------


def test_a_repeated_key_replays_the_first_answer_and_stores_nothing_twice(
    app: FastAPI, agency: Ledger,
) -> None:
    alice = as_(app, agency, "alice@example.com")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    line = {"text": "Brand deck for Acme by Friday"}
    first = alice.post("/api/promises", json=line, headers=key)
    again = alice.post("/api/promises", content=b'{ "text" : "Brand deck for Acme by Friday" }',
                       headers={**key, "Content-Type": "application/json"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count(agency, Promise, Promise.title == "Brand deck") == 1
    other = alice.post("/api/promises", json={"text": "Logo for Acme by Friday"}, headers=key)
    assert other.status_code == 409
    assert (error_of(other)["code"], error_of(other)["field"]) == (
        "idempotency_key_reused", "Idempotency-Key")
    assert count(agency, Promise, Promise.title == "Logo") == 0
    # Keys are each caller's own: Bob's same key is a new request.
    bob = as_(app, agency, "bob@example.com")
    assert bob.post("/api/promises", json=line, headers=key).status_code == 201
    assert count(agency, Promise, Promise.title == "Brand deck") == 2


def test_a_refusal_is_replayed_too_and_a_key_expires_after_a_day(agency: Ledger) -> None:
    promise_id = q3_report(agency).id
    key = {"Idempotency-Key": "cancel-q3-once"}
    alice = as_(app_for(agency), agency, "alice@example.com")
    assert alice.post(f"/api/promises/{promise_id}/done", headers=key).status_code == 200
    later = as_(app_for(agency, WEDNESDAY_10 + timedelta(hours=23)), agency,
                "alice@example.com")
    replay = later.post(f"/api/promises/{promise_id}/done", headers=key)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    refused = later.post(f"/api/promises/{promise_id}/cancel", json={"reason": "x"},
                         headers={"Idempotency-Key": "cancel-twice"})
    assert refused.status_code == 409
    assert later.post(f"/api/promises/{promise_id}/cancel", json={"reason": "x"},
                      headers={"Idempotency-Key": "cancel-twice"}).content == refused.content
    next_day = as_(app_for(agency, WEDNESDAY_10 + timedelta(hours=24, seconds=1)), agency,
                   "alice@example.com")
    fresh = next_day.post(f"/api/promises/{promise_id}/done", headers=key)
    assert fresh.status_code == 409 and "idempotent-replayed" not in fresh.headers
    assert count(agency, IdempotencyKey, IdempotencyKey.key == "cancel-q3-once") == 1


def test_a_copy_never_runs_while_the_first_has_no_answer_it_is_told_to_retry(
    app: FastAPI, agency: Ledger, monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = as_(app, agency, "alice@example.com")
    key = {"Idempotency-Key": "made-by-a-process-that-died"}
    line = {"text": "Brand deck for Acme by Friday"}
    assert alice.post("/api/promises", json=line, headers=key).status_code == 201
    with Session(agency.engine) as session:  # as if its process died before answering
        row = session.exec(select(IdempotencyKey)).one()
        row.status_code = row.response = None
        session.add(row)
        session.commit()
    monkeypatch.setattr(idempotent, "WAIT_SECONDS", 0.2)
    waited = alice.post("/api/promises", json=line, headers=key)
    assert waited.status_code == 409
    assert error_of(waited)["code"] == "idempotency_key_in_use"
    assert count(agency, Promise, Promise.title == "Brand deck") == 1


def test_a_key_that_is_not_printable_ascii_is_refused(app: FastAPI, agency: Ledger) -> None:
    response = as_(app, agency, "alice@example.com").post(
        "/api/promises", json={"text": "Brand deck for Acme by Friday"},
        headers={"Idempotency-Key": "has space"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "Idempotency-Key"
    assert count(agency, Promise, Promise.title == "Brand deck") == 0


def test_twenty_copies_at_once_store_one_promise_and_get_the_same_answer(
    agency: Ledger, server: tuple[Swappable, str],
) -> None:
    target, url = server
    target.app = app_for(agency)
    headers = {"Authorization": f"Bearer {token_for(agency, 'alice@example.com')}",
               "Idempotency-Key": str(uuid.uuid4())}
    line = {"text": "Brand deck for Acme by Friday"}
    answers: list[httpx.Response] = []
    start = threading.Barrier(20)

    def send() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            answers.append(client.post("/api/promises", json=line, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 20
    assert {(a.status_code, a.content) for a in answers} == {
        (201, answers[0].content)}
    assert count(agency, Promise, Promise.title == "Brand deck") == 1
    assert count(agency, Event, Event.kind == "promise.made",
                 Event.actor == "alice@example.com") == 2  # the Q3 report's and this one


# -- service tokens ---------------------------------------------------------------------


def test_a_copy_of_a_token_request_gets_no_secret_and_none_is_kept_for_copies(
    app: FastAPI, agency: Ledger,
) -> None:
    erin = as_(app, agency, "erin@example.com")
    # A copy of the request gets the same token back, without its secret, which is kept
    # nowhere (not even in the answers kept for copies).
    once = {"Idempotency-Key": "token-once"}
    first = erin.post("/api/tokens", json={"name": "Wiki", "scope": "read"}, headers=once)
    copy = erin.post("/api/tokens", json={"name": "Wiki", "scope": "read"}, headers=once)
    assert first.json()["token"].startswith("rel_svc_")
    assert copy.json() == {**first.json(), "token": None}
    with Session(agency.engine) as session:
        kept = session.exec(select(IdempotencyKey.response)).all()
    assert not any(first.json()["token"] in (answer or "") for answer in kept)


def test_an_admin_makes_read_and_write_service_tokens_lists_and_revokes_them(
    app: FastAPI, agency: Ledger,
) -> None:
    erin = as_(app, agency, "erin@example.com")
    reader = erin.post("/api/tokens", json={"name": "Dashboard wall", "scope": "read"}).json()
    writer = erin.post("/api/tokens", json={"name": "CRM sync", "scope": "write"}).json()
    assert reader["token"].startswith("rel_svc_") and reader["acts_as"] == "erin@example.com"
    with Session(agency.engine) as session:
        hashes = session.exec(select(ServiceToken.token_hash)).all()
    assert reader["token"] not in hashes and writer["token"] not in hashes
    promise_id = q3_report(agency).id

    read = TestClient(app, headers={"Authorization": f"Bearer {reader['token']}"})
    assert [p["title"] for p in read.get("/api/at-risk").json()["items"]] == ["Q3 report"]
    refused = read.post(f"/api/promises/{promise_id}/done")
    assert refused.status_code == 403 and "may only read" in error_of(refused)["message"]
    assert read.post("/api/promises/parse",
                     json={"text": "Brand deck for Acme by Friday"}).status_code == 200

    write = TestClient(app, headers={"Authorization": f"Bearer {writer['token']}"})
    checked = write.post(f"/api/promises/{promise_id}/checkins", json={"status": "on_track"})
    assert checked.status_code == 201
    no_owner = write.post("/api/promises", json={"text": "Brand deck for Acme by Friday"})
    assert error_of(no_owner)["field"] == "owner"
    assert write.post("/api/promises", json={"text": "Brand deck for Acme by Friday",
                                             "owner": "alice@example.com"}).status_code == 201
    assert write.post("/api/tokens", json={"name": "x"}).status_code == 403
    with Session(agency.engine) as session:
        event = session.exec(select(Event).where(Event.kind == "promise.checked_in")
                             .order_by(col(Event.id).desc())).first()
    assert event is not None and event.actor == "token:CRM sync"

    listed = erin.get("/api/tokens").json()
    assert [(t["name"], t["scope"], t["revoked_at"]) for t in listed] == [
        ("CRM sync", "write", None), ("Dashboard wall", "read", None)]
    assert erin.post(f"/api/tokens/{writer['id']}/revoke").json()["revoked_at"]
    assert write.get("/api/at-risk").status_code == 401


def _second_admin(agency: Ledger) -> TestClient:
    agency.add_member(email="frank@example.com", name="Frank", role="admin", now=WEDNESDAY_10,
                      actor="test")
    return as_(app_for(agency), agency, "frank@example.com")


def _erin_id(agency: Ledger) -> int:
    with Session(agency.engine) as session:
        return session.exec(select(Member.id).where(Member.email == "erin@example.com")).one()


@pytest.mark.parametrize("how", ["role", "edit", "remove"])
def test_demoting_or_removing_an_admin_revokes_their_service_tokens_for_good(
    app: FastAPI, agency: Ledger, how: str
) -> None:
    frank = _second_admin(agency)
    erin = as_(app, agency, "erin@example.com")
    token = erin.post("/api/tokens", json={"name": "CRM sync", "scope": "write"}).json()
    franks = frank.post("/api/tokens", json={"name": "Wall", "scope": "read"}).json()
    service = TestClient(app, headers={"Authorization": f"Bearer {token['token']}"})
    assert service.get("/api/promises").status_code == 200
    if how == "role":
        agency.change_role("erin@example.com", "manager", now=WEDNESDAY_10, actor="test")
    elif how == "edit":
        assert frank.patch(f"/api/members/{_erin_id(agency)}",
                           json={"role": "member"}).status_code == 200
    else:
        assert frank.post(f"/api/members/{_erin_id(agency)}/remove").status_code == 200
    assert service.get("/api/promises").status_code == 401
    listed = {t["name"]: t["revoked_at"] for t in frank.get("/api/tokens").json()}
    assert listed["CRM sync"] is not None and listed["Wall"] is None  # Frank's still work
    with Session(agency.engine) as session:
        [revoked] = session.exec(select(Event).where(Event.kind == "service_token.revoked")).all()
    assert revoked.payload["token_id"] == token["id"] and "its admin" in revoked.payload["reason"]
    if how != "remove":  # made an admin again, Erin's old token stays revoked
        agency.change_role("erin@example.com", "admin", now=WEDNESDAY_10, actor="test")
        assert service.get("/api/promises").status_code == 401
    assert TestClient(app, headers={"Authorization": f"Bearer {franks['token']}"}).get(
        "/api/promises").status_code == 200


def test_the_last_admin_cannot_demote_or_remove_themselves(app: FastAPI, agency: Ledger,
                                                           cli: Cli) -> None:
    erin, erin_id = as_(app, agency, "erin@example.com"), _erin_id(agency)
    token = erin.post("/api/tokens", json={"name": "CRM sync", "scope": "write"}).json()
    for refused in (erin.patch(f"/api/members/{erin_id}", json={"role": "manager"}),
                    erin.post(f"/api/members/{erin_id}/remove")):
        assert refused.status_code == 422
        assert error_of(refused) == {
            "code": "invalid", "message": "erin@example.com is the team's last admin",
            "field": "role" if refused.request.method == "PATCH" else "email",
            "hint": "make someone else an admin first"}
    for command in (("member", "role", "erin@example.com", "member"),
                    ("member", "remove", "erin@example.com")):
        result = cli(*command)
        assert result.exit_code != 0 and "erin@example.com is the team's last admin" in (
            result.stderr)
    with Session(agency.engine) as session:
        erin_now = session.get(Member, erin_id)
        assert erin_now is not None and erin_now.role == "admin" and erin_now.removed_at is None
    assert TestClient(app, headers={"Authorization": f"Bearer {token['token']}"}).get(
        "/api/promises").status_code == 200
    _second_admin(agency)  # with another admin, Erin may step down
    assert erin.patch(f"/api/members/{erin_id}", json={"role": "manager"}).status_code == 200


def test_only_an_admin_makes_or_lists_service_tokens(app: FastAPI, agency: Ledger) -> None:
    bob = as_(app, agency, "bob@example.com")
    assert bob.post("/api/tokens", json={"name": "mine", "scope": "write"}).status_code == 403
    assert bob.get("/api/tokens").status_code == 403
    assert count(agency, ServiceToken) == 0


def test_the_cli_makes_lists_and_revokes_service_tokens(cli: Cli, agency: Ledger,
                                                        app: FastAPI) -> None:
    refused = cli("token", "create", "CRM sync", "--scope", "write", "--admin",
                  "bob@example.com")
    assert refused.exit_code == 2 and "bob@example.com is not an admin" in refused.stderr
    made = cli("token", "create", "CRM sync", "--scope", "write", "--admin", "erin@example.com")
    assert made.exit_code == 0, made.stderr
    token = made.stdout.strip()
    assert "shown only this once" in made.stderr
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/at-risk").status_code == 200
    listed = cli("token", "list")
    assert "CRM sync" in listed.stdout and "erin@example.com" in listed.stdout
    assert cli("token", "revoke", "1").exit_code == 0
    assert client.get("/api/at-risk").status_code == 401
    assert "revoked" in cli("token", "list").stdout
