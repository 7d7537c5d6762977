"""The managers' daily digest.

It uses the same access rule as the dashboard (`reliability.access`), so a digest shows a
manager exactly what the dashboard shows them.

A digest is a Notice with the key `digest:<manager id>:<manager's local date>` under the
unique index: whichever worker comes first after `[digest] time` on a business day makes
it, every other call that day finds the key taken. Only today's date is ever considered,
so a worker back from downtime sends today's digest once and never yesterday's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, or_, select

from reliability import compose, metrics, notices
from reliability.access import (
    Actor,
    Forbidden,
    NotFound,
    Scope,
    notices_in_scope,
    scope_for,
    scope_of,
)
from reliability.calendar import BusinessCalendar
from reliability.config import Settings
from reliability.db import among
from reliability.drafting.contexts import (
    Beyond,
    CheckinItem,
    DeadDeliveryItem,
    Decisions,
    DigestContext,
    DigestMore,
    DraftItem,
    EscalationItem,
    MistakeItem,
    MonthStats,
    PromiseItem,
    ReliabilityView,
    RiskItem,
    UnassessedItem,
)
from reliability.drafting.reasons import reason_texts
from reliability.errors import UserError
from reliability.ledger import Ledger, calendar_for
from reliability.models import (
    CLIENT_KINDS,
    Assessment,
    CheckIn,
    Client,
    Member,
    Mistake,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
    PromiseStatus,
    RiskLevel,
    Role,
)
from reliability.promises import is_overdue, open_and_any, promise_query

ACTOR = "rule:digest"
DUE_SOON_BUSINESS_DAYS = 5
MISTAKE_DAYS = 7
# A check-in request older than this is history, not something still waiting for an answer.
CHECKIN_ANSWER_DAYS = 10
ASKED = (NoticeStatus.queued, NoticeStatus.sending, NoticeStatus.retry, NoticeStatus.sent)


def digest_recipients(session: Session) -> list[Member]:
    """Managers and admins, and anyone named as somebody's manager."""
    managers = select(Member.manager_id).where(col(Member.manager_id).is_not(None))
    return list(session.exec(
        select(Member).where(or_(col(Member.role).in_([Role.manager, Role.admin]),
                                 col(Member.id).in_(managers)))
        .order_by(col(Member.id))).all())


# -- building ---------------------------------------------------------------------------


def build_digest(session: Session, settings: Settings, manager: Member,
                 now: datetime) -> DigestContext:
    """The digest's sections, in the order a manager acts on them. Each lists its first
    `[digest] items_per_section` (worst or soonest first) and counts the rest in SQL."""
    scope = scope_of(session, manager)
    cal = calendar_for(settings, owner=manager)
    shown = settings.digest.items_per_section
    drafts, more_drafts = _drafts(session, settings, scope, shown)
    escalations, more_escalations = _escalations(session, settings, manager, cal, now, shown)
    dead, more_dead = _dead(session, settings, scope, shown)
    at_risk, more_at_risk = _at_risk(session, settings, scope, now, manager, shown)
    due_soon, more_due_soon = _due_soon(session, settings, scope, cal, now, shown)
    unanswered, more_unanswered = _unanswered_checkins(session, settings, scope, now, shown)
    unassessed, more_unassessed = _unassessed(session, settings, scope, shown)
    mistakes, more_mistakes = _mistakes(session, scope, now, shown)
    quiet = not (drafts or escalations or dead or at_risk or unanswered or unassessed
                 or mistakes)

    def beyond(count: int, page: str | None) -> Beyond:
        return Beyond(count=count, url=compose.page_url(settings, page) if page else None)

    return DigestContext(
        **compose.base_context(settings, timezone=manager.timezone, now=now,
                               recipient=compose.member_greeting_name(settings, manager),
                               sender=compose.PRODUCT),
        all_clear=quiet,
        decisions=Decisions(drafts=drafts, escalations=escalations, dead_deliveries=dead),
        at_risk=at_risk,
        due_soon=due_soon,
        unanswered_checkins=unanswered,
        unassessed=unassessed,
        mistakes=mistakes,
        more=DigestMore(drafts=beyond(more_drafts, "/drafts"),
                        escalations=beyond(more_escalations, None),
                        dead_deliveries=beyond(more_dead, "/drafts"),
                        at_risk=beyond(more_at_risk, "/board"),
                        due_soon=beyond(more_due_soon, "/promises"),
                        unanswered_checkins=beyond(more_unanswered, None),
                        unassessed=beyond(more_unassessed, "/board"),
                        mistakes=beyond(more_mistakes, "/mistakes")),
        reliability=_reliability(session, settings, scope, cal, now),
    )


