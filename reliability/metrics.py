"""The reliability ledger in numbers: who keeps promises, which clients hear about slips early.

Every figure is defined in docs/ledger.md. `figures` counts them in SQL, per owner and client
and per range, in one statement over the ranges' date indexes; only the promises whose client
was told of a slip (their notice lead is counted in the client's business days), the mistakes
and the check-in requests are read as rows and judged here. `History` reads every row of a
range and judges it here: the report's weeks, on each client's own calendar, come from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import and_, exists, func, literal_column, or_, union, union_all
from sqlmodel import Session, col, select

from reliability.calendar import BusinessCalendar, zone
from reliability.config import Settings
from reliability.models import (
    CheckIn,
    Client,
    DueChange,
    Member,
    Mistake,
    Notice,
    NoticeKind,
    NoticeStatus,
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
            Promise.original_due_at, Promise.done_at, Promise.cancelled_at)


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


@dataclass(frozen=True)
class _DueRow:
    """A promise due in the range as read, before it is judged as of some moment."""

    promise: Any  # a row of _PROMISE's columns
    who: _Who
    calendar: BusinessCalendar
    told_at: datetime | None  # when the client first heard of a slip, however they heard
    told_due: datetime | None  # the latest new date they were told


@dataclass(frozen=True)
class _RequestRow:
    who: _Who
    at: datetime
    answer_by: datetime  # the next business morning on the client's calendar
    answers: tuple[datetime, ...]


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

    # When the client first heard, per promise due in the range: a renegotiation they were
    # told about, or a delay notice that reached them (with or without a new date). One
    # statement, two indexed branches: changes made in the range, and every change of a
    # promise due in it.
    told: dict[int, datetime] = {}
    told_due: dict[int, datetime] = {}
    wanted = union(
        select(DueChange.id).where(_in(DueChange.changed_at, start, end)),
        select(DueChange.id).join(Promise, col(DueChange.promise_id) == Promise.id)
        .where(_in(Promise.original_due_at, start, end)),
    )
    changes = session.exec(_scope(
        select(DueChange, Promise.owner_id, Promise.client_id, Client.timezone,
               Promise.original_due_at)
        .join(Promise, col(DueChange.promise_id) == Promise.id)
        .join(Client, col(Promise.client_id) == Client.id)
        .where(col(DueChange.id).in_(wanted)),
        owner_ids, client_ids, promise_dated=False)).all()
    for change, owner_id, client_id, timezone, original_due in changes:
        if start <= change.changed_at < end:
            rows.renegotiations.append(_Moment(_Who(owner_id, client_id, timezone),
                                               change.changed_at))
        if change.client_told and start <= original_due < end:
            moment = change.client_told_at or change.changed_at
            _earliest(told, change.promise_id, moment)
            if change.promise_id not in told_due or told_due[change.promise_id] < change.new_due_at:
                told_due[change.promise_id] = change.new_due_at
    # The few notices of each promise due in the range, sorted here: filtered by kind or
    # status in SQL, the planner would read every delay notice or sent message ever stored.
    notices = session.exec(
        select(Notice.promise_id, Notice.kind, Notice.status, Notice.sent_at,
               Notice.proposed_due_at)
        .where(col(Notice.promise_id).in_(_scope(
            select(Promise.id).where(_in(Promise.original_due_at, start, end)),
            owner_ids, client_ids)))).all()
    for promise_id, kind, status, sent_at, proposed in notices:
        if kind != NoticeKind.delay_notice or status != NoticeStatus.sent:
            continue
        if promise_id is not None and sent_at is not None:
            _earliest(told, promise_id, sent_at)
            if proposed is not None and (promise_id not in told_due
                                         or told_due[promise_id] < proposed):
                told_due[promise_id] = proposed

    for promise in promises:
        timezone, country = promise.timezone, promise.country
        who = _Who(promise.owner_id, promise.client_id, timezone)
        if start <= promise.made_at < end:
            rows.made.append(_Moment(who, promise.made_at))
        if start <= promise.original_due_at < end:
            rows.due.append(_DueRow(promise, who, calendars(timezone, country),
                                    told.get(promise.id or 0), told_due.get(promise.id or 0)))

    rows.mistakes = _mistakes(session, start=start, end=end, owner_ids=owner_ids,
                              client_ids=client_ids)
    rows.requests = _requests(session, calendars, start=start, end=end,
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
    return facts


def _facts(rows: _Rows, settings: Settings, *, start: datetime, end: datetime,
           now: datetime) -> _Facts:
    """The facts of [start, end), a part of the range `rows` were read for, as known at
    `now`: the same whether the rows were read for this range alone or for a wider one."""

    def inside(moment: datetime) -> bool:
        return start <= moment < end

    lead = settings.policy.notice_lead_business_days
    requests = []
    for request in rows.requests:
        if inside(request.at):
            answered = any(request.at <= at <= request.answer_by and at <= now
                           for at in request.answers)
            requests.append(_Request(request.who, request.at, True if answered else (
                None if now < request.answer_by else False)))
    return _Facts(
        made=[moment for moment in rows.made if inside(moment.at)],
        due=[_judge(row.promise, row.who, row.calendar, now=now, lead=lead,
                    told_at=row.told_at, told_due=row.told_due)
             for row in rows.due if inside(row.promise.original_due_at)],
        renegotiations=[moment for moment in rows.renegotiations if inside(moment.at)],
        mistakes=[mistake for mistake in rows.mistakes if inside(mistake.at)],
        requests=requests,
    )


def _earliest(moments: dict[int, datetime], key: int, moment: datetime) -> None:
    if key not in moments or moment < moments[key]:
        moments[key] = moment


def _judge(promise: Any, who: _Who, calendar: BusinessCalendar, *, now: datetime,
           lead: int, told_at: datetime | None, told_due: datetime | None) -> _Due:
    """The outcome of one promise against its original due date, as known at `now`."""
    original = promise.original_due_at
    done_at = promise.done_at if promise.done_at is not None and promise.done_at <= now else None
    cancelled = promise.cancelled_at is not None and promise.cancelled_at <= now
    told_at = told_at if told_at is not None and told_at <= now else None
    notice_lead = calendar.business_days_between(told_at, original) if told_at else None
    in_time = notice_lead is not None and notice_lead >= lead
    outcome: str | None
    if cancelled:
        outcome = "broken"
    elif done_at is not None and done_at <= original:
        outcome = "kept_on_time"
    elif done_at is not None:
        kept_renegotiated = told_due is None or done_at <= told_due
        outcome = "kept_after_notice" if in_time and kept_renegotiated else "late_without_notice"
    elif now > promise.due_at:
        outcome = "broken"
    else:
        outcome = None
    slipped = not cancelled and outcome != "kept_on_time" and (
        now > original or promise.due_at > original or told_at is not None)
    return _Due(who, original, outcome, slipped, notice_lead if slipped else None,
                in_time and slipped)


def _requests(session: Session, calendars: _Calendars, *, start: datetime, end: datetime,
              owner_ids: Sequence[int] | None,
              client_ids: Sequence[int] | None) -> list[_RequestRow]:
    """Check-in requests made in the range, each with the check-ins that may answer it."""
    rows = session.exec(_scope(
        select(Notice.promise_id, Notice.created_at, Promise.owner_id, Promise.client_id,
               Client.timezone, Client.country)
        .join(Promise, col(Notice.promise_id) == Promise.id)
        .join(Client, col(Promise.client_id) == Client.id)
        .where(Notice.kind == NoticeKind.checkin_request, _in(Notice.created_at, start, end)),
        owner_ids, client_ids, promise_dated=False)).all()
    if not rows:
        return []
    asked = _scope(
        select(Notice.promise_id).join(Promise, col(Notice.promise_id) == Promise.id)
        .where(Notice.kind == NoticeKind.checkin_request, _in(Notice.created_at, start, end)),
        owner_ids, client_ids, promise_dated=False)
    answers: dict[int, list[datetime]] = defaultdict(list)
    for promise_id, at in session.exec(
        select(CheckIn.promise_id, CheckIn.at)
        .where(col(CheckIn.promise_id).in_(asked), CheckIn.at >= start)
    ).all():
        answers[promise_id].append(at)
    return [_RequestRow(_Who(owner_id, client_id, timezone), created_at,
                        calendars(timezone, country).next_business_morning(created_at),
                        tuple(answers.get(promise_id or 0, ())))
            for promise_id, created_at, owner_id, client_id, timezone, country in rows]


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
    """A range whose figures are asked, judged as of `now` (default: its end)."""

    start: datetime
    end: datetime
    now: datetime | None = None

    @property
    def as_of(self) -> datetime:
        return self.now or self.end


# What an outcome counted in SQL is called; 0 is a promise not yet settled.
_OUTCOMES = {1: "kept_on_time", 2: "late_without_notice", 3: "broken"}
_DUE, _MADE, _RENEGOTIATED = 0, 1, 2


def _told_by(now: datetime) -> Any:
    """The client heard of a slip by `now`: a renegotiation they were told about, or a delay
    notice that reached them. Such a promise is judged in Python (`_judge`): its notice lead
    is counted in the client's business days."""
    return or_(
        exists().where(DueChange.promise_id == Promise.id, col(DueChange.client_told).is_(True),
                       func.coalesce(DueChange.client_told_at, DueChange.changed_at) <= now),
        exists().where(Notice.promise_id == Promise.id, Notice.kind == NoticeKind.delay_notice,
                       Notice.status == NoticeStatus.sent, col(Notice.sent_at) <= now))


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


