"""The promise with its client and owner: one query and one shape for every reader (the
ledger's lists, the digest, the dashboard and the API)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from reliability.access import EVERYONE, Scope
from reliability.models import Client, Member, Promise, RiskLevel
from reliability.paging import Key, Page, page


@dataclass(frozen=True)
class PromiseView:
    """A promise with the client and owner it belongs to."""

    promise: Promise
    client: Client
    owner: Member


# Soonest due first: the due-date index gives this order without sorting.
BY_DUE = (Key(col(Promise.due_at), lambda v: v.promise.due_at, datetime),
          Key(col(Promise.id), lambda v: v.promise.id))


def is_overdue(promise: Promise, now: datetime) -> bool:
    """Past due, or marked overdue by the scan: every reader counts it the same way."""
    return promise.level == RiskLevel.overdue or promise.due_at <= now


def _query(conditions: Sequence[Any], scope: Scope, *, by_owner_index: bool = True) -> Any:
    owner = col(Promise.owner_id) if by_owner_index else col(Promise.owner_id) + 0
    return (select(Promise, Client, Member)
            .join(Client, col(Promise.client_id) == Client.id)
            .join(Member, col(Promise.owner_id) == Member.id)
            .where(scope.where(owner), *conditions))


def _views(session: Session, query: Any) -> list[PromiseView]:
    return [PromiseView(promise, client, owner)
            for promise, client, owner in session.exec(query).all()]


def promise_views(session: Session, *conditions: Any,
                  scope: Scope = EVERYONE) -> list[PromiseView]:
    """Promises in `scope` meeting `conditions`, soonest due first."""
    return _views(session, _query(conditions, scope).order_by(col(Promise.due_at),
                                                               col(Promise.id)))


def promise_views_page(session: Session, *conditions: Any, scope: Scope = EVERYONE,
                       after: str | None, limit: int, order: Sequence[Key] = BY_DUE,
                       by_owner_index: bool = True) -> Page[PromiseView]:
    """One keyset page of the same promises, in `order` (soonest due first by default).
    Without `by_owner_index` the scope's owners only filter the rows, so the database walks
    the index of the order from the cursor instead of sorting each owner's whole history."""
    return page(_query(conditions, scope, by_owner_index=by_owner_index), order, after=after,
                limit=limit, fetch=lambda query: _views(session, query))


def promise_views_in_batches(session: Session, *conditions: Any, scope: Scope = EVERYONE,
                             batch: int = 500) -> Iterator[PromiseView]:
    """The same promises soonest due first, read a page at a time, so a reader of every
    promise holds one batch in memory, not the ledger."""
    after: str | None = None
    while True:
        found = promise_views_page(session, *conditions, scope=scope, after=after,
                                   limit=batch)
        yield from found.items
        if found.after is None:
            return
        session.expunge_all()
        after = found.after
