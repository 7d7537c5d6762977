"""The ledger's figures summed ahead, per owner, per client and per UTC day.

A figure over months counts each promise of the months (`metrics.figures`): at a busy
team's million promises an admin's 90 days are about 126,000 of them. But most of what a
day counts is final. A promise made or renegotiated is counted in the day it happened; a
promise first due that day and finished (done or cancelled) has an outcome that no later
moment changes once it finished and the client last heard of it; a check-in request is
answered in time or not once its answer deadline (the next business morning) has passed.
The tally keeps how many of each such part each owner's, each client's and each owner's to
each client promises counted per day (`Tally`), and per day how many promises are still open
and from when every part holds (`TallyDay`). A figure as of a moment sums the tally of the
days that are final by then and counts the rest (the edges of its range, a day with an open
promise, the last day or two) from the rows, as before (docs/ledger.md).

The tally of a day is never adjusted by a difference: whenever a command changes one of its
rows (`touch`), the day's tally of that owner, that client and that pair is counted again
from their rows before the transaction commits (`refresh`), under the day's row lock, so two
writers of one day take turns and a renegotiation, a finish or a notice changes exactly what
a count from nothing would give.
`recount` counts every day (after `import`, a bulk load or this migration); a property test
checks that the tally kept by the commands equals it.

The parts hold what is final, never what depends on the moment asked: whether a told
promise was told *in time* is compared with today's `[policy]` when read. Its notice lead
and a request's answer deadline are counted on the client's calendar when the day is
counted: a client's new timezone or country counts its days again (`calendar_changed`); new
`[calendar]` settings reach the days counted before through `recount`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from reliability.calendar import BusinessCalendar
from reliability.config import Settings
from reliability.db import insert_rows, locked, on_postgresql
from reliability.models import (
    Client,
    DueChange,
    Notice,
    NoticeKind,
    Promise,
    Tally,
    TallyDay,
    TallyState,
)

OWNER, CLIENT, PAIR = 0, 1, 2  # Tally.grouping: an owner's, a client's, an owner's to a client
DUE, MADE, RENEGOTIATED, REQUEST = 0, 1, 2, 3  # Tally.kind
KINDS = (DUE, MADE, RENEGOTIATED, REQUEST)
ON_TIME, LATE, CANCELLED = 1, 2, 3  # a finished promise's Tally.code
ANSWERED = 1  # a check-in request's Tally.code when answered in time
_TOUCHED = "tally_days"  # in Session.info: (kind, day) -> the (owner, client) pairs changed


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def moments_of(day: date) -> tuple[datetime, datetime]:
    """The UTC day as the range [start, end) of its moments (the last day of the calendar
    ends at its last moment)."""
    end = (start_of(day + timedelta(days=1)) if day < date.max
           else datetime.max.replace(tzinfo=UTC))
    return start_of(day), end


def whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The UTC days [first, last) that lie whole within [start, end) (none: first >= last),
    at the ends of the calendar too (a report from 0001-01-01)."""
    first = day_of(start)
    if start != start_of(first):
        first = first + timedelta(days=1) if first < date.max else first
    return first, day_of(end)


@dataclass(frozen=True)
class Part:
    """One thing's final part in the figures, as a tally row counts it."""

    kind: int
    code: int = 0
    lead: int | None = None  # business days' notice of a late promise the client was told of
    kept: int = 0


def finished_part(done_at: datetime | None, cancelled_at: datetime | None,
                  original_due_at: datetime, told_at: datetime | None,
                  told_due_at: datetime | None, calendar: BusinessCalendar) -> Part | None:
    """A finished promise's outcome and notice: `metrics._judge` as of any moment after it
    finished and its client last heard of it (`_day_state` says from when). None while it is
    open."""
    if cancelled_at is not None:
        code = CANCELLED
    elif done_at is not None:
        code = ON_TIME if done_at <= original_due_at else LATE
    else:
        return None
    lead, kept = None, 0
    if code == LATE and told_at is not None:
        lead = calendar.business_days_between(told_at, original_due_at)
        kept = int(told_due_at is None or done_at is None or done_at <= told_due_at)
    return Part(DUE, code, lead, kept)


