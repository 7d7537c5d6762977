"""The service layer: every command is one transaction with one event; bad input writes nothing."""

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from helpers import at
from sqlmodel import Session, select

from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import CheckIn, Client, DueChange, Event, Member, Promise

MONDAY = at("2026-11-16T09:00-05:00")
FRIDAY_5PM = at("2026-11-20T17:00-05:00")


def snapshot(ledger: Ledger) -> dict[str, int]:
    with Session(ledger.engine) as session:
        return {
            model.__name__: session.exec(select(sa.func.count()).select_from(model)).one()
            for model in (Client, Member, Promise, CheckIn, DueChange, Event)
        }


def events(ledger: Ledger) -> list[str]:
    with Session(ledger.engine) as session:
        return [event.kind for event in session.exec(select(Event).order_by(Event.id)).all()]


@pytest.fixture
def acme(ledger: Ledger) -> Ledger:
    ledger.add_client(name="Acme", email="dana@acme.example", contact_name="Dana",
                      timezone="America/New_York", country="US", now=MONDAY, actor="test")
    ledger.add_member(email="bob@example.com", name="Bob", role="manager",
                      timezone="America/New_York", now=MONDAY, actor="test")
    ledger.add_member(email="Alice@Example.com", name="Alice", manager_email="bob@example.com",
                      timezone="America/New_York", now=MONDAY, actor="test")
    return ledger


def promise_q3(ledger: Ledger) -> int:
    view = ledger.add_promise(title="Q3 report", client_name="acme",
                              owner_email="alice@example.com", due_at=FRIDAY_5PM, now=MONDAY,
                              actor="alice@example.com")
    assert view.promise.id is not None
    return view.promise.id


def test_a_promise_is_stored_with_its_original_date_and_an_event(acme: Ledger) -> None:
    promise_id = promise_q3(acme)
    history = acme.history(promise_id)
    promise = history.view.promise
    assert (promise.title, promise.status) == ("Q3 report", "open")
    assert promise.due_at == FRIDAY_5PM == promise.original_due_at
    assert history.view.client.name == "Acme" and history.view.owner.email == "alice@example.com"
    assert [e.kind for e in history.events] == ["promise.made"]
    assert history.events[0].actor == "alice@example.com"


def test_moments_come_back_timezone_aware_in_utc(acme: Ledger) -> None:
    promise = acme.history(promise_q3(acme)).view.promise
    assert promise.due_at.utcoffset() is not None
    assert promise.due_at.isoformat() == "2026-11-20T22:00:00+00:00"
    assert promise.made_at == MONDAY


def test_completing_records_whether_it_was_late(acme: Ledger) -> None:
    promise_id = promise_q3(acme)
    view = acme.complete(promise_id, now=at("2026-11-20T15:00-05:00"), actor="alice")
    assert view.promise.status == "done"
    assert acme.history(promise_id).events[-1].payload["late"] is False


def test_a_done_check_in_completes_the_promise(acme: Ledger) -> None:
    promise_id = promise_q3(acme)
    checkin = acme.check_in(promise_id, status="done", now=at("2026-11-19T10:00-05:00"),
                            actor="alice")
    assert checkin.progress == 100
    history = acme.history(promise_id)
    assert history.view.promise.status == "done"
    assert [e.kind for e in history.events] == ["promise.made", "promise.checked_in",
                                                "promise.done"]


def test_moving_a_promise_keeps_the_original_date_and_records_the_change(acme: Ledger) -> None:
    promise_id = promise_q3(acme)
    new_due = at("2026-11-24T17:00-05:00")
    acme.move(promise_id, due_at=new_due, reason="data arrives Monday", client_told=True,
              now=at("2026-11-18T10:00-05:00"), actor="alice")
    history = acme.history(promise_id)
    assert history.view.promise.due_at == new_due
    assert history.view.promise.original_due_at == FRIDAY_5PM
    [change] = history.due_changes
    assert (change.old_due_at, change.new_due_at, change.client_told) == (FRIDAY_5PM, new_due,
                                                                          True)
    assert change.client_told_at == at("2026-11-18T10:00-05:00")


