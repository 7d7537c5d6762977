"""The reliability ledger in numbers: who keeps promises, which clients hear about slips early.

Every figure is defined in docs/ledger.md. `figures` sums a range's whole days that are final
from the tally (`tallies`) and counts the rest in SQL, per owner and client and per range, in
one statement over the ranges' date indexes; of that rest, only the promises whose client was
told of a slip (their notice lead is counted in the client's business days), the mistakes and
the check-in requests are read as rows and judged here. `History` reads every row of a
range and judges it here: the report's weeks, on each client's own calendar, come from it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import and_, func, literal_column, or_, union_all
from sqlmodel import Session, col, select

from reliability import tallies
from reliability.calendar import BusinessCalendar, zone
from reliability.config import Settings
from reliability.models import (
    Client,
    DueChange,
    Member,
    Mistake,
    Notice,
    NoticeKind,
    Promise,
)

GROUPINGS = ("owner", "team", "client")
EVERYONE = "everyone"


@dataclass(frozen=True)
class Stats:
    """One group (an owner, a team, a client, everyone) over a range."""

    made: int
    due: int
    kept_on_time: int
    kept_after_notice: int
    late_without_notice: int
    broken: int
    on_time_rate: float | None
    proactive_notice_rate: float | None
    median_notice_lead_days: float | None
    renegotiations: int
    mistakes: int
    repeats: int
    credits: dict[str, float]
    checkin_answer_rate: float | None

    @property
    def settled(self) -> int:
        """Due promises whose outcome is known: the on-time rate's denominator."""
        return self.kept_on_time + self.kept_after_notice + self.late_without_notice + self.broken

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        for name in ("on_time_rate", "proactive_notice_rate", "checkin_answer_rate"):
            if document[name] is not None:
                document[name] = round(document[name], 4)
        return document


# -- facts: what the queries return, one plain record per thing counted -------------------


@dataclass(frozen=True)
class _Who:
    owner_id: int
    client_id: int
    timezone: str


@dataclass(frozen=True)
class _Due:
    """A promise whose original due date is in the range, judged as of `now`."""

    who: _Who
    at: datetime  # the original due moment
    outcome: str | None  # kept_on_time | kept_after_notice | late_without_notice | broken | None
    slipped: bool
    notice_lead_days: int | None  # business days between first telling the client and the due
    told_in_time: bool


@dataclass(frozen=True)
class _Moment:
    """Something counted in the week it happened: a promise made, a renegotiation..."""

    who: _Who
    at: datetime


@dataclass(frozen=True)
class _MistakeFact:
    who: _Who
    at: datetime
    repeat: bool
    credit: tuple[str, float] | None


@dataclass(frozen=True)
class _Request:
    who: _Who
    at: datetime
    answered: bool | None  # None while the owner still has until the next business morning


@dataclass
class _Facts:
    made: list[_Moment] = field(default_factory=list)
    due: list[_Due] = field(default_factory=list)
    renegotiations: list[_Moment] = field(default_factory=list)
    mistakes: list[_MistakeFact] = field(default_factory=list)
    requests: list[_Request] = field(default_factory=list)