# -- keeping the tally in each command's transaction ----------------------------------------


def touch(session: Session, kind: int, moment: datetime, owner_id: int,
          client_id: int) -> None:
    """A command changed a row of this owner's promises to this client that the tally of
    `moment`'s day of `kind` counts: that day is counted again for them before the
    transaction commits (`refresh`)."""
    touched: dict[tuple[int, date], set[tuple[int, int]]] = session.info.setdefault(
        _TOUCHED, defaultdict(set))
    touched[kind, day_of(moment)].add((owner_id, client_id))


def finished(session: Session, promise: Promise) -> None:
    """A promise finished, or its client heard of a slip: its first due day counts again."""
    if not promise.internal:
        touch(session, DUE, promise.original_due_at, promise.owner_id, promise.client_id)


def calendar_changed(session: Session, client_id: int) -> None:
    """A client's timezone or country changed: the days that hold what was counted on its
    calendar (a late promise's notice lead, a check-in request's answer deadline) are counted
    again on the new one."""
    outside = col(Promise.internal).is_(False)
    for due_at, owner_id in session.exec(select(Promise.original_due_at, Promise.owner_id).where(
            col(Promise.client_id) == client_id, outside,
            col(Promise.client_told_at).is_not(None), col(Promise.done_at).is_not(None))).all():
        touch(session, DUE, due_at, owner_id, client_id)
    for created_at, owner_id in session.exec(
            select(Notice.created_at, Promise.owner_id)
            .join(Promise, col(Notice.promise_id) == Promise.id)
            .where(col(Promise.client_id) == client_id, outside,
                   Notice.kind == NoticeKind.checkin_request)).all():
        touch(session, REQUEST, created_at, owner_id, client_id)


def refresh(session: Session, settings: Settings) -> None:
    """Count again every day the transaction's commands touched, each under its row lock,
    in one order (kind, day) so that two writers never wait on each other's days: the tally
    of the owners and clients touched from their rows of the day, and what of the day is
    open and from when it holds (`_day_state`) from all of them."""
    touched = sorted(session.info.pop(_TOUCHED, {}).items())
    for (kind, day), _ in touched:
        _lock(session, kind, day)
    # Asked once the days are held: a recount running (it holds every day, `recount`) has
    # committed by then, so a change it did not see is counted here, not lost.
    if not complete(session):
        return
    for (kind, day), pairs in touched:
        _count(session, settings, kind, *moments_of(day),
               owners={owner for owner, _ in pairs}, clients={client for _, client in pairs})


def complete(session: Session) -> bool:
    """Whether the tally holds every day (a ledger upgraded with promises in it is counted
    from the rows until `recount`)."""
    return session.exec(select(TallyState.id).limit(1)).first() is not None


def recount(session: Session, settings: Settings, *, now: datetime) -> None:
    """Count every day again from the rows: after an import or a bulk load, or to apply a
    changed calendar to the days counted before."""
    session.info.pop(_TOUCHED, None)
    if on_postgresql(session):
        # Every day held until the recount commits: a command of the meantime waits at its
        # first day (`refresh`), then counts its days again on what the recount wrote.
        session.execute(sa.text("LOCK TABLE tally_day IN EXCLUSIVE MODE"))
    session.execute(sa.delete(Tally))
    session.execute(sa.delete(TallyDay))
    session.execute(sa.delete(TallyState))
    for kind in KINDS:
        _count(session, settings, kind, None, None)
    session.add(TallyState(id=1, counted_at=now))
    session.flush()


