"""Early warning end to end: check-ins asked, risk raised on Wednesday, one draft per slip."""

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, timedelta

import pytest
from freezegun import freeze_time
from helpers import at
from scenarios import (
    FRIDAY_5PM,
    MONDAY_9,
    TUESDAY_9,
    WEDNESDAY_9,
    notices_of,
    past_promises,
    q3_report,
    tick,
)
from sqlmodel import Session, col, select

from reliability.forecast import HISTORY_PER_OWNER
from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import Assessment, Promise
from reliability.scan import Scanner


def test_delay_notice_is_drafted_on_wednesday_for_a_friday_promise_at_risk(agency: Ledger) -> None:
    past_promises(agency, late=1, on_time=5)
    promise_id = q3_report(agency)

    monday = tick(agency, MONDAY_9)
    assert monday.assessed == 1
    assert not [a for a in monday.actions if a["kind"] == "delay_notice"]

    tuesday = tick(agency, TUESDAY_9)
    assert [a["kind"] for a in tuesday.actions] == ["checkin_request"]
    [request] = notices_of(agency, "checkin_request")
    assert (request.recipient, request.status) == ("alice@example.com", "queued")
    agency.check_in(promise_id, status="at_risk", note="waiting on the ad account data",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")

    wednesday = tick(agency, WEDNESDAY_9)
    [change] = wednesday.changes
    assert change["to"] == "at_risk"
    assert any(reason.get("note") == "waiting on the ad account data"
               for reason in change["reasons"])
    assert [a["kind"] for a in wednesday.actions] == ["delay_notice"]
    [draft] = notices_of(agency, "delay_notice")
    assert draft.status == "draft" and draft.recipient == "dana@acme.example"
    assert "November 20" in draft.text
    assert draft.proposed_due_at is not None and draft.proposed_due_at > FRIDAY_5PM
    with Session(agency.engine) as session:
        latest = session.exec(select(Assessment).order_by(col(Assessment.id).desc())).first()
    assert latest is not None
    assert latest.notice_by == at("2026-11-18T17:00-05:00")

    again = tick(agency, WEDNESDAY_9)
    assert again.actions == [] and again.changes == []
    assert len(notices_of(agency, "delay_notice")) == 1


def test_a_monday_scan_would_not_have_flagged_it(agency: Ledger) -> None:
    past_promises(agency, late=1, on_time=5)
    q3_report(agency)
    report = tick(agency, MONDAY_9)
    assert report.changes == [] or report.changes[0]["to"] in ("on_track", "watch")
    assert notices_of(agency, "delay_notice") == []


def test_silence_and_a_late_track_record_raise_the_risk_by_wednesday(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    q3_report(agency)
    tick(agency, MONDAY_9)
    tick(agency, TUESDAY_9)
    wednesday = tick(agency, WEDNESDAY_9)
    with Session(agency.engine) as session:
        promise = session.exec(select(Promise).where(Promise.title == "Q3 report")).one()
        latest = session.exec(select(Assessment).where(Assessment.promise_id == promise.id)
                              .order_by(col(Assessment.id).desc())).first()
    assert promise.level == "at_risk"
    assert latest is not None
    asked = TUESDAY_9.astimezone(UTC).isoformat()
    assert {"code": "no_answer", "asked_at": asked} in latest.reasons
    assert any(reason["code"] == "track_record" and reason["late"] == 4
               for reason in latest.reasons)
    assert len(notices_of(agency, "delay_notice")) == 1
    assert wednesday.assessed == 1


def test_a_promise_made_on_thursday_for_friday_is_flagged_at_once(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    q3_report(agency, made="2026-11-19T10:00-05:00")
    report = tick(agency, at("2026-11-19T10:00-05:00"))
    [change] = report.changes
    assert change["to"] == "at_risk"
    assert any(reason["code"] == "short_window" for reason in change["reasons"])
    assert "delay_notice" in [a["kind"] for a in report.actions]


def test_an_on_track_answer_cancels_the_pending_delay_draft(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    promise_id = q3_report(agency)
    tick(agency, TUESDAY_9)
    tick(agency, WEDNESDAY_9)
    agency.check_in(promise_id, status="on_track", progress=90,
                    now=at("2026-11-18T10:00-05:00"), actor="alice@example.com")
    [draft] = notices_of(agency, "delay_notice")
    assert draft.status == "cancelled"
    assert draft.cancel_reason == "the owner reported it on track"


def test_an_unapproved_draft_escalates_to_the_manager_before_the_notice_deadline(
    agency: Ledger,
) -> None:
    past_promises(agency, late=4, on_time=1)
    q3_report(agency)
    tick(agency, TUESDAY_9)
    tick(agency, WEDNESDAY_9)
    report = tick(agency, at("2026-11-18T13:30-05:00"))
    assert [a["kind"] for a in report.actions] == ["escalation"]
    [escalation] = notices_of(agency, "escalation")
    assert (escalation.recipient, escalation.status) == ("bob@example.com", "queued")
    assert "Q3 report" in escalation.text
    assert tick(agency, at("2026-11-18T14:30-05:00")).actions == []


def test_the_scan_reads_only_promises_whose_check_is_due(agency: Ledger) -> None:
    q3_report(agency)
    first = tick(agency, MONDAY_9)
    assert first.assessed == 1
    assert tick(agency, MONDAY_9 + timedelta(minutes=1)).assessed == 0


def test_the_owners_load_counts_her_other_open_client_promises_due_by_the_same_day(
    agency: Ledger,
) -> None:
    promise_id = q3_report(agency)
    thursday, friday, monday = (at("2026-11-19T12:00-05:00"), at("2026-11-20T10:00-05:00"),
                                at("2026-11-23T10:00-05:00"))
    for title, owner, due in [("Deck", "alice", thursday), ("Copy", "alice", friday),
                              ("Audit", "alice", friday), ("Next week", "alice", monday),
                              ("Finished", "alice", thursday), ("Bob's", "bob", friday)]:
        view = agency.add_promise(title=title, client_name="Acme", due_at=due, now=MONDAY_9,
                                  owner_email=f"{owner}@example.com", actor="t")
        if title == "Finished":
            agency.complete(view.promise.id or 0, now=MONDAY_9, actor="t")
    log_mistake(agency, client_name="Acme", summary="Wrong logo", prevention="Brand checklist",
                now=MONDAY_9, actor="t", owner_email="alice@example.com", fixed=False,
                fix_due_at=thursday, prevention_due_at=thursday)

    tick(agency, MONDAY_9)

    with Session(agency.engine) as session:
        promise = session.get(Promise, promise_id)
    assert promise is not None and promise.risk_reasons is not None
    # Deck, Copy and Audit; not next week's, not the finished one, not Bob's, and not the
    # internal prevention step from the mistake.
    assert {"code": "crowded", "owner": "Alice", "others": 3,
            "by": promise.due_at.isoformat()} in promise.risk_reasons


def test_the_forecast_reads_the_owners_most_recently_finished_promises(
    agency: Ledger,
) -> None:
    # Ten long promises finished early in January, though due in October: the latest due
    # dates, but the oldest deliveries. Then a full history of short ones, every other late.
    january = at("2026-01-05T09:00-05:00")
    for index in range(10):
        view = agency.add_promise(title=f"Retainer {index}", client_name="Acme",
                                  owner_email="alice@example.com", now=january, actor="t",
                                  due_at=at("2026-10-01T17:00-04:00") + timedelta(days=index))
        agency.complete(view.promise.id or 0, now=january + timedelta(days=1, hours=index),
                        actor="t")
    for index in range(HISTORY_PER_OWNER):
        made = at("2026-02-02T09:00-05:00") + timedelta(days=2 * index)
        due = made + timedelta(days=3, hours=8)
        view = agency.add_promise(title=f"Deliverable {index}", client_name="Acme",
                                  owner_email="alice@example.com", due_at=due, now=made,
                                  actor="t")
        done = due + timedelta(days=1) if index % 2 else due - timedelta(hours=4)
        agency.complete(view.promise.id or 0, now=done, actor="t")
    promise_id = q3_report(agency)

    tick(agency, MONDAY_9)

    with Session(agency.engine) as session:
        promise = session.get(Promise, promise_id)
    assert promise is not None and promise.risk_reasons is not None
    half = HISTORY_PER_OWNER // 2
    assert any((reason["code"], reason.get("late"), reason.get("count"))
               == ("track_record", half, HISTORY_PER_OWNER)
               for reason in promise.risk_reasons), promise.risk_reasons


def test_every_batch_of_a_tick_sees_the_owners_whole_track_record(agency: Ledger) -> None:
    past_promises(agency, late=3, on_time=4)
    for day in range(5):
        agency.add_promise(title=f"Item {day}", client_name="Acme",
                           owner_email="alice@example.com",
                           due_at=FRIDAY_5PM - timedelta(days=day, hours=3), now=MONDAY_9,
                           actor="t")

    with freeze_time(MONDAY_9):
        report = Scanner(agency, batch_size=1).tick(MONDAY_9)

    assert report.assessed == 5
    with Session(agency.engine) as session:
        reasons = session.exec(select(Promise.risk_reasons)
                               .where(Promise.status == "open")).all()
    assert len(reasons) == 5
    assert all(any((r["code"], r.get("late"), r.get("count")) == ("track_record", 3, 7)
                   for r in found or [])
               for found in reasons)


def test_after_downtime_missed_ticks_are_caught_up_once(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    q3_report(agency)
    tick(agency, MONDAY_9)
    report = tick(agency, WEDNESDAY_9)  # nothing ran on Tuesday
    assert report.assessed == 1
    with Session(agency.engine) as session:
        promise = session.exec(select(Promise).where(Promise.title == "Q3 report")).one()
    assert promise.next_check_at is not None and promise.next_check_at > WEDNESDAY_9


def test_two_scanning_workers_on_postgresql_assess_each_promise_once(
    agency: Ledger, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the race needs a server that allows concurrent writers")
    past_promises(agency, late=4, on_time=1)
    promise_ids = [q3_report(agency) for _ in range(300)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    env.update({"RELIABILITY_DATABASE__URL": database_url,
                "RELIABILITY_AS_OF": WEDNESDAY_9.isoformat(),
                "RELIABILITY_SCHEDULER__SCAN_BATCH_SIZE": "20"})
    workers = [subprocess.Popen([sys.executable, "-m", "reliability", "scan", "--json"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(report["assessed"] for report in reports) == 300
    drafts = notices_of(agency, "delay_notice")
    assert sorted(d.promise_id for d in drafts) == promise_ids
    with Session(agency.engine) as session:
        per_promise = Counter(a.promise_id for a in session.exec(select(Assessment)).all())
    assert set(per_promise.values()) == {1}


def test_once_the_client_has_the_new_date_the_old_warning_is_not_repeated(
    agency: Ledger,
) -> None:
    past_promises(agency, late=1, on_time=5)
    promise_id = q3_report(agency)
    tick(agency, TUESDAY_9)
    agency.check_in(promise_id, status="at_risk", note="waiting on data",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")
    tick(agency, WEDNESDAY_9)
    [draft] = notices_of(agency, "delay_notice")
    agency.move(promise_id, due_at=draft.proposed_due_at, reason="client told by phone",
                client_told=True, now=at("2026-11-18T10:00-05:00"), actor="alice@example.com")
    thursday = tick(agency, at("2026-11-19T09:00-05:00"))
    assert "delay_notice" not in [a["kind"] for a in thursday.actions]
    with Session(agency.engine) as session:
        promise = session.get(Promise, promise_id)
    assert promise is not None and promise.level != "at_risk"
    [cancelled] = notices_of(agency, "delay_notice")
    assert cancelled.cancel_reason == "the due date was renegotiated with the client"
