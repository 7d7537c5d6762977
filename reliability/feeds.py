"""What the machine-read endpoints publish: a member's open promises for their calendar feed,
and the ledger's gauges for Prometheus. Reads only; each opens its own session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from reliability.access import Scope, scope_of
from reliability.ledger import Ledger
from reliability.members import member_by_calendar_token
from reliability.models import Client, Member, Notice, Promise, PromiseStatus, RiskLevel
from reliability.promises import overdue


@dataclass(frozen=True)
class DueDate:
    """An open promise as a calendar shows it: what the event says, and its level as of now.
    Columns, not whole rows: a busy team's feed holds tens of thousands of them."""

    promise_id: int
    title: str
    client_name: str
    owner_name: str
    due_at: datetime
    level: str
    p_late: float | None


@dataclass(frozen=True)
class Feed:
    """The due dates a feed shows, soonest first, from `start` to `end`, and how many more
    the window holds beyond `[web] feed_max_events` (those furthest from now)."""

    dates: list[DueDate]
    more: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Gauges:
    """Open promises by risk level and messages by state, as counted now."""

    open_by_level: list[tuple[str, int]]
    notices_by_status: list[tuple[str, int]]


def feed_owner(ledger: Ledger, token: str) -> Member | None:
    """Whose calendar feed a URL's secret opens; None for an unknown or revoked one."""
    with ledger.session() as session:
        return member_by_calendar_token(session, token)


def due_dates(ledger: Ledger, member: Member, now: datetime, *, team: bool) -> Feed:
    """The member's open promises (with `team`, also those of everyone below them) due in
    the feeds' window around `now`, soonest first; at most `[web] feed_max_events`, those
    due nearest to now (what is coming, and what has just been missed), read from the
    due-date index."""
    web = ledger.settings.web
    return ledger.read(_due_dates, member, now, team=team,
                       start=now - timedelta(days=web.feed_days_back),
                       end=now + timedelta(days=web.feed_days_ahead), limit=web.feed_max_events)


def _due_dates(session: Session, member: Member, now: datetime, *, team: bool,
               start: datetime, end: datetime, limit: int) -> Feed:
    scope = scope_of(session, member) if team else Scope(member, frozenset({member.id or 0}))
    window = (scope.where(Promise.owner_id), Promise.status == PromiseStatus.open,
              col(Promise.due_at) >= start, col(Promise.due_at) <= end)
    shown = (Promise.id, Promise.title, Client.name, Member.name, Promise.due_at,
             Promise.level, Promise.p_late)

    def side(*where: Any, later: bool) -> list[Any]:
        """Up to `limit` + 1 of one side of now, nearest first. The connection, not the
        session: plain rows, without the ORM's work per row."""
        order = (col(Promise.due_at), col(Promise.id)) if later else (
            col(Promise.due_at).desc(), col(Promise.id))  # ties: the first made, as below
        return list(session.connection().execute(
            select(*shown).join(Client, col(Promise.client_id) == Client.id)
            .join(Member, col(Promise.owner_id) == Member.id)
            .where(*window, *where).order_by(*order).limit(limit + 1)).all())

    coming = side(col(Promise.due_at) >= now, later=True)
    missed = side(col(Promise.due_at) < now, later=False)
    rows = sorted(coming + missed, key=lambda row: (abs(row.due_at - now), row.id))
    more = 0
    if len(rows) > limit:  # counted from the index only when the feed is full
        counted = session.exec(select(func.count()).select_from(Promise).where(*window)).one()
        rows = rows[:limit]
        more = max(0, counted - limit)  # a promise finished between the two reads
    rows.sort(key=lambda row: (row.due_at, row.id))
    return Feed([DueDate(promise_id, title, client, owner, due_at,
                         RiskLevel.overdue if overdue(level, due_at, now) else level, p_late)
                 for promise_id, title, client, owner, due_at, level, p_late in rows],
                more, start, end)


def gauges(ledger: Ledger) -> Gauges:
    with ledger.session() as session:
        levels = session.exec(select(Promise.level, func.count()).where(
            Promise.status == PromiseStatus.open).group_by(col(Promise.level))).all()
        states = session.exec(select(Notice.status, func.count())
                              .group_by(col(Notice.status))).all()
    return Gauges([(level, count) for level, count in levels],
                  [(status, count) for status, count in states])
