"""The dashboard and API through FastAPI's test client: sign-in, scope, CSRF, feeds, metrics."""

import gc
import re
import threading
import weakref

import pytest
from conftest import Cli
from fastapi import FastAPI
from fastapi.testclient import TestClient
from icalendar import Calendar
from pydantic import SecretStr
from sqlmodel import Session, select
from web_helpers import (
    WEDNESDAY_10,
    app_for,
    csrf_of,
    signed_in,
    token_for,
    wednesday_agency,
)

from reliability.ledger import Ledger
from reliability.models import Event, Notice, Promise, Rating

PAGES = ["/", "/board", "/promises", "/promises/1", "/drafts", "/drafts/1", "/mistakes",
         "/reliability", "/clients", "/clients/1", "/calendar"]
API = ["/api/promises", "/api/promises/1", "/api/at-risk", "/api/drafts", "/api/digest",
       "/api/metrics", "/openapi.json"]


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    return wednesday_agency(ledger)


@pytest.fixture
def app(agency: Ledger) -> FastAPI:
    return app_for(agency)


def delay_draft(ledger: Ledger) -> Notice:
    with Session(ledger.engine) as session:
        return session.exec(select(Notice).where(Notice.kind == "delay_notice")).one()


def q3_report_id(ledger: Ledger) -> int:
    with Session(ledger.engine) as session:
        return session.exec(select(Promise.id).where(Promise.title == "Q3 report")).one()


def test_every_page_sends_a_stranger_to_sign_in(app: FastAPI) -> None:
    client = TestClient(app)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/sign-in?next="), path


def test_every_api_call_needs_a_token(app: FastAPI, agency: Ledger) -> None:
    client = TestClient(app)
    for path in API:
        assert client.get(path).status_code == 401, path
    draft = delay_draft(agency)
    assert client.post(f"/api/drafts/{draft.id}/approve").status_code == 401
    assert client.get("/api/at-risk", headers={"Authorization": "Bearer rel_forged"}
                      ).status_code == 401
    assert delay_draft(agency).status == "draft"


def test_an_app_no_longer_served_is_freed_with_its_ledger(agency: Ledger) -> None:
    """A process that builds apps one after another (a test run, a reload) keeps none of
    the old ones, nor their connection pools, alive."""
    running = set(threading.enumerate())
    app = app_for(agency)
    bearer = {"Authorization": f"Bearer {token_for(agency, 'bob@example.com')}"}
    with TestClient(app) as client:
        for path in API:
            assert client.get(path, headers=bearer).status_code == 200, path
    for worker in set(threading.enumerate()) - running:
        worker.join(10)  # the client's threads end with it; until then one holds its request
    freed = weakref.ref(app)
    del app, client
    gc.collect()
    assert freed() is None


def test_health_and_metrics_are_open(app: FastAPI) -> None:
    client = TestClient(app)
    assert client.get("/healthz").text == "ok"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'reliability_open_promises{level="at_risk"} 1.0' in metrics.text
    assert 'reliability_notices{status="draft"} 1.0' in metrics.text
    assert "reliability_scan_tick_seconds" in metrics.text
    assert "reliability_delivery_attempts_total" in metrics.text


def test_metrics_can_be_kept_behind_a_token(agency: Ledger) -> None:
    agency.settings.web.metrics_token = SecretStr("scrape-me")
    client = TestClient(app_for(agency))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}
                      ).status_code == 200


def test_bob_sees_alices_q3_report_at_risk_with_reasons_and_the_pending_draft(
    app: FastAPI, agency: Ledger,
) -> None:
    page = signed_in(app, agency, "bob@example.com").get("/board").text
    assert "Q3 report" in page and "Acme" in page and "Alice" in page
    assert "At risk" in page and "likely late" in page
    assert "Alice reported it at risk yesterday: “Waiting on the ad account data”" in page
    assert f'href="/drafts/{delay_draft(agency).id}"' in page
    assert "Wed 18 Nov 2026, 17:00" in page  # tell the client by: Wednesday's end of day
    assert "Nothing yet" in page  # the client has not been told


