"""Figures summed from the tally the commands keep equal every promise judged one by one
(`History`): random histories played through the service layer, some written out of time
order, clients in three timezones, internal prevention steps, windows on and off UTC
midnights judged before, at and after their end; the tally under two writers of one day
on PostgreSQL; migration 0024 on a populated ledger."""

import random
from datetime import UTC, datetime, timedelta

import hypothesis
import pytest
from histories import HOUR, notice, play, recounted_equals_kept
from hypothesis import given
from hypothesis import strategies as st
from scenarios import START, agency_with
from servers.smtp import smtp_server
from sqlmodel import select

from reliability import metrics, notices
from reliability.config import Settings
from reliability.ledger import Ledger
from reliability.models import Client, Member, NoticeKind, NoticeStatus, Promise
from reliability.outbox import Outbox

BEGIN = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)

A_PROMISE = st.fixed_dictionaries({
    "owner": st.sampled_from(["alice@example.com", "bob@example.com"]),
    "client": st.sampled_from(["Acme", "Hooli", "Shanghai"]),
    "made": st.integers(0, 24 * 10),
    "length": st.integers(1, 24 * 10),
    "moves": st.lists(st.tuples(st.integers(1, 24 * 9), st.integers(1, 24 * 5), st.booleans()),
                      max_size=1),
    "requests": st.lists(st.integers(0, 24 * 12), max_size=2),
    "checkins": st.lists(st.integers(0, 24 * 9), max_size=2),
    "delay_notice": st.none() | st.tuples(st.integers(1, 24 * 14), st.booleans()),
    "finish": st.none() | st.tuples(st.integers(1, 24 * 14),
                                    st.sampled_from(["complete", "checkin_done", "cancel"])),
    "mistake": st.none() | st.integers(0, 24 * 5),
})


WINDOW = st.tuples(st.integers(-48, 24 * 30), st.booleans(), st.integers(1, 24 * 20),
                   st.booleans(), st.none() | st.integers(-24 * 5, 24 * 20))


def _window(start_h, snap_start, length_h, snap_end, after):
    start = BEGIN + start_h * HOUR
    if snap_start:
        start = start.replace(hour=0)
    end = start + length_h * HOUR
    if snap_end:
        end = end.replace(hour=0) + timedelta(days=1)
    now = None if after is None else end + after * HOUR
    return metrics.Window(start, end, now, ("owner", "team", "client"))


def test_figures_from_the_commands_tally_equal_history(ledger: Ledger,
                                                        settings: Settings) -> None:
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="g@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=START, actor="t")
    ledger.add_client(name="Shanghai", email="s@sh.example", timezone="Asia/Shanghai",
                      country="CN", now=START, actor="t")
    with ledger.session() as session:
        ids = {**{c.name: c.id or 0 for c in session.exec(select(Client)).all()},
               **{m.email: m.id or 0 for m in session.exec(select(Member)).all()}}
    with smtp_server() as server:
        settings.smtp = server.settings()
        outbox = Outbox(ledger)

        @hypothesis.settings(max_examples=60, deadline=None)
        @given(st.lists(A_PROMISE, max_size=6), st.lists(WINDOW, min_size=1, max_size=4),
               st.none() | st.integers(0, 2 ** 30))
        def check(drawn, windows, seed) -> None:
            shuffle = None if seed is None else random.Random(seed)
            play(ledger, outbox, drawn, BEGIN, shuffle=shuffle)
            ws = {i: _window(*w) for i, w in enumerate(windows)}
            span = (min(w.start for w in ws.values()), max(w.end for w in ws.values()))
            with ledger.session() as session:
                for owners, clients in ((None, None), ([ids["alice@example.com"]], None),
                                        (None, [ids["Hooli"]]),
                                        ([ids["alice@example.com"]], [ids["Hooli"]])):
                    counted = metrics.figures(session, ledger.settings, ws, owner_ids=owners,
                                              client_ids=clients)
                    judged = metrics.History(session, ledger.settings, start=span[0],
                                             end=span[1], owner_ids=owners, client_ids=clients)
                    for key, window in ws.items():
                        for by in (None, "owner", "team", "client"):
                            assert counted.of(key, by) == judged.stats_by(
                                by=by, start=window.start, end=window.end, now=window.as_of), (
                                key, window, by, owners, clients)

        check()


