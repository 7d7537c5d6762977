"""What the figures keep beside the events (reliability/rollups.py) equals what the events say.

Random histories go through the service layer as people make them: promises made, due dates
moved with or without telling the client, check-in requests, check-ins, delay notices sent
through the outbox to a real SMTP server, promises completed and cancelled. Afterwards every
kept fact must equal the same fact worked out here from the rows it summarises, the tally the
commands kept day by day must equal the tally counted from nothing (`tallies.recount`), and
`reliability recount` must rebuild it all from nothing.
"""

import importlib
import threading
from datetime import datetime, timedelta

import hypothesis
import pytest
import sqlalchemy as sa
from alembic import command
from conftest import Cli
from helpers import until_a_writer_waits_on_a_lock
from histories import HOUR, notice, play, recounted_equals_kept, tally_rows
from hypothesis import given
from hypothesis import strategies as st
from scenarios import START, agency_with
from servers.smtp import smtp_server
from sqlmodel import Session, col, select

from reliability import metrics, notices, rollups, tallies
from reliability.config import Settings
from reliability.db import _alembic_config, head_revision, upgrade
from reliability.ledger import Ledger, move_promise
from reliability.mistakes import log_mistake
from reliability.models import (
    CheckIn,
    Client,
    DueChange,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
    Tally,
)
from reliability.outbox import Outbox

BEGIN = START + timedelta(days=30)

# Per promise: hours after BEGIN it is made, its length, and what happens to it, each at
# hours after it was made.
A_PROMISE = st.fixed_dictionaries({
    "client": st.sampled_from(["Acme", "Hooli"]),
    "made": st.integers(0, 24 * 10),
    "length": st.integers(24, 24 * 10),
    # (after, hours added, client told)
    "moves": st.lists(st.tuples(st.integers(1, 24 * 9), st.integers(1, 24 * 5), st.booleans()),
                      max_size=2),
    "requests": st.lists(st.integers(0, 24 * 9), max_size=2),
    "checkins": st.lists(st.integers(0, 24 * 9), max_size=2),
    # (after, proposes a date)
    "delay_notice": st.none() | st.tuples(st.integers(1, 24 * 9), st.booleans()),
    # (after, how): done, done by a check-in, or cancelled; what comes after it that only an
    # open promise takes (a move, a check-in) is left out, a request or a notice still comes
    "finish": st.none() | st.tuples(st.integers(1, 24 * 14),
                                    st.sampled_from(["complete", "checkin_done", "cancel"])),
})


def _kept(session: Session) -> dict[str, dict]:
    """Every kept fact, as stored."""
    return {
        "promises": {p.id: (p.client_told_at, p.client_told_due_at)
                     for p in session.exec(select(Promise)).all()},
        "requests": {n.id: n.answered_at for n in session.exec(
            select(Notice).where(Notice.kind == NoticeKind.checkin_request)).all()},
        "clients": {c.id: (c.promises_made, c.first_promise_at, c.last_promise_at)
                    for c in session.exec(select(Client)).all()},
    }


def _from_the_events(session: Session) -> dict[str, dict]:
    """The same facts worked out here, one row at a time, from the rows they summarise."""
    heard: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for change in session.exec(select(DueChange).where(col(DueChange.client_told))).all():
        heard.setdefault(change.promise_id, []).append(
            (change.client_told_at or change.changed_at, change.new_due_at))
    for sent in session.exec(select(Notice).where(
            Notice.kind == NoticeKind.delay_notice, Notice.status == NoticeStatus.sent)).all():
        assert sent.promise_id is not None and sent.sent_at is not None
        heard.setdefault(sent.promise_id, []).append((sent.sent_at, sent.proposed_due_at))
    promises = session.exec(select(Promise)).all()
    checkins = session.exec(select(CheckIn)).all()
    requests = session.exec(select(Notice).where(
        Notice.kind == NoticeKind.checkin_request)).all()
    clients = session.exec(select(Client)).all()
    made = {c.id: sorted(p.made_at for p in promises if p.client_id == c.id and not p.internal)
            for c in clients}
    return {
        "promises": {p.id: (min((at for at, _ in heard.get(p.id or 0, [])), default=None),
                            max((due for _, due in heard.get(p.id or 0, []) if due), default=None))
                     for p in promises},
        "requests": {n.id: min((c.at for c in checkins
                                if c.promise_id == n.promise_id and c.at >= n.created_at),
                               default=None) for n in requests},
        "clients": {c.id: (len(made[c.id]), made[c.id][0] if made[c.id] else None,
                           made[c.id][-1] if made[c.id] else None) for c in clients},
    }


