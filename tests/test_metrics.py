"""The ledger's figures: kept, kept after a proactive notice, late without one, broken."""

import json
from datetime import timedelta

import pytest
from conftest import Cli
from helpers import at
from scenarios import TUESDAY_9, agency_with, past_promises, q3_report, tick, wednesday_draft
from servers.smtp import smtp_server
from sqlalchemy import event
from sqlmodel import Session, select

from reliability import metrics, notices
from reliability.config import Settings
from reliability.ledger import Ledger
from reliability.mistakes import Credit, log_mistake
from reliability.models import Member
from reliability.outbox import Outbox

MADE = at("2026-11-09T09:00-05:00")
WEEK_START = at("2026-11-16T00:00-05:00")
WEEK_END = at("2026-11-23T00:00-05:00")
NEXT_TUESDAY = at("2026-11-24T12:00-05:00")


def promise(ledger: Ledger, title: str, due: str, *, owner: str = "alice@example.com",
            made=MADE) -> int:
    view = ledger.add_promise(title=title, client_name="Acme", owner_email=owner,
                              due_at=at(due), now=made, actor="t")
    return view.promise.id or 0


def the_week_of_alice(ledger: Ledger) -> None:
    """One promise of every kind, all originally due in the week of 16 November."""
    kept = promise(ledger, "Kept", "2026-11-16T17:00-05:00")
    ledger.complete(kept, now=at("2026-11-16T12:00-05:00"), actor="t")

    told = promise(ledger, "Told on Wednesday", "2026-11-20T17:00-05:00")
    ledger.move(told, due_at=at("2026-11-24T17:00-05:00"), reason="data late",
                now=at("2026-11-18T10:00-05:00"), actor="t", client_told=True)
    ledger.complete(told, now=at("2026-11-23T15:00-05:00"), actor="t")

    silent = promise(ledger, "Late, silent", "2026-11-17T17:00-05:00")
    ledger.complete(silent, now=at("2026-11-18T10:00-05:00"), actor="t")

    too_late = promise(ledger, "Told the same morning", "2026-11-19T17:00-05:00")
    ledger.move(too_late, due_at=at("2026-11-23T17:00-05:00"), reason="sick",
                now=at("2026-11-19T09:00-05:00"), actor="t", client_told=True)
    ledger.complete(too_late, now=at("2026-11-23T11:00-05:00"), actor="t")

    dropped = promise(ledger, "Dropped", "2026-11-18T12:00-05:00")
    ledger.cancel(dropped, reason="no longer needed", now=at("2026-11-17T10:00-05:00"), actor="t")

    promise(ledger, "Forgotten", "2026-11-18T17:00-05:00")

    moved = promise(ledger, "Moved quietly", "2026-11-20T17:00-05:00",
                    made=at("2026-11-16T10:00-05:00"))
    ledger.move(moved, due_at=at("2026-12-01T17:00-05:00"), reason="scope grew",
                now=at("2026-11-20T09:00-05:00"), actor="t")


def week_stats(ledger: Ledger, **scope) -> metrics.Stats:
    with ledger.session() as session:
        return metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                             now=NEXT_TUESDAY, **scope)


def test_each_promise_lands_in_exactly_one_outcome(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)

    week = week_stats(ledger)

    assert (week.made, week.due) == (1, 7)
    assert week.kept_on_time == 1
    assert week.kept_after_notice == 1
    assert week.late_without_notice == 2  # silent, and told with no business day to spare
    assert week.broken == 2  # cancelled, and still open past due
    assert week.on_time_rate == pytest.approx(1 / 6)  # the quietly moved one is not settled
    assert week.proactive_notice_rate == pytest.approx(1 / 5)
    assert week.median_notice_lead_days == 1.0  # told 2 and 0 business days ahead
    assert week.renegotiations == 3


def test_a_promise_still_in_flight_is_not_counted_broken(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    promise(ledger, "Friday deliverable", "2026-11-20T17:00-05:00")
    with ledger.session() as session:
        wednesday = metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                                  now=at("2026-11-18T12:00-05:00"))
        after = metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                              now=NEXT_TUESDAY)
    assert (wednesday.due, wednesday.broken, wednesday.on_time_rate) == (1, 0, None)
    assert (after.broken, after.on_time_rate, after.proactive_notice_rate) == (1, 0.0, 0.0)


def test_owner_and_client_scopes_only_count_their_own_promises(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    kept = promise(ledger, "Bob's", "2026-11-17T17:00-05:00", owner="bob@example.com")
    ledger.complete(kept, now=at("2026-11-17T16:00-05:00"), actor="t")
    with ledger.session() as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
    assert week_stats(ledger, owner_ids=[bob.id]).due == 1
    assert week_stats(ledger, owner_ids=[bob.id]).on_time_rate == 1.0
    assert week_stats(ledger, client_ids=[]).due == 0


def test_a_delay_notice_sent_through_the_outbox_counts_as_proactive(
    ledger: Ledger, settings: Settings
) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))
    with ledger.transaction() as session:
        notices.approve(session, draft.id or 0, now=at("2026-11-18T10:00-05:00"), actor="alice")
    with smtp_server() as server:
        settings.smtp = server.settings()
        assert draft.id in Outbox(ledger).deliver(at("2026-11-18T10:05-05:00")).sent
    assert draft.proposed_due_at is not None
    ledger.complete(draft.promise_id or 0, now=draft.proposed_due_at - timedelta(hours=2),
                    actor="t")

    week = week_stats(ledger)

    assert (week.due, week.kept_after_notice, week.late_without_notice) == (1, 1, 0)
    assert week.proactive_notice_rate == 1.0
    assert week.median_notice_lead_days == 2.0


