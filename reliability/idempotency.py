"""Idempotency keys: a write sent twice (a retry after a timeout, a double click, a queue
delivering again) is done once, and every copy gets the first answer.

The key is claimed by inserting its row under a unique (caller, key) index before the
action runs, in a transaction of its own, so of any number of copies arriving at once
in any number of processes exactly one inserts it; the others find the row and wait for
its answer. Keys live `KEY_LIFETIME`; expired ones are deleted by the next claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from reliability import limits
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)


class KeyReused(UserError):
    """The key was first sent with another request: a client bug, never replayed."""


@dataclass(frozen=True)
class Answer:
    """The first request's answer, given again."""

    status_code: int
    body: str


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it runs the action, then records the answer."""

    id: int


def check_key(key: str) -> str:
    """A key is 1 to 255 printable ASCII characters (a UUID is the usual choice)."""
    limits.text(key, "idempotency key", "Idempotency-Key")
    if not key or not all(" " < char <= "~" for char in key):
        raise UserError("the Idempotency-Key is empty or holds spaces or non-ASCII characters",
                        field="Idempotency-Key", hint="send a random UUID, one per action")
    return key


def claim(ledger: Ledger, *, caller: str, key: str, request_hash: str,
          now: datetime) -> Claim | Answer | None:
    """Hold the key for this request (a Claim), or the answer it already had (an Answer),
    or None while the first request with it is still running."""
    check_key(key)
    with ledger.transaction() as session:
        session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.expires_at) <= now))
    try:
        with ledger.transaction() as session:
            row = IdempotencyKey(caller=caller, key=key, request_hash=request_hash,
                                 created_at=now, expires_at=now + KEY_LIFETIME)
            session.add(row)
            session.flush()
            return Claim(row.id or 0)
    except IntegrityError:
        return answer(ledger, caller=caller, key=key, request_hash=request_hash)


def answer(ledger: Ledger, *, caller: str, key: str, request_hash: str) -> Answer | None:
    """The recorded answer for the key; None while its request runs (or once it expired)."""
    with ledger.session() as session:
        row = session.exec(select(IdempotencyKey).where(
            IdempotencyKey.caller == caller, IdempotencyKey.key == key)).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise KeyReused("this Idempotency-Key was first used with a different request",
                        field="Idempotency-Key",
                        hint="use a new key for each new action; repeat a key only to retry "
                             "exactly the same request")
    if row.status_code is None or row.response is None:
        return None
    return Answer(row.status_code, row.response)


def record(ledger: Ledger, held: Claim, *, status_code: int, body: str) -> None:
    """The answer every repeat of the key gets from now on."""
    with ledger.transaction() as session:
        session.execute(update(IdempotencyKey).where(col(IdempotencyKey.id) == held.id)
                        .values(status_code=status_code, response=body))


def release(ledger: Ledger, held: Claim) -> None:
    """The action failed unexpectedly, so nothing was written: the key may be tried again."""
    with ledger.transaction() as session:
        session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.id) == held.id))