def _lock(session: Session, kind: int, day: date) -> None:
    """The day's row, made if missing and locked until the transaction ends (`db.locked`)."""
    dialect = postgresql if on_postgresql(session) else sqlite
    session.execute(dialect.insert(TallyDay).values(day=day, kind=kind, open=0)
                    .on_conflict_do_nothing())
    locked(session, TallyDay, (day, kind))


def _count(session: Session, settings: Settings, kind: int, start: datetime | None,
           end: datetime | None, *, owners: set[int] | None = None,
           clients: set[int] | None = None) -> None:
    """Count the days of [start, end) (every day: None) of `kind` from their rows, and
    write their days and the tally of these owners, these clients and each of these owners'
    promises to each of these clients (all: None) in place of what was there."""
    counts: Counter[tuple[int, int, int, date, Part]] = Counter()
    answer_by: dict[date, datetime] = {}  # a day's latest check-in request deadline
    days: set[date] = set()
    for owner_id, client_id, day, part, deadline in _parts(session, settings, kind, start, end,
                                                           owners=owners, clients=clients):
        days.add(day)
        if deadline is not None and (day not in answer_by or deadline > answer_by[day]):
            answer_by[day] = deadline
        if part is None:
            continue
        owner = owners is None or owner_id in owners
        client = clients is None or client_id in clients
        if owner:
            counts[OWNER, owner_id, 0, day, part] += 1
        if client:
            counts[CLIENT, 0, client_id, day, part] += 1
        if owner and client:
            counts[PAIR, owner_id, client_id, day, part] += 1
    if start is not None and owners is not None and clients is not None:
        day = day_of(start)
        ours = {"owner": col(Tally.owner_id).in_(sorted(owners)),
                "client": col(Tally.client_id).in_(sorted(clients))}
        session.execute(sa.delete(Tally).where(  # each through an index that leads with it
            sa.or_(sa.and_(col(Tally.grouping) == OWNER, ours["owner"]),
                   sa.and_(col(Tally.grouping) == CLIENT, ours["client"]),
                   sa.and_(col(Tally.grouping) == PAIR, ours["owner"], ours["client"])),
            col(Tally.day) == day, col(Tally.kind) == kind))
        open_, settles_by = _day_state(session, kind, day, answer_by.get(day))
        session.execute(sa.update(TallyDay).where(col(TallyDay.kind) == kind,
                                                  col(TallyDay.day) == day)
                        .values(open=open_, settles_by=settles_by))
    else:
        insert_rows(session, TallyDay, [
            {"day": day, "kind": kind, **dict(zip(("open", "settles_by"), _day_state(
                session, kind, day, answer_by.get(day)), strict=True))}
            for day in sorted(days)])
    insert_rows(session, Tally, [
        {"grouping": grouping, "owner_id": owner_id, "client_id": client_id, "day": day,
         "kind": part.kind, "code": part.code, "lead": part.lead, "kept": part.kept,
         "number": number}
        for (grouping, owner_id, client_id, day, part), number in counts.items()])


def _day_state(session: Session, kind: int, day: date,
               answer_by: datetime | None) -> tuple[int, datetime | None]:
    """(how many of the day's promises are open, the moment from which every part of the
    day holds): for a promise due that day, its finish or, if later, when its client last
    heard of it; for a check-in request its answer deadline (`answer_by`, the day's latest);
    for what was made or renegotiated, the moment it happened. Counted in SQL over the
    day's index range, so a command's refresh never reads the whole day's rows."""
    if kind == REQUEST:
        return 0, answer_by
    start, end = moments_of(day)
    outside = col(Promise.internal).is_(False)
    if kind == DUE:
        finished = sa.or_(col(Promise.done_at).is_not(None),
                          col(Promise.cancelled_at).is_not(None))
        open_, ended, heard = session.execute(
            select(sa.func.count(sa.case((~finished, 1))),
                   sa.func.max(sa.func.coalesce(Promise.cancelled_at, Promise.done_at)),
                   sa.func.max(sa.case((finished, col(Promise.client_told_at)))))
            .where(outside, col(Promise.original_due_at) >= start,
                   col(Promise.original_due_at) < end)).one()
        moments = [moment for moment in (ended, heard) if moment is not None]
        return open_, max(moments, default=None)
    query = (select(sa.func.max(Promise.made_at)).where(
        outside, col(Promise.made_at) >= start, col(Promise.made_at) < end)
        if kind == MADE else
        select(sa.func.max(DueChange.changed_at))
        .join(Promise, col(DueChange.promise_id) == Promise.id)
        .where(outside, col(DueChange.changed_at) >= start, col(DueChange.changed_at) < end))
    return 0, session.execute(query).scalar_one()


