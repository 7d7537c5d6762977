"""The forecast at capture: a new promise is judged the moment it is made, and the likely day
is offered when it is later than the one asked. Nothing is stored until the person chooses."""

from __future__ import annotations

import json
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import Cli
from helpers import at, history
from scenarios import FRIDAY_5PM, MONDAY_9, past_promises
from sqlmodel import Session, col, select

from reliability import capture, suggestions
from reliability.calendar import BusinessCalendar
from reliability.drafting.reasons import reason_text
from reliability.ledger import Ledger
from reliability.models import Event, Promise
from reliability.risk import (
    CaptureForecast,
    OpenLoad,
    PastPromise,
    Policy,
    forecast_at_capture,
)

NEW_YORK = ZoneInfo("America/New_York")
ACME = BusinessCalendar(timezone="America/New_York", country="US", start_of_day=time(9),
                        end_of_day=time(17))
MONDAY_23_CLOSE = at("2026-11-23T17:00-05:00")


def at_capture(owner_history: list[PastPromise], team_history: tuple[PastPromise, ...] = (),
               load: tuple[OpenLoad, ...] = (), name: str = "Alice") -> CaptureForecast:
    """Alice promises on Monday 16 Nov 09:00 the Q3 report for Friday 17:00."""
    return forecast_at_capture(owner="alice@example.com", owner_name=name, due_at=FRIDAY_5PM,
                               now=MONDAY_9, calendar=ACME, owner_history=owner_history,
                               team_history=list(team_history), open_load=load,
                               policy=Policy())


def test_an_owner_who_usually_runs_a_day_late_is_offered_the_day_she_will_likely_be_done() -> None:
    made = at_capture(history(late=4, total=5))
    assert made.chance == "Likely to run late"
    assert made.reason["code"] == "track_record" and made.reason["late"] == 4
    assert made.likely_done_by == MONDAY_23_CLOSE
    assert made.suggested_due_at == MONDAY_23_CLOSE
    assert capture.describe(made, owner_name="Alice", calendar=ACME, now=MONDAY_9) == [
        f"Likely to run late ({round(100 * made.p_late)}% chance it runs late): Four of "
        "Alice's last five promises were late, typically by 1 business day.",
        "Alice will likely be done by Mon 23 Nov (80% of similar promises were).",
    ]


def test_a_reliable_owner_is_told_the_promise_will_likely_be_kept_and_offered_nothing() -> None:
    made = at_capture(history(late=1, total=10))
    assert made.chance == "Very likely to be kept"
    assert made.likely_done_by <= FRIDAY_5PM and made.suggested_due_at is None


def test_a_newcomer_is_judged_by_the_teams_record_in_plain_words() -> None:
    made = at_capture(history(late=0, total=2, owner="bob"), tuple(history(late=6, total=12)),
                      name="Bob")
    assert made.evidence == "team"
    assert reason_text(made.reason, "en", timezone=ACME.timezone, now=MONDAY_9) == (
        "Bob has little history yet; six of the team's last 12 promises were late, typically "
        "by 1 business day")
    assert made.suggested_due_at == MONDAY_23_CLOSE


def test_with_no_record_at_all_the_day_is_a_rough_guess_shown_but_not_offered() -> None:
    made = at_capture([], name="Nora")
    assert made.evidence == "prior"
    assert reason_text(made.reason, "en", timezone=ACME.timezone, now=MONDAY_9) == (
        "Neither Nora nor the team has a track record yet, so this is a rough guess")
    assert "prior" not in " ".join(capture.describe(made, owner_name="Nora", calendar=ACME,
                                                    now=MONDAY_9))
    assert made.suggested_due_at is None


def test_a_week_crowded_beyond_her_usual_load_is_the_reason_named() -> None:
    record = history(late=2, total=10)
    crowded = tuple(OpenLoad(at(f"2026-11-{day}T12:00-05:00")) for day in (17, 18, 19, 20)
                    for _ in range(2))
    busy, calm = at_capture(record, load=crowded), at_capture(record)
    assert busy.p_late > calm.p_late + 0.1
    assert reason_text(busy.reason, "en", timezone=ACME.timezone, now=MONDAY_9) == (
        "Alice has eight other promises due by Friday, more than usual")
    assert reason_text(calm.reason, "en", timezone=ACME.timezone, now=MONDAY_9).startswith(
        "Two of Alice's last ten promises were late")
    # A usual week (her record was made under it) changes nothing.
    assert at_capture(record, load=crowded[:5]) == calm


def test_the_forecast_reads_as_plain_json() -> None:
    document = json.loads(json.dumps(at_capture(history(late=4, total=5)).to_json()))
    assert document["suggested_due_at"] == "2026-11-23T17:00:00-05:00"
    assert document["evidence"] == "owner" and 0 < document["p_late"] < 1


# -- stored with the promise --------------------------------------------------------------


def stored(ledger: Ledger) -> Promise:
    with Session(ledger.engine) as session:
        return session.exec(select(Promise).order_by(col(Promise.id).desc())).first()


def made_event(ledger: Ledger, promise_id: int) -> dict:
    with Session(ledger.engine) as session:
        return session.exec(select(Event).where(Event.promise_id == promise_id,
                                                Event.kind == "promise.made")).one().payload