def _counted(index: int, window: Window, owner_ids: Sequence[int] | None,
             client_ids: Sequence[int] | None) -> list[Any]:
    """The window's counts per owner and client: promises due and not told about, by
    outcome; promises made; renegotiations. Each reads the window through its date's index."""
    number = literal_column(str(index))
    outcome, slipped = _untold_outcome(window.as_of)
    due = _scope(select(col(Promise.owner_id).label("owner_id"),
                        col(Promise.client_id).label("client_id"), outcome.label("outcome"),
                        slipped.label("slipped"))
                 .where(_in(Promise.original_due_at, window.start, window.end),
                        ~_told_by(window.as_of)), owner_ids, client_ids).subquery()
    made = _scope(select(col(Promise.owner_id).label("owner_id"),
                         col(Promise.client_id).label("client_id"))
                  .where(_in(Promise.made_at, window.start, window.end)),
                  owner_ids, client_ids).subquery()
    renegotiated = _scope(select(col(Promise.owner_id).label("owner_id"),
                                 col(Promise.client_id).label("client_id"))
                          .join(DueChange, col(DueChange.promise_id) == Promise.id)
                          .where(_in(DueChange.changed_at, window.start, window.end)),
                          owner_ids, client_ids, promise_dated=False).subquery()
    zero = literal_column("0")
    return [
        select(number, literal_column(str(_DUE)), due.c.owner_id, due.c.client_id,
               due.c.outcome, due.c.slipped, func.count())
        .group_by(due.c.owner_id, due.c.client_id, due.c.outcome, due.c.slipped),
        *(select(number, literal_column(str(kind)), rows.c.owner_id, rows.c.client_id, zero,
                 zero, func.count()).group_by(rows.c.owner_id, rows.c.client_id)
          for kind, rows in ((_MADE, made), (_RENEGOTIATED, renegotiated))),
    ]