class _Calendars:
    """One BusinessCalendar per client calendar, built once per report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache: dict[tuple[str, str | None], BusinessCalendar] = {}

    def __call__(self, timezone: str, country: str | None) -> BusinessCalendar:
        key = (timezone, country)
        if key not in self.cache:
            self.cache[key] = self.settings.calendar.calendar(timezone, country)
        return self.cache[key]


def _in(column: Any, start: datetime, end: datetime) -> Any:
    return and_(col(column) >= start, col(column) < end)


def _among(column: Any, ids: Sequence[int]) -> Any:
    """`column IN ids`, written `column + 0` so the planner narrows by the date range's index:
    an index that leads with the owner or client (SQLite's first choice without statistics)
    would read that owner's or client's whole history to find the few rows in the range."""
    return (col(column) + 0).in_(list(ids))


def _scope(query: Any, owner_ids: Sequence[int] | None, client_ids: Sequence[int] | None, *,
           promise_dated: bool = True) -> Any:
    """Promises of these owners and clients. When the range is on a date of the promise
    (`promise_dated`: made, first due) a team's or a client's promises are reached through
    the indexes that lead with the owner or client and that date (migrations 0019, 0020), so
    a manager reads their team's promises in the range, not everyone's. When it is on another
    table's date (renegotiations, check-in requests) the owners and clients are filtered as
    rows come (`_among`): through an index that leads with them, the planner would read their
    whole history to find the few rows of the range."""
    def among(column: Any, ids: Sequence[int]) -> Any:
        return col(column).in_(list(ids)) if promise_dated else _among(column, ids)

    query = query.where(col(Promise.internal).is_(False))
    if owner_ids is not None:
        query = query.where(among(Promise.owner_id, owner_ids))
    if client_ids is not None:
        query = query.where(among(Promise.client_id, client_ids))
    return query


# What judging a promise reads: loading whole Promise objects took twice the time.
_PROMISE = (Promise.id, Promise.owner_id, Promise.client_id, Promise.made_at, Promise.due_at,
            Promise.original_due_at, Promise.done_at, Promise.cancelled_at,
            Promise.client_told_at, Promise.client_told_due_at)


class _PromiseRow(NamedTuple):
    """A row of _PROMISE's columns."""

    id: int
    owner_id: int
    client_id: int
    made_at: datetime
    due_at: datetime
    original_due_at: datetime
    done_at: datetime | None
    cancelled_at: datetime | None
    client_told_at: datetime | None  # when the client first heard of a slip (`rollups`)
    client_told_due_at: datetime | None  # the latest date they were told


@dataclass(frozen=True)
class _DueRow:
    """A promise due in the range as read, before it is judged as of some moment."""

    promise: _PromiseRow
    who: _Who
    # Business days between the client first hearing of a slip and the original due, on
    # the client's calendar: counted once here, whatever moments it is judged as of.
    notice_lead: int | None

    @classmethod
    def of(cls, promise: _PromiseRow, who: _Who, calendar: BusinessCalendar) -> _DueRow:
        told = promise.client_told_at
        return cls(promise, who, None if told is None
                   else calendar.business_days_between(told, promise.original_due_at))


@dataclass(frozen=True)
class _RequestRow:
    who: _Who
    at: datetime
    answer_by: datetime  # the next business morning on the client's calendar
    answered_at: datetime | None  # the first check-in on its promise at or after `at`


@dataclass
class _Rows:
    """What the queries read for one range; judging as of a moment comes after (`_facts`)."""

    made: list[_Moment] = field(default_factory=list)
    due: list[_DueRow] = field(default_factory=list)
    renegotiations: list[_Moment] = field(default_factory=list)
    mistakes: list[_MistakeFact] = field(default_factory=list)
    requests: list[_RequestRow] = field(default_factory=list)


def _read(
    session: Session,
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    owner_ids: Sequence[int] | None = None,
    client_ids: Sequence[int] | None = None,
) -> _Rows:
    """The range's rows, each read through an index on the date that puts it in the range
    (made_at, original_due_at, changed_at, created_at), so old history costs nothing."""
    calendars = _Calendars(settings)
    rows = _Rows()

    promises = session.exec(_scope(
        select(*_PROMISE, Client.timezone, Client.country)
        .join(Client, col(Promise.client_id) == Client.id)
        .where(or_(_in(Promise.made_at, start, end), _in(Promise.original_due_at, start, end))),
        owner_ids, client_ids)).all()
    for *columns, timezone, country in promises:
        promise = _PromiseRow(*columns)
        who = _Who(promise.owner_id, promise.client_id, timezone)
        if start <= promise.made_at < end:
            rows.made.append(_Moment(who, promise.made_at))
        if start <= promise.original_due_at < end:
            rows.due.append(_DueRow.of(promise, who, calendars(timezone, country)))
    rows.due.sort(key=_due_at)
    rows.made.sort(key=_at)
    rows.renegotiations = sorted(
        (_Moment(_Who(owner_id, client_id, timezone), changed_at)
         for changed_at, owner_id, client_id, timezone in session.exec(_scope(
             select(DueChange.changed_at, Promise.owner_id, Promise.client_id, Client.timezone)
             .join(Promise, col(DueChange.promise_id) == Promise.id)
             .join(Client, col(Promise.client_id) == Client.id)
             .where(_in(DueChange.changed_at, start, end)),
             owner_ids, client_ids, promise_dated=False)).all()), key=_at)
    rows.mistakes = _mistakes(session, start=start, end=end, owner_ids=owner_ids,
                              client_ids=client_ids)
    rows.requests = _requests(session, calendars, ranges=[(start, end)],
                              owner_ids=owner_ids, client_ids=client_ids)
    return rows


def _mistakes(session: Session, *, start: datetime, end: datetime,
              owner_ids: Sequence[int] | None,
              client_ids: Sequence[int] | None) -> list[_MistakeFact]:
    query = (select(Mistake, Client.timezone)
             .join(Client, col(Mistake.client_id) == Client.id)
             .where(_in(Mistake.created_at, start, end)))
    if owner_ids is not None:
        query = query.where(_among(Mistake.owner_id, owner_ids))
    if client_ids is not None:
        query = query.where(_among(Mistake.client_id, client_ids))
    facts = []
    for mistake, timezone in session.exec(query).all():
        credit = None
        if mistake.credit_amount is not None and mistake.credit_currency:
            credit = (mistake.credit_currency.upper(), float(mistake.credit_amount))
        facts.append(_MistakeFact(_Who(mistake.owner_id, mistake.client_id, timezone),
                                  mistake.created_at, mistake.repeat_of_id is not None, credit))
    return sorted(facts, key=_at)


def _at(item: _Moment | _MistakeFact | _RequestRow) -> datetime:
    return item.at


def _due_at(row: _DueRow) -> datetime:
    return row.promise.original_due_at


def _inside(items: list[Any], key: Callable[[Any], datetime], start: datetime,
            end: datetime) -> list[Any]:
    """The items of [start, end) among `items` sorted by `key`: a window's part of the rows
    read for all windows costs its own rows, not all of them."""
    return items[bisect_left(items, start, key=key):bisect_left(items, end, key=key)]


def _facts(rows: _Rows, settings: Settings, *, start: datetime, end: datetime,
           now: datetime) -> _Facts:
    """The facts of [start, end), a part of the range `rows` were read for, as known at
    `now`: the same whether the rows were read for this range alone or for a wider one."""
    lead = settings.policy.notice_lead_business_days
    requests = []
    for request in _inside(rows.requests, _at, start, end):
        answered = (request.answered_at is not None and request.answered_at <= now
                    and request.answered_at <= request.answer_by)
        requests.append(_Request(request.who, request.at, True if answered else (
            None if now < request.answer_by else False)))
    return _Facts(
        made=_inside(rows.made, _at, start, end),
        due=[_judge(row, now=now, lead=lead) for row in _inside(rows.due, _due_at, start, end)],
        renegotiations=_inside(rows.renegotiations, _at, start, end),
        mistakes=_inside(rows.mistakes, _at, start, end),
        requests=requests,
    )


def _judge(row: _DueRow, *, now: datetime, lead: int) -> _Due:
    """The outcome of one promise against its original due date, as known at `now`."""
    promise, who = row.promise, row.who
    original = promise.original_due_at
    done_at = promise.done_at if promise.done_at is not None and promise.done_at <= now else None
    cancelled = promise.cancelled_at is not None and promise.cancelled_at <= now
    told = _told_by_then(row, now)
    notice_lead = row.notice_lead if told else None
    in_time = notice_lead is not None and notice_lead >= lead
    outcome: str | None
    if cancelled:
        outcome = "broken"
    elif done_at is not None and done_at <= original:
        outcome = "kept_on_time"
    elif done_at is not None:
        told_due = promise.client_told_due_at
        kept_renegotiated = told_due is None or done_at <= told_due
        outcome = "kept_after_notice" if in_time and kept_renegotiated else "late_without_notice"
    elif now > promise.due_at:
        outcome = "broken"
    else:
        outcome = None
    slipped = not cancelled and outcome != "kept_on_time" and (
        now > original or promise.due_at > original or told)
    return _Due(who, original, outcome, slipped, notice_lead if slipped else None,
                in_time and slipped)


def _requests(session: Session, calendars: _Calendars, *,
              ranges: Sequence[tuple[datetime, datetime]], owner_ids: Sequence[int] | None,
              client_ids: Sequence[int] | None) -> list[_RequestRow]:
    """Check-in requests made in these ranges, each with its first answer (`rollups`)."""
    if not ranges:
        return []
    rows = session.exec(_scope(
        select(Notice.created_at, Notice.answered_at, Promise.owner_id, Promise.client_id,
               Client.timezone, Client.country)
        .join(Promise, col(Notice.promise_id) == Promise.id)
        .join(Client, col(Promise.client_id) == Client.id)
        # the kind in each range, so each is a range of the (kind, created_at) index
        .where(or_(*(and_(Notice.kind == NoticeKind.checkin_request,
                          _in(Notice.created_at, start, end)) for start, end in ranges))),
        owner_ids, client_ids, promise_dated=False)).all()
    return sorted((_RequestRow(_Who(owner_id, client_id, timezone), created_at,
                               calendars(timezone, country).next_business_morning(created_at),
                               answered_at)
                   for created_at, answered_at, owner_id, client_id, timezone, country in rows),
                  key=_at)


# -- arithmetic over facts -------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class _Counts:
    """The figures of one group being added up: from facts judged here, or from counts
    made in SQL (`figures`); `stats` is the one place the figures are computed from them."""

    made: int = 0
    due: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    slipped: int = 0
    told_in_time: int = 0
    leads: list[int] = field(default_factory=list)
    renegotiations: int = 0
    mistakes: int = 0
    repeats: int = 0
    credits: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    answered: int = 0
    decided: int = 0

    def add(self, facts: _Facts) -> _Counts:
        self.made += len(facts.made)
        self.due += len(facts.due)
        for item in facts.due:
            if item.outcome is not None:
                self.outcomes[item.outcome] += 1
            if item.slipped:
                self.slipped += 1
                self.told_in_time += item.told_in_time
                if item.notice_lead_days is not None:
                    self.leads.append(item.notice_lead_days)
        self.renegotiations += len(facts.renegotiations)
        self.mistakes += len(facts.mistakes)
        for mistake in facts.mistakes:
            self.repeats += mistake.repeat
            if mistake.credit is not None:
                self.credits[mistake.credit[0]] += mistake.credit[1]
        for request in facts.requests:
            if request.answered is not None:
                self.decided += 1
                self.answered += request.answered
        return self

    def stats(self) -> Stats:
        outcomes = self.outcomes
        return Stats(
            made=self.made,
            due=self.due,
            kept_on_time=outcomes["kept_on_time"],
            kept_after_notice=outcomes["kept_after_notice"],
            late_without_notice=outcomes["late_without_notice"],
            broken=outcomes["broken"],
            on_time_rate=_rate(outcomes["kept_on_time"], sum(outcomes.values())),
            proactive_notice_rate=_rate(self.told_in_time, self.slipped),
            median_notice_lead_days=float(median(self.leads)) if self.leads else None,
            renegotiations=self.renegotiations,
            mistakes=self.mistakes,
            repeats=self.repeats,
            credits={currency: round(amount, 2)
                     for currency, amount in sorted(self.credits.items())},
            checkin_answer_rate=_rate(self.answered, self.decided),
        )


def _tally(facts: _Facts) -> Stats:
    return _Counts().add(facts).stats()


NO_STATS = _tally(_Facts())


def _split(facts: _Facts, key: Callable[[_Who, datetime], Iterable[Hashable]]) -> dict[
    Hashable, _Facts
]:
    """The same facts, bucketed: `key` names the bucket(s) each fact belongs to."""
    buckets: dict[Hashable, _Facts] = defaultdict(_Facts)
    for name in ("made", "due", "renegotiations", "mistakes", "requests"):
        for item in getattr(facts, name):
            for bucket in key(item.who, item.at):
                getattr(buckets[bucket], name).append(item)
    return buckets


class History:
    """The ledger's rows for one range and scope, read once in a handful of indexed queries.

    The figures of any part of it (a week, an owner, a client, a shorter range, each judged
    as of its own moment) are arithmetic over those rows, so a page of twelve weeks and fifty
    owners reads the database as often as one total does. Every figure of the ledger (the
    dashboard, the API, `report`, `client trust`, the client page, the digest) comes from here.
    """

    def __init__(self, session: Session, settings: Settings, *, start: datetime, end: datetime,
                 owner_ids: Sequence[int] | None = None,
                 client_ids: Sequence[int] | None = None) -> None:
        self.session, self.settings, self.start, self.end = session, settings, start, end
        self.rows = _read(session, settings, start=start, end=end, owner_ids=owner_ids,
                          client_ids=client_ids)
        # A page asks for the same part several times (a total, then per owner, per client).
        self.judged: dict[tuple[datetime, datetime, datetime], _Facts] = {}

    def facts(self, start: datetime | None, end: datetime | None,
              now: datetime | None) -> _Facts:
        start, end = start or self.start, end or self.end
        if start < self.start or end > self.end:
            raise ValueError(f"[{start}, {end}) is outside the range read, "
                             f"[{self.start}, {self.end})")
        key = (start, end, now or end)
        if key not in self.judged:
            self.judged[key] = _facts(self.rows, self.settings, start=start, end=end,
                                      now=now or end)
        return self.judged[key]

    def stats(self, *, start: datetime | None = None, end: datetime | None = None,
              now: datetime | None = None) -> Stats:
        """The figures of [start, end) (default: the whole range) as of `now` (default: end)."""
        return _tally(self.facts(start, end, now))

    def stats_by(self, *, by: str | None, start: datetime | None = None,
                 end: datetime | None = None, now: datetime | None = None) -> dict[str, Stats]:
        """The figures per owner (email), team (manager's email) or client (name)."""
        name = _group_names(self.session, by)
        buckets = _split(self.facts(start, end, now),
                         lambda who, at: (name(who.owner_id, who.client_id),))
        return {str(group): _tally(buckets[group]) for group in sorted(buckets, key=str)}

    def weekly(self, *, by: str | None, now: datetime | None = None) -> list[dict[str, Any]]:
        """Rows {"group", "week", **Stats.to_json()}: every week of the range for every group
        active in it, so a chart has no holes."""
        name = _group_names(self.session, by)
        buckets = _split(self.facts(None, None, now),
                         lambda who, at: ((name(who.owner_id, who.client_id),
                                           iso_week(at, who.timezone)),))
        labels = weeks(self.start, self.end)
        seen = {week for _, week in buckets}  # type: ignore[misc]
        labels += sorted(seen - set(labels))
        groups = sorted({group for group, _ in buckets})  # type: ignore[misc]
        empty = _Facts()
        return [
            {"group": group, "week": week,
             **_tally(buckets.get((group, week), empty)).to_json()}
            for group in groups
            for week in sorted(labels)
        ]


# -- figures counted in SQL -------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A range whose figures are asked, judged as of `now` (default: its end), and the
    groupings they are asked by (`Figures.of`): counted per owner or client only when asked,
    since grouping a million-promise window's rows costs more than counting them."""

    start: datetime
    end: datetime
    now: datetime | None = None
    by: tuple[str, ...] = ()

    @property
    def as_of(self) -> datetime:
        return self.now or self.end

    @property
    def counts(self) -> tuple[str, ...]:
        """How its counts are grouped in SQL: per owner (for owners and teams), per client,
        or not at all. Each is counted apart: grouping by owner and client at once makes
        nearly a row per promise of a busy window, and every grouping is a sum of either."""
        for name in self.by:
            if name not in GROUPINGS:
                raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {name!r}")
        wanted = tuple(name for name in ("owner", "client")
                       if name in self.by or (name == "owner" and "team" in self.by))
        return wanted or (EVERYONE,)


_COUNTS = (EVERYONE, "owner", "client")  # a window's groupings in SQL, numbered

# What an outcome counted in SQL is called; 0 is a promise not yet settled.
_OUTCOMES = {1: "kept_on_time", 2: "late_without_notice", 3: "broken"}
_DUE, _MADE, _RENEGOTIATED = 0, 1, 2


def _told_by(now: datetime) -> Any:
    """The client heard of a slip by `now` (`rollups` keeps when): such a promise is judged
    in Python (`_judge`), its notice lead being counted in the client's business days."""
    return and_(col(Promise.client_told_at).is_not(None), col(Promise.client_told_at) <= now)


def _untold_outcome(now: datetime) -> tuple[Any, Any]:
    """`_judge` of a promise the client was not told about, as SQL: (outcome, slipped)."""
    cancelled = and_(col(Promise.cancelled_at).is_not(None), col(Promise.cancelled_at) <= now)
    done = and_(col(Promise.done_at).is_not(None), col(Promise.done_at) <= now)
    on_time = and_(done, col(Promise.done_at) <= col(Promise.original_due_at))
    one = literal_column("1")
    outcome = sa.case((cancelled, literal_column("3")), (on_time, one),
                      (done, literal_column("2")), (col(Promise.due_at) < now,
                                                    literal_column("3")),
                      else_=literal_column("0"))
    slipped = sa.case((cancelled, literal_column("0")), (on_time, literal_column("0")),
                      (or_(col(Promise.original_due_at) < now,
                           col(Promise.due_at) > col(Promise.original_due_at)), one),
                      else_=literal_column("0"))
    return outcome, slipped


def _counted(index: int, counts: str, window: Window, owner_ids: Sequence[int] | None,
             client_ids: Sequence[int] | None) -> list[Any]:
    """The window's counts, per owner, per client or in all (`counts`): promises due and
    not told about, by outcome; promises made; renegotiations. Each reads the window
    through its date's index; the first two from the index alone (migration 0022)."""
    number = literal_column(str(index * 10 + _COUNTS.index(counts)))  # read by `figures`
    zero = literal_column("0")
    owner = col(Promise.owner_id) if counts == "owner" else zero
    client = col(Promise.client_id) if counts == "client" else zero
    keys = {"owner": [Promise.owner_id], "client": [Promise.client_id]}.get(counts, [])
    outcome, slipped = _untold_outcome(window.as_of)
    told = _told_by(window.as_of)
    due = _scope(select(number, literal_column(str(_DUE)), owner, client, outcome, slipped,
                        func.count())
                 .where(_in(Promise.original_due_at, window.start, window.end), ~told),
                 owner_ids, client_ids).group_by(*keys, outcome, slipped)
    made = _scope(select(number, literal_column(str(_MADE)), owner, client, zero, zero,
                         func.count())
                  .where(_in(Promise.made_at, window.start, window.end)),
                  owner_ids, client_ids).group_by(*keys)
    renegotiated = _scope(select(number, literal_column(str(_RENEGOTIATED)), owner, client,
                                 zero, zero, func.count())
                          .select_from(Promise)
                          .join(DueChange, col(DueChange.promise_id) == Promise.id)
                          .where(_in(DueChange.changed_at, window.start, window.end)),
                          owner_ids, client_ids, promise_dated=False).group_by(*keys)
    return [due, made, renegotiated]


def _told_rows(session: Session, settings: Settings, *,
               ranges: Sequence[tuple[datetime, datetime]], span: tuple[datetime, datetime],
               told_by: datetime, owner_ids: Sequence[int] | None,
               client_ids: Sequence[int] | None) -> _Rows:
    """What `figures` judges in Python: in `ranges` (what the tally does not hold) the
    promises due whose client was told of a slip by `told_by` and the check-in requests, and
    over the whole `span` the mistakes, each sorted by the moment that puts it in a window."""
    calendars = _Calendars(settings)
    rows = _Rows()
    if ranges:
        # A statement per range, each through the index of the scope and that range: with
        # the ranges ORed SQLite reads the scope's owners' whole history instead.
        for *columns, timezone, country in session.execute(union_all(*(
            _scope(select(*_PROMISE, Client.timezone, Client.country)
                   .join(Client, col(Promise.client_id) == Client.id)
                   .where(_in(Promise.original_due_at, start, end), _told_by(told_by)),
                   owner_ids, client_ids) for start, end in ranges))).all():
            promise = _PromiseRow(*columns)
            rows.due.append(_DueRow.of(promise, _Who(promise.owner_id, promise.client_id,
                                                     timezone), calendars(timezone, country)))
    rows.due.sort(key=_due_at)
    rows.mistakes = _mistakes(session, start=span[0], end=span[1], owner_ids=owner_ids,
                              client_ids=client_ids)
    rows.requests = _requests(session, calendars, ranges=ranges, owner_ids=owner_ids,
                              client_ids=client_ids)
    return rows


def _count(bucket: _Counts, kind: int, outcome: int, slipped: int, number: int) -> None:
    """Add one row of `_counted` to its owner's and client's counts."""
    if kind == _MADE:
        bucket.made += number
    elif kind == _RENEGOTIATED:
        bucket.renegotiations += number
    else:
        bucket.due += number
        if outcome:
            bucket.outcomes[_OUTCOMES[outcome]] += number
        bucket.slipped += number * slipped


def _add_tallied(bucket: _Counts, kind: int, code: int, lead: int | None, kept: int,
                 number: int, *, notice_lead: int) -> None:
    """Add one row of the tally (final parts: `tallies`) to a group's counts, as `_judge`
    would count each of its `number` things; told in time is today's policy's."""
    if kind == tallies.MADE:
        bucket.made += number
    elif kind == tallies.RENEGOTIATED:
        bucket.renegotiations += number
    elif kind == tallies.REQUEST:
        bucket.decided += number
        bucket.answered += number if code == tallies.ANSWERED else 0
    else:
        bucket.due += number
        if code == tallies.ON_TIME:
            bucket.outcomes["kept_on_time"] += number
        elif code == tallies.CANCELLED:
            bucket.outcomes["broken"] += number
        else:
            in_time = lead is not None and lead >= notice_lead
            bucket.outcomes["kept_after_notice" if in_time and kept
                            else "late_without_notice"] += number
            bucket.slipped += number
            bucket.told_in_time += number if in_time else 0
            if lead is not None:
                bucket.leads.extend([lead] * number)


class Figures:
    """The counts of each window (from the rows and from the tally) and its facts judged in
    Python (see `figures`), folded into the figures of the groupings the window was asked
    by without reading again."""

    def __init__(self, session: Session, windows: dict[Hashable, Window],
                 counted: dict[Hashable, dict[str, list[tuple[int, ...]]]],
                 judged: dict[Hashable, _Facts], *, notice_lead: int) -> None:
        self.session, self.windows = session, windows
        self.counted, self.judged, self.notice_lead = counted, judged, notice_lead

    def of(self, key: Hashable, by: str | None = None) -> dict[str, Stats]:
        """The window's figures per group: owner email, manager email for a team, client
        name; `EVERYONE` without `by`. Groups with nothing in the window are left out."""
        counts = self.windows[key].counts
        if by is not None and by not in self.windows[key].by:
            raise ValueError(f"window {key!r} was not counted by {by}")
        grouped = "client" if by == "client" else "owner" if by is not None else counts[0]
        name = _group_names(self.session, by)
        groups: dict[str, _Counts] = defaultdict(_Counts)
        for row in self.counted[key].get(grouped, []):
            if row[0] == _FROM_ROWS:
                _, kind, owner_id, client_id, outcome, slipped, number = row
                _count(groups[name(owner_id, client_id)], kind, outcome, slipped, number)
            else:
                _, owner_id, client_id, kind, code, lead, kept, number = row
                _add_tallied(groups[name(owner_id, client_id)], kind, code, lead, kept,
                             number, notice_lead=self.notice_lead)
        judged = self.judged[key]
        parts = ({EVERYONE: judged} if by is None else _split(judged, lambda who, at: (
            name(who.owner_id, who.client_id),)))
        for group, part in parts.items():
            if part.due or part.requests or part.mistakes:
                groups[str(group)].add(part)
        return {group: groups[group].stats() for group in sorted(groups)}


_FROM_ROWS, _FROM_TALLY = 0, 1  # how a row of `Figures.counted` was counted


@dataclass(frozen=True)
class _Plan:
    """How a window is counted: its days in the tally (`tallies.Sum` less its tag), and the
    rest of its range from the rows."""

    rows: tuple[tuple[datetime, datetime], ...]
    tally: dict[str, tallies.Sum] = field(default_factory=dict)


def _tally_of(counts: str, owner_ids: Sequence[int] | None,
              client_ids: Sequence[int] | None) -> tallies.Sum:
    """Which tally a grouping of a window's counts reads in this scope: everyone's from the
    clients' (the fewest rows), an owner's or a client's from its own, and a team's per
    client or a client's per owner from the tally of each owner's promises to each client."""
    by = None if counts == EVERYONE else counts
    owners = None if owner_ids is None else tuple(owner_ids)
    clients = None if client_ids is None else tuple(client_ids)
    if owners is None and by != "owner":
        grouping = tallies.CLIENT
    elif clients is None and by != "client":
        grouping = tallies.OWNER
    else:
        grouping = tallies.PAIR
    return tallies.Sum(0, grouping, by, date.min, date.min, owner_ids=owners,
                       client_ids=clients)


def _plans(session: Session, windows: dict[Hashable, Window], owner_ids: Sequence[int] | None,
           client_ids: Sequence[int] | None) -> dict[Hashable, _Plan]:
    """Each window's whole UTC days that are final as of its moment come from the tally;
    its edges, the days not final yet and a window judged before its end, from the rows."""
    days: dict[Hashable, tuple[date, date]] = {}
    sums: dict[Hashable, dict[str, tallies.Sum]] = {}
    for key, window in windows.items():
        first, last = tallies.whole_days(window.start, window.end)
        if window.end <= window.as_of and first < last:
            days[key] = (first, last)
            sums[key] = {counts: _tally_of(counts, owner_ids, client_ids)
                         for counts in window.counts}
    unsettled = tallies.unsettled(
        session, min(first for first, _ in days.values()), max(last for _, last in days.values()),
        min(windows[key].as_of for key in days)) if days else None
    plans = {}
    for key, window in windows.items():
        if key not in days or unsettled is None:
            plans[key] = _Plan(((window.start, window.end),))
            continue
        first, last = days[key]
        skip = tuple(sorted(day for day, final in unsettled.items() if first <= day < last
                            and (final is None or final > window.as_of)))
        parts = sorted([(window.start, tallies.start_of(first)),
                        (tallies.start_of(last), window.end),
                        *(tallies.moments_of(day) for day in skip)])
        plans[key] = _Plan(_merged(part for part in parts if part[0] < part[1]), {
            counts: replace(one, first=first, last=last, skip=skip)
            for counts, one in sums[key].items()})
    return plans


def _merged(ranges: Iterable[tuple[datetime, datetime]]) -> tuple[tuple[datetime, datetime], ...]:
    """The same moments as fewer ranges: overlapping and touching ranges joined."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def figures(session: Session, settings: Settings, windows: dict[Hashable, Window], *,
            owner_ids: Sequence[int] | None = None,
            client_ids: Sequence[int] | None = None) -> Figures:
    """The figures of each window for the promises of these owners and clients.

    A window's whole UTC days that are final by its moment are summed from the tally
    (`tallies`: a handful of rows per owner or client and day). The rest (its edges, a day
    with a promise still open or a request still awaiting its answer deadline, a window the
    tally cannot count) is counted from the rows: one statement counts, per part (and per
    owner and client where the window is asked by them), the promises made, the
    renegotiations and the promises due by outcome; a promise whose client was told of its
    slip, the check-in requests and every mistake are read once for all windows and judged
    here (their figures count business days on the client's calendar). So the time follows
    the days and the owners and clients, never a row per promise of the tallied days. Every
    figure of the ledger but the report's weeks (`History`) comes from here:
    `/reliability`, `/api/metrics`, `report`, `client trust`, the client page and the
    digest."""
    notice_lead = settings.policy.notice_lead_business_days
    counted: dict[Hashable, dict[str, list[tuple[int, ...]]]] = {
        key: defaultdict(list) for key in windows}
    if not windows:
        return Figures(session, windows, counted, {}, notice_lead=notice_lead)
    plans = _plans(session, windows, owner_ids, client_ids)
    # A part asked under two names (the trust view's shown range and trend) is counted
    # once, by every grouping either is asked by.
    distinct: dict[tuple[datetime, datetime, datetime], set[str]] = defaultdict(set)
    named: dict[tuple[datetime, datetime, datetime], list[Hashable]] = defaultdict(list)
    for key, window in windows.items():
        for start, end in plans[key].rows:
            distinct[(start, end, window.as_of)].update(window.counts)
            named[(start, end, window.as_of)].append(key)
    spans = list(distinct)
    if spans:
        statement = union_all(*(
            branch for index, (start, end, now) in enumerate(spans)
            for counts in sorted(distinct[start, end, now])
            for branch in _counted(index, counts, Window(start, end, now), owner_ids,
                                   client_ids)))
        for tag, kind, owner_id, client_id, outcome, slipped, number in session.execute(
                statement).all():
            if not number:  # a part counted without grouping gives a row of zeros
                continue
            index, counts = divmod(int(tag), 10)
            for key in named[spans[index]]:
                counted[key][_COUNTS[counts]].append(
                    (_FROM_ROWS, kind, owner_id, client_id, outcome, slipped, number))
    sums = [(key, counts, replace(one, tag=number)) for number, (key, counts, one) in enumerate(
        (key, counts, one) for key in windows for counts, one in plans[key].tally.items())]
    for tag, *row in tallies.summed(session, [one for _, _, one in sums]):
        key, counts, _ = sums[int(tag)]
        counted[key][counts].append((_FROM_TALLY, *row))
    rows = _told_rows(session, settings,
                      ranges=_merged(part for plan in plans.values() for part in plan.rows),
                      span=(min(window.start for window in windows.values()),
                            max(window.end for window in windows.values())),
                      told_by=max(window.as_of for window in windows.values()),
                      owner_ids=owner_ids, client_ids=client_ids)
    return Figures(session, windows, counted, {
        key: _judged(rows, settings, window, plans[key].rows)
        for key, window in windows.items()}, notice_lead=notice_lead)


def _judged(rows: _Rows, settings: Settings, window: Window,
            parts: Sequence[tuple[datetime, datetime]]) -> _Facts:
    """The window's facts judged in Python: in its parts counted from the rows, the
    promises whose client was told by its moment (one told later was counted in SQL as not
    told) and the check-in requests; over its whole range, the mistakes."""
    facts = _Facts(mistakes=_inside(rows.mistakes, _at, window.start, window.end))
    for start, end in parts:
        part = _facts(_Rows(due=[row for row in _inside(rows.due, _due_at, start, end)
                                 if _told_by_then(row, window.as_of)],
                            requests=rows.requests),
                      settings, start=start, end=end, now=window.as_of)
        facts.due += part.due
        facts.requests += part.requests
    return facts


def _told_by_then(row: _DueRow, moment: datetime) -> bool:
    """The client had heard of the slip by `moment` (`_told_by` in Python)."""
    told = row.promise.client_told_at
    return told is not None and told <= moment


def stats(
    session: Session,
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    owner_ids: Sequence[int] | None = None,
    client_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> Stats:
    """The figures for promises of these owners and clients over [start, end), judged as of
    `now` (default: `end`; a promise still open and not yet due is not counted as broken)."""
    return figures(session, settings, {EVERYONE: Window(start, end, now)}, owner_ids=owner_ids,
                   client_ids=client_ids).of(EVERYONE).get(EVERYONE, NO_STATS)


def _group_names(session: Session, by: str | None) -> Callable[[int, int], str]:
    """How an owner's promise to a client is labelled in a report: owner email, manager
    email (team) or client name."""
    if by is None:
        return lambda owner_id, client_id: EVERYONE
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    if by == "client":
        names = dict(session.exec(select(Client.id, Client.name)).all())
        return lambda owner_id, client_id: names[client_id]
    members = {member.id: member for member in session.exec(select(Member)).all()}
    if by == "owner":
        return lambda owner_id, client_id: members[owner_id].email
    return lambda owner_id, client_id: members[members[owner_id].manager_id or owner_id].email


def stats_by(
    session: Session,
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    by: str | None,
    now: datetime | None = None,
    owner_ids: Sequence[int] | None = None,
    client_ids: Sequence[int] | None = None,
) -> dict[str, Stats]:
    """The figures per owner, team (a manager and their reports) or client over one range."""
    return figures(session, settings, {by: Window(start, end, now, (by,) if by else ())},
                   owner_ids=owner_ids, client_ids=client_ids).of(by, by)


def iso_week(moment: datetime, timezone: str) -> str:
    """The ISO week a moment falls in, on the client's wall clock, e.g. 2026-W47."""
    year, week, _ = moment.astimezone(zone(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def weeks(start: datetime, end: datetime) -> list[str]:
    """Every ISO week the range touches, in order."""
    first: date = start.date() - timedelta(days=start.weekday())
    last = (end - timedelta(microseconds=1)).date()
    labels = []
    while first <= last:
        year, week, _ = first.isocalendar()
        labels.append(f"{year}-W{week:02d}")
        first += timedelta(days=7)
    return labels


def weekly(
    session: Session,
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    by: str | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every week of the range for every group active in it (see `History.weekly`)."""
    return History(session, settings, start=start, end=end).weekly(by=by, now=now)


def report_figures(
    session: Session,
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    by: str | None,
    now: datetime,
) -> tuple[Stats, dict[str, Stats], list[dict[str, Any]]]:
    """The ledger report's total and groups (counted in SQL) and weeks (each on its client's
    calendar, from one read of the range)."""
    counted = figures(session, settings, {"range": Window(start, end, now,
                                                          (by,) if by else ())})
    total = counted.of("range").get(EVERYONE, NO_STATS)
    weeks = History(session, settings, start=start, end=end).weekly(by=by, now=now)
    return total, counted.of("range", by), weeks
