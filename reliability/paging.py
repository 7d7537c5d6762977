"""Keyset pages: a list is read `limit` rows at a time after the last row shown, never by
offset, so page 2,000 costs what page 1 costs and a row added meanwhile moves no row to
another page.

A cursor is opaque to readers: the sort key of the last row shown, base64url of JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from reliability.errors import UserError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
T = TypeVar("T")


class BadRequest(UserError):
    """A request that cannot be read as asked (a cursor from elsewhere, a page too large):
    an interface answers it with 400, not 409."""


@dataclass(frozen=True)
class Key:
    """One column of a list's order: the expression (never NULL), how to read its value
    from a row the page shows, the type of that value, and its direction."""

    column: Any
    value: Callable[[Any], Any]
    kind: type = int  # what a cursor must hold for it: int, float, str or datetime
    descending: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """The rows of one page and the cursor of the next (None on the last page)."""

    items: list[T]
    after: str | None


def limit_of(limit: int | None) -> int:
    """The page size asked for, within 1 and MAX_LIMIT."""
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"a page holds 1 to {MAX_LIMIT} rows, not {limit}", field="limit",
                         hint=f"give a limit between 1 and {MAX_LIMIT} (default "
                              f"{DEFAULT_LIMIT}) and follow the next link for more")
    return limit


def _encode(value: Any) -> Any:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return datetime.fromisoformat(value["t"])
    return value


def cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# A cursor this module makes holds a few sort keys: a few hundred characters at most.
MAX_CURSOR = 512


def _values(after: str, keys: Sequence[Key]) -> list[Any]:
    refused = BadRequest("the cursor in 'after' is not one this list gave", field="after",
                         hint="follow the list's next link as it is, or start again without "
                              "'after'")
    if len(after) > MAX_CURSOR:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))
        values = [_decode(v) for v in json.loads(raw)]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError,
            RecursionError):
        raise refused from None
    if len(values) != len(keys):
        raise refused
    checked = []
    for value, key in zip(values, keys, strict=True):
        if key.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not key.kind or not _storable(value):
            raise refused
        checked.append(value)
    return checked


def _storable(value: Any) -> bool:
    """A value the database can compare: an aware moment it can convert, a finite number,
    an integer of 63 bits."""
    if isinstance(value, datetime):
        try:
            return value.tzinfo is not None and value.astimezone(UTC).year > 1
        except OverflowError:
            return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return abs(value) < 2**63
    return True


def after_condition(keys: Sequence[Key], after: str) -> sa.ColumnElement[bool]:
    """Rows that sort after the cursor: (k1 > v1) or (k1 = v1 and k2 > v2) ..., with the
    first key's range stated on its own so the database walks its index from there."""
    values = _values(after, keys)
    ors = []
    for i, key in enumerate(keys):
        equal = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        ors.append(sa.and_(*equal, beyond))
    first = keys[0]
    start = first.column <= values[0] if first.descending else first.column >= values[0]
    return sa.and_(start, sa.or_(*ors))


def ordered(keys: Sequence[Key]) -> list[Any]:
    return [key.column.desc() if key.descending else key.column.asc() for key in keys]


def page(query: Any, keys: Sequence[Key], *, after: str | None, limit: int,
         fetch: Callable[[Any], Sequence[T]]) -> Page[T]:
    """One page of `query` in the order of `keys`: limit + 1 rows read, limit shown, and
    the cursor of the last one shown if more follow."""
    limit = limit_of(limit)
    if after:
        query = query.where(after_condition(keys, after))
    rows = list(fetch(query.order_by(*ordered(keys)).limit(limit + 1)))
    if len(rows) <= limit:
        return Page(rows, None)
    shown = rows[:limit]
    return Page(shown, cursor([key.value(shown[-1]) for key in keys]))
