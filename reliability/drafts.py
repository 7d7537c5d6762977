"""Commands on drafts and queued messages, whichever interface asks: show, approve, edit,
snooze, cancel.

Each command opens its own transaction, checks with `access` that the actor may touch
the message (the same rule the pages and lists use to show it), changes it through
`notices` (which writes its one event) and returns a `DraftView`. Adapters never open a
session around these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from reliability import compose, notices
from reliability.access import Actor, notice_for, notices_in_scope, scope_for
from reliability.calendar import BusinessCalendar
from reliability.db import among
from reliability.deadlines import resolve_due
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import (
    Client,
    DeliveryChannel,
    Member,
    Mistake,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
)


@dataclass(frozen=True)
class DraftView:
    """A message as the actor may see it, with what it is about; rows are detached copies."""

    notice: Notice
    client: Client | None
    promise: Promise | None
    calendar: BusinessCalendar

    @property
    def proposed_day(self) -> date | None:
        """A delay notice's proposed day in its client's calendar: what an editor shows."""
        if self.notice.kind != NoticeKind.delay_notice or self.notice.proposed_due_at is None:
            return None
        return self.calendar.local(self.notice.proposed_due_at).date()


def _load(ledger: Ledger, session: Session, actor: Actor, notice_id: int) -> DraftView:
    notice, client = notice_for(session, scope_for(session, actor), notice_id)
    promise = session.get(Promise, notice.promise_id) if notice.promise_id else None
    return DraftView(notice, client, promise, ledger.calendar_for(client))


def _view(ledger: Ledger, session: Session, notice: Notice) -> DraftView:
    session.flush()
    client = session.get(Client, notice.client_id) if notice.client_id else None
    promise = session.get(Promise, notice.promise_id) if notice.promise_id else None
    return DraftView(notice, client, promise, ledger.calendar_for(client))


def show(ledger: Ledger, actor: Actor, notice_id: int) -> DraftView:
    """One message, if the actor may see it."""
    with ledger.session() as session:
        return _load(ledger, session, actor, notice_id)


def listing(ledger: Ledger, actor: Actor, *, status: str | None = None) -> list[DraftView]:
    """The messages the actor may see, newest first; `status` filters, e.g. "draft"."""
    if status is not None and status not in set(NoticeStatus):
        raise UserError(f"unknown status {status!r}", field="status",
                        hint="use one of " + ", ".join(item.value for item in NoticeStatus))
    with ledger.session() as session:
        query = notices_in_scope(scope_for(session, actor)).order_by(
            col(Notice.created_at).desc(), col(Notice.id).desc())
        if status is not None:
            query = query.where(Notice.status == status)
        return [DraftView(notice, client, None, ledger.calendar_for(client))
                for notice, client in session.exec(query).all()]


def for_editing(ledger: Ledger, actor: Actor, notice_id: int) -> DraftView:
    """A draft the actor may edit now; refused when it has gone past being a draft."""
    view = show(ledger, actor, notice_id)
    if view.notice.status != NoticeStatus.draft:
        raise UserError(f"message #{notice_id} is {view.notice.status}: it can't be edited",
                        field="text", hint="only drafts awaiting approval can be edited")
    return view


def approve(ledger: Ledger, actor: Actor, notice_id: int, *, now: datetime) -> DraftView:
    with ledger.transaction() as session:
        _load(ledger, session, actor, notice_id)
        notice = notices.approve(session, notice_id, now=now, actor=actor.label)
        return _view(ledger, session, notice)


def cancel(ledger: Ledger, actor: Actor, notice_id: int, *, reason: str,
           now: datetime) -> DraftView:
    with ledger.transaction() as session:
        _load(ledger, session, actor, notice_id)
        notice = notices.cancel(session, notice_id, reason=reason, now=now, actor=actor.label)
        return _view(ledger, session, notice)


def snooze(ledger: Ledger, actor: Actor, notice_id: int, *, now: datetime,
           until: datetime | None = None) -> DraftView:
    """Put a draft aside, by default until the actor's next business morning."""
    with ledger.transaction() as session:
        _load(ledger, session, actor, notice_id)
        if until is None:
            member = session.get(Member, actor.member_id) if actor.member_id else None
            until = ledger.calendar_for(owner=member).next_business_morning(now)
        notice = notices.snooze(session, notice_id, until=until, now=now, actor=actor.label)
        return _view(ledger, session, notice)


