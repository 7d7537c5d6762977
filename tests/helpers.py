"""Small helpers the tests share."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
