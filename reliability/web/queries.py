"""What the dashboard and the API show, read once for both, always through a viewer's scope."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Path, Query
from sqlmodel import Session, col, desc, or_, select

from reliability import metrics
from reliability.access import NotFound, Scope, notice_for, notices_in_scope
from reliability.calendar import BusinessCalendar
from reliability.config import Settings
from reliability.limits import MAX_ID
from reliability.models import (
    Assessment,
    CheckIn,
    Client,
    DueChange,
    Event,
    Member,
    Mistake,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
    PromiseStatus,
    Rating,
    RiskLevel,
)
from reliability.notices import UNSENT, reader_time
from reliability.promises import PromiseView, is_overdue, promise_views

BOARD_LEVELS = (RiskLevel.overdue, RiskLevel.at_risk, RiskLevel.watch)
LEVEL_ORDER = {RiskLevel.overdue: 0, RiskLevel.at_risk: 1, RiskLevel.watch: 2,
               RiskLevel.on_track: 3}
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# Events whose row is shown in full elsewhere on the timeline.
SHOWN_AS_ROWS = frozenset({"promise.checked_in", "notice.created"})


@dataclass(frozen=True)
class Told:
    at: datetime
    what: str


@dataclass(frozen=True)
class PromiseRow(PromiseView):
    """The shared promise shape, with what the pages show beside it."""

    overdue: bool
    notice_by: datetime | None = None
    draft: Notice | None = None
    told: list[Told] = field(default_factory=list)

    @property
    def level(self) -> str:
        return RiskLevel.overdue if self.overdue else self.promise.level


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str | None = None
    reasons: list[dict[str, Any]] | None = None  # an assessment's, worded by the page


@dataclass(frozen=True)
class PromisePage:
    row: PromiseRow
    timeline: list[TimelineEntry]
    notices: list[Notice]
    checkins: list[CheckIn]
    due_changes: list[DueChange]


def _rows(session: Session, scope: Scope, now: datetime, *conditions: Any) -> list[PromiseRow]:
    return [PromiseRow(v.promise, v.client, v.owner,
                       overdue=v.promise.status == PromiseStatus.open
                       and is_overdue(v.promise, now))
            for v in promise_views(session, *conditions, scope=scope)]


def _with_context(session: Session, rows: list[PromiseRow]) -> list[PromiseRow]:
    """Add each promise's latest notice-by, pending draft and what its client was told."""
    ids = [row.promise.id for row in rows if row.promise.id is not None]
    if not ids:
        return rows
    notice_by: dict[int, datetime] = {}
    for assessment in session.exec(select(Assessment).where(col(Assessment.promise_id).in_(ids))
                                   .order_by(col(Assessment.at), col(Assessment.id))).all():
        notice_by[assessment.promise_id] = assessment.notice_by
    drafts: dict[int, Notice] = {}
    told: dict[int, list[Told]] = defaultdict(list)
    for notice in session.exec(select(Notice).where(col(Notice.promise_id).in_(ids))
                               .order_by(col(Notice.created_at), col(Notice.id))).all():
        pid = notice.promise_id or 0
        # The latest delay notice not yet sent: a draft, or one approved that failed.
        if notice.status in UNSENT and notice.kind == NoticeKind.delay_notice:
            drafts[pid] = notice
        if notice.status == NoticeStatus.sent and notice.client_id is not None:
            told[pid].append(Told(notice.sent_at or notice.created_at, _told_text(notice)))
    for change in session.exec(select(DueChange).where(col(DueChange.promise_id).in_(ids),
                                                       col(DueChange.client_told))).all():
        told[change.promise_id].append(Told(change.client_told_at or change.changed_at,
                                            f"agreed a new date: {change.reason}"))
    return [PromiseRow(row.promise, row.client, row.owner, row.overdue,
                       notice_by.get(row.promise.id or 0), drafts.get(row.promise.id or 0),
                       sorted(told.get(row.promise.id or 0, []), key=lambda t: t.at))
            for row in rows]


def _told_text(notice: Notice) -> str:
    if notice.kind == NoticeKind.delay_notice:
        return "sent a delay notice proposing a new date"
    return f"sent “{notice.subject}”"


