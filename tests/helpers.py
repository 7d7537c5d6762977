"""Small helpers the tests share."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from reliability.forecast import PastPromise

NEW_YORK = ZoneInfo("America/New_York")


def at(text: str) -> datetime:
    """A moment from ISO 8601 with its offset, so every test states its timezone."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, "tests use explicit offsets"
    return moment


def history(late: int, total: int, owner: str = "alice") -> list[PastPromise]:
    """`total` Monday-to-Friday promises, the most recent `late` of them delivered a day late."""
    promises = []
    for week in range(total):
        made = datetime(2026, 11, 9, 9, tzinfo=NEW_YORK) - timedelta(weeks=week + 1)
        due = made + timedelta(days=4, hours=8)
        done = due + timedelta(days=3) if week < late else due - timedelta(days=1)
        promises.append(PastPromise(owner=owner, made_at=made, due_at=due, done_at=done))
    return promises


def until_a_writer_waits_on_a_lock(engine: sa.Engine, other: threading.Thread,
                                   outcome: dict) -> None:
    """Return once another transaction of this PostgreSQL database waits on a row lock
    (`other`'s), so a test can make two writers overlap for certain."""
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while not watcher.execute(sa.text(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                "and datname = current_database()")).scalar():
            assert time.monotonic() < deadline and other.is_alive(), outcome
            watcher.rollback()  # a fresh snapshot of the server's activity next time
            other.join(timeout=0.05)
