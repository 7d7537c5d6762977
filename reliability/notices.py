"""Drafts and the outbox queue: how a message is made, edited, approved or called off.

Policy: nothing reaches a client without a person's approval, unless the client has
`auto_send` on. Messages to the team (check-in requests, escalations, digests) are queued
at once. Every message carries an idempotency key under a unique index, so the same
situation never yields two messages, whichever worker notices it first.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reliability import compose, limits, rollups, webhook_events
from reliability.calendar import zone
from reliability.config import Settings
from reliability.db import among, insert_rows
from reliability.drafting import rendering
from reliability.errors import UserError
from reliability.models import (
    CLIENT_KINDS,
    Client,
    DeliveryChannel,
    Event,
    Member,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
)

PENDING = (NoticeStatus.draft,)
UNSENT = (NoticeStatus.draft, NoticeStatus.approved, NoticeStatus.queued, NoticeStatus.retry,
          NoticeStatus.dead)


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str
    name: str | None
    locale: str


def client_recipient(client: Client) -> Recipient:
    if client.channel == DeliveryChannel.slack and client.slack_channel:
        return Recipient(DeliveryChannel.slack, client.slack_channel, client.contact_name,
                         client.locale)
    return Recipient(DeliveryChannel.email, client.email, client.contact_name, client.locale)


def member_recipient(settings: Settings, member: Member) -> Recipient:
    """A member, reached where they read their messages, in their own language."""
    locale = compose.member_locale(settings, member)
    if member.digest_channel == DeliveryChannel.slack and member.slack_user_id:
        return Recipient(DeliveryChannel.slack, member.slack_user_id, member.name, locale)
    return Recipient(DeliveryChannel.email, member.email, member.name, locale)


def reader_time(moment: datetime, timezone: str, *, year: bool = False) -> str:
    """A moment as a person reads it in lists, pages and replies: their zone, named beside
    the time ("Fri 04 Dec, 17:00 ET"); `year` for pages that span years."""
    local = moment.astimezone(zone(timezone))
    day = f"{local:%a %d %b %Y}" if year else f"{local:%a %d %b}"
    return f"{day}, {local:%H:%M} {rendering.zone_label(timezone, 'en')}"


def reader_and_client_time(moment: datetime, timezone: str, client_zone: str | None) -> str:
    """A moment in the reader's zone and, when the client keeps another clock, theirs beside
    it, with the date again only when it differs: "Fri 20 Nov 2026, 23:00 Swedish time ·
    17:00 ET for the client"."""
    mine = reader_time(moment, timezone, year=True)
    if client_zone is None or client_zone == timezone:
        return mine
    theirs = moment.astimezone(zone(client_zone))
    same_day = theirs.date() == moment.astimezone(zone(timezone)).date()
    day = "" if same_day else f"{theirs:%a %d %b}, "
    return f"{mine} · {day}{theirs:%H:%M} {rendering.zone_label(client_zone, 'en')} for the client"


def state_words(notice: Notice, timezone: str) -> str:
    """Where a message stands, in plain words; when it failed, the last error and what to do,
    so nobody has to open a log to learn a client was never told."""
    error = (notice.last_error or "no reason recorded").rstrip(".")
    if notice.status == NoticeStatus.draft:
        return "Waiting for approval."
    if notice.status in (NoticeStatus.approved, NoticeStatus.queued):
        return "Approved; it goes out with the next delivery round."
    if notice.status == NoticeStatus.sending:
        return "Being sent now."
    if notice.status == NoticeStatus.sent and notice.sent_at is not None:
        return f"Sent {reader_time(notice.sent_at, timezone)}."
    if notice.status == NoticeStatus.retry:
        again = (f" {reader_time(notice.next_attempt_at, timezone)}"
                 if notice.next_attempt_at else "")
        tries = "once" if notice.attempts == 1 else f"{notice.attempts} times"
        return (f"Not sent yet: {error}. Tried {tries}; it will be tried again{again}. "
                "Nothing to do unless it keeps failing.")
    if notice.status == NoticeStatus.dead:
        return (f"Not delivered: {error}. It will not be tried again: check the recipient's "
                "address or Slack channel, then reach them another way or make the message "
                "again.")
    return "Called off."


