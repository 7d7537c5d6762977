"""The ledger's figures: kept, kept after a proactive notice, late without one, broken."""

import json
from datetime import timedelta
from functools import partial

import hypothesis
import pytest
from conftest import Cli
from helpers import at
from hypothesis import given
from hypothesis import strategies as st
from scenarios import TUESDAY_9, agency_with, past_promises, q3_report, tick, wednesday_draft
from servers.smtp import smtp_server
from sqlalchemy import event
from sqlmodel import Session, select

from reliability import metrics, notices, rollups
from reliability.access import Scope
from reliability.config import Settings
from reliability.ledger import Ledger
from reliability.mistakes import Credit, log_mistake
from reliability.models import (
    CheckIn,
    Client,
    DueChange,
    Member,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
)
from reliability.outbox import Outbox
from reliability.trust import Activity, stage, trust_view
from reliability.web import queries

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


def test_the_dashboard_shows_each_past_week_as_its_promises_stand_today(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    today = at("2026-12-09T12:00-05:00")  # the quietly moved promise is now past its date
    calendar = ledger.settings.calendar.calendar("America/New_York", "US")

    figures = ledger.read(queries.reliability_figures, ledger.settings, Scope(None, None),
                          calendar, today, weeks=4, days=90)

    as_it_stands = week_stats(ledger)  # judged the Tuesday after: the moved one in flight
    with ledger.session() as session:
        today_stats = metrics.stats(session, ledger.settings, start=WEEK_START, end=WEEK_END,
                                    now=today)
    assert dict(figures.weeks)["W47"] == today_stats.on_time_rate == pytest.approx(1 / 7)
    assert as_it_stands.on_time_rate == pytest.approx(1 / 6)


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


def test_the_report_writes_credits_as_money_not_as_bare_numbers(cli: Cli, ledger: Ledger) -> None:
    agency_with(ledger, "en")
    for day, credit in (("16", Credit.parse("120.5", "USD")), ("17", Credit.parse("300", "SEK"))):
        log_mistake(ledger, client_name="Acme", summary="Wrong figures", prevention="Two-eyes",
                    owner_email="alice@example.com", category="figures", credit=credit,
                    now=at(f"2026-11-{day}T10:00-05:00"), actor="t")

    result = cli("report", "--from", "2026-11-16", "--to", "2026-11-22",
                 as_of="2026-11-24T12:00-05:00")

    assert result.exit_code == 0, result.stderr
    [credits] = [line for line in result.stdout.splitlines() if line.startswith("credits")]
    assert "$120.50" in credits and "SEK\xa0300.00" in credits
    assert "120.5 USD" not in credits


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
    # the tally's state and unsettled days, the edges counted and the days summed, the
    # told promises, requests and mistakes judged in Python
    assert len(statements) <= 7


def test_a_team_s_figures_read_its_own_promises_in_the_range_through_the_owner_indexes(
        ledger: Ledger) -> None:
    """A manager's figures find their team's promises by owner and date (migration 0020), not
    every owner's promises in the range: the plan SQLite picks for each statement says so."""
    if ledger.engine.dialect.name != "sqlite":
        pytest.skip("the planner's choice is read from SQLite's EXPLAIN QUERY PLAN")
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    with Session(ledger.engine) as session:
        alice = session.exec(select(Member).where(Member.email == "alice@example.com")).one()
    statements: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, *_) -> None:
        statements.append((statement, parameters))

    event.listen(ledger.engine, "before_cursor_execute", keep)
    try:
        week = week_stats(ledger, owner_ids=[alice.id])
    finally:
        event.remove(ledger.engine, "before_cursor_execute", keep)
    with ledger.engine.connect() as connection:
        plans = " ".join(str(row) for statement, parameters in statements
                         for row in connection.exec_driver_sql(
                             f"EXPLAIN QUERY PLAN {statement}", parameters).all())
    assert week.due > 0
    covering = "USING COVERING INDEX ix_promise_owner_"
    assert f"{covering}original_due_figures (owner_id=? AND original_due_at>?" in plans
    assert f"{covering}made_figures (owner_id=? AND made_at>?" in plans


# -- one read, any part: the figures of a week, an owner or a client from one History equal
# those of a read of that part alone, on random histories -------------------------------

RANDOM_START = at("2026-09-07T00:00-04:00")  # a Monday; ten weeks of history follow
RANDOM_WEEKS = 10
HOURS = st.integers(0, 24 * 7 * RANDOM_WEEKS)
RANDOM_PROMISE = st.fixed_dictionaries({
    "owner": st.sampled_from(["alice@example.com", "bob@example.com"]),
    "client": st.sampled_from(["Acme", "Hooli"]),
    "made": HOURS,
    "length": st.integers(1, 24 * 21),
    "done": st.none() | st.integers(-24 * 3, 24 * 14),  # hours after the original due
    "cancelled": st.booleans(),
    # hours after making it, hours added to the due date, client told
    "move": st.none() | st.tuples(st.integers(0, 24 * 14), st.integers(1, 24 * 10),
                                  st.booleans()),
    "delay_notice": st.none() | st.tuples(st.integers(0, 24 * 14), st.booleans()),
    # hours after making it, hours until the answer (if any)
    "checkin": st.none() | st.tuples(st.integers(0, 24 * 14),
                                     st.none() | st.integers(0, 24 * 3)),
})