def edit(ledger: Ledger, actor: Actor, notice_id: int, *, now: datetime,
         text: str | None = None, due: str | date | None = None) -> DraftView:
    """Change a draft's text and/or its proposed date (a phrase, or a day in the client's
    calendar); what is given unchanged is left alone, and something must change."""
    with ledger.transaction() as session:
        view = _load(ledger, session, actor, notice_id)
        proposed = None
        if isinstance(due, date):
            current = view.proposed_day
            proposed = view.calendar.end_of(due) if current is not None and current != due \
                else None
        elif due is not None and due.strip():
            proposed = resolve_due(due, now=now, calendar=view.calendar)
        new_text = text if text is not None and text.strip() != view.notice.text.strip() \
            else None
        if new_text is None and proposed is None:
            raise UserError("nothing changed", field="text",
                            hint="change the text or give a new proposed date")
        notice = notices.edit(session, ledger.settings, notice_id, text=new_text,
                              proposed_due_at=proposed, now=now, actor=actor.label)
        return _view(ledger, session, notice)


def offer_key(draft: Notice, now: datetime) -> str:
    """The idempotency key of a draft's offer: once per draft, once more after each snooze."""
    snoozed = draft.snoozed_until
    if snoozed is None or snoozed > now:
        return f"draft_offer:{draft.id}"
    return f"draft_offer:{draft.id}:{notices.key_moment(snoozed)}"


def queue_offers(ledger: Ledger, *, now: datetime, actor: str,
                 review: Callable[[DraftView, datetime, Member], dict[str, Any]]) -> list[int]:
    """Queue each draft whose owner is in Slack and has not been offered it since it was made
    or its snooze ended, as an outbox message to the owner's DM showing `review` (its `text`
    and `blocks`, for that owner); the drafts' ids.

    The offer's key is unique, so several workers doing this at once queue it once."""
    queued = []
    with ledger.transaction() as session:
        drafts = session.exec(select(Notice).where(Notice.status == NoticeStatus.draft)
                              .order_by(col(Notice.id))).all()
        keys = {offer_key(draft, now): draft for draft in drafts}
        seen = set(session.exec(select(Notice.idempotency_key)
                                .where(among(session, Notice.idempotency_key, keys))).all())
        for key, draft in keys.items():
            owner = _owner(session, draft)
            if key in seen or owner is None or not owner.slack_user_id:
                continue
            client = session.get(Client, draft.client_id) if draft.client_id else None
            promise = session.get(Promise, draft.promise_id) if draft.promise_id else None
            view = DraftView(draft, client, promise, ledger.calendar_for(client))
            shown = review(view, now, owner)
            offer = Notice(
                kind=NoticeKind.draft_offer, idempotency_key=key, promise_id=draft.promise_id,
                mistake_id=draft.mistake_id, member_id=owner.id, channel=DeliveryChannel.slack,
                recipient=owner.slack_user_id, recipient_name=owner.name,
                locale=compose.member_locale(ledger.settings, owner),
                subject=f"Draft #{draft.id} waits for you", text=shown["text"],
                blocks=shown["blocks"], context={"draft_id": draft.id},
                status=NoticeStatus.queued, created_by=actor, created_at=now,
                approved_at=now, next_attempt_at=now)
            if notices.store(session, offer, now=now) is not None:
                queued.append(draft.id or 0)
    return queued


def _owner(session: Session, notice: Notice) -> Member | None:
    if notice.promise_id is not None:
        promise = session.get(Promise, notice.promise_id)
        return session.get(Member, promise.owner_id) if promise else None
    if notice.mistake_id is not None:
        found = session.get(Mistake, notice.mistake_id)
        return session.get(Member, found.owner_id) if found else None
    return None