def key_moment(moment: datetime) -> str:
    """Moments inside idempotency keys are UTC, so every worker spells them the same way."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class Draft:
    """A message to make, before it is rendered: what, to whom, about what, made by whom."""

    kind: str
    key: str
    recipient: Recipient
    context: dict[str, Any]
    created_by: str
    promise_id: int | None = None
    mistake_id: int | None = None
    client: Client | None = None
    member_id: int | None = None
    reply_to: str | None = None
    proposed_due_at: datetime | None = None
    inputs: dict[str, Any] | None = None
    escalate_at: datetime | None = None
    approver_note: str | None = None


def columns(settings: Settings, draft: Draft, now: datetime) -> dict[str, Any]:
    """Render a draft into a Notice row's values, approved at once where the policy allows."""
    message = rendering.render(draft.kind, draft.recipient.locale, draft.context,
                              overrides=settings.templates.dir, channel=draft.recipient.channel)
    to_client = draft.kind in CLIENT_KINDS
    auto = not to_client or (draft.client is not None and draft.client.auto_send)
    return {
        "kind": draft.kind,
        "idempotency_key": draft.key,
        "promise_id": draft.promise_id,
        "mistake_id": draft.mistake_id,
        "client_id": draft.client.id if draft.client is not None else None,
        "member_id": draft.member_id,
        "channel": draft.recipient.channel,
        "recipient": draft.recipient.address,
        "recipient_name": draft.recipient.name,
        "reply_to": draft.reply_to,
        "locale": draft.recipient.locale,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "blocks": message.blocks,
        "context": draft.inputs or {},
        "approver_note": draft.approver_note,
        "proposed_due_at": draft.proposed_due_at,
        "status": NoticeStatus.queued if auto else NoticeStatus.draft,
        "created_by": draft.created_by,
        "created_at": now,
        "approved_by": "policy:auto_send" if auto and to_client else None,
        "approved_at": now if auto else None,
        "next_attempt_at": now if auto else None,
        "escalate_at": None if auto else draft.escalate_at,
        "attempts": 0,
    }


@dataclass(frozen=True)
class Stored:
    """What the caller of `create_many` learns about each message it made."""

    id: int
    kind: str
    promise_id: int | None


def create(session: Session, settings: Settings, *, now: datetime, **draft: Any) -> Notice | None:
    """Render and store one message; None when one already exists for this key.

    Safe against a concurrent writer of the same key: the insert runs in a savepoint and a
    unique-key clash means the other writer won."""
    spec = Draft(**draft)
    if session.exec(select(Notice.id).where(Notice.idempotency_key == spec.key)).first():
        return None
    return store(session, Notice(**columns(settings, spec, now)), now=now)


def store(session: Session, notice: Notice, *, now: datetime) -> Notice | None:
    """Store a rendered message; None when another writer already stored its key."""
    try:
        with session.begin_nested():
            session.add(notice)
            session.flush()
    except IntegrityError:
        return None
    if notice.kind == NoticeKind.checkin_request and notice.promise_id is not None:
        rollups.requests_made(session, [notice.promise_id], now)
    record_event(session, notice, now=now, actor=notice.created_by, kind="notice.created",
                 status=notice.status, recipient=notice.recipient)
    return notice


def create_many(session: Session, settings: Settings, drafts: Sequence[Draft],
                now: datetime) -> list[Stored]:
    """Store the drafts whose keys are new: one look-up, one insert, one insert of events.

    For callers that already hold the rows the keys are about (the scan's claimed batch),
    so no other worker can be making the same keys at the same time."""
    if not drafts:
        return []
    keys = {draft.key for draft in drafts}
    existing = set(session.exec(select(Notice.idempotency_key)
                                .where(among(session, Notice.idempotency_key, keys))).all())
    fresh: dict[str, dict[str, Any]] = {}
    for draft in drafts:
        if draft.key not in existing and draft.key not in fresh:
            fresh[draft.key] = columns(settings, draft, now)
    if not fresh:
        return []
    rows = list(fresh.values())
    # Without RETURNING, SQLite need not insert row by row to keep the ids in order; the
    # keys are unique, so they find the ids.
    insert_rows(session, Notice, rows)
    id_of = dict(session.exec(select(Notice.idempotency_key, Notice.id)
                              .where(among(session, Notice.idempotency_key, fresh))).all())
    ids = [id_of[row["idempotency_key"]] for row in rows]
    rollups.requests_made(session, [row["promise_id"] for row in rows
                                    if row["kind"] == NoticeKind.checkin_request
                                    and row["promise_id"] is not None], now)
    insert_rows(session, Event, [
        {"at": now, "actor": row["created_by"], "kind": "notice.created",
         "promise_id": row["promise_id"],
         "payload": {"notice_id": notice_id, "notice_kind": row["kind"],
                     "status": row["status"], "recipient": row["recipient"]}}
        for notice_id, row in zip(ids, rows, strict=True)
    ])
    return [Stored(notice_id, row["kind"], row["promise_id"])
            for notice_id, row in zip(ids, rows, strict=True)]