def _told_rows(session: Session, settings: Settings, *, start: datetime, end: datetime,
               told_by: datetime, owner_ids: Sequence[int] | None,
               client_ids: Sequence[int] | None) -> _Rows:
    """What `figures` judges in Python over [start, end): the promises due in it whose client
    was told of a slip by `told_by` (each with when they first heard and the latest date they
    were told, in one statement), its mistakes and its check-in requests."""
    calendars = _Calendars(settings)
    told = (DueChange.promise_id == Promise.id, col(DueChange.client_told).is_(True))
    noticed = (Notice.promise_id == Promise.id, Notice.kind == NoticeKind.delay_notice,
               Notice.status == NoticeStatus.sent, col(Notice.sent_at).is_not(None))
    columns = (
        select(func.min(func.coalesce(DueChange.client_told_at, DueChange.changed_at)))
        .where(*told).scalar_subquery(),
        select(func.max(DueChange.new_due_at)).where(*told).scalar_subquery(),
        select(func.min(Notice.sent_at)).where(*noticed).scalar_subquery(),
        select(func.max(Notice.proposed_due_at)).where(*noticed).scalar_subquery(),
    )
    rows = _Rows()
    for *promise, timezone, country, changed_at, changed_due, sent_at, proposed in session.exec(
        _scope(select(*_PROMISE, Client.timezone, Client.country, *columns)
               .join(Client, col(Promise.client_id) == Client.id)
               .where(_in(Promise.original_due_at, start, end), _told_by(told_by)),
               owner_ids, client_ids)).all():
        heard = [moment for moment in (changed_at, sent_at) if moment is not None]
        dates = [moment for moment in (changed_due, proposed) if moment is not None]
        view = _PromiseRow(*promise)
        rows.due.append(_DueRow(view, _Who(view.owner_id, view.client_id, timezone),
                                calendars(timezone, country), min(heard) if heard else None,
                                max(dates) if dates else None))
    rows.mistakes = _mistakes(session, start=start, end=end, owner_ids=owner_ids,
                              client_ids=client_ids)
    rows.requests = _requests(session, calendars, start=start, end=end,
                              owner_ids=owner_ids, client_ids=client_ids)
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


