"""What the dashboard and the API show, read once for both, always through a viewer's scope."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Path, Query
from sqlmodel import Session, col, func, or_, select

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
from reliability.paging import MAX_LIMIT, Key, Page, after_condition, cursor, ordered, page
from reliability.promises import (
    ListFilter,
    PromiseView,
    is_overdue,
    open_and_any,
    promise_views,
    promise_views_page,
)

BOARD_LEVELS = (RiskLevel.overdue, RiskLevel.at_risk, RiskLevel.watch)
LEVEL_ORDER = {RiskLevel.overdue: 0, RiskLevel.at_risk: 1, RiskLevel.watch: 2,
               RiskLevel.on_track: 3}
# The board's groups by rank; the last holds open promises on track the scan could not assess.
BOARD_GROUPS = ("overdue", "at_risk", "watch", "unassessed")
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# Checked by `paging` itself, so a bad page is one 400 in the API's error shape.
Limit = Annotated[int, Query(description=f"rows per page, 1 to {MAX_LIMIT}",
                             json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})]
After = Annotated[str | None, Query(description="where the page starts: the cursor the "
                                                "previous page's `next` link carries")]
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
    after: str | None  # the cursor of the timeline's next page


def _row(view: PromiseView, now: datetime) -> PromiseRow:
    return PromiseRow(view.promise, view.client, view.owner,
                      overdue=view.promise.status == PromiseStatus.open
                      and is_overdue(view.promise, now))


def _rows(session: Session, scope: Scope, now: datetime, *conditions: Any) -> list[PromiseRow]:
    return [_row(v, now) for v in promise_views(session, *conditions, scope=scope)]


def _rows_page(session: Session, scope: Scope, now: datetime, *conditions: Any,
               after: str | None, limit: int, order: tuple[Key, ...] | None = None,
               by_owner_index: bool = True) -> Page[PromiseRow]:
    found = promise_views_page(session, *conditions, scope=scope, after=after, limit=limit,
                               by_owner_index=by_owner_index,
                               **({"order": order} if order else {}))
    return Page([_row(v, now) for v in found.items], found.after)


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


def _board_rank(now: datetime) -> Any:
    """The board's group as a number, worst first, as `PromiseRow.level` reads it."""
    return sa.case((or_(Promise.level == RiskLevel.overdue, col(Promise.due_at) <= now), 0),
                   (Promise.level == RiskLevel.at_risk, 1),
                   (Promise.level == RiskLevel.watch, 2), else_=3)


def _on_board(now: datetime) -> list[Any]:
    """Open promises the scan raised, past due, or not assessed."""
    return [open_and_any(col(Promise.level).in_(BOARD_LEVELS), col(Promise.due_at) <= now,
                         col(Promise.assess_error).is_not(None))]


@dataclass(frozen=True)
class BoardPage:
    rows: list[PromiseRow]
    after: str | None
    counts: dict[str, int]


def board(session: Session, scope: Scope, now: datetime, *, after: str | None = None,
          limit: int = 50) -> BoardPage:
    """Open promises that are overdue, at risk or worth watching, worst first (then the
    likeliest late, then the soonest due), and those the scan could not assess; with how
    many the board holds in each group, counted in SQL."""
    rank = _board_rank(now)
    order = (Key(rank, lambda v: LEVEL_ORDER.get(_row(v, now).level, 3)),
             Key(func.coalesce(col(Promise.p_late), 0.0), lambda v: v.promise.p_late or 0.0,
                 float, descending=True),
             Key(col(Promise.due_at), lambda v: v.promise.due_at, datetime),
             Key(col(Promise.id), lambda v: v.promise.id))
    found = _rows_page(session, scope, now, *_on_board(now), after=after, limit=limit,
                       order=order)
    counted = session.exec(select(rank, func.count()).where(scope.where(Promise.owner_id),
                                                           *_on_board(now)).group_by(rank))
    counts = dict.fromkeys(BOARD_GROUPS, 0)
    counts.update({BOARD_GROUPS[group]: n for group, n in counted.all()})
    return BoardPage(_with_context(session, found.items), found.after, counts)


def promise_list(session: Session, scope: Scope, now: datetime, *, status: str | None = None,
                 client_id: int | None = None, owner_id: int | None = None,
                 level: str | None = None, text: str | None = None, after: str | None = None,
                 limit: int = 50) -> Page[PromiseRow]:
    """One page of the promises in scope matching the filters, soonest due first."""
    where = ListFilter.of(status=status, client_id=client_id, owner_id=owner_id)
    conditions = list(where.conditions)
    if level:
        conditions.append(Promise.level == level)
    if text:
        conditions.append(col(Promise.title).icontains(text.strip()))
    return _rows_page(session, scope, now, *conditions, after=after, limit=limit,
                      order=where.order, by_owner_index=where.by_owner_index)


