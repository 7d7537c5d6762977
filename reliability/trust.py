"""The client trust view: per client the ledger's figures, a stage, and what they told us.

A stage says where the relationship stands so an account manager knows whom to call first:
first-time, returning, regular, slipping or lost. The rules are in docs/ledger.md; `stage` is
pure so they can be read and tested on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from reliability.config import Settings
from reliability.metrics import NO_STATS, Stats, Window, figures
from reliability.models import Client, Promise
from reliability.ratings import RatingSummary, ratings
from reliability.records import iso

STAGES = ("first-time", "returning", "regular", "slipping", "lost")
WINDOW = timedelta(days=30)  # "a month" of activity
REGULAR_WINDOWS = 3  # a promise in each of the last three months
LOST_AFTER = timedelta(days=90)
TREND = timedelta(days=90)  # on-time rate now against the 90 days before
RECENT = timedelta(days=30)  # a slip without notice this recent puts a client on slipping
BY_CLIENT = ("client",)  # the groupings its windows are counted by
FALL = 0.15  # a drop in on-time rate that is more than noise...
MIN_SETTLED = 3  # ...once each period has at least this many settled promises
LOW_RATING = 3  # a latest overall rating of 3 or less


@dataclass(frozen=True)
class Activity:
    """What the stage rules read about one client, as of a moment."""

    promises: int
    last_made_at: datetime | None
    active_months: tuple[bool, ...]  # a promise made in each 30-day window back from now
    recent: Stats  # the last 30 days
    trend_now: Stats  # the last 90 days
    trend_before: Stats  # the 90 days before those
    latest_rating: int | None


def stage(activity: Activity, *, now: datetime) -> tuple[str, tuple[str, ...]]:
    """The client's stage and the facts that put it there; the first rule that holds wins."""
    if activity.promises >= 2 and activity.last_made_at is not None \
            and now - activity.last_made_at > LOST_AFTER:
        days = (now - activity.last_made_at).days
        return "lost", (f"No promise in {days} days after {activity.promises} promises",)
    slipping = []
    missed = activity.recent.late_without_notice + activity.recent.broken
    if missed:
        slipping.append(f"{missed} promise{'s' if missed > 1 else ''} late without notice or "
                        "broken in the last 30 days")
    now_rate, before_rate = activity.trend_now.on_time_rate, activity.trend_before.on_time_rate
    if (now_rate is not None and before_rate is not None
            and activity.trend_now.settled >= MIN_SETTLED
            and activity.trend_before.settled >= MIN_SETTLED
            and before_rate - now_rate >= FALL):
        slipping.append(f"On-time rate fell from {before_rate:.0%} to {now_rate:.0%} "
                        "over the last 90 days")
    if activity.latest_rating is not None and activity.latest_rating <= LOW_RATING:
        slipping.append(f"Latest rating {activity.latest_rating}/5")
    if slipping:
        return "slipping", tuple(slipping)
    if activity.promises <= 1:
        return "first-time", (f"{activity.promises} promise so far",)
    if len(activity.active_months) >= REGULAR_WINDOWS and all(
            activity.active_months[:REGULAR_WINDOWS]):
        return "regular", ("Promises in each of the last 3 months",)
    return "returning", (f"{activity.promises} promises, not every month",)


@dataclass(frozen=True)
class ClientTrust:
    client: Client
    stage: str
    reasons: tuple[str, ...]
    stats: Stats
    ratings: RatingSummary
    promises: int
    first_made_at: datetime | None
    last_made_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        tz = self.client.timezone
        return {
            "client": self.client.name,
            "stage": self.stage,
            "reasons": list(self.reasons),
            "promises_ever": self.promises,
            "first_promise_at": iso(self.first_made_at, tz),
            "last_promise_at": iso(self.last_made_at, tz),
            "stats": self.stats.to_json(),
            "ratings": self.ratings.to_json(tz),
        }


def _made_by(session: Session, clients: Sequence[Client], now: datetime) -> dict[
    int, tuple[int, datetime | None, datetime | None]
]:
    """Each client's promises ever made up to `now`, the first and the last: kept on the
    client's row as each is made (`rollups`), so history costs nothing; a client with
    promises made after `now` (a view as of a past moment) is counted from its index."""
    later = set(session.exec(select(Client.id).where(exists().where(
        col(Promise.client_id) == Client.id, col(Promise.internal).is_(False),
        col(Promise.made_at) > now))).all())
    totals = {client.id or 0: (client.promises_made, client.first_promise_at,
                               client.last_promise_at) for client in clients}
    for client_id in later:
        count, first, last = session.exec(
            select(func.count(), func.min(Promise.made_at), func.max(Promise.made_at))
            .where(Promise.client_id == client_id, col(Promise.internal).is_(False),
                   Promise.made_at <= now)).one()
        totals[client_id] = (count, first, last)
    return totals


def trust_view(session: Session, settings: Settings, *, now: datetime,
               start: datetime | None = None) -> list[ClientTrust]:
    """Every client with its stage, its figures since `start` (default: 90 days) and ratings."""
    start = start or now - TREND
    # Whether each client had a promise made in each of the last three 30-day windows: one
    # look into each client's promises by date (ix_promise_client_history) per window,
    # however many it made.
    months = {
        client_id: tuple(bool(made) for made in flags)
        for client_id, *flags in session.exec(
            select(Client.id, *(
                exists().where(col(Promise.client_id) == Client.id,
                               col(Promise.internal).is_(False),
                               col(Promise.made_at) > now - WINDOW * (back + 1),
                               col(Promise.made_at) <= now - WINDOW * back)
                for back in range(REGULAR_WINDOWS)))
        ).all()
    }
    # The shown range and the three the stage rules compare, counted in one statement.
    counted = figures(session, settings, {
        "shown": Window(start, now, by=BY_CLIENT),
        "recent": Window(now - RECENT, now, by=BY_CLIENT),
        "trend_now": Window(now - TREND, now, by=BY_CLIENT),
        "trend_before": Window(now - 2 * TREND, now - TREND, now, by=BY_CLIENT),
    })
    shown, recent = counted.of("shown", "client"), counted.of("recent", "client")
    trend_now, trend_before = counted.of("trend_now", "client"), counted.of("trend_before",
                                                                           "client")
    said = ratings(session)

    clients = session.exec(select(Client).order_by(col(Client.name_key))).all()
    totals = _made_by(session, clients, now)
    view = []
    for client in clients:
        count, first, last = totals[client.id or 0]
        summary = RatingSummary.of(said.get(client.id or 0, []))
        activity = Activity(
            promises=count,
            last_made_at=last,
            active_months=months.get(client.id or 0, (False,) * REGULAR_WINDOWS),
            recent=recent.get(client.name, NO_STATS),
            trend_now=trend_now.get(client.name, NO_STATS),
            trend_before=trend_before.get(client.name, NO_STATS),
            latest_rating=summary.latest_overall,
        )
        name, reasons = stage(activity, now=now)
        view.append(ClientTrust(client, name, reasons, shown.get(client.name, NO_STATS), summary,
                                count, first, last))
    return view

