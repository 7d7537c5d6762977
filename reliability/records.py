"""Ledger rows as plain JSON records: the one shape the CLI, the API and exports share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reliability.calendar import zone
from reliability.models import CheckIn, Client, DueChange, Event, Member, Promise


def iso(moment: datetime | None, timezone: str | None = None) -> str | None:
    """ISO 8601 with the offset of `timezone` (the client's), so people read their own time."""
    if moment is None:
        return None
    return (moment.astimezone(zone(timezone)) if timezone else moment).isoformat()


def client_record(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "contact_name": client.contact_name,
        "email": client.email,
        "slack_channel": client.slack_channel,
        "locale": client.locale,
        "timezone": client.timezone,
        "country": client.country,
        "channel": client.channel,
        "auto_send": client.auto_send,
        "confirm_promises": client.confirm_promises,
    }


def member_record(member: Member, manager: Member | None = None) -> dict[str, Any]:
    return {
        "id": member.id,
        "email": member.email,
        "name": member.name,
        "slack_user_id": member.slack_user_id,
        "timezone": member.timezone,
        "country": member.country,
        "manager": manager.email if manager else None,
        "role": member.role,
    }


def promise_record(promise: Promise, client: Client, owner: Member) -> dict[str, Any]:
    tz = client.timezone
    return {
        "id": promise.id,
        "title": promise.title,
        "client": client.name,
        "owner": owner.email,
        "made_at": iso(promise.made_at, tz),
        "due_at": iso(promise.due_at, tz),
        "original_due_at": iso(promise.original_due_at, tz),
        "status": promise.status,
        "done_at": iso(promise.done_at, tz),
        "cancelled_at": iso(promise.cancelled_at, tz),
        "cancel_reason": promise.cancel_reason,
        "source": promise.source,
        "raw_text": promise.raw_text,
        "internal": promise.internal,
    }


def checkin_record(checkin: CheckIn, timezone: str | None = None) -> dict[str, Any]:
    return {
        "id": checkin.id,
        "promise_id": checkin.promise_id,
        "at": iso(checkin.at, timezone),
        "status": checkin.status,
        "progress": checkin.progress,
        "note": checkin.note,
    }


def due_change_record(change: DueChange, timezone: str | None = None) -> dict[str, Any]:
    return {
        "id": change.id,
        "promise_id": change.promise_id,
        "old_due_at": iso(change.old_due_at, timezone),
        "new_due_at": iso(change.new_due_at, timezone),
        "reason": change.reason,
        "changed_at": iso(change.changed_at, timezone),
        "client_told": change.client_told,
        "client_told_at": iso(change.client_told_at, timezone),
    }


def event_record(event: Event, timezone: str | None = None) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at, timezone),
        "actor": event.actor,
        "kind": event.kind,
        "promise_id": event.promise_id,
        "payload": event.payload,
    }