def promise_page(session: Session, scope: Scope, promise_id: int, now: datetime, *,
                 after: str | None = None, limit: int = 50) -> PromisePage:
    """A promise and one page of its timeline, oldest first. The page is a page of its
    events (`promise_events`, the list that grows with every action); check-ins, assessments
    and messages join the page whose span of time holds them: from its first event (the
    beginning, on the first page) to the next page's first event."""
    found = _rows(session, scope, now, Promise.id == promise_id)
    if not found:
        raise NotFound(f"there is no promise #{promise_id} you can see")
    [row] = _with_context(session, found)
    events = promise_events(session, scope, promise_id, after=after, limit=limit)
    start = events.items[0].at if after and events.items else None
    end = None if events.after is None else session.exec(
        select(Event.at).where(Event.promise_id == promise_id,
                               after_condition(EVENTS_IN_ORDER, events.after))
        .order_by(*ordered(EVENTS_IN_ORDER)).limit(1)).one()

    def within(column: Any) -> list[Any]:
        return [*([col(column) >= start] if start else []), *([col(column) < end] if end else [])]

    checkins = session.exec(select(CheckIn).where(CheckIn.promise_id == promise_id,
                                                  *within(CheckIn.at))
                            .order_by(col(CheckIn.at))).all()
    assessments = session.exec(select(Assessment).where(Assessment.promise_id == promise_id,
                                                        *within(Assessment.at))
                               .order_by(col(Assessment.at), col(Assessment.id))).all()
    previous = None if start is None else session.exec(
        select(Assessment.level).where(Assessment.promise_id == promise_id,
                                       col(Assessment.at) < start)
        .order_by(col(Assessment.at).desc(), col(Assessment.id).desc()).limit(1)).first()
    notice_rows = [n for n, _ in session.exec(
        notices_in_scope(scope).where(Notice.promise_id == promise_id,
                                      *within(Notice.created_at))
        .order_by(col(Notice.created_at), col(Notice.id))).all()]
    mentioned = {(e.payload or {}).get("notice_id") for e in events.items} - {None}
    shown_ids = {n.id for n, _ in session.exec(
        notices_in_scope(scope).where(col(Notice.id).in_(mentioned))).all()} if mentioned else set()
    timeline = [TimelineEntry(e.at, e.kind, _event_title(e),
                              _event_detail(e, row.client.timezone))
                for e in events.items if e.kind not in SHOWN_AS_ROWS and _shown(e, shown_ids)]
    timeline += [TimelineEntry(c.at, "checkin", f"Check-in: {c.status.replace('_', ' ')}"
                               + (f" ({c.progress}%)" if c.progress is not None else ""), c.note)
                 for c in checkins]
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
    return PromisePage(row, timeline, notice_rows, events.after)


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


NEWEST_NOTICE_FIRST = (Key(col(Notice.id), lambda r: r.notice.id, descending=True),)


def notice_rows(session: Session, scope: Scope, *, statuses: tuple[str, ...] | None = None,
                kinds: tuple[str, ...] | None = None, after: str | None = None,
                limit: int = 50) -> Page[NoticeRow]:
    """One page of messages in scope, newest first (ids follow creation). One status is
    read from the status index, which holds its messages in id order; several (the sent
    and those on the way) filter a walk back from the newest, where they are most."""
    query = notices_in_scope(scope)
    if statuses and len(statuses) == 1:
        query = query.where(Notice.status == statuses[0])
    elif statuses:
        query = query.where(col(Notice.status).concat("").in_(statuses))
    if kinds:
        query = query.where(col(Notice.kind).in_(kinds))
    return page(query, NEWEST_NOTICE_FIRST, after=after, limit=limit,
                fetch=lambda q: [NoticeRow(n, c) for n, c in session.exec(q).all()])


def notice_in_scope(session: Session, scope: Scope, notice_id: int) -> NoticeRow:
    return NoticeRow(*notice_for(session, scope, notice_id))


@dataclass(frozen=True)
class MistakeRow:
    mistake: Mistake
    client: Client
    owner: Member


NEWEST_MISTAKE_FIRST = (Key(col(Mistake.created_at), lambda r: r.mistake.created_at,
                            datetime, descending=True),
                        Key(col(Mistake.id), lambda r: r.mistake.id, descending=True))