def test_two_promises_due_one_day_finished_at_once_are_both_tallied(
        ledger: Ledger, database_url: str) -> None:
    import threading

    from helpers import until_a_writer_waits_on_a_lock

    from reliability import tallies
    if not database_url.startswith("postgresql"):
        pytest.skip("one writer at a time")
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="g@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=START, actor="t")
    due = BEGIN + 30 * HOUR
    first = ledger.add_promise(title="A", client_name="Acme", owner_email="alice@example.com",
                               due_at=due, now=BEGIN, actor="t").promise.id
    second = ledger.add_promise(title="B", client_name="Hooli", owner_email="bob@example.com",
                                due_at=due + HOUR, now=BEGIN, actor="t").promise.id
    outcome = {}

    def other() -> None:
        ledger.cancel(second, reason="no", now=BEGIN + 2 * HOUR, actor="t")
        outcome["second"] = "cancelled"

    with ledger.transaction() as session:
        promise = session.get(Promise, first)
        ledger._mark_done(session, promise, now=BEGIN + HOUR, actor="t")
        tallies.refresh(session, ledger.settings)  # holds the day's lock until commit
        thread = threading.Thread(target=other)
        thread.start()
        until_a_writer_waits_on_a_lock(ledger.engine, thread, outcome)
    thread.join(timeout=30)
    assert outcome == {"second": "cancelled"}
    recounted_equals_kept(ledger, BEGIN)


def test_migration_0024_on_a_populated_ledger(ledger: Ledger, settings: Settings, cli) -> None:
    from alembic import command

    from reliability import tallies
    from reliability.db import _alembic_config, head_revision, upgrade
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="g@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=START, actor="t")
    drawn = [
        {"owner": "alice@example.com", "client": "Acme", "made": 3, "length": 30,
         "moves": [(2, 20, True)], "requests": [4, 60], "checkins": [8], "delay_notice": None,
         "finish": (70, "complete"), "mistake": 1},
        {"owner": "bob@example.com", "client": "Hooli", "made": 30, "length": 40, "moves": [],
         "requests": [1], "checkins": [], "delay_notice": None, "finish": (60, "cancel"),
         "mistake": None},
        {"owner": "bob@example.com", "client": "Acme", "made": 10, "length": 24, "moves": [],
         "requests": [], "checkins": [], "delay_notice": None, "finish": (20, "complete"),
         "mistake": None},
    ]
    play(ledger, None, drawn, BEGIN)
    windows = {"w": metrics.Window(BEGIN, BEGIN + timedelta(days=10),
                                   BEGIN + timedelta(days=20), ("owner", "team", "client")),
               "v": metrics.Window(BEGIN + timedelta(hours=7), BEGIN + timedelta(days=6))}

    def figures():
        with ledger.session() as session:
            counted = metrics.figures(session, settings, windows)
            judged = metrics.History(session, settings, start=BEGIN,
                                     end=BEGIN + timedelta(days=10))
            for key, window in windows.items():
                for by in (None, *window.by):
                    assert counted.of(key, by) == judged.stats_by(
                        by=by, start=window.start, end=window.end, now=window.as_of)
            return {key: counted.of(key) for key in windows}

    before = figures()
    assert ledger.read(tallies.complete)
    with ledger.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0023")
    assert upgrade(ledger.engine) == head_revision()
    assert not ledger.read(tallies.complete)
    assert figures() == before
    # a command on the upgraded ledger before its recount keeps nothing and breaks nothing
    play(ledger, None, [{"owner": "alice@example.com", "client": "Hooli", "made": 100,
                          "length": 30, "moves": [], "requests": [2], "checkins": [],
                          "delay_notice": None, "finish": (5, "complete"), "mistake": None}],
         BEGIN)
    after = figures()
    result = cli("init")
    assert "rebuilt the stored reliability figures" in result.stdout, result.stdout
    assert ledger.read(tallies.complete)
    assert figures() == after
    result = cli("init")
    assert "rebuilt the stored reliability figures" not in result.stdout


def test_a_client_s_new_timezone_reaches_its_tallied_days(ledger: Ledger) -> None:
    """The answer deadline of a request is counted on the client's calendar: when the
    client's timezone changes, its tallied days are counted again on the new one, as
    History judges them."""
    from helpers import at
    agency_with(ledger, "en")
    promise_id = ledger.add_promise(title="Q", client_name="Acme",
                                    owner_email="alice@example.com",
                                    due_at=at("2026-10-27T17:00-04:00"),
                                    now=at("2026-10-08T09:00-04:00"), actor="t").promise.id
    asked = at("2026-10-16T20:00-04:00")  # Friday evening in New York
    with ledger.transaction() as session:
        notices.store(session, notice(NoticeKind.checkin_request, promise_id, asked,
                                       NoticeStatus.sent, None), now=asked)
    ledger.check_in(promise_id, status="on_track", now=at("2026-10-19T08:30-04:00"), actor="t")
    ledger.edit_client(1, timezone="Asia/Shanghai", now=at("2026-10-20T09:00-04:00"),
                       actor="t")
    window = {"w": metrics.Window(at("2026-10-05T00:00Z"), at("2026-10-19T00:00Z"),
                                  at("2026-11-01T00:00Z"))}
    with ledger.session() as session:
        counted = metrics.figures(session, ledger.settings, window).of("w")
        judged = metrics.History(session, ledger.settings, start=window["w"].start,
                                 end=window["w"].end).stats_by(by=None, now=window["w"].as_of)
    assert counted == judged
