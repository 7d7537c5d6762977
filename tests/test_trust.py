"""The client trust view: each client's stage, its figures and what it told us."""

import json
from datetime import timedelta

import pytest
from conftest import Cli
from helpers import at

from reliability.ledger import Ledger
from reliability.metrics import NO_STATS, Stats
from reliability.ratings import add_rating
from reliability.trust import Activity, stage, trust_view

NOW = at("2026-11-20T15:00-05:00")
START = at("2026-01-05T09:00-05:00")
CLIENTS = ("Acme", "Globex", "Hooli", "Initech", "Umbrella")


def agency(ledger: Ledger) -> Ledger:
    for name in CLIENTS:
        ledger.add_client(name=name, email=f"contact@{name.lower()}.example",
                          timezone="America/New_York", country="US", now=START, actor="t")
    ledger.add_member(email="alice@example.com", name="Alice", timezone="America/New_York",
                      now=START, actor="t")
    return ledger


def promise(ledger: Ledger, client: str, days_ago: int, *, late_days: int = 0,
            told: bool = False) -> None:
    """A week-long promise made `days_ago`, delivered a day early or `late_days` late."""
    made = NOW - timedelta(days=days_ago)
    due = made + timedelta(days=5)
    view = ledger.add_promise(title=f"{client} {days_ago}", client_name=client,
                              owner_email="alice@example.com", due_at=due, now=made, actor="t")
    promise_id = view.promise.id or 0
    if told:
        ledger.move(promise_id, due_at=due + timedelta(days=late_days + 1), reason="data late",
                    now=made + timedelta(hours=1), actor="t", client_told=True)
    done = due + timedelta(days=late_days) if late_days else due - timedelta(days=1)
    ledger.complete(promise_id, now=done, actor="t")


def test_each_client_gets_the_stage_its_history_shows(ledger: Ledger) -> None:
    agency(ledger)
    for days_ago in (10, 40, 75):
        promise(ledger, "Acme", days_ago)
    promise(ledger, "Globex", 12)
    promise(ledger, "Hooli", 20)
    promise(ledger, "Hooli", 70)
    promise(ledger, "Initech", 150)
    promise(ledger, "Initech", 120)
    promise(ledger, "Umbrella", 60)
    promise(ledger, "Umbrella", 18, late_days=2)
    with ledger.session() as session:
        view = {row.client.name: row for row in trust_view(session, ledger.settings, now=NOW)}

    assert {name: row.stage for name, row in view.items()} == {
        "Acme": "regular", "Globex": "first-time", "Hooli": "returning", "Initech": "lost",
        "Umbrella": "slipping",
    }
    assert view["Umbrella"].reasons == (
        "1 promise late without notice or broken in the last 30 days",)
    assert view["Initech"].reasons[0].startswith("No promise in 120 days")
    assert view["Acme"].stats.on_time_rate == 1.0
    assert view["Umbrella"].stats.late_without_notice == 1


def test_a_slip_the_client_heard_about_in_time_keeps_a_client_off_slipping(
    ledger: Ledger,
) -> None:
    agency(ledger)
    promise(ledger, "Hooli", 70)
    promise(ledger, "Hooli", 18, late_days=2, told=True)
    with ledger.session() as session:
        [hooli] = [row for row in trust_view(session, ledger.settings, now=NOW)
                   if row.client.name == "Hooli"]
    assert hooli.stage == "returning"
    assert hooli.stats.kept_after_notice == 1 and hooli.stats.proactive_notice_rate == 1.0


def test_a_low_latest_rating_puts_a_client_on_slipping_with_its_answers(ledger: Ledger) -> None:
    agency(ledger)
    for days_ago in (10, 40, 75):
        promise(ledger, "Acme", days_ago)
    add_rating(ledger, client_name="Acme", overall=5, now=NOW - timedelta(days=60), actor="t")
    add_rating(ledger, client_name="Acme", overall=2, would_continue=3,
               to_make_it_5="Answer emails the same day", now=NOW - timedelta(days=2),
               actor="t")
    with ledger.session() as session:
        [acme] = [row for row in trust_view(session, ledger.settings, now=NOW)
                  if row.client.name == "Acme"]
    assert acme.stage == "slipping"
    assert acme.reasons == ("Latest rating 2/5",)
    assert acme.ratings.average_overall == 3.5
    assert acme.ratings.to_make_it_5 == ("Answer emails the same day",)


def figures(on_time: int, late: int) -> Stats:
    settled = on_time + late
    return Stats(made=settled, due=settled, kept_on_time=on_time, kept_after_notice=0,
                 late_without_notice=late, broken=0, on_time_rate=on_time / settled,
                 proactive_notice_rate=0.0 if late else None, median_notice_lead_days=None,
                 renegotiations=0, mistakes=0, repeats=0, credits={}, checkin_answer_rate=None)


def activity(**changes) -> Activity:
    base = dict(promises=12, last_made_at=NOW - timedelta(days=3),
                active_months=(True, True, True), recent=NO_STATS, trend_now=NO_STATS,
                trend_before=NO_STATS, latest_rating=None)
    return Activity(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "regular"),
        ({"active_months": (True, False, True)}, "returning"),
        ({"promises": 1}, "first-time"),
        ({"promises": 0, "last_made_at": None}, "first-time"),
        ({"last_made_at": NOW - timedelta(days=91)}, "lost"),
        ({"promises": 1, "last_made_at": NOW - timedelta(days=200)}, "first-time"),
        ({"trend_now": figures(6, 4), "trend_before": figures(9, 1)}, "slipping"),
        ({"trend_now": figures(8, 2), "trend_before": figures(9, 1)}, "regular"),
        ({"trend_now": figures(1, 1), "trend_before": figures(9, 1)}, "regular"),
        ({"latest_rating": 3}, "slipping"),
        ({"latest_rating": 4}, "regular"),
    ],
)
def test_stage_rules(changes: dict, expected: str) -> None:
    assert stage(activity(**changes), now=NOW)[0] == expected


def test_client_trust_json_on_the_command_line(cli: Cli, ledger: Ledger) -> None:
    agency(ledger)
    promise(ledger, "Globex", 12)
    result = cli("client", "trust", "--json", as_of=NOW.isoformat())
    assert result.exit_code == 0, result.stderr
    document = {row["client"]: row for row in json.loads(result.stdout)}
    assert document["Globex"]["stage"] == "first-time"
    assert document["Globex"]["stats"]["kept_on_time"] == 1
    assert document["Acme"]["promises_ever"] == 0
    assert document["Acme"]["ratings"]["latest_overall"] is None


def test_client_trust_from_the_first_day_of_the_calendar_counts_every_day(cli: Cli,
                                                                          ledger: Ledger) -> None:
    """A range starting on 0001-01-01 has no whole UTC day before its first (the tally's
    days, `tallies.whole_days`): found by the CLI fuzz test as an internal error."""
    agency(ledger)
    promise(ledger, "Globex", 12)
    result = cli("client", "trust", "--from", "0001-01-01", "--json", as_of=NOW.isoformat())
    assert result.exit_code == 0, result.stderr
    document = {row["client"]: row for row in json.loads(result.stdout)}
    assert document["Globex"]["stats"]["kept_on_time"] == 1