def record_event(session: Session, notice: Notice, *, now: datetime, actor: str, kind: str,
                 **payload: Any) -> None:
    event = Event(at=now, actor=actor, kind=kind, promise_id=notice.promise_id,
                  payload={"notice_id": notice.id, "notice_kind": notice.kind, **payload})
    session.add(event)
    webhook_events.publish(session, event)


def get(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, limits.identifier(notice_id, "message", "draft"))
    if notice is None:
        raise UserError(f"there is no message #{notice_id}",
                        hint="the list of drafts shows the ones that exist")
    return notice


def _require(notice: Notice, allowed: tuple[str, ...], verb: str) -> None:
    if notice.status not in allowed:
        raise UserError(f"cannot {verb} draft #{notice.id}: it is {notice.status}")


def approve(session: Session, notice_id: int, *, now: datetime, actor: str) -> Notice:
    notice = get(session, notice_id)
    _require(notice, PENDING, "approve")
    notice.status = NoticeStatus.queued
    notice.approved_by, notice.approved_at = actor, now
    notice.next_attempt_at = now
    notice.escalate_at = None
    session.add(notice)
    record_event(session, notice, now=now, actor=actor, kind="notice.approved")
    return notice


def cancel(session: Session, notice_id: int, *, reason: str, now: datetime, actor: str) -> Notice:
    limits.text(reason, "reason", "reason")
    notice = get(session, notice_id)
    _require(notice, UNSENT, "cancel")
    _cancel(session, notice, reason=reason, now=now, actor=actor)
    return notice


def _cancel(session: Session, notice: Notice, *, reason: str, now: datetime, actor: str) -> None:
    notice.status = NoticeStatus.cancelled
    notice.cancel_reason = reason
    notice.next_attempt_at = None
    notice.escalate_at = None
    session.add(notice)
    record_event(session, notice, now=now, actor=actor, kind="notice.cancelled", reason=reason)


def cancel_pending_for_promise(session: Session, promise_id: int, *, reason: str,
                               now: datetime, actor: str) -> list[Notice]:
    """Drafts about a promise that no longer needs them (the owner says it is on track)."""
    pending = session.exec(
        select(Notice).where(Notice.promise_id == promise_id,
                             col(Notice.status).in_(PENDING),
                             col(Notice.kind).in_([NoticeKind.delay_notice, NoticeKind.escalation]))
    ).all()
    for notice in pending:
        _cancel(session, notice, reason=reason, now=now, actor=actor)
    return list(pending)


def edit(session: Session, settings: Settings, notice_id: int, *, now: datetime, actor: str,
         text: str | None = None, proposed_due_at: datetime | None = None) -> Notice:
    """Change a draft before approval; the old wording stays in the event log.

    A new date re-renders a delay notice from its template; new text then replaces the
    body as written (and the HTML and Slack versions follow it)."""
    notice = get(session, notice_id)
    _require(notice, PENDING, "edit")
    before = _wording(notice)
    if proposed_due_at is not None:
        if notice.kind != NoticeKind.delay_notice or notice.promise_id is None:
            raise UserError("only a delay notice proposes a date", field="due",
                            hint="change the text instead")
        promise = session.get(Promise, notice.promise_id)
        assert promise is not None
        if proposed_due_at <= promise.due_at:
            raise UserError("the proposed date must come after the date being moved",
                            field="due", hint="pick a later day")
        limits.within_horizon(proposed_due_at, now, settings.policy.due_horizon_years,
                              "proposed date", "due")
        _rerender_delay(session, settings, notice, proposed_due_at=proposed_due_at,
                        reason=notice.context.get("reason"), now=now,
                        waiting_for=notice.context.get("waiting_for"))
    notice.context = {**notice.context, "edited_by": actor}
    if text is not None:
        cleaned = limits.text(text, "message text", "text").strip()
        if not cleaned:
            raise UserError("the new text is empty", field="text",
                            hint="write the message you want to send")
        notice.text = cleaned
        notice.html = plain_html(cleaned)
        notice.blocks = [{"type": "section",
                          "text": {"type": "mrkdwn", "text": rendering.mrkdwn(cleaned)}}]
    session.add(notice)
    record_event(session, notice, now=now, actor=actor, kind="notice.edited", before=before,
                 after=_wording(notice))
    return notice