def _insert_random_promise(session: Session, ids: dict[str, int], drawn: dict) -> None:
    hour = timedelta(hours=1)
    made = RANDOM_START + drawn["made"] * hour
    due = made + drawn["length"] * hour
    done = None if drawn["done"] is None else due + drawn["done"] * hour
    row = Promise(title="Random", client_id=ids[drawn["client"]], owner_id=ids[drawn["owner"]],
                  made_at=made, due_at=due, original_due_at=due, done_at=done,
                  status="done" if done else "cancelled" if drawn["cancelled"] else "open",
                  cancelled_at=made + hour if drawn["cancelled"] and not done else None)
    session.add(row)
    session.flush()
    if drawn["move"] is not None:
        after, longer, told = drawn["move"]
        row.due_at = due + longer * hour
        session.add(DueChange(promise_id=row.id, old_due_at=due, new_due_at=row.due_at,
                              reason="random", changed_at=made + after * hour,
                              client_told=told,
                              client_told_at=made + after * hour if told else None))
    notices = []
    if drawn["delay_notice"] is not None:
        after, proposes = drawn["delay_notice"]
        notices.append((NoticeKind.delay_notice, NoticeStatus.sent, made + after * hour,
                        due + 48 * hour if proposes else None))
    if drawn["checkin"] is not None:
        after, answer = drawn["checkin"]
        notices.append((NoticeKind.checkin_request, NoticeStatus.sent, made + after * hour,
                        None))
        if answer is not None:
            session.add(CheckIn(promise_id=row.id, at=made + (after + answer) * hour,
                                status="on_track"))
    for kind, status, moment, proposed in notices:
        session.add(Notice(kind=kind, idempotency_key=f"{kind}:{row.id}", promise_id=row.id,
                           channel="email", recipient="dana@acme.example", locale="en",
                           subject="s", text="t", status=status, created_by="t",
                           created_at=moment, sent_at=moment, proposed_due_at=proposed))


def test_one_read_gives_each_week_owner_and_client_the_figures_of_a_read_of_its_own(
        ledger: Ledger) -> None:
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="gavin@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=MADE, actor="t")
    with ledger.session() as session:
        ids = {**{c.name: c.id or 0 for c in session.exec(select(Client)).all()},
               **{m.email: m.id or 0 for m in session.exec(select(Member)).all()}}
    end = RANDOM_START + timedelta(weeks=RANDOM_WEEKS)

    @hypothesis.settings(max_examples=15, deadline=None)
    @given(st.lists(RANDOM_PROMISE, max_size=6), st.integers(0, RANDOM_WEEKS - 1),
           st.lists(st.integers(0, 24 * 7 * RANDOM_WEEKS - 1), min_size=3, max_size=3))
    def check(promises: list[dict], week: int, cuts: list[int]) -> None:
        with ledger.transaction() as session:
            for drawn in promises:
                _insert_random_promise(session, ids, drawn)
            # rows inserted by hand: what the ledger keeps beside the events, and the tally
            rollups.recount(session, ledger.settings, now=MADE)
        first, last, now = (RANDOM_START + timedelta(hours=cut) for cut in sorted(cuts))
        monday = RANDOM_START + timedelta(weeks=week)
        with ledger.session() as session:
            history = metrics.History(session, ledger.settings, start=RANDOM_START, end=end)
            alice = metrics.History(session, ledger.settings, start=RANDOM_START, end=end,
                                    owner_ids=[ids["alice@example.com"]])
            for start, stop, as_of in ((monday, monday + timedelta(weeks=1), None),
                                       (first, last + timedelta(hours=1), now)):
                alone = partial(metrics.stats, session, ledger.settings, start=start, end=stop,
                                now=as_of)  # a read of this part alone

                assert history.stats(start=start, end=stop, now=as_of) == alone()
                owners = history.stats_by(by="owner", start=start, end=stop, now=as_of)
                clients = history.stats_by(by="client", start=start, end=stop, now=as_of)
                alices = alice.stats_by(by="client", start=start, end=stop, now=as_of)
                for email in ("alice@example.com", "bob@example.com"):
                    assert owners.get(email, metrics.NO_STATS) == alone(owner_ids=[ids[email]])
                for name in ("Acme", "Hooli"):
                    assert clients.get(name, metrics.NO_STATS) == alone(client_ids=[ids[name]])
                    assert alices.get(name, metrics.NO_STATS) == alone(
                        owner_ids=[ids["alice@example.com"]], client_ids=[ids[name]])

    check()