def test_the_kept_facts_equal_the_events_on_random_histories(ledger: Ledger,
                                                              settings: Settings) -> None:
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="gavin@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=START, actor="t")
    with smtp_server() as server:
        settings.smtp = server.settings()
        outbox = Outbox(ledger)

        @hypothesis.settings(max_examples=12, deadline=None)
        @given(st.lists(A_PROMISE, max_size=5))
        def check(drawn: list[dict]) -> None:
            play(ledger, outbox, drawn, BEGIN)
            with ledger.session() as session:
                assert _kept(session) == _from_the_events(session)
            recounted_equals_kept(ledger, BEGIN)

        check()
    with ledger.session() as session:
        assert any(told for told, _ in _kept(session)["promises"].values())
        assert any(_kept(session)["requests"].values())
        kinds = {key[4] for key in tally_rows(session)[0]}
        assert {tallies.DUE, tallies.MADE, tallies.RENEGOTIATED, tallies.REQUEST} <= kinds


def test_recount_rebuilds_every_kept_fact_from_the_events(ledger: Ledger, cli: Cli,
                                                          settings: Settings) -> None:
    agency_with(ledger, "en")
    with smtp_server() as server:
        settings.smtp = server.settings()
        play(ledger, Outbox(ledger), [
            {"client": "Acme", "made": 0, "length": 72, "moves": [(5, 24, True)],
             "requests": [10], "checkins": [12], "delay_notice": (20, True)},
            {"client": "Acme", "made": 3, "length": 48, "moves": [(2, 10, False)],
             "requests": [1], "checkins": [], "delay_notice": None},
        ], BEGIN)
    with ledger.session() as session:
        right = _kept(session)
    with ledger.transaction() as session:  # rows loaded by other means know none of it
        session.execute(sa.update(Promise).values(client_told_at=None, client_told_due_at=None))
        session.execute(sa.update(Notice).values(answered_at=None))
        session.execute(sa.update(Client).values(promises_made=0, first_promise_at=None,
                                                 last_promise_at=None))

    result = cli("recount")

    assert result.exit_code == 0, result.stderr
    assert "recount done" in result.stdout
    with ledger.session() as session:
        assert _kept(session) == right == _from_the_events(session)
        assert right["clients"][1][0] == 2


