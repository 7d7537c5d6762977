"""Commands on drafts and queued messages, whichever interface asks: show, approve, edit,
snooze, cancel.

Each command opens its own transaction, checks with `access` that the actor may touch
the message (the same rule the pages and lists use to show it), changes it through
`notices` (which writes its one event) and returns a `DraftView`. Adapters never open a
session around these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col

from reliability import notices
from reliability.access import Actor, notice_for, notices_in_scope, scope_for
from reliability.calendar import BusinessCalendar
from reliability.deadlines import resolve_due
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Client, Member, Notice, NoticeKind, NoticeStatus, Promise


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