def _first(session: Session, query: Any, shown: int, *,
           count: Any = None) -> tuple[list[Any], int]:
    """The first `shown` rows of `query` (ordered), and how many more it holds, counted by
    `count` (by default, the query's rows) without loading them."""
    rows = list(session.exec(query.limit(shown)).all())
    if len(rows) < shown:
        return rows, 0
    if count is None:
        count = select(func.count()).select_from(query.order_by(None).subquery())
    return rows, session.exec(count).one() - len(rows)


def _open_promises(session: Session, scope: Scope, shown: int, *conditions: Any,
                   order: Sequence[Any] = ()) -> tuple[list[Any], int]:
    """The first `shown` promises in scope meeting `conditions` (which say they are open),
    in `order` then soonest due first, with client and owner; the rest counted from the
    promise table alone."""
    return _first(session, promise_query(conditions, scope).order_by(
        *order, col(Promise.due_at), col(Promise.id)), shown,
        count=select(func.count()).select_from(Promise).where(
            scope.where(Promise.owner_id), *conditions))


def _drafts(session: Session, settings: Settings, scope: Scope,
            shown: int) -> tuple[list[DraftItem], int]:
    rows, more = _first(session, notices_in_scope(scope).where(
        Notice.status == NoticeStatus.draft, col(Notice.kind).in_(sorted(CLIENT_KINDS)))
        .order_by(col(Notice.created_at), col(Notice.id)), shown)
    promise_ids = [n.promise_id for n, _ in rows if n.kind == NoticeKind.delay_notice]
    notice_by = _latest_notice_by(session, [p for p in promise_ids if p is not None])
    return [DraftItem(kind=notice.kind, subject=notice.subject,
                      client_name=client.name if client else "",
                      send_by=notice_by.get(notice.promise_id or 0)
                      if notice.kind == NoticeKind.delay_notice else None,
                      url=compose.notice_url(settings, notice.id))
            for notice, client in rows], more


def _latest_notice_by(session: Session, promise_ids: list[int]) -> dict[int, datetime]:
    if not promise_ids:
        return {}
    rows = session.exec(select(Assessment).where(col(Assessment.promise_id).in_(promise_ids))
                        .order_by(col(Assessment.at), col(Assessment.id))).all()
    return {row.promise_id: row.notice_by for row in rows}


def _escalations(session: Session, settings: Settings, manager: Member, cal: BusinessCalendar,
                 now: datetime, shown: int) -> tuple[list[EscalationItem], int]:
    """Escalations addressed to this manager since the previous business day's digest."""
    today = cal.local(now).date()
    since = cal.at(cal.previous_business_day(today), settings.digest.clock)
    rows, more = _first(session, select(Notice).where(
        Notice.kind == NoticeKind.escalation, Notice.member_id == manager.id,
        col(Notice.created_at) >= since, Notice.status != NoticeStatus.cancelled)
        .order_by(col(Notice.created_at), col(Notice.id)), shown)
    return [EscalationItem(summary=notice.subject,
                           url=compose.promise_url(settings, notice.promise_id)
                           if notice.promise_id else compose.notice_url(settings, notice.id))
            for notice in rows], more