def _rerender_delay(session: Session, settings: Settings, notice: Notice, *,
                    proposed_due_at: datetime, reason: str | None, now: datetime,
                    waiting_for: str | None) -> None:
    promise = session.get(Promise, notice.promise_id)
    assert promise is not None
    client, owner = session.get(Client, promise.client_id), session.get(Member, promise.owner_id)
    assert client is not None and owner is not None
    context = compose.delay_notice(settings, promise=promise, client=client, owner=owner,
                                   new_due_at=proposed_due_at, reason=reason,
                                   interim=notice.context.get("interim"), now=now,
                                   progress=notice.context.get("progress"),
                                   waiting_for=waiting_for)
    message = rendering.render(notice.kind, notice.locale, context,
                              overrides=settings.templates.dir, channel=notice.channel)
    notice.subject, notice.text = message.subject, message.text
    notice.html, notice.blocks = message.html, message.blocks
    notice.proposed_due_at = proposed_due_at
    notice.context = {**notice.context, "reason": reason, "waiting_for": waiting_for}


def approver_note(reason: str | None, note: str | None) -> str | None:
    """What the approver of a delay draft must know: that it has no reason the client may be
    told yet (the letter then says only what is known), and the owner's note for the team."""
    parts = []
    if not reason:
        parts.append("No reason for the client yet: the letter says only what is late and "
                     "the new date. Add a sentence the client may read before sending.")
    if note:
        parts.append(f"The owner's latest check-in note (for the team, not the client): {note}")
    return " ".join(parts) or None


def refresh_reason(session: Session, settings: Settings, promise_id: int, *,
                   note: str | None, client_reason: str | None, now: datetime, actor: str,
                   waiting_for: str | None = None) -> list[Notice]:
    """The owner has just said why it slips. Their note was written for the team, so it goes
    to whoever approves the pending delay drafts, never into the client's letter. What the
    client may be told, and what the client still has to send, were written for the client:
    a draft nobody has edited is re-rendered with them."""
    pending = session.exec(select(Notice).where(
        Notice.promise_id == promise_id, Notice.kind == NoticeKind.delay_notice,
        col(Notice.status).in_(PENDING))).all()
    for notice in pending:
        reason = client_reason or notice.context.get("reason")
        flagged = approver_note(reason, note)
        if flagged != notice.approver_note:
            notice.approver_note = flagged
            record_event(session, notice, now=now, actor=actor, kind="notice.noted",
                         approver_note=notice.approver_note)
        if ((waiting_for or client_reason) and "edited_by" not in notice.context
                and notice.proposed_due_at is not None):
            before = _wording(notice)
            _rerender_delay(session, settings, notice, proposed_due_at=notice.proposed_due_at,
                            reason=reason, now=now,
                            waiting_for=waiting_for or notice.context.get("waiting_for"))
            record_event(session, notice, now=now, actor=actor, kind="notice.edited",
                         before=before, after=_wording(notice),
                         why="the owner's check-in said what the client may be told or "
                             "still has to send")
        session.add(notice)
    return list(pending)


def _wording(notice: Notice) -> dict[str, Any]:
    return {"subject": notice.subject, "text": notice.text,
            "proposed_due_at": notice.proposed_due_at.isoformat()
            if notice.proposed_due_at else None}


def plain_html(text: str) -> str:
    """A person's own wording as simple HTML paragraphs."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs
    )



def listing(session: Session, *, status: str | None = None,
            kinds: tuple[str, ...] | None = None) -> list[tuple[Notice, Client | None]]:
    """Messages with their client, newest first; `status` filters, e.g. "draft" or "dead"."""
    query = (select(Notice, Client).join(Client, col(Notice.client_id) == Client.id,
                                         isouter=True)
             .order_by(col(Notice.created_at).desc(), col(Notice.id).desc()))
    if status is not None:
        if status not in set(NoticeStatus):
            raise UserError(f"unknown status {status!r}", field="status",
                            hint="use one of " + ", ".join(item.value for item in NoticeStatus))
        query = query.where(Notice.status == status)
    if kinds is not None:
        query = query.where(col(Notice.kind).in_(kinds))
    return [(notice, client) for notice, client in session.exec(query).all()]


def snooze(session: Session, notice_id: int, *, until: datetime, now: datetime,
           actor: str) -> Notice:
    """Put a draft aside until `until`, when its owner is asked again; the escalation to the
    manager keeps its time, so snoozing never hides a slip."""
    notice = get(session, notice_id)
    _require(notice, PENDING, "snooze")
    if until <= now:
        raise UserError("a draft can only be snoozed until a later moment", field="until")
    notice.snoozed_until = until
    session.add(notice)
    record_event(session, notice, now=now, actor=actor, kind="notice.snoozed",
                 until=until.isoformat())
    return notice