def test_checkin_requests_answered_before_the_next_business_morning(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    past_promises(ledger, late=1, on_time=5)
    answered = q3_report(ledger)
    silent = promise(ledger, "Silent", "2026-11-20T12:00-05:00")
    tick(ledger, TUESDAY_9)
    ledger.check_in(answered, status="on_track", now=at("2026-11-17T11:00-05:00"), actor="t")
    ledger.check_in(silent, status="on_track", now=at("2026-11-18T10:00-05:00"), actor="t")

    with ledger.session() as session:
        tuesday = metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                                now=at("2026-11-17T12:00-05:00"))
        friday = metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                               now=at("2026-11-20T09:00-05:00"))

    assert tuesday.checkin_answer_rate == 1.0  # the silent owner still has until Wednesday 9:00
    assert friday.checkin_answer_rate == 0.5  # the answer came an hour after that


def test_mistakes_repeats_and_credits_are_totalled_per_currency(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    for day, credit in (("16", Credit.parse("500", "USD")), ("17", Credit.parse("120.5", "usd")),
                        ("18", Credit.parse("300", "SEK")), ("19", None)):
        log_mistake(ledger, client_name="Acme", summary="Wrong figures", prevention="Two-eyes",
                    owner_email="alice@example.com", category="figures", credit=credit,
                    now=at(f"2026-11-{day}T10:00-05:00"), actor="t")
    week = week_stats(ledger)
    assert (week.mistakes, week.repeats) == (4, 3)
    assert week.credits == {"SEK": 300.0, "USD": 620.5}


def test_weekly_rows_per_owner_cover_every_week_of_the_range(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    kept = promise(ledger, "Bob's", "2026-11-10T17:00-05:00", owner="bob@example.com",
                   made=at("2026-11-02T09:00-05:00"))
    ledger.complete(kept, now=at("2026-11-10T16:00-05:00"), actor="t")
    with ledger.session() as session:
        rows = metrics.weekly(session, ledger.settings, start=at("2026-11-09T00:00-05:00"),
                              end=WEEK_END, by="owner", now=NEXT_TUESDAY)
        teams = metrics.weekly(session, ledger.settings, start=at("2026-11-09T00:00-05:00"),
                               end=WEEK_END, by="team", now=NEXT_TUESDAY)
    cells = {(row["group"], row["week"]): row for row in rows}
    assert set(cells) == {(owner, week) for owner in ("alice@example.com", "bob@example.com")
                          for week in ("2026-W46", "2026-W47")}
    assert cells["alice@example.com", "2026-W47"]["due"] == 7
    assert cells["alice@example.com", "2026-W46"]["made"] == 6
    assert cells["bob@example.com", "2026-W46"]["on_time_rate"] == 1.0
    assert cells["bob@example.com", "2026-W47"]["due"] == 0
    assert {row["group"] for row in teams} == {"bob@example.com"}
    assert sum(row["due"] for row in teams) == 8


def test_report_json_gives_per_owner_rates(cli: Cli, ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    result = cli("report", "--by", "owner", "--from", "2026-11-16", "--to", "2026-11-22",
                 "--json", as_of="2026-11-24T12:00-05:00")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    [alice] = [row for row in document["groups"] if row["group"] == "alice@example.com"]
    assert alice["due"] == 7
    assert alice["on_time_rate"] == pytest.approx(1 / 6, abs=1e-4)
    assert alice["proactive_notice_rate"] == 0.2
    assert document["total"]["due"] == 7
    assert [row["week"] for row in document["weeks"] if row["group"] == "alice@example.com"] \
        == ["2026-W47"]


def test_report_refuses_a_range_that_ends_before_it_starts(cli: Cli, ledger: Ledger) -> None:
    result = cli("report", "--from", "2026-11-20", "--to", "2026-11-10")
    assert result.exit_code == 2
    assert "before" in result.stderr


def test_report_refuses_an_unknown_grouping(cli: Cli, ledger: Ledger) -> None:
    result = cli("report", "--by", "department")
    assert result.exit_code == 2
    assert "owner, team, client" in result.stderr


def test_stats_read_a_range_in_a_handful_of_queries(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    for index in range(30):
        kept = promise(ledger, f"Extra {index}", "2026-11-19T17:00-05:00")
        ledger.complete(kept, now=at("2026-11-19T10:00-05:00"), actor="t")
    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    event.listen(ledger.engine, "before_cursor_execute", count)
    try:
        with Session(ledger.engine) as session:
            week = metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                                 now=NEXT_TUESDAY)
    finally:
        event.remove(ledger.engine, "before_cursor_execute", count)
    assert week.due == 37
    assert len(statements) <= 6