def test_cancelling_keeps_the_reason(acme: Ledger) -> None:
    promise_id = promise_q3(acme)
    view = acme.cancel(promise_id, reason="client paused the project", now=MONDAY, actor="bob")
    assert (view.promise.status, view.promise.cancel_reason) == ("cancelled",
                                                                 "client paused the project")


def test_listing_filters_by_status_client_and_owner(acme: Ledger) -> None:
    first = promise_q3(acme)
    promise_q3(acme)
    acme.complete(first, now=at("2026-11-17T09:00-05:00"), actor="alice")
    assert [v.promise.id for v in acme.promises(status="done")] == [first]
    assert len(acme.promises(client_name="ACME", owner_email="alice@example.com")) == 2
    assert acme.promises(owner_email="bob@example.com") == []


def test_member_email_is_case_insensitive_and_the_manager_is_linked(acme: Ledger) -> None:
    members = {m.email: boss for m, boss in acme.members()}
    assert members["alice@example.com"] is not None
    assert members["alice@example.com"].email == "bob@example.com"


BAD_COMMANDS: dict[str, Callable[[Ledger], object]] = {
    "unknown client": lambda led: led.add_promise(
        title="x", client_name="Globex", owner_email="alice@example.com", due_at=FRIDAY_5PM,
        now=MONDAY, actor="t"),
    "unknown member": lambda led: led.add_promise(
        title="x", client_name="Acme", owner_email="carol@example.com", due_at=FRIDAY_5PM,
        now=MONDAY, actor="t"),
    "is in the past": lambda led: led.add_promise(
        title="x", client_name="Acme", owner_email="alice@example.com",
        due_at=at("2026-11-13T17:00-05:00"), now=MONDAY, actor="t"),
    "no promise #999": lambda led: led.complete(999, now=MONDAY, actor="t"),
    "already exists": lambda led: led.add_client(name="ACME", email="x@acme.example", now=MONDAY,
                                             actor="t"),
    "not an email address": lambda led: led.add_member(email="carol", name="Carol", now=MONDAY,
                                                   actor="t"),
    "unknown timezone": lambda led: led.add_client(name="Globex", email="g@globex.example",
                                               timezone="Mars/Olympus", now=MONDAY, actor="t"),
    "unknown country": lambda led: led.add_client(name="Globex", email="g@globex.example",
                                              country="XX", now=MONDAY, actor="t"),
    "unknown locale": lambda led: led.add_client(name="Globex", email="g@globex.example",
                                             locale="de", now=MONDAY, actor="t"),
    "percentage from 0 to 100": lambda led: led.check_in(1, status="on_track", progress=140,
                                                     now=MONDAY, actor="t"),
    "unknown check-in status": lambda led: led.check_in(1, status="fine", now=MONDAY, actor="t"),
    "unknown member 'nobody": lambda led: led.add_member(
        email="carol@example.com", name="Carol", manager_email="nobody@example.com",
        now=MONDAY, actor="t"),
}


@pytest.mark.parametrize("problem", list(BAD_COMMANDS))
def test_bad_input_is_refused_with_a_reason_and_writes_nothing(acme: Ledger, problem: str) -> None:
    promise_q3(acme)
    before = snapshot(acme)
    with pytest.raises(UserError, match=problem):
        BAD_COMMANDS[problem](acme)
    assert snapshot(acme) == before


def test_marking_a_promise_done_twice_is_refused(acme: Ledger) -> None:
    promise_id = promise_q3(acme)
    acme.complete(promise_id, now=at("2026-11-18T09:00-05:00"), actor="alice")
    before = snapshot(acme)
    with pytest.raises(UserError, match="already done"):
        acme.complete(promise_id, now=at("2026-11-18T10:00-05:00"), actor="alice")
    assert snapshot(acme) == before


def test_the_event_log_refuses_updates_and_deletes(acme: Ledger) -> None:
    promise_q3(acme)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), acme.engine.begin() as c:
        c.exec_driver_sql("UPDATE event SET kind = 'forged'")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), acme.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM event")
    assert events(acme)[-1] == "promise.made"


def test_naive_datetimes_never_reach_the_database(acme: Ledger) -> None:
    with pytest.raises(UserError, match="timezone offset"):
        acme.add_promise(title="x", client_name="Acme", owner_email="alice@example.com",
                         due_at=FRIDAY_5PM.replace(tzinfo=None), now=MONDAY, actor="t")