def board(session: Session, scope: Scope, now: datetime) -> list[PromiseRow]:
    """Open promises that are overdue, at risk or worth watching, worst first, and those
    the scan could not assess."""
    rows = _rows(session, scope, now, Promise.status == PromiseStatus.open,
                 or_(col(Promise.level).in_(BOARD_LEVELS), col(Promise.due_at) <= now,
                     col(Promise.assess_error).is_not(None)))
    rows = _with_context(session, rows)
    return sorted(rows, key=lambda r: (LEVEL_ORDER.get(r.level, 9), -(r.promise.p_late or 0),
                                       r.promise.due_at))


def promise_list(session: Session, scope: Scope, now: datetime, *, status: str | None = None,
                 client_id: int | None = None, owner_id: int | None = None,
                 level: str | None = None, text: str | None = None) -> list[PromiseRow]:
    conditions: list[Any] = []
    if status:
        conditions.append(Promise.status == status)
    if client_id:
        conditions.append(Promise.client_id == client_id)
    if owner_id:
        conditions.append(Promise.owner_id == owner_id)
    if level:
        conditions.append(Promise.level == level)
    if text:
        conditions.append(col(Promise.title).icontains(text.strip()))
    return _rows(session, scope, now, *conditions)


def promise_page(session: Session, scope: Scope, promise_id: int, now: datetime) -> PromisePage:
    found = _rows(session, scope, now, Promise.id == promise_id)
    if not found:
        raise NotFound(f"there is no promise #{promise_id} you can see")
    [row] = _with_context(session, found)
    events = session.exec(select(Event).where(Event.promise_id == promise_id)
                          .order_by(col(Event.at), col(Event.id))).all()
    checkins = list(session.exec(select(CheckIn).where(CheckIn.promise_id == promise_id)
                                 .order_by(col(CheckIn.at))).all())
    assessments = session.exec(select(Assessment).where(Assessment.promise_id == promise_id)
                               .order_by(col(Assessment.at), col(Assessment.id))).all()
    notice_rows = [n for n, _ in session.exec(
        notices_in_scope(scope).where(Notice.promise_id == promise_id)
        .order_by(col(Notice.created_at), col(Notice.id))).all()]
    shown_ids = {n.id for n in notice_rows}
    changes = list(session.exec(select(DueChange).where(DueChange.promise_id == promise_id)
                                .order_by(col(DueChange.changed_at))).all())
    timeline = [TimelineEntry(e.at, e.kind, _event_title(e),
                              _event_detail(e, row.client.timezone))
                for e in events if e.kind not in SHOWN_AS_ROWS and _shown(e, shown_ids)]
    timeline += [TimelineEntry(c.at, "checkin", f"Check-in: {c.status.replace('_', ' ')}"
                               + (f" ({c.progress}%)" if c.progress is not None else ""), c.note)
                 for c in checkins]
    previous = None
    for assessment in assessments:
        if assessment.level != previous:
            timeline.append(TimelineEntry(
                assessment.at, "assessment",
                f"Assessed {assessment.level.replace('_', ' ')}, "
                f"{assessment.p_late:.0%} likely late", reasons=assessment.reasons))
            previous = assessment.level
    timeline += [TimelineEntry(n.created_at, "notice",
                               f"{n.kind.replace('_', ' ').capitalize()} made ({n.status})",
                               n.subject) for n in notice_rows]
    timeline.sort(key=lambda entry: entry.at)
    return PromisePage(row, timeline, notice_rows, checkins, changes)


def _shown(event: Event, notice_ids: set[int | None]) -> bool:
    """An event about a message the viewer may not see (an escalation about them) is hidden
    with the message."""
    notice_id = (event.payload or {}).get("notice_id")
    return notice_id is None or notice_id in notice_ids


def _event_title(event: Event) -> str:
    """'Check-in request sent', not 'Notice sent': a message's event names the message."""
    subject, _, verb = event.kind.partition(".")
    kind = (event.payload or {}).get("notice_kind")
    if subject == "notice" and isinstance(kind, str):
        subject = kind
    return f"{subject} {verb}".replace("_", " ").capitalize()


def _event_detail(event: Event, timezone: str) -> str | None:
    """What the event says, with moments in the client's zone, named; never raw ISO."""
    payload = event.payload or {}
    detail = next((str(payload[key]) for key in ("reason", "title", "error", "why")
                   if isinstance(payload.get(key), str) and payload[key]), None)
    if event.kind == "promise.moved":
        old, new = (_moment(payload.get(key), timezone) for key in ("old_due_at", "new_due_at"))
        moved = f"{old} → {new}" if old and new else None
        return f"{detail} ({moved})" if detail and moved else detail or moved
    return detail


def _moment(value: object, timezone: str) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return reader_time(datetime.fromisoformat(value), timezone)
    except ValueError:
        return None


