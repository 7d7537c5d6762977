"""Random histories played through the service layer, and the tally they leave: shared by
the tests of what the figures keep beside the events (test_rollups) and of the tally
(test_tally_figures, test_tally_review)."""

import random
from collections import Counter
from datetime import datetime, timedelta

from sqlmodel import Session, select

from reliability import notices, tallies
from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import Client, Notice, NoticeKind, NoticeStatus, Promise, Tally, TallyDay
from reliability.outbox import Outbox

HOUR = timedelta(hours=1)
FINISHES = ("complete", "checkin_done", "cancel")


def steps(drawn: list[dict], begin: datetime,
          shuffle: random.Random | None = None) -> list[tuple[datetime, int, str, tuple]]:
    """Every action of the history in the order of time it happens at; with `shuffle`, what
    happened later may be written first (time travel), each promise still made first."""
    found = []
    for index, promise in enumerate(drawn):
        made = begin + promise["made"] * HOUR
        found.append((made, index, "make", (promise, made + promise["length"] * HOUR)))
        for after, longer, told in promise["moves"]:
            found.append((made + after * HOUR, index, "move", (longer, told)))
        for after in promise["requests"]:
            found.append((made + after * HOUR, index, "request", ()))
        for after in promise["checkins"]:
            found.append((made + after * HOUR, index, "checkin", ()))
        if promise["delay_notice"] is not None:
            after, proposes = promise["delay_notice"]
            found.append((made + after * HOUR, index, "delay", (proposes,)))
        if promise.get("finish") is not None:
            after, how = promise["finish"]
            found.append((made + after * HOUR, index, how, ()))
        if promise.get("mistake") is not None:
            found.append((made + promise["mistake"] * HOUR, index, "mistake", ()))
    found.sort(key=lambda step: (step[0], step[1], step[2] != "make"))
    if shuffle:
        rest = [step for step in found if step[2] != "make"]
        shuffle.shuffle(rest)
        found = [step for step in found if step[2] == "make"] + rest
    return found


def play(ledger: Ledger, outbox: Outbox | None, drawn: list[dict], begin: datetime, *,
         shuffle: random.Random | None = None) -> dict[int, int]:
    """Each step as people take it: what only an open promise takes (a move, a check-in, a
    finish) is left out once it finished. In time order every step must succeed and every
    delay notice be sent; out of time order a refusal (a due date now in the past) is a
    step not taken."""
    ids: dict[int, int] = {}
    for moment, index, action, args in steps(drawn, begin, shuffle):
        if action == "make":
            promise, due = args
            ids[index] = ledger.add_promise(
                title=f"Deliverable {index}", client_name=promise["client"],
                owner_email=promise.get("owner", "alice@example.com"), due_at=due,
                now=moment, actor="t").promise.id or 0
            continue
        promise_id = ids[index]
        with ledger.session() as session:
            row = session.get(Promise, promise_id)
            assert row is not None
            due_at, still_open, client_id = row.due_at, row.status == "open", row.client_id
        if action in ("move", "checkin", *FINISHES) and not still_open:
            continue
        try:
            _take(ledger, outbox, action, args, promise_id, due_at, client_id, moment,
                  sent=shuffle is None)
        except Exception as error:
            if shuffle is None or "UserError" not in type(error).__name__:
                raise
    return ids


def _take(ledger: Ledger, outbox: Outbox | None, action: str, args: tuple, promise_id: int,
          due_at: datetime, client_id: int, moment: datetime, *, sent: bool) -> None:
    if action == "complete":
        ledger.complete(promise_id, now=moment, actor="t")
    elif action == "checkin_done":
        ledger.check_in(promise_id, status="done", now=moment, actor="t")
    elif action == "cancel":
        ledger.cancel(promise_id, reason="no longer wanted", now=moment, actor="t")
    elif action == "move":
        longer, told = args
        ledger.move(promise_id, due_at=max(due_at, moment) + longer * HOUR, reason="scope",
                    client_told=told, now=moment, actor="t")
    elif action == "checkin":
        ledger.check_in(promise_id, status="on_track", now=moment, actor="t")
    elif action == "request":
        with ledger.transaction() as session:
            notices.store(session, notice(NoticeKind.checkin_request, promise_id, moment,
                                          NoticeStatus.sent, None), now=moment)
    elif action == "mistake":
        with ledger.session() as session:
            client = session.get(Client, client_id)
            assert client is not None
            name = client.name
        log_mistake(ledger, client_name=name, summary="Wrong figures", prevention="Two checks",
                    category="typo", severity="minor", owner_email="alice@example.com",
                    now=moment, actor="t")
    else:
        proposed = max(due_at, moment) + 48 * HOUR if args[0] else None
        with ledger.transaction() as session:
            notices.store(session, notice(NoticeKind.delay_notice, promise_id, moment,
                                          NoticeStatus.queued, proposed), now=moment)
        assert outbox is not None
        delivered = outbox.deliver(moment)
        assert delivered.sent or not sent


def notice(kind: str, promise_id: int, moment: datetime, status: str,
           proposed: datetime | None) -> Notice:
    return Notice(kind=kind, idempotency_key=f"{kind}:{promise_id}:{moment.isoformat()}",
                  promise_id=promise_id, channel="email", recipient="dana@acme.example",
                  locale="en", subject="About your report", text="t", status=status,
                  created_by="t", created_at=moment, proposed_due_at=proposed,
                  approved_at=moment, next_attempt_at=moment,
                  sent_at=moment if status == NoticeStatus.sent else None)


def tally_rows(session: Session) -> tuple[Counter, dict]:
    """The tally's counts and its days that say anything (a day counted again after its
    last row changed says nothing: nothing open, nothing held)."""
    counts: Counter = Counter()
    for row in session.exec(select(Tally)).all():
        counts[row.grouping, row.owner_id, row.client_id, row.day, row.kind, row.code, row.lead,
               row.kept] += row.number
    days = {(day.day, day.kind): (day.open, day.settles_by)
            for day in session.exec(select(TallyDay)).all()
            if day.open or day.settles_by is not None}
    return +counts, days


def recounted_equals_kept(ledger: Ledger, now: datetime) -> None:
    """The tally the commands kept equals the tally counted from nothing."""
    with ledger.session() as session:
        kept = tally_rows(session)
    with ledger.transaction() as session:
        tallies.recount(session, ledger.settings, now=now)
    with ledger.session() as session:
        assert kept == tally_rows(session)