def _dead(session: Session, settings: Settings, scope: Scope,
          shown: int) -> tuple[list[DeadDeliveryItem], int]:
    rows, more = _first(session, notices_in_scope(scope).where(
        Notice.status == NoticeStatus.dead).order_by(col(Notice.created_at), col(Notice.id)),
        shown)
    return [DeadDeliveryItem(subject=notice.subject, recipient=notice.recipient,
                             channel=notice.channel, error=notice.last_error or "unknown error",
                             url=compose.notice_url(settings, notice.id))
            for notice, _ in rows], more


def _at_risk(session: Session, settings: Settings, scope: Scope, now: datetime,
             reader: Member, shown: int) -> tuple[list[RiskItem], int]:
    """Promises at risk or overdue, overdue first, then the likeliest late; their reasons in
    the reader's language and zone."""
    locale = compose.member_locale(settings, reader)
    overdue_now = or_(Promise.level == RiskLevel.overdue, col(Promise.due_at) <= now)
    at_risk_or_overdue = open_and_any(
        col(Promise.level).in_([RiskLevel.at_risk, RiskLevel.overdue]), col(Promise.due_at) <= now)
    rows, more = _open_promises(session, scope, shown, at_risk_or_overdue, order=(
        sa.case((overdue_now, 0), else_=1),
        sa.case((overdue_now, 1.0), else_=func.coalesce(Promise.p_late, 0.0)).desc()))
    return [RiskItem(promise=compose.promise_view(settings, promise, client, owner),
                     p_late=1.0 if is_overdue(promise, now) else promise.p_late or 0.0,
                     reasons=reason_texts(promise.risk_reasons, locale,
                                          timezone=reader.timezone, now=now),
                     overdue=is_overdue(promise, now))
            for promise, client, owner in rows], more


def _due_soon(session: Session, settings: Settings, scope: Scope, cal: BusinessCalendar,
              now: datetime, shown: int) -> tuple[list[PromiseItem], int]:
    """Open promises due in the next business days, those at risk aside (listed above)."""
    horizon = cal.end_of(cal.add_business_days(cal.local(now).date(), DUE_SOON_BUSINESS_DAYS))
    rows, more = _open_promises(
        session, scope, shown, Promise.status == PromiseStatus.open, col(Promise.due_at) > now,
        col(Promise.due_at) <= horizon,
        col(Promise.level).not_in([RiskLevel.at_risk, RiskLevel.overdue]))
    return [compose.promise_view(settings, promise, client, owner)
            for promise, client, owner in rows], more


def _unanswered_checkins(session: Session, settings: Settings, scope: Scope,
                         now: datetime, shown: int) -> tuple[list[CheckinItem], int]:
    """Open promises asked for a check-in since the cutoff and not answered since, longest
    waiting first: read from the requests of those days (the kind-and-date index), not
    from every open promise."""
    since = now - timedelta(days=CHECKIN_ANSWER_DAYS)
    asked: dict[int, datetime] = {}
    for promise_id, sent_at, created_at in session.exec(
            select(Notice.promise_id, Notice.sent_at, Notice.created_at)
            .join(Promise, col(Notice.promise_id) == Promise.id)
            .where(Notice.kind == NoticeKind.checkin_request, col(Notice.status).in_(ASKED),
                   col(Notice.created_at) >= since, Promise.status == PromiseStatus.open,
                   scope.where(Promise.owner_id))
            # the request's id breaks ties, so check-ins asked at one moment keep one order
            .order_by(col(Notice.created_at), col(Notice.id))).all():
        asked[promise_id or 0] = sent_at or created_at
    if not asked:
        return [], 0
    answered: dict[int, datetime] = {}
    for promise_id, at in session.exec(
            select(CheckIn.promise_id, CheckIn.at)
            .where(among(session, CheckIn.promise_id, sorted(asked)), col(CheckIn.at) >= since)
            .order_by(col(CheckIn.at))).all():
        answered[promise_id] = at
    waiting = sorted(((asked_at, pid) for pid, asked_at in asked.items()
                      if pid not in answered or answered[pid] < asked_at),
                     key=lambda item: item[0])  # ties keep the order they were first asked in
    listed = [pid for _, pid in waiting[:shown]]
    if not listed:
        return [], 0
    rows = {promise.id: (promise, client, owner) for promise, client, owner
            in session.exec(promise_query([among(session, Promise.id, listed)], scope)).all()}
    return [CheckinItem(promise=compose.promise_view(settings, *rows[pid]),
                        asked_at=asked[pid]) for pid in listed], len(waiting) - len(listed)


