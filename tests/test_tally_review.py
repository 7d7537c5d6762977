"""Review checks of the tally kept by commands against a recount."""

from datetime import timedelta

from histories import HOUR, notice, recounted_equals_kept
from scenarios import START, agency_with
from test_tally_figures import BEGIN

from reliability import notices
from reliability.ledger import Ledger
from reliability.models import NoticeKind, NoticeStatus, Promise


def test_one_transaction_touching_two_pairs_of_one_day(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    ledger.add_client(name="Hooli", email="g@hooli.example", timezone="Europe/Stockholm",
                      country="SE", now=START, actor="t")
    due = BEGIN + 30 * HOUR
    ids = {}
    for owner in ("alice@example.com", "bob@example.com"):
        for client in ("Acme", "Hooli"):
            ids[owner, client] = ledger.add_promise(
                title=f"{owner} {client}", client_name=client, owner_email=owner,
                due_at=due, now=BEGIN, actor="t").promise.id
    with ledger.transaction() as session:
        for key in (("alice@example.com", "Acme"), ("bob@example.com", "Hooli")):
            ledger._mark_done(session, session.get(Promise, ids[key]), now=BEGIN + HOUR,
                              actor="t")
    recounted_equals_kept(ledger, BEGIN)
    # requests for several promises in one transaction (as the scan stores them)
    with ledger.transaction() as session:
        for key in (("alice@example.com", "Hooli"), ("bob@example.com", "Acme")):
            notices.store(session, notice(NoticeKind.checkin_request, ids[key],
                                           BEGIN + 2 * HOUR, NoticeStatus.sent, None),
                          now=BEGIN + 2 * HOUR)
    recounted_equals_kept(ledger, BEGIN)
    ledger.edit_client(1, timezone="Asia/Shanghai", now=BEGIN + timedelta(days=1), actor="t")
    recounted_equals_kept(ledger, BEGIN)


def _recount_beside(ledger: Ledger, database_url: str, command) -> dict:
    import threading

    import pytest
    from helpers import until_a_writer_waits_on_a_lock

    from reliability import rollups
    if not database_url.startswith("postgresql"):
        pytest.skip("one writer at a time")
    outcome: dict = {}

    def other() -> None:
        command()
        outcome["done"] = True

    with ledger.transaction() as session:
        rollups.recount(session, ledger.settings, now=BEGIN)
        thread = threading.Thread(target=other)
        thread.start()
        until_a_writer_waits_on_a_lock(ledger.engine, thread, outcome)
    thread.join(timeout=30)
    return outcome


def test_a_command_beside_a_recount_counts_its_days_after_it(ledger: Ledger,
                                                             database_url: str) -> None:
    agency_with(ledger, "en")
    due = BEGIN + 30 * HOUR
    ids = [ledger.add_promise(title=f"P{i}", client_name="Acme",
                              owner_email="alice@example.com", due_at=due, now=BEGIN,
                              actor="t").promise.id for i in range(3)]
    ledger.move(ids[1], due_at=due + 48 * HOUR, reason="scope", client_told=True,
                now=BEGIN + HOUR, actor="t")
    outcome = _recount_beside(ledger, database_url,
                              lambda: ledger.complete(ids[0], now=BEGIN + 2 * HOUR, actor="t"))
    assert outcome == {"done": True}
    recounted_equals_kept(ledger, BEGIN)
    # a told promise (its row is updated by the recount before the tally is locked)
    outcome = _recount_beside(ledger, database_url,
                              lambda: ledger.complete(ids[1], now=BEGIN + 40 * HOUR, actor="t"))
    assert outcome == {"done": True}
    recounted_equals_kept(ledger, BEGIN)
    # a new promise: the client's row is updated by the recount
    outcome = _recount_beside(ledger, database_url, lambda: ledger.add_promise(
        title="new", client_name="Acme", owner_email="bob@example.com", due_at=due,
        now=BEGIN + 3 * HOUR, actor="t"))
    assert outcome == {"done": True}
    recounted_equals_kept(ledger, BEGIN)