def test_the_forecast_is_read_from_the_ledger_as_the_scan_reads_it(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    made = capture.forecast(agency, client_name="Acme", owner_email="alice@example.com",
                            due_at=FRIDAY_5PM, now=MONDAY_9, actor="t")
    assert made.evidence == "owner"
    assert (made.reason["code"], made.reason["late"], made.reason["count"]) == (
        "track_record", 4, 5)
    assert made.suggested_due_at is not None and made.suggested_due_at > FRIDAY_5PM


def test_taking_the_likely_day_stores_it_with_the_date_first_asked(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    offer = capture.forecast(agency, client_name="Acme", owner_email="alice@example.com",
                             due_at=FRIDAY_5PM, now=MONDAY_9, actor="t").suggested_due_at
    assert offer is not None
    view, made = capture.log_promise(
        agency, title="Q3 report", client_name="Acme", owner_email="alice@example.com",
        due_at=offer, asked_due_at=FRIDAY_5PM, now=MONDAY_9, actor="alice@example.com")
    promise = stored(agency)
    assert (promise.due_at, promise.original_due_at) == (offer, offer)
    assert (promise.asked_due_at, promise.suggested_due_at) == (FRIDAY_5PM, offer)
    assert promise.capture_p_late == pytest.approx(made.p_late)
    payload = made_event(agency, view.promise.id or 0)
    assert payload["asked_due_at"] == FRIDAY_5PM.isoformat()
    assert payload["forecast"]["suggested_due_at"] == offer.isoformat()


def test_keeping_the_date_asked_records_the_offer_that_was_declined(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    _, made = capture.log_promise(
        agency, title="Q3 report", client_name="Acme", owner_email="alice@example.com",
        due_at=FRIDAY_5PM, now=MONDAY_9, actor="alice@example.com")
    promise = stored(agency)
    assert promise.due_at == FRIDAY_5PM and promise.asked_due_at is None
    assert promise.suggested_due_at == made.suggested_due_at is not None


def test_the_ledger_says_how_often_a_later_date_was_taken_and_kept(agency: Ledger) -> None:
    past_promises(agency, late=4, on_time=1)
    offer = capture.forecast(agency, client_name="Acme", owner_email="alice@example.com",
                             due_at=FRIDAY_5PM, now=MONDAY_9, actor="t").suggested_due_at
    assert offer is not None
    taken, _ = capture.log_promise(
        agency, title="Q3 report", client_name="Acme", owner_email="alice@example.com",
        due_at=offer, asked_due_at=FRIDAY_5PM, now=MONDAY_9, actor="alice@example.com")
    capture.log_promise(agency, title="Media plan", client_name="Acme",
                        owner_email="alice@example.com", due_at=FRIDAY_5PM, now=MONDAY_9,
                        actor="alice@example.com")
    agency.complete(taken.promise.id or 0, now=offer, actor="alice@example.com")
    week_after = offer + timedelta(days=7)
    figures = agency.read(suggestions.capture_figures, agency.settings, start=MONDAY_9,
                          end=week_after)
    # The later date was kept; the date asked for the other has passed, not done.
    assert figures.suggested_dates == {"offered": 2, "taken": 1, "taken_settled": 1,
                                       "taken_kept": 1, "declined_settled": 1,
                                       "declined_kept": 0}


# -- the CLI ------------------------------------------------------------------------------


def add(cli: Cli, *extra: str) -> tuple[int, str]:
    result = cli("promise", "add", "Q3 report", "--client", "Acme", "--owner",
                 "alice@example.com", "--due", "2026-11-20T17:00-05:00", *extra,
                 as_of="2026-11-16T09:00-05:00")
    assert result.exit_code == 0, result.stderr
    return result.exit_code, result.stdout


def test_promise_add_prints_the_forecast_and_the_flag_that_takes_the_likely_day(
        agency: Ledger, cli: Cli) -> None:
    past_promises(agency, late=4, on_time=1)
    _, out = add(cli)
    assert "Likely to run late (" in out
    assert "Four of Alice's last five promises were late, typically by 1 business day." in out
    # Her late ones ran up to a week over (Thanksgiving, Thursday 26, is not a business day).
    assert "Alice will likely be done by Fri 27 Nov (80% of similar promises were)." in out
    assert ("Logged for the date asked; --due-suggested would have promised Fri 27 Nov, "
            "the likely day, instead.") in out
    assert stored(agency).due_at == FRIDAY_5PM


def test_promise_add_due_suggested_promises_the_likely_day_and_keeps_the_ask(
        agency: Ledger, cli: Cli) -> None:
    past_promises(agency, late=4, on_time=1)
    _, out = add(cli, "--json")
    asked = json.loads(out)
    assert asked["due_at"] == "2026-11-20T17:00:00-05:00" and asked["asked_due_at"] is None
    assert asked["forecast"]["suggested_due_at"] == "2026-11-27T17:00:00-05:00"
    _, out = add(cli, "--due-suggested", "--json")
    taken = json.loads(out)
    assert taken["due_at"] == taken["suggested_due_at"] == "2026-11-27T17:00:00-05:00"
    assert taken["asked_due_at"] == "2026-11-20T17:00:00-05:00"


def test_due_suggested_keeps_the_ask_when_nothing_later_is_likely(agency: Ledger,
                                                                  cli: Cli) -> None:
    past_promises(agency, late=0, on_time=6)
    _, out = add(cli, "--due-suggested")
    assert "Very likely to be kept" in out and "instead" not in out
    promise = stored(agency)
    assert promise.due_at == FRIDAY_5PM and promise.asked_due_at is None


def test_a_forecast_for_someone_not_yet_a_member_is_a_rough_guess(agency: Ledger) -> None:
    made = capture.forecast(agency, client_name="Acme", owner_email=None, due_at=FRIDAY_5PM,
                            now=MONDAY_9, actor="t")
    assert made.suggested_due_at is None
    assert capture.describe(made, owner_name=capture.NEWCOMER, calendar=ACME,
                            now=MONDAY_9)[1].startswith(
        "The owner will likely be done by")
