"""Ledger rows as plain JSON records: the one shape the CLI, the API and exports share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reliability.calendar import CalendarError, zone
from reliability.drafting.rendering import money_text
from reliability.models import CheckIn, Client, DueChange, Event, Member, Mistake, Notice, Promise


def iso(moment: datetime | None, timezone: str | None = None) -> str | None:
    """ISO 8601 with the offset of `timezone` (the client's), so people read their own time."""
    if moment is None:
        return None
    try:
        return (moment.astimezone(zone(timezone)) if timezone else moment).isoformat()
    except (CalendarError, OverflowError):
        # A row stored before today's checks (a zone since removed, a date at the end of
        # time) is still listed, in UTC, rather than failing the whole list.
        return moment.isoformat()


def client_record(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "contact_name": client.contact_name,
        "greeting": client.greeting,
        "email": client.email,
        "slack_channel": client.slack_channel,
        "locale": client.locale,
        "address": client.address,
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
        "locale": member.locale,
        "manager": manager.email if manager else None,
        "role": member.role,
        "signature": member.signature,
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
        "capture_p_late": promise.capture_p_late,
        "suggested_due_at": iso(promise.suggested_due_at, tz),
        "asked_due_at": iso(promise.asked_due_at, tz),
    }


def checkin_record(checkin: CheckIn, timezone: str | None = None) -> dict[str, Any]:
    return {
        "id": checkin.id,
        "promise_id": checkin.promise_id,
        "at": iso(checkin.at, timezone),
        "status": checkin.status,
        "progress": checkin.progress,
        "note": checkin.note,
        "waiting_for": checkin.waiting_for,
        "client_reason": checkin.client_reason,
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


def notice_record(notice: Notice, client_name: str | None = None,
                  timezone: str | None = None) -> dict[str, Any]:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "promise_id": notice.promise_id,
        "mistake_id": notice.mistake_id,
        "client": client_name,
        "channel": notice.channel,
        "recipient": notice.recipient,
        "locale": notice.locale,
        "status": notice.status,
        "subject": notice.subject,
        "text": notice.text,
        "approver_note": notice.approver_note,
        "proposed_due_at": iso(notice.proposed_due_at, timezone),
        "created_by": notice.created_by,
        "created_at": iso(notice.created_at, timezone),
        "approved_by": notice.approved_by,
        "attempts": notice.attempts,
        "next_attempt_at": iso(notice.next_attempt_at, timezone),
        "sent_at": iso(notice.sent_at, timezone),
        "last_error": notice.last_error,
        "cancel_reason": notice.cancel_reason,
    }


def mistake_record(mistake: Mistake, client: Client, owner: Member) -> dict[str, Any]:
    return {
        "id": mistake.id,
        "client": client.name,
        "owner": owner.email,
        "promise_id": mistake.promise_id,
        "summary": mistake.summary,
        "prevention": mistake.prevention,
        "category": mistake.category,
        "severity": mistake.severity,
        "credit": (money_text(mistake.credit_amount, mistake.credit_currency, client.locale)
                   if mistake.credit_amount is not None and mistake.credit_currency else None),
        "credit_method": mistake.credit_method,
        "credit_basis": mistake.credit_basis,
        "fixed": mistake.fixed,
        "repeat": mistake.repeat_of_id is not None,
        "prevention_promise_id": mistake.prevention_promise_id,
        "created_at": iso(mistake.created_at, client.timezone),
    }