def _parts(session: Session, settings: Settings, kind: int, start: datetime | None,
           end: datetime | None, *, owners: set[int] | None,
           clients: set[int] | None) -> Iterator[tuple[int, int, date, Part | None,
                                                        datetime | None]]:
    """(owner, client, day, final part or None while open, a request's answer deadline)
    for each thing of `kind` in [start, end), internal promises aside: of these owners' or
    clients' promises, and every request (a day's deadline is its latest)."""
    calendars: dict[tuple[str, str | None], BusinessCalendar] = {}

    def calendar(timezone: str, country: str | None) -> BusinessCalendar:
        if (timezone, country) not in calendars:
            calendars[timezone, country] = settings.calendar.calendar(timezone, country)
        return calendars[timezone, country]

    def within(column: Any) -> list[Any]:
        """In [start, end) on `column`, of these owners' or clients' promises. On another
        table's date they are written `+ 0`, so the planner takes that date's index, not
        the owner's or client's whole history (as `metrics._among`)."""
        own = column.class_ is Promise
        theirs = ([] if owners is None or clients is None else [sa.or_(*(
            (col(key) if own else col(key) + 0).in_(sorted(ids))
            for key, ids in ((Promise.owner_id, owners), (Promise.client_id, clients))))])
        return theirs + ([] if start is None or end is None
                         else [col(column) >= start, col(column) < end])

    outside = col(Promise.internal).is_(False)
    if kind == DUE:
        query = (select(Promise.owner_id, Promise.client_id, Promise.done_at,
                        Promise.cancelled_at, Promise.original_due_at, Promise.client_told_at,
                        Promise.client_told_due_at, Client.timezone, Client.country)
                 .join(Client, col(Promise.client_id) == Client.id)
                 .where(outside, *within(Promise.original_due_at)))
        for (owner_id, client_id, done_at, cancelled_at, original, told_at, told_due,
             timezone, country) in _stream(session, query):
            yield (owner_id, client_id, day_of(original),
                   finished_part(done_at, cancelled_at, original, told_at, told_due,
                                 calendar(timezone, country)), None)
    elif kind == MADE:
        for owner_id, client_id, made_at in _stream(session, select(
                Promise.owner_id, Promise.client_id, Promise.made_at)
                .where(outside, *within(Promise.made_at))):
            yield owner_id, client_id, day_of(made_at), Part(MADE), None
    elif kind == RENEGOTIATED:
        for owner_id, client_id, changed_at in _stream(session, select(
                Promise.owner_id, Promise.client_id, DueChange.changed_at)
                .join(Promise, col(DueChange.promise_id) == Promise.id)
                .where(outside, *within(DueChange.changed_at))):
            yield owner_id, client_id, day_of(changed_at), Part(RENEGOTIATED), None
    else:
        requests = (select(Promise.owner_id, Promise.client_id, Notice.created_at,
                           Notice.answered_at, Client.timezone, Client.country)
                    .join(Promise, col(Notice.promise_id) == Promise.id)
                    .join(Client, col(Promise.client_id) == Client.id)
                    .where(Notice.kind == NoticeKind.checkin_request, outside))
        if start is not None and end is not None:
            requests = requests.where(col(Notice.created_at) >= start,
                                      col(Notice.created_at) < end)
        for owner_id, client_id, created_at, answered_at, timezone, country in _stream(
                session, requests):
            answer_by = calendar(timezone, country).next_business_morning(created_at)
            answered = answered_at is not None and answered_at <= answer_by
            yield (owner_id, client_id, day_of(created_at),
                   Part(REQUEST, ANSWERED if answered else 0), answer_by)