# -- counted in SQL, judged in Python: the figures `figures` counts (and `client trust` shows)
# equal those of every promise judged one by one (`History`), on random histories ---------

GROUPINGS = (None, "owner", "team", "client")


def test_figures_counted_in_sql_equal_each_promise_judged_in_python(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="gavin@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=MADE, actor="t")
    with ledger.session() as session:
        ids = {**{c.name: c.id or 0 for c in session.exec(select(Client)).all()},
               **{m.email: m.id or 0 for m in session.exec(select(Member)).all()}}

    @hypothesis.settings(max_examples=15, deadline=None)
    @given(st.lists(RANDOM_PROMISE, max_size=8),
           st.lists(st.integers(0, 24 * 7 * RANDOM_WEEKS - 1), min_size=3, max_size=3),
           st.integers(0, 24 * 7 * (RANDOM_WEEKS + 6)))
    def check(promises: list[dict], cuts: list[int], hours: int) -> None:
        with ledger.transaction() as session:
            for drawn in promises:
                _insert_random_promise(session, ids, drawn)
            # rows inserted by hand: what the ledger keeps beside the events, and the tally
            rollups.recount(session, ledger.settings, now=MADE)
        # judged as of a moment inside the range too: a promise moved before its first date
        first, as_of, last = (RANDOM_START + timedelta(hours=cut) for cut in sorted(cuts))
        now = RANDOM_START + timedelta(hours=hours)
        every = ("owner", "team", "client")
        windows = {
            "part": metrics.Window(first, last + timedelta(hours=1), as_of, every),
            "week": metrics.Window(first, first + timedelta(weeks=1), by=every),
            **{name: metrics.Window(start, end, now, every) for name, (start, end) in {
                "shown": (now - timedelta(days=90), now), "recent": (now - timedelta(days=30), now),
                "before": (now - timedelta(days=180), now - timedelta(days=90))}.items()},
        }
        span = (min(w.start for w in windows.values()), max(w.end for w in windows.values()))
        with ledger.session() as session:
            # a client page's figures too: its renegotiations are found by their date
            # everyone's, a team's and a client's from the tally; a team's promises to one
            # client from the rows alone
            for owners, clients in ((None, None), ([ids["alice@example.com"]], None),
                                    (None, [ids["Hooli"]]),
                                    ([ids["alice@example.com"]], [ids["Hooli"]])):
                counted = metrics.figures(session, ledger.settings, windows, owner_ids=owners,
                                          client_ids=clients)
                judged = metrics.History(session, ledger.settings, start=span[0], end=span[1],
                                         owner_ids=owners, client_ids=clients)
                for key, window in windows.items():
                    for by in GROUPINGS:
                        assert counted.of(key, by) == judged.stats_by(
                            by=by, start=window.start, end=window.end, now=window.as_of)
            view = {row.client.name: (row.stage, row.stats)
                    for row in trust_view(session, ledger.settings, now=now)}
            assert view == trust_judged_in_python(session, ledger.settings, now)

    check()


def trust_judged_in_python(session: Session, settings: Settings, now) -> dict:
    """Each client's stage and figures, from its promises loaded and judged one by one."""
    history = metrics.History(session, settings, start=now - timedelta(days=180), end=now)

    def of(start, end):
        return history.stats_by(by="client", start=start, end=end, now=now)

    made: dict[int, list] = {}
    for row in session.exec(select(Promise).where(Promise.made_at <= now)).all():
        made.setdefault(row.client_id, []).append(row.made_at)
    month = timedelta(days=30)
    expected = {}
    for client in session.exec(select(Client)).all():
        moments = made.get(client.id, [])
        activity = Activity(
            promises=len(moments), last_made_at=max(moments, default=None),
            active_months=tuple(any(now - month * (back + 1) < moment <= now - month * back
                                    for moment in moments) for back in range(3)),
            recent=of(now - month, now).get(client.name, metrics.NO_STATS),
            trend_now=of(now - 3 * month, now).get(client.name, metrics.NO_STATS),
            trend_before=of(now - 6 * month, now - 3 * month).get(client.name,
                                                                  metrics.NO_STATS),
            latest_rating=None)
        expected[client.name] = (stage(activity, now=now)[0],
                                 of(now - 3 * month, now).get(client.name, metrics.NO_STATS))
    return expected


def test_a_window_is_only_asked_by_the_groupings_it_was_counted_by(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    the_week_of_alice(ledger)
    with ledger.session() as session:
        counted = metrics.figures(session, ledger.settings, {
            "total": metrics.Window(WEEK_START, WEEK_END),
            "clients": metrics.Window(WEEK_START, WEEK_END, by=("client",))})

        assert counted.of("total") == counted.of("clients")
        assert set(counted.of("clients", "client")) == {"Acme"}
        with pytest.raises(ValueError, match="not counted by owner"):
            counted.of("total", "owner")