def test_a_member_sees_only_their_own_promises(app: FastAPI, agency: Ledger) -> None:
    alice = signed_in(app, agency, "alice@example.com")
    assert "Q3 report" in alice.get("/board").text
    carol = signed_in(app, agency, "carol@example.com")
    assert "Q3 report" not in carol.get("/board").text
    assert "Deliverable" not in carol.get("/promises?status=").text
    promise_id, draft = q3_report_id(agency), delay_draft(agency)
    assert carol.get(f"/promises/{promise_id}").status_code == 404
    assert carol.get(f"/drafts/{draft.id}").status_code == 404
    response = carol.post(f"/drafts/{draft.id}/approve",
                          data={"csrf_token": csrf_of(carol.get("/drafts").text)})
    assert response.status_code == 404
    assert delay_draft(agency).status == "draft"


def test_an_admin_sees_everyone(app: FastAPI, agency: Ledger) -> None:
    erin = signed_in(app, agency, "erin@example.com")
    assert "Q3 report" in erin.get("/board").text
    assert erin.get(f"/promises/{q3_report_id(agency)}").status_code == 200


def test_the_promise_page_shows_its_timeline(app: FastAPI, agency: Ledger) -> None:
    page = signed_in(app, agency, "bob@example.com").get(f"/promises/{q3_report_id(agency)}")
    text = page.text
    assert "Promise made" in text
    assert "Check-in: at risk" in text
    assert "Assessed at risk" in text
    assert "Delay notice made (draft)" in text
    assert text.index("Promise made") < text.index("Check-in: at risk") < text.index(
        "Assessed at risk")


def test_every_time_on_a_promise_page_names_its_zone_and_the_clients_clock_when_it_differs(
    app: FastAPI, agency: Ledger,
) -> None:
    promise = f"/promises/{q3_report_id(agency)}"
    stockholm = signed_in(app, agency, "erin@example.com").get(promise).text
    new_york = signed_in(app, agency, "bob@example.com").get(promise).text

    assert "Fri 20 Nov 2026, 23:00 Swedish time · 17:00 ET for the client" in stockholm
    assert "Fri 20 Nov 2026, 17:00 ET" in new_york and "for the client" not in new_york
    for page, zone_name in ((stockholm, "Swedish time"), (new_york, "ET")):
        assert not re.findall(rf"\d{{4}}, \d{{2}}:\d{{2}}(?! {zone_name})", page)