@dataclass(frozen=True)
class NoticeRow:
    notice: Notice
    client: Client | None


def notice_rows(session: Session, scope: Scope, *, statuses: tuple[str, ...] | None = None,
                kinds: tuple[str, ...] | None = None) -> list[NoticeRow]:
    query = notices_in_scope(scope).order_by(desc(col(Notice.created_at)), desc(col(Notice.id)))
    if statuses:
        query = query.where(col(Notice.status).in_(statuses))
    if kinds:
        query = query.where(col(Notice.kind).in_(kinds))
    return [NoticeRow(n, c) for n, c in session.exec(query).all()]


def notice_in_scope(session: Session, scope: Scope, notice_id: int) -> NoticeRow:
    return NoticeRow(*notice_for(session, scope, notice_id))


@dataclass(frozen=True)
class MistakeRow:
    mistake: Mistake
    client: Client
    owner: Member


def mistake_rows(session: Session, scope: Scope, *, client_id: int | None = None) -> list[
        MistakeRow]:
    query = (select(Mistake, Client, Member)
             .join(Client, col(Mistake.client_id) == Client.id)
             .join(Member, col(Mistake.owner_id) == Member.id)
             .where(scope.where(Mistake.owner_id))
             .order_by(desc(col(Mistake.created_at))))
    if client_id:
        query = query.where(Mistake.client_id == client_id)
    return [MistakeRow(m, c, o) for m, c, o in session.exec(query).all()]


def clients(session: Session) -> list[Client]:
    return list(session.exec(select(Client).order_by(col(Client.name_key))).all())


def members_in_scope(session: Session, scope: Scope) -> list[Member]:
    return list(session.exec(select(Member).where(scope.where(Member.id))
                             .order_by(col(Member.name))).all())


@dataclass(frozen=True)
class ClientPage:
    client: Client
    stats: metrics.Stats
    ratings: list[Rating]
    promises: list[PromiseRow]
    mistakes: list[MistakeRow]


def client_page(session: Session, settings: Settings, scope: Scope, client_id: int,
                now: datetime) -> ClientPage:
    client = client_named(session, client_id)
    owners = None if scope.owner_ids is None else sorted(scope.owner_ids)
    stats = metrics.stats(session, settings, start=now - timedelta(days=365), end=now,
                          owner_ids=owners, client_ids=[client_id])
    ratings = list(session.exec(select(Rating).where(Rating.client_id == client_id)
                                .order_by(desc(col(Rating.at)))).all())
    return ClientPage(client, stats, ratings,
                      _rows(session, scope, now, Promise.client_id == client_id),
                      mistake_rows(session, scope, client_id=client_id))


@dataclass(frozen=True)
class ReliabilityFigures:
    weeks: list[tuple[str, float | None]]
    total: metrics.Stats
    by_owner: list[tuple[str, float | None, int]]
    by_client: list[tuple[str, float | None, int]]


def reliability_figures(session: Session, settings: Settings, scope: Scope,
                        calendar: BusinessCalendar, now: datetime, *, weeks: int,
                        days: int) -> ReliabilityFigures:
    """The on-time rate per week of the last `weeks`, and per owner and per client over
    the last `days`, in scope."""
    today = calendar.local(now).date()
    monday = today - timedelta(days=today.weekday())
    owners = None if scope.owner_ids is None else sorted(scope.owner_ids)
    since = now - timedelta(days=days)
    starts = [calendar.at(monday - timedelta(weeks=back), datetime.min.time())
              for back in range(weeks - 1, -1, -1)]
    history = metrics.History(session, settings, start=min(starts[0], since), end=now,
                              owner_ids=owners)
    weekly = [(f"W{start.isocalendar().week}",
               history.stats(start=start, end=min(start + timedelta(weeks=1), now)).on_time_rate)
              for start in starts]
    total = history.stats(start=since)
    per_owner = history.stats_by(by="owner", start=since)
    per_client = history.stats_by(by="client", start=since)
    by_owner = [(m.name, s.on_time_rate, s.due) for m in members_in_scope(session, scope)
                if (s := per_owner.get(m.email, metrics.NO_STATS)).due]
    by_client = [(c.name, s.on_time_rate, s.due) for c in clients(session)
                 if (s := per_client.get(c.name, metrics.NO_STATS)).due]
    return ReliabilityFigures(weekly, total, by_owner, by_client)


def client_named(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"there is no client #{client_id}")
    return client
