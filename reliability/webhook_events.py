"""Which recorded events become webhooks, what their document holds, and the fan-out.

Every writer of an Event row hands it here in the same transaction (`Ledger.record`,
`move_promise`, `notices.record_event`, the scan's batch): an event of a type some enabled
endpoint subscribes to becomes one outbox row per such endpoint, each carrying the same
event id, under the unique key `webhook:<endpoint>:<event id>`. The change and its
deliveries commit together or not at all (a transactional outbox): no delivery for a
change that rolled back, no change without its deliveries.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from reliability.models import (
    Client,
    Event,
    Member,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
    WebhookEndpoint,
)
from reliability.vocabulary import RiskLevel, WebhookEvent

# The event kinds the ledger records that receivers see under another name.
_RENAMED = {
    "promise.made": WebhookEvent.promise_created,
    "promise.done": WebhookEvent.promise_done,
    "promise.moved": WebhookEvent.promise_moved,
    "notice.sent": WebhookEvent.notice_sent,
    "notice.dead": WebhookEvent.notice_dead,
    "mistake.logged": WebhookEvent.mistake_logged,
}
# The scan's level changes that are events of their own.
_LEVELS = {RiskLevel.at_risk: WebhookEvent.promise_at_risk,
           RiskLevel.overdue: WebhookEvent.promise_overdue}
# A webhook's own sending is not an event receivers subscribe to (it would feed itself).
_SILENT_NOTICES = (NoticeKind.webhook,)


@dataclass(frozen=True)
class Recorded:
    """An Event row's values, however it was written (ORM object or batch row)."""

    kind: str
    at: datetime
    promise_id: int | None
    payload: Mapping[str, Any]


def webhook_type(kind: str, payload: Mapping[str, Any]) -> str | None:
    """The webhook event type of a recorded event, or None when receivers never see it."""
    if kind == "promise.assessed":
        return _LEVELS.get(str(payload.get("to")))
    if kind.startswith("notice.") and payload.get("notice_kind") in _SILENT_NOTICES:
        return None
    return _RENAMED.get(kind)


def publish(session: Session, event: Event) -> None:
    """Queue the deliveries of one Event row the caller is adding to `session`."""
    publish_rows(session, [Recorded(event.kind, event.at, event.promise_id, event.payload)])


def publish_batch(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Queue the deliveries of Event rows written as a batch (`db.insert_rows` dicts)."""
    publish_rows(session, [Recorded(row["kind"], row["at"], row.get("promise_id"),
                                    row.get("payload") or {}) for row in rows])


def publish_rows(session: Session, events: Sequence[Recorded]) -> None:
    typed = [(event, kind) for event in events
             if (kind := webhook_type(event.kind, event.payload)) is not None]
    if not typed:
        return
    endpoints = session.exec(select(WebhookEndpoint).where(
        WebhookEndpoint.enabled == True,  # noqa: E712 - a SQL comparison
        col(WebhookEndpoint.removed_at).is_(None)).order_by(col(WebhookEndpoint.id))).all()
    if not endpoints:
        return
    wanted = [(event, kind, [e for e in endpoints if kind in e.events]) for event, kind in typed]
    wanted = [item for item in wanted if item[2]]
    promises = _promises(session, {event.promise_id for event, _, _ in wanted
                                   if event.promise_id is not None})
    for event, kind, subscribers in wanted:
        document = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": kind,
            "created_at": event.at.isoformat(),
            "data": {**event.payload, "promise": promises.get(event.promise_id or 0)},
        }
        if kind in _LEVELS.values() and document["data"]["promise"] is not None:
            document["data"]["promise"]["level"] = event.payload.get("to")
        body = json.dumps(document, ensure_ascii=False, sort_keys=True)
        session.add_all([_delivery(endpoint, document, body, event.at)
                         for endpoint in subscribers])


def _delivery(endpoint: WebhookEndpoint, document: Mapping[str, Any], body: str,
              moment: datetime) -> Notice:
    return Notice(
        kind=NoticeKind.webhook, idempotency_key=f"webhook:{endpoint.id}:{document['id']}",
        channel="webhook", recipient=endpoint.url, locale="en", subject=document["type"],
        text=body, context={"event_id": document["id"], "type": document["type"]},
        status=NoticeStatus.queued, created_by="webhooks", created_at=moment,
        approved_by="policy:webhook", approved_at=moment, next_attempt_at=moment,
        webhook_endpoint_id=endpoint.id,
    )


def _promises(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    """What a receiver needs to know about each promise, read in one query."""
    if not ids:
        return {}
    rows = session.exec(
        select(Promise, Client, Member)
        .join(Client, col(Promise.client_id) == Client.id)
        .join(Member, col(Promise.owner_id) == Member.id)
        .where(col(Promise.id).in_(sorted(ids)))).all()
    return {promise.id or 0: {
        "id": promise.id,
        "title": promise.title,
        "client": client.name,
        "owner": owner.email,
        "status": promise.status,
        "level": promise.level,
        "due_at": promise.due_at.isoformat(),
        "original_due_at": promise.original_due_at.isoformat(),
        "internal": promise.internal,
    } for promise, client, owner in rows}