def test_a_check_in_stamped_at_the_moment_a_request_is_made_answers_it(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    promise_id = ledger.add_promise(title="Q3 report", client_name="Acme",
                                    owner_email="alice@example.com", due_at=BEGIN + 72 * HOUR,
                                    now=BEGIN, actor="t").promise.id or 0
    moment = BEGIN + 5 * HOUR
    ledger.check_in(promise_id, status="on_track", now=moment, actor="t")
    with ledger.transaction() as session:
        request = notices.store(session, notice(NoticeKind.checkin_request, promise_id, moment,
                                                 NoticeStatus.sent, None), now=moment)
        assert request is not None

    with ledger.session() as session:
        assert _kept(session)["requests"] == {request.id: moment} == _from_the_events(
            session)["requests"]


def test_two_promises_made_at_once_to_one_client_are_both_counted(ledger: Ledger,
                                                                   database_url: str) -> None:
    """Each maker reads the client's count before the other commits; the second must not
    write back the count it read."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the two cannot overlap")
    agency_with(ledger, "en")
    outcome: dict[str, str] = {}

    def second() -> None:
        ledger.add_promise(title="Second", client_name="Acme", owner_email="alice@example.com",
                           due_at=BEGIN + 72 * HOUR, now=BEGIN + HOUR, actor="t")
        outcome["second"] = "made"

    with ledger.transaction() as session:
        ledger.make_promise(session, title="First", client_name="Acme",
                            owner_email="alice@example.com", due_at=BEGIN + 48 * HOUR,
                            now=BEGIN, actor="t", source="cli", raw_text=None)
        maker = threading.Thread(target=second)
        maker.start()
        until_a_writer_waits_on_a_lock(ledger.engine, maker, outcome)
    maker.join(timeout=30)

    assert outcome == {"second": "made"}
    with ledger.session() as session:
        assert _kept(session)["clients"] == _from_the_events(session)["clients"] == {
            1: (2, BEGIN, BEGIN + HOUR)}


def test_a_delay_notice_sent_while_the_date_is_moved_keeps_when_the_client_first_heard(
        ledger: Ledger, settings: Settings, database_url: str) -> None:
    """The outbox records a sent delay notice while a person's move, telling the client,
    is not yet committed: the promise keeps the first moment the client heard and the
    latest date either told them."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the two cannot overlap")
    agency_with(ledger, "en")
    promise_id = ledger.add_promise(title="Q3 report", client_name="Acme",
                                    owner_email="alice@example.com", due_at=BEGIN + 72 * HOUR,
                                    now=BEGIN, actor="t").promise.id or 0
    moved, sent = BEGIN + 5 * HOUR, BEGIN + 6 * HOUR
    with ledger.transaction() as session:
        notices.store(session, notice(NoticeKind.delay_notice, promise_id, sent,
                                       NoticeStatus.queued, BEGIN + 120 * HOUR), now=sent)
    outcome: dict[str, object] = {}
    with smtp_server() as server:
        settings.smtp = server.settings()
        outbox = Outbox(ledger)

        def deliver() -> None:
            outcome["sent"] = outbox.deliver(sent).sent

        with ledger.transaction() as session:
            promise = session.get(Promise, promise_id)
            assert promise is not None
            move_promise(session, promise, due_at=BEGIN + 96 * HOUR, reason="scope",
                         now=moved, actor="t", client_told=True)
            session.flush()
            delivery = threading.Thread(target=deliver)
            delivery.start()
            until_a_writer_waits_on_a_lock(ledger.engine, delivery, outcome)
        delivery.join(timeout=30)

    assert outcome["sent"]
    with ledger.session() as session:
        assert _kept(session)["promises"] == _from_the_events(session)["promises"] == {
            promise_id: (moved, BEGIN + 120 * HOUR)}