def _unassessed(session: Session, settings: Settings, scope: Scope,
                shown: int) -> tuple[list[UnassessedItem], int]:
    """Open promises the scan set aside, by reason, then soonest due: the order of the
    `(status, assess_error)` index, which holds them apart from every other open promise."""
    rows, more = _open_promises(session, scope, shown, Promise.status == PromiseStatus.open,
                                col(Promise.assess_error).is_not(None),
                                order=(col(Promise.assess_error),))
    return [UnassessedItem(promise=compose.promise_view(settings, promise, client, owner),
                           reason=promise.assess_error or "")
            for promise, client, owner in rows], more


def _mistakes(session: Session, scope: Scope, now: datetime,
              shown: int) -> tuple[list[MistakeItem], int]:
    rows, more = _first(session, select(Mistake, Client, Member)
                        .join(Client, col(Mistake.client_id) == Client.id)
                        .join(Member, col(Mistake.owner_id) == Member.id)
                        .where(col(Mistake.created_at) >= now - timedelta(days=MISTAKE_DAYS),
                               col(Mistake.created_at) <= now, scope.where(Mistake.owner_id))
                        .order_by(col(Mistake.created_at), col(Mistake.id)), shown)
    return [MistakeItem(summary=mistake.summary, client_name=client.name, owner_name=owner.name,
                        occurred_at=mistake.created_at, repeat=mistake.repeat_of_id is not None)
            for mistake, client, owner in rows], more


def month_start(cal: BusinessCalendar, day: date) -> datetime:
    return cal.at(day.replace(day=1), datetime.min.time())


def _reliability(session: Session, settings: Settings, scope: Scope, cal: BusinessCalendar,
                 now: datetime) -> ReliabilityView:
    this_start = month_start(cal, cal.local(now).date())
    last_day = this_start.astimezone(cal.tz).date() - timedelta(days=1)
    last_start = month_start(cal, last_day)
    owners = None if scope.owner_ids is None else sorted(scope.owner_ids)
    counted = metrics.figures(session, settings, {
        "this": metrics.Window(this_start, now), "last": metrics.Window(last_start, this_start),
    }, owner_ids=owners)

    def month(key: str) -> MonthStats:
        stats = counted.of(key).get(metrics.EVERYONE, metrics.NO_STATS)
        return MonthStats(promises_due=stats.due, on_time_rate=stats.on_time_rate,
                          proactive_notice_rate=stats.proactive_notice_rate,
                          median_notice_lead_days=stats.median_notice_lead_days)

    return ReliabilityView(this_month=month("this"), last_month=month("last"))


# -- queueing ---------------------------------------------------------------------------


def digest_key(manager: Member, day: date) -> str:
    return f"digest:{manager.id}:{day.isoformat()}"