def test_a_form_without_the_csrf_token_is_refused(app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    draft = delay_draft(agency)
    assert bob.post(f"/drafts/{draft.id}/approve").status_code == 403
    assert bob.post(f"/drafts/{draft.id}/approve",
                    data={"csrf_token": "guessed"}).status_code == 403
    assert bob.post(f"/drafts/{draft.id}/cancel", data={"reason": "x"}).status_code == 403
    assert delay_draft(agency).status == "draft"
    assert TestClient(app).post("/sign-in/token", data={"token": "x"}).status_code == 403


def test_bob_edits_and_approves_the_draft_and_it_leaves_the_inbox(
    app: FastAPI, agency: Ledger,
) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    draft = delay_draft(agency)
    page = bob.get(f"/drafts/{draft.id}").text
    token = csrf_of(page)
    edited = bob.post(f"/drafts/{draft.id}/edit", data={
        "csrf_token": token, "text": "Hi Dana,\n\nThe Q3 report needs until Tuesday.\n\nAlice",
        "proposed_due": ""})
    assert "Draft saved" in edited.text
    assert delay_draft(agency).text.endswith("needs until Tuesday.\n\nAlice")
    inbox = bob.post(f"/drafts/{draft.id}/approve", data={"csrf_token": token})
    assert "Approved" in inbox.text
    assert "No drafts waiting" in inbox.text
    approved = delay_draft(agency)
    assert (approved.status, approved.approved_by) == ("queued", "bob@example.com")


def test_a_new_proposed_date_is_read_as_a_deadline_phrase(app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    draft = delay_draft(agency)
    token = csrf_of(bob.get(f"/drafts/{draft.id}").text)
    bob.post(f"/drafts/{draft.id}/edit", data={"csrf_token": token, "text": draft.text,
                                               "proposed_due": "next Wednesday 5pm"})
    assert delay_draft(agency).proposed_due_at.isoformat() == "2026-11-25T22:00:00+00:00"
    wrong = bob.post(f"/drafts/{draft.id}/edit", data={"csrf_token": token, "text": "",
                                                       "proposed_due": "yesterday"})
    assert 'class="flash error"' in wrong.text


def test_cancelling_a_draft_keeps_the_reason(app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    draft = delay_draft(agency)
    token = csrf_of(bob.get("/drafts").text)
    bob.post(f"/drafts/{draft.id}/cancel", data={"csrf_token": token,
                                                 "reason": "Alice will make it after all"})
    cancelled = delay_draft(agency)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled",
                                                           "Alice will make it after all")


def test_signing_out_ends_the_session(app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    bob.post("/sign-out", data={"csrf_token": csrf_of(bob.get("/board").text)})
    assert bob.get("/board", follow_redirects=False).status_code == 303


def test_a_wrong_personal_token_does_not_sign_in(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf_of(client.get("/sign-in").text)
    page = client.post("/sign-in/token", data={"token": "rel_wrong", "csrf_token": token})
    assert "not valid" in page.text
    assert client.get("/board", follow_redirects=False).status_code == 303


def test_a_new_personal_token_voids_the_old_one(app: FastAPI, agency: Ledger) -> None:
    old = token_for(agency, "bob@example.com")
    token_for(agency, "bob@example.com")
    assert TestClient(app).get("/api/at-risk", headers={"Authorization": f"Bearer {old}"}
                               ).status_code == 401


def test_the_calendar_feed_lists_due_dates_and_the_team_feed_the_teams(
    app: FastAPI, agency: Ledger,
) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    page = bob.get("/calendar").text
    own, team = re.findall(r'value="http://127\.0\.0\.1:8000(/calendar/[^"]+\.ics)"', page)
    stranger = TestClient(app)
    assert Calendar.from_ical(stranger.get(own).content).walk("VEVENT") == []
    [event] = Calendar.from_ical(stranger.get(team).content).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Due: Q3 report (Acme)"
    assert event.decoded("DTEND").isoformat() == "2026-11-20T22:00:00+00:00"
    assert stranger.get("/calendar/not-a-token.ics").status_code == 404
    bob.post("/calendar/token", data={"csrf_token": csrf_of(page)})
    assert stranger.get(team).status_code == 404  # the old address stops working


def test_the_reliability_page_draws_its_charts(app: FastAPI, agency: Ledger) -> None:
    page = signed_in(app, agency, "bob@example.com").get("/reliability").text
    assert page.count("<svg") == 3
    assert "Alice" in page and "Acme" in page


def test_a_client_rating_is_recorded_from_the_client_page(app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    page = bob.get("/clients/1").text
    assert "Trust, last 12 months" in page
    saved = bob.post("/clients/1/ratings", data={
        "csrf_token": csrf_of(page), "overall": "4", "would_continue": "5",
        "would_recommend": "", "to_make_it_5": "Tell us sooner when a date slips"})
    assert "Rating for Acme recorded" in saved.text
    assert "Tell us sooner when a date slips" in saved.text
    with Session(agency.engine) as session:
        [rating] = session.exec(select(Rating)).all()
    assert (rating.overall, rating.would_continue, rating.would_recommend) == (4, 5, None)


def test_a_member_who_reads_chinese_sees_the_boards_reasons_in_chinese_in_their_zone(
    app: FastAPI, agency: Ledger,
) -> None:
    agency.add_member(email="chen@example.com", name="陈梅", role="admin", locale="zh",
                      timezone="Asia/Shanghai", now=WEDNESDAY_10, actor="t")

    page = signed_in(app, agency, "chen@example.com").get("/board").text
    api = TestClient(app, headers={"Authorization":
                                   f"Bearer {token_for(agency, 'chen@example.com')}"})
    [risk] = api.get("/api/at-risk").json()["items"]

    assert "Alice昨天报告有延误风险：“Waiting on the ad account data”" in page
    assert "Alice昨天报告有延误风险：“Waiting on the ad account data”" in [
        reason["text"] for reason in risk["reasons"]]
    assert "reported it at risk" not in page


def test_the_api_serves_the_board_and_approves_with_a_bearer_token(
    app: FastAPI, agency: Ledger,
) -> None:
    client = TestClient(app, headers={"Authorization":
                                      f"Bearer {token_for(agency, 'bob@example.com')}"})
    [risk] = client.get("/api/at-risk").json()["items"]
    assert (risk["title"], risk["level"], risk["owner"]) == ("Q3 report", "at_risk",
                                                              "alice@example.com")
    assert risk["notice_by"] == "2026-11-18T17:00:00-05:00"
    [said] = [reason for reason in risk["reasons"] if reason["code"] == "reported_status"]
    assert said["facts"]["note"] == "Waiting on the ad account data."
    assert said["text"] == "Alice reported it at risk yesterday: “Waiting on the ad account data”"
    [draft] = client.get("/api/drafts").json()["items"]
    assert draft["id"] == risk["pending_draft_id"]
    approved = client.post(f"/api/drafts/{draft['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "queued"
    again = client.post(f"/api/drafts/{draft['id']}/approve")
    assert again.status_code == 409
    assert again.json() == {"error": {
        "code": "conflict", "message": f"cannot approve draft #{draft['id']}: it is queued",
        "field": None, "hint": None}}
    assert client.get("/api/drafts").json() == {"items": [], "next": None}


def test_the_api_with_a_session_cookie_needs_the_csrf_header(
    app: FastAPI, agency: Ledger,
) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    draft = delay_draft(agency)
    assert bob.post(f"/api/drafts/{draft.id}/cancel").status_code == 403
    token = csrf_of(bob.get("/drafts").text)
    response = bob.post(f"/api/drafts/{draft.id}/cancel", json={"reason": "not needed"},
                        headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_the_api_digest_is_bobs_own_unless_asked_by_an_admin(
    app: FastAPI, agency: Ledger,
) -> None:
    bob = TestClient(app, headers={"Authorization":
                                   f"Bearer {token_for(agency, 'bob@example.com')}"})
    digest = bob.get("/api/digest").json()
    assert [item["promise"]["title"] for item in digest["at_risk"]] == ["Q3 report"]
    assert bob.get("/api/digest", params={"manager": "carol@example.com"}).status_code == 403
    erin = TestClient(app, headers={"Authorization":
                                    f"Bearer {token_for(agency, 'erin@example.com')}"})
    assert erin.get("/api/digest", params={"manager": "bob@example.com"}).json() == digest


def test_the_api_promise_detail_and_metrics(app: FastAPI, agency: Ledger) -> None:
    bob = TestClient(app, headers={"Authorization":
                                   f"Bearer {token_for(agency, 'bob@example.com')}"})
    detail = bob.get(f"/api/promises/{q3_report_id(agency)}").json()
    assert detail["promise"]["title"] == "Q3 report"
    assert "promise.made" in [entry["kind"] for entry in detail["timeline"]]
    assert [n["kind"] for n in detail["notices"]] == ["checkin_request", "delay_notice"]
    stats = bob.get("/api/metrics", params={"start": "2026-10-01T00:00:00-04:00",
                                            "end": "2026-11-18T10:00:00-05:00"}).json()
    assert stats["stats"]["due"] == 6
    assert bob.get("/api/metrics", params={"start": "2026-11-18T00:00:00Z",
                                           "end": "2026-11-01T00:00:00Z"}).status_code == 400
    too_early = bob.get("/api/metrics", params={"end": "0001-01-01T00:00:00Z"})
    assert too_early.status_code == 400
    assert ("the end falls in 1: give a date between 1970 and 2999"
            in too_early.json()["error"]["message"])


def test_web_actions_are_recorded_as_the_signed_in_member(app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    draft = delay_draft(agency)
    bob.post(f"/drafts/{draft.id}/approve", data={"csrf_token": csrf_of(bob.get("/drafts").text)})
    with Session(agency.engine) as session:
        event = session.exec(select(Event).where(Event.kind == "notice.approved")).one()
    assert event.actor == "bob@example.com"
    assert event.at == WEDNESDAY_10


def test_member_token_prints_a_token_once_that_signs_in(cli: Cli, app: FastAPI) -> None:
    result = cli("member", "token", "bob@example.com")
    assert result.exit_code == 0 and "shown only this once" in result.stderr
    token = result.stdout.strip()
    response = TestClient(app).get("/api/at-risk", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["items"][0]["title"] == "Q3 report"
    assert cli("member", "token", "nobody@example.com").exit_code == 2


def test_serve_refuses_socket_mode_without_slack_tokens(cli: Cli, agency: Ledger) -> None:
    result = cli("serve", "--socket-mode")
    assert result.exit_code == 2 and "RELIABILITY_SLACK__APP_TOKEN" in result.stderr
