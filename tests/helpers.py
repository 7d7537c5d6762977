"""Small helpers the tests share."""

from datetime import datetime


def at(text: str) -> datetime:
    """A moment from ISO 8601 with its offset, so every test states its timezone."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, "tests use explicit offsets"
    return moment