class Figures:
    """The counts of each window per owner and client and its facts judged in Python (see
    `figures`), folded into the figures of any grouping without reading again."""

    def __init__(self, session: Session, counted: dict[Hashable, list[tuple[int, ...]]],
                 judged: dict[Hashable, _Facts]) -> None:
        self.session, self.counted, self.judged = session, counted, judged

    def of(self, key: Hashable, by: str | None = None) -> dict[str, Stats]:
        """The window's figures per group: owner email, manager email for a team, client
        name; `EVERYONE` without `by`. Groups with nothing in the window are left out."""
        name = _group_names(self.session, by)
        groups: dict[str, _Counts] = defaultdict(_Counts)
        for kind, owner_id, client_id, outcome, slipped, number in self.counted[key]:
            _count(groups[name(owner_id, client_id)], kind, outcome, slipped, number)
        for group, part in _split(self.judged[key], lambda who, at: (
                name(who.owner_id, who.client_id),)).items():
            groups[str(group)].add(part)
        return {group: groups[group].stats() for group in sorted(groups)}


def figures(session: Session, settings: Settings, windows: dict[Hashable, Window], *,
            owner_ids: Sequence[int] | None = None,
            client_ids: Sequence[int] | None = None) -> Figures:
    """The figures of each window for the promises of these owners and clients.

    One statement counts, per window, owner and client, the promises made, the
    renegotiations and the promises due by outcome; a promise whose client was told of its
    slip (a few in a hundred), the mistakes and the check-in requests are read once for all
    windows and judged here (their figures count business days on the client's calendar).
    So the time and memory follow the windows' promises in the database and the owners and
    clients in Python, never a row per promise. Every figure of the ledger but the report's
    weeks (`History`) comes from here: `/reliability`, `/api/metrics`, `report`,
    `client trust`, the client page and the digest."""
    counted: dict[Hashable, list[tuple[int, ...]]] = {key: [] for key in windows}
    if not windows:
        return Figures(session, counted, {})
    # A window asked for under two names (the trust view's shown range and trend) is
    # counted once.
    distinct = list(dict.fromkeys((w.start, w.end, w.as_of) for w in windows.values()))
    statement = union_all(*(branch for index, (start, end, now) in enumerate(distinct)
                            for branch in _counted(index, Window(start, end, now), owner_ids,
                                                   client_ids)))
    named: dict[int, list[Hashable]] = defaultdict(list)
    for key, window in windows.items():
        named[distinct.index((window.start, window.end, window.as_of))].append(key)
    for index, kind, owner_id, client_id, outcome, slipped, number in session.execute(
            statement).all():
        for key in named[index]:
            counted[key].append((kind, owner_id, client_id, outcome, slipped, number))
    rows = _told_rows(session, settings,
                      start=min(window.start for window in windows.values()),
                      end=max(window.end for window in windows.values()),
                      told_by=max(window.as_of for window in windows.values()),
                      owner_ids=owner_ids, client_ids=client_ids)
    # A promise told of after a window's moment was counted in SQL as not told.
    return Figures(session, counted, {
        key: _facts(_Rows(due=[row for row in rows.due
                               if row.told_at is not None and row.told_at <= window.as_of],
                          mistakes=rows.mistakes, requests=rows.requests),
                    settings, start=window.start, end=window.end, now=window.as_of)
        for key, window in windows.items()})


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
    return figures(session, settings, {by: Window(start, end, now)}, owner_ids=owner_ids,
                   client_ids=client_ids).of(by, by)


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
    counted = figures(session, settings, {"range": Window(start, end, now)})
    total = counted.of("range").get(EVERYONE, NO_STATS)
    weeks = History(session, settings, start=start, end=end).weekly(by=by, now=now)
    return total, counted.of("range", by), weeks