def test_the_migrations_backfill_gives_what_recount_and_the_events_give(
        ledger: Ledger, settings: Settings) -> None:
    """Migration 0022 fills the kept facts of a populated database with its own frozen SQL:
    on either backend it must agree with `recount` and with the events, on the cases each
    writes differently: a delay notice without a date (for a promise already done), a
    renegotiation stored before its client_told_at was, a check-in at the very moment of a
    request, a request never answered, a mistake's internal prevention step."""
    agency_with(ledger, "en")
    with smtp_server() as server:
        settings.smtp = server.settings()
        play(ledger, Outbox(ledger), [
            {"client": "Acme", "made": 0, "length": 72, "moves": [(5, 24, True)],
             "requests": [10, 30], "checkins": [10], "delay_notice": (20, False)},
            {"client": "Acme", "made": 3, "length": 48, "moves": [(2, 10, False)],
             "requests": [1], "checkins": [], "delay_notice": None},
        ], BEGIN)
        done = ledger.add_promise(title="Delivered", client_name="Acme",
                                  owner_email="alice@example.com", due_at=BEGIN + 72 * HOUR,
                                  now=BEGIN, actor="t").promise.id or 0
        with ledger.transaction() as session:
            notices.store(session, notice(NoticeKind.delay_notice, done, BEGIN + HOUR,
                                           NoticeStatus.queued, None), now=BEGIN + HOUR)
        ledger.complete(done, now=BEGIN + HOUR, actor="t")
        assert Outbox(ledger).deliver(BEGIN + 2 * HOUR).sent
    log_mistake(ledger, client_name="Acme", summary="Wrong figures", prevention="Two checks",
                now=BEGIN + 2 * HOUR, actor="t", owner_email="alice@example.com")
    with ledger.transaction() as session:  # a renegotiation told before client_told_at existed
        session.add(DueChange(promise_id=done, old_due_at=BEGIN + 72 * HOUR,
                              new_due_at=BEGIN + 80 * HOUR, reason="old row",
                              changed_at=BEGIN + 30 * HOUR, client_told=True))
    fill = importlib.import_module(
        "reliability.migrations.versions.0022_figures_kept_beside_events").FILL
    with ledger.transaction() as session:
        session.execute(sa.update(Promise).values(client_told_at=None, client_told_due_at=None))
        session.execute(sa.update(Notice).values(answered_at=None))
        session.execute(sa.update(Client).values(promises_made=0, first_promise_at=None,
                                                 last_promise_at=None))
        for statement in fill:
            session.execute(sa.text(statement))
    with ledger.session() as session:
        filled, events = _kept(session), _from_the_events(session)
    with ledger.transaction() as session:
        rollups.recount(session, ledger.settings, now=BEGIN)
    with ledger.session() as session:
        assert filled == _kept(session) == events
        assert events["promises"][done] == (BEGIN + 2 * HOUR, BEGIN + 80 * HOUR)
        assert events["clients"][1][0] == 3


def test_a_ledger_upgraded_with_promises_counts_from_its_rows_until_init_counts_its_tally(
        ledger: Ledger, cli: Cli, settings: Settings) -> None:
    """Migration 0024 cannot work out a told promise's notice lead (the business calendar is
    Python's): a ledger with promises in it is counted from the rows, correctly, until
    `reliability init` (or `recount`) counts the tally."""
    agency_with(ledger, "en")
    with smtp_server() as server:
        settings.smtp = server.settings()
        play(ledger, Outbox(ledger), [
            {"client": "Acme", "made": 0, "length": 72, "moves": [(5, 24, True)],
             "requests": [10], "checkins": [12], "delay_notice": None,
             "finish": (120, "complete")},
            {"client": "Acme", "made": 3, "length": 48, "moves": [], "requests": [1],
             "checkins": [], "delay_notice": None, "finish": (20, "cancel")},
            {"client": "Acme", "made": 4, "length": 30, "moves": [], "requests": [],
             "checkins": [], "delay_notice": None, "finish": (25, "checkin_done")},
        ], BEGIN)
    now = BEGIN + timedelta(days=20)
    window = {"month": metrics.Window(BEGIN - timedelta(days=3), now, by=("owner", "client"))}

    def figures() -> tuple[dict, dict]:
        with ledger.session() as session:
            counted = metrics.figures(session, ledger.settings, window)
            return counted.of("month", "owner"), counted.of("month", "client")

    with ledger.session() as session:
        judged = metrics.History(session, ledger.settings, start=BEGIN - timedelta(days=3),
                                 end=now)
        expected = (judged.stats_by(by="owner", now=now), judged.stats_by(by="client", now=now))
    assert figures() == expected
    with ledger.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0023")
    assert upgrade(ledger.engine) == head_revision()
    with ledger.session() as session:
        assert not tallies.complete(session)
        assert session.exec(select(Tally)).first() is None
    assert figures() == expected  # from the rows

    result = cli("init")

    assert result.exit_code == 0, result.stderr
    assert "rebuilt the stored reliability figures" in result.stdout
    with ledger.session() as session:
        assert tallies.complete(session)
        assert {key[4] for key in tally_rows(session)[0]} == {
            tallies.DUE, tallies.MADE, tallies.RENEGOTIATED, tallies.REQUEST}
    assert figures() == expected
    assert "rebuilt the stored reliability figures" not in cli("init").stdout
