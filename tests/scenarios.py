"""The Acme / Alice / Bob story the tests tell: a Friday promise that slips mid-week.

Client Acme (America/New_York, US); Alice owns the promises, Bob manages her. Monday
2026-11-16 09:00 Alice promises the Q3 report for Friday 17:00.
"""

from datetime import datetime, timedelta

from freezegun import freeze_time
from helpers import at
from sqlmodel import Session, col, select

from reliability.ledger import Ledger
from reliability.models import Notice
from reliability.scan import Scanner, ScanReport

START = at("2026-09-01T09:00-04:00")
MONDAY_9 = at("2026-11-16T09:00-05:00")
TUESDAY_9 = at("2026-11-17T09:00-05:00")
WEDNESDAY_9 = at("2026-11-18T09:00-05:00")
FRIDAY_5PM = at("2026-11-20T17:00-05:00")


def agency_with(ledger: Ledger, locale: str) -> Ledger:
    """Acme, writing in `locale`, with Bob (manager) and Alice (his report)."""
    ledger.add_client(name="Acme", email="dana@acme.example", contact_name="Dana",
                      timezone="America/New_York", country="US", locale=locale, now=START,
                      actor="t")
    ledger.add_member(email="bob@example.com", name="Bob", role="manager",
                      timezone="America/New_York", now=START, actor="t")
    ledger.add_member(email="alice@example.com", name="Alice", manager_email="bob@example.com",
                      timezone="America/New_York", now=START, actor="t")
    return ledger


def past_promises(ledger: Ledger, *, late: int, on_time: int) -> None:
    """Alice's recent record: week-long promises, delivered a day early or two days late."""
    week = at("2026-10-05T09:00-04:00")
    for index in range(late + on_time):
        made = week + timedelta(days=7 * index // 2)
        due = made + timedelta(days=4, hours=8)
        view = ledger.add_promise(title=f"Deliverable {index}", client_name="Acme",
                                  owner_email="alice@example.com", due_at=due, now=made,
                                  actor="t")
        done = due + timedelta(days=2) if index < late else due - timedelta(days=1)
        ledger.complete(view.promise.id or 0, now=done, actor="t")


def q3_report(ledger: Ledger, made: str = "2026-11-16T09:00-05:00") -> int:
    view = ledger.add_promise(title="Q3 report", client_name="Acme",
                              owner_email="alice@example.com", due_at=FRIDAY_5PM, now=at(made),
                              actor="alice@example.com")
    return view.promise.id or 0


def notices_of(ledger: Ledger, kind: str) -> list[Notice]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(Notice).where(Notice.kind == kind)
                                 .order_by(col(Notice.id))).all())


def tick(ledger: Ledger, now: datetime) -> ScanReport:
    """One scheduler tick at `now`, with the clock pinned there too."""
    with freeze_time(now):
        return Scanner(ledger).tick(now)


def wednesday_draft(ledger: Ledger) -> Notice:
    """The story up to Wednesday morning: Alice said "at risk" on Tuesday; one draft."""
    past_promises(ledger, late=1, on_time=5)
    promise_id = q3_report(ledger)
    tick(ledger, TUESDAY_9)
    ledger.check_in(promise_id, status="at_risk", note="Waiting on the ad account data.",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")
    tick(ledger, WEDNESDAY_9)
    [draft] = notices_of(ledger, "delay_notice")
    return draft