def queue_digest(session: Session, settings: Settings, manager: Member, *, now: datetime,
                 actor: str, quiet_day: str | None = None,
                 context: DigestContext | None = None) -> Notice | None:
    """Make today's digest for one manager (from `context` when it was built beforehand);
    None when today's already exists.

    On a quiet day with `[digest] quiet_day = "nothing"` the row is still written, as a
    cancelled notice: today's decision is then made once, not again every minute."""
    day = calendar_for(settings, owner=manager).local(now).date()
    if context is None:
        context = build_digest(session, settings, manager, now)
    notice = notices.create(
        session, settings, kind=NoticeKind.digest, key=digest_key(manager, day),
        recipient=notices.member_recipient(settings, manager), context=dict(context), now=now,
        created_by=actor, member_id=manager.id, inputs={"day": day.isoformat()})
    if notice is not None and context["all_clear"] and quiet_day == "nothing":
        notices.cancel(session, notice.id or 0, reason="quiet day: nothing to report",
                       now=now, actor=actor)
    return notice


@dataclass(frozen=True)
class DigestNow:
    """A manager's digest as it stands, and the message queued for it, if one was."""

    manager: Member
    day: date
    context: DigestContext
    queued: Notice | None


def digest_now(ledger: Ledger, manager_email: str, *, now: datetime, actor: str,
               send: bool = False) -> DigestNow:
    """Build one manager's digest; with `send`, queue today's (once a day, like the
    scheduled one). For the operator at the CLI. It is built in a read session: its
    figures take seconds for a large team, and SQLite's write lock is only for the insert."""
    with ledger.session() as session:
        manager = ledger.find_member(session, manager_email, "manager")
        context = build_digest(session, ledger.settings, manager, now)
    queued = None
    if send:
        with ledger.transaction() as session:
            queued = queue_digest(session, ledger.settings, manager, now=now, actor=actor,
                                  context=context)
    day = calendar_for(ledger.settings, owner=manager).local(now).date()
    return DigestNow(manager, day, context, queued)


def digest_for(ledger: Ledger, actor: Actor, manager_email: str | None, *,
               now: datetime) -> DigestContext:
    """A digest as it stands now: the actor's own; an admin (or the operator) may ask for
    anyone's, since a digest belongs to its addressee."""
    with ledger.session() as session:
        subject = session.get(Member, actor.member_id) if actor.member_id else None
        wanted = manager_email.strip().lower() if manager_email else None
        if wanted and (subject is None or wanted != subject.email):
            if scope_for(session, actor).owner_ids is not None:
                raise Forbidden("only admins may read another manager's digest",
                                field="manager", hint="leave it out to read your own")
            subject = session.exec(select(Member).where(Member.email == wanted)).first()
            if subject is None:
                raise NotFound(f"unknown member {manager_email!r}", field="manager")
        if subject is None:
            raise UserError("whose digest?", field="manager", hint="give a manager's email")
        return build_digest(session, ledger.settings, subject, now)


def queue_due_digests(ledger: Ledger, *, now: datetime) -> list[int]:
    """Called every minute: queue each manager's digest once their digest time has come
    on one of their business days. Returns the ids of the digests queued to send.

    Each is built in a read session and stored in a short transaction: on SQLite a writer
    holds the database's one write lock, and an admin's digest reads for seconds. Two
    workers may both build one; the unique key keeps the first stored (`notices.create`)."""
    settings = ledger.settings
    with ledger.session() as session:
        managers = digest_recipients(session)
    queued = []
    for manager in managers:
        cal = calendar_for(settings, owner=manager)
        local = cal.local(now)
        if not cal.is_business_day(local.date()) or local.time() < settings.digest.clock:
            continue
        with ledger.session() as session:
            key = digest_key(manager, local.date())
            if session.exec(select(Notice.id).where(Notice.idempotency_key == key)).first():
                continue
            context = build_digest(session, settings, manager, now)
        with ledger.transaction() as session:
            notice = queue_digest(session, settings, manager, now=now, actor=ACTOR,
                                  quiet_day=settings.digest.quiet_day, context=context)
            if notice is not None and notice.status == NoticeStatus.queued:
                queued.append(notice.id or 0)
    return queued


def to_json(value: Any) -> Any:
    """A digest context as JSON: moments in ISO 8601 UTC, amounts as numbers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value