def mistake_rows(session: Session, scope: Scope, *, client_id: int | None = None,
                 after: str | None = None, limit: int = 50) -> Page[MistakeRow]:
    """One page of mistakes in scope, newest first."""
    query = (select(Mistake, Client, Member)
             .join(Client, col(Mistake.client_id) == Client.id)
             .join(Member, col(Mistake.owner_id) == Member.id)
             .where(scope.where(Mistake.owner_id)))
    if client_id:
        query = query.where(Mistake.client_id == client_id)
    return page(query, NEWEST_MISTAKE_FIRST, after=after, limit=limit,
                fetch=lambda q: [MistakeRow(m, c, o) for m, c, o in session.exec(q).all()])


def mistake_cursor(session: Session, scope: Scope, mistake_id: int) -> str | None:
    """The cursor of a mistakes page that starts at this one (None when not in scope)."""
    mistake = session.get(Mistake, mistake_id)
    if mistake is None or not scope.covers(mistake.owner_id):
        return None
    return cursor([mistake.created_at, (mistake.id or 0) + 1])


NEWEST_RATING_FIRST = (Key(col(Rating.at), lambda r: r.at, datetime, descending=True),
                       Key(col(Rating.id), lambda r: r.id, descending=True))


def rating_rows(session: Session, client_id: int, *, after: str | None = None,
                limit: int = 50) -> Page[Rating]:
    """One page of a client's ratings, newest first."""
    client_named(session, client_id)
    return page(select(Rating).where(Rating.client_id == client_id), NEWEST_RATING_FIRST,
                after=after, limit=limit, fetch=lambda q: list(session.exec(q).all()))


EVENTS_IN_ORDER = (Key(col(Event.at), lambda e: e.at, datetime),
                   Key(col(Event.id), lambda e: e.id))


def promise_events(session: Session, scope: Scope, promise_id: int, *,
                   after: str | None = None, limit: int = 50) -> Page[Event]:
    """One page of a promise's events, oldest first."""
    owner_id = session.exec(select(Promise.owner_id).where(Promise.id == promise_id)).first()
    if owner_id is None or not scope.covers(owner_id):
        raise NotFound(f"there is no promise #{promise_id} you can see")
    return page(select(Event).where(Event.promise_id == promise_id), EVENTS_IN_ORDER,
                after=after, limit=limit, fetch=lambda q: list(session.exec(q).all()))


def clients(session: Session) -> list[Client]:
    return list(session.exec(select(Client).order_by(col(Client.name_key))).all())


def members_in_scope(session: Session, scope: Scope) -> list[Member]:
    return list(session.exec(select(Member).where(scope.where(Member.id))
                             .order_by(col(Member.name))).all())


@dataclass(frozen=True)
class ClientPage:
    client: Client
    stats: metrics.Stats
    latest_rating: Rating | None
    ratings: Page[Rating]
    promises: Page[PromiseRow]


def client_page(session: Session, settings: Settings, scope: Scope, client_id: int,
                now: datetime, *, after: str | None = None, ratings_after: str | None = None,
                limit: int = 50) -> ClientPage:
    """A client's figures and one page of each of its lists (promises soonest due first)."""
    client = client_named(session, client_id)
    owners = None if scope.owner_ids is None else sorted(scope.owner_ids)
    stats = metrics.stats(session, settings, start=now - timedelta(days=365), end=now,
                          owner_ids=owners, client_ids=[client_id])
    latest = rating_rows(session, client_id, limit=1).items
    return ClientPage(client, stats, latest[0] if latest else None,
                      rating_rows(session, client_id, after=ratings_after, limit=limit),
                      _rows_page(session, scope, now,
                                 *ListFilter.of(client_id=client_id).conditions,
                                 after=after, limit=limit, by_owner_index=False))


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
    the last `days`, in scope. Each week's promises are judged as they stand today (a promise
    due that week and delivered late the next counts late, not broken), so a past week's
    figure is summed from the tally (`tallies`) rather than counted promise by promise."""
    today = calendar.local(now).date()
    monday = today - timedelta(days=today.weekday())
    owners = None if scope.owner_ids is None else sorted(scope.owner_ids)
    since = now - timedelta(days=days)
    starts = [calendar.at(monday - timedelta(weeks=back), datetime.min.time())
              for back in range(weeks - 1, -1, -1)]
    windows = {index: metrics.Window(start, min(start + timedelta(weeks=1), now), now)
               for index, start in enumerate(starts)}
    counted = metrics.figures(session, settings, {
        **windows, "days": metrics.Window(since, now, by=("owner", "client"))},
        owner_ids=owners)
    weekly = [(f"W{window.start.isocalendar().week}",
               counted.of(index).get(metrics.EVERYONE, metrics.NO_STATS).on_time_rate)
              for index, window in windows.items()]
    total = counted.of("days").get(metrics.EVERYONE, metrics.NO_STATS)
    per_owner, per_client = counted.of("days", "owner"), counted.of("days", "client")
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
