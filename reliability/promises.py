"""The promise with its client and owner: one query and one shape for every reader (the
ledger's lists, the digest, the dashboard and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from reliability.access import EVERYONE, Scope
from reliability.models import Client, Member, Promise, RiskLevel


@dataclass(frozen=True)
class PromiseView:
    """A promise with the client and owner it belongs to."""

    promise: Promise
    client: Client
    owner: Member


def is_overdue(promise: Promise, now: datetime) -> bool:
    """Past due, or marked overdue by the scan: every reader counts it the same way."""
    return promise.level == RiskLevel.overdue or promise.due_at <= now


def promise_views(session: Session, *conditions: Any,
                  scope: Scope = EVERYONE) -> list[PromiseView]:
    """Promises in `scope` meeting `conditions`, soonest due first."""
    query = (select(Promise, Client, Member)
             .join(Client, col(Promise.client_id) == Client.id)
             .join(Member, col(Promise.owner_id) == Member.id)
             .where(scope.where(Promise.owner_id), *conditions)
             .order_by(col(Promise.due_at), col(Promise.id)))
    return [PromiseView(promise, client, owner)
            for promise, client, owner in session.exec(query).all()]
