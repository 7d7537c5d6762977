"""A scan tick survives a bad row: the rest of the batch is assessed, the bad one is marked,
logged once, shown to the people who can fix it, and assessed again once it changes."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from helpers import at
from pydantic import SecretStr
from scenarios import MONDAY_9, TUESDAY_9, past_promises, q3_report, tick
from sqlmodel import Session, col, select
from web_helpers import app_for, csrf_of, token_for

from reliability.db import _alembic_config, head_revision, make_engine, upgrade
from reliability.digest import build_digest
from reliability.drafting.rendering import render
from reliability.ledger import Ledger
from reliability.models import Client, Event, Member, Promise

FAR = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)


def stored_directly(ledger: Ledger, *, title: str, due_at: datetime,
                    made_at: datetime = MONDAY_9, **client_fields: str) -> int:
    """A row as an older version or a hand edit may have left it, past today's input checks;
    with `client_fields`, for a client of its own stored the same way."""
    with Session(ledger.engine) as session:
        client = session.exec(select(Client).where(Client.name == "Acme")).one()
        if client_fields:
            client = Client(**{"name": f"Client of {title}",
                               "name_key": f"client of {title}".lower(),
                               "email": "x@client.example", "timezone": "America/New_York",
                               "created_at": MONDAY_9, **client_fields})
            session.add(client)
            session.flush()
        alice = session.exec(select(Member).where(Member.email == "alice@example.com")).one()
        promise = Promise(title=title, client_id=client.id or 0, owner_id=alice.id or 0,
                          made_at=made_at, due_at=due_at, original_due_at=due_at,
                          next_check_at=made_at)
        session.add(promise)
        session.commit()
        return promise.id or 0


def promise(ledger: Ledger, promise_id: int) -> Promise:
    with Session(ledger.engine) as session:
        found = session.get(Promise, promise_id)
        assert found is not None
        return found


@pytest.fixture
def bad_rows(agency: Ledger) -> tuple[int, int, int]:
    good = q3_report(agency)
    far = stored_directly(agency, title="Forever project", due_at=FAR)
    lost = stored_directly(agency, title="Lost in space", due_at=at("2026-11-20T17:00-05:00"),
                           timezone="Mars/Olympus_Mons")
    return good, far, lost


def test_a_far_date_and_an_unknown_timezone_do_not_stop_the_scan_for_the_team(
    agency: Ledger, bad_rows: tuple[int, int, int], caplog: pytest.LogCaptureFixture,
) -> None:
    good, far, lost = bad_rows
    with caplog.at_level(logging.WARNING, logger="reliability.scan"):
        report = tick(agency, MONDAY_9)
    assert report.assessed == 1
    assert promise(agency, good).assessed_at == MONDAY_9
    assert sorted((f["promise_id"], f["reason"]) for f in report.failed) == [
        (far, "date_out_of_range"), (lost, "unknown_calendar")]
    assert promise(agency, far).assess_error == "date_out_of_range"
    assert promise(agency, lost).assess_error == "unknown_calendar"
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2
    assert f"promise #{far} could not be assessed (date_out_of_range)" in logged[0] + logged[1]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reliability.scan"):
        later = tick(agency, TUESDAY_9)
    assert later.failed == [] and not caplog.records  # logged once, not every tick
    with Session(agency.engine) as session:
        events = session.exec(select(Event).where(Event.kind == "promise.not_assessed")
                               .order_by(col(Event.id))).all()
    assert [(e.promise_id, e.payload["reason"]) for e in events] == [
        (far, "date_out_of_range"), (lost, "unknown_calendar")]


def test_a_message_that_cannot_be_drafted_sets_aside_only_its_own_promise(
    agency: Ledger, caplog: pytest.LogCaptureFixture,
) -> None:
    """Drafting happens when the batch is written: a batch that fails there is done again
    one promise at a time."""
    past_promises(agency, late=4, on_time=1)
    thursday = at("2026-11-19T10:00-05:00")
    good = q3_report(agency, made="2026-11-19T10:00-05:00")
    french = stored_directly(agency, title="Rapport", due_at=at("2026-11-20T17:00-05:00"),
                             made_at=thursday, locale="fr")
    with caplog.at_level(logging.WARNING, logger="reliability.scan"):
        report = tick(agency, thursday)
    assert [a["promise_id"] for a in report.actions if a["kind"] == "delay_notice"] == [good]
    assert report.failed == [{"promise_id": french, "reason": "unexpected"}]
    assert promise(agency, good).level == "at_risk"
    marked = promise(agency, french)
    assert marked.assess_error == "unexpected" and marked.next_check_at is None
    assert "unknown locale 'fr'" in caplog.text
    assert tick(agency, thursday + timedelta(minutes=1)).failed == []


def test_a_marked_promise_is_assessed_again_once_it_is_moved_to_a_sane_date(
    agency: Ledger, bad_rows: tuple[int, int, int],
) -> None:
    _, far, _ = bad_rows
    tick(agency, MONDAY_9)
    agency.move(far, due_at=at("2026-12-04T17:00-05:00"), reason="a real date", now=MONDAY_9,
                actor="alice@example.com")
    report = tick(agency, TUESDAY_9)
    assert far not in [f["promise_id"] for f in report.failed]
    moved = promise(agency, far)
    assert moved.assess_error is None and moved.assessed_at == TUESDAY_9


def test_the_digest_and_the_dashboard_show_what_could_not_be_assessed(
    agency: Ledger, bad_rows: tuple[int, int, int],
) -> None:
    tick(agency, MONDAY_9)
    with Session(agency.engine) as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        context = build_digest(session, agency.settings, bob, TUESDAY_9)
    text = render("digest", "en", dict(context)).text
    assert "COULD NOT BE ASSESSED" in text
    assert "“Forever project” for Acme (Alice): the due date is too far in the future" in text
    assert "Lost in space" in text and "the client’s timezone or country is unknown" in text
    assert not context["all_clear"]

    agency.settings.web.secret_key = SecretStr("test-secret-key")
    client = TestClient(app_for(agency, TUESDAY_9))
    page = client.get("/sign-in")
    board = client.post("/sign-in/token", data={
        "token": token_for(agency, "bob@example.com"), "next": "/board",
        "csrf_token": csrf_of(page.text)}).text
    assert "Forever project" in board
    assert "could not be assessed: the due date is too far in the future" in board
    assert "could not be assessed: the client’s timezone or country is unknown" in board

    api = TestClient(app_for(agency, TUESDAY_9))
    bearer = {"Authorization": f"Bearer {token_for(agency, 'bob@example.com')}"}
    listed = api.get("/api/at-risk", headers=bearer)
    assert listed.status_code == 200, listed.text
    assert {row["title"] for row in listed.json()["items"]} >= {"Forever project", "Lost in space"}


def test_migration_0008_adds_the_mark_and_takes_it_away_again(fresh: str) -> None:
    engine = make_engine(fresh)

    def promise_columns() -> set[str]:
        with engine.connect() as connection:
            return {c["name"] for c in sa.inspect(connection).get_columns("promise")}

    assert "assess_error" in promise_columns()
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0006")
    assert "assess_error" not in promise_columns()
    assert upgrade(engine) == head_revision()
    assert "assess_error" in promise_columns()
    engine.dispose()