def _stream(session: Session, query: Any) -> Iterable[Any]:
    """The rows in batches: a recount of a million promises holds a batch, not all."""
    return session.execute(query.execution_options(yield_per=10_000))


# -- reading ---------------------------------------------------------------------------


def unsettled(session: Session, first: date, last: date,
              as_of: datetime) -> dict[date, datetime | None] | None:
    """The days of [first, last) whose tally is not yet final as of `as_of` or earlier: for
    each, the moment from which it is (None while a promise of it is open). A day not
    listed is final at any moment from `as_of` on. None while the tally is not complete:
    asked in the same statement, the state's row is the one without a day."""
    rows = session.exec(sa.union_all(
        select(TallyDay.day, TallyDay.open, TallyDay.settles_by)
        .where(col(TallyDay.day) >= first, col(TallyDay.day) < last,
               sa.or_(col(TallyDay.open) > 0, col(TallyDay.settles_by) > as_of)),
        select(sa.null(), sa.literal_column("0"), TallyState.counted_at))).all()
    if all(day is not None for day, _, _ in rows):
        return None
    final: dict[date, datetime | None] = {}
    for day, open_, settles_by in rows:
        if day is None:
            continue
        moment = None if open_ else settles_by
        if day in final:
            earlier = final[day]
            moment = None if earlier is None or moment is None else max(earlier, moment)
        final[day] = moment
    return final


@dataclass(frozen=True)
class Sum:
    """What one window reads from the tally: the days [first, last) but `skip` of one
    grouping, per owner, per client or summed (`by`), of these owners and clients or all."""

    tag: int
    grouping: int
    by: str | None  # "owner", "client" or None
    first: date
    last: date
    skip: tuple[date, ...] = ()
    owner_ids: tuple[int, ...] | None = None
    client_ids: tuple[int, ...] | None = None


def summed(session: Session, sums: Iterable[Sum]) -> list[tuple[Any, ...]]:
    """(tag, owner id or 0, client id or 0, kind, code, lead, kept, number) for each sum, in
    one statement over the covering indexes: a day is a handful of rows per owner or client."""
    branches = []
    for one in sums:
        # A team's per client is grouped by `client_id + 0`: grouped by the column, SQLite
        # reads every owner's pairs in the client index's order instead of the team's.
        owners_first = one.grouping == PAIR and one.owner_ids is not None
        keys = {"owner": [col(Tally.owner_id)],
                "client": [col(Tally.client_id) + 0 if owners_first
                           else col(Tally.client_id)]}.get(one.by or "", [])
        owner = keys[0] if one.by == "owner" else sa.literal_column("0")
        client = keys[0] if one.by == "client" else sa.literal_column("0")
        query = select(sa.literal_column(str(one.tag)), owner, client, Tally.kind, Tally.code,
                       Tally.lead, Tally.kept, sa.func.sum(Tally.number)).where(
            col(Tally.grouping) == one.grouping, col(Tally.day) >= one.first,
            col(Tally.day) < one.last)
        if one.skip:
            query = query.where(col(Tally.day).not_in(list(one.skip)))
        if one.owner_ids is not None:
            query = query.where(col(Tally.owner_id).in_(list(one.owner_ids)))
        if one.client_ids is not None:
            query = query.where(col(Tally.client_id).in_(list(one.client_ids)))
        branches.append(query.group_by(*keys, col(Tally.kind), col(Tally.code),
                                       col(Tally.lead), col(Tally.kept)))
    if not branches:
        return []
    return [tuple(row) for row in session.execute(sa.union_all(*branches)).all()]
