"""Machine-read endpoints: iCalendar feeds of due dates, and Prometheus metrics.

A calendar app cannot sign in, so a feed's URL carries its own secret (member.calendar_token,
revocable from the calendar page). /metrics is open unless `[web] metrics_token` is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from icalendar import Calendar, Event
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from reliability import compose, telemetry  # noqa: F401  (registers the process metrics)
from reliability.access import Scope, scope_of
from reliability.ledger import Ledger
from reliability.models import Member, Notice, Promise, PromiseStatus
from reliability.web import queries
from reliability.web.auth import ledger_of
from reliability.web.tokens import member_by_calendar_token

router = APIRouter(include_in_schema=False)
ICS = "text/calendar; charset=utf-8"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
# A due date shows as a short block ending at the due moment, where a calendar shows it best.
EVENT_LENGTH = timedelta(minutes=30)


def _feed_member(request: Request, token: str) -> tuple[Ledger, Member]:
    ledger = ledger_of(request)
    with ledger.session() as session:
        member = member_by_calendar_token(session, token)
    if member is None:
        raise HTTPException(404, "no such calendar")
    return ledger, member


@router.get("/calendar/{token}.ics")
def own_feed(request: Request, token: str) -> Response:
    ledger, member = _feed_member(request, token)
    with ledger.session() as session:
        scope = Scope(member, frozenset({member.id or 0}))
        body = _feed(session, ledger, scope, f"{member.name}: promises", request)
    return Response(body, media_type=ICS)


@router.get("/calendar/{token}/team.ics")
def team_feed(request: Request, token: str) -> Response:
    ledger, member = _feed_member(request, token)
    with ledger.session() as session:
        body = _feed(session, ledger, scope_of(session, member),
                     f"{member.name}'s team: promises", request)
    return Response(body, media_type=ICS)


def _feed(session: Session, ledger: Ledger, scope: Scope, name: str, request: Request) -> bytes:
    now = request.app.state.clock()
    calendar = Calendar()
    calendar.add("prodid", "-//reliability//due dates//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    rows = queries.promise_list(session, scope, now, status=PromiseStatus.open)
    host = ledger.settings.web.base_url.split("//")[-1].split("/")[0]
    for row in rows:
        event = Event()
        event.add("uid", f"promise-{row.promise.id}@{host}")
        event.add("summary", f"Due: {row.promise.title} ({row.client.name})")
        event.add("dtstart", row.promise.due_at - EVENT_LENGTH)
        event.add("dtend", row.promise.due_at)
        event.add("dtstamp", now)
        event.add("url", compose.promise_url(ledger.settings, row.promise.id))
        risk = f"{row.level.replace('_', ' ')}"
        if row.promise.p_late is not None:
            risk += f", {row.promise.p_late:.0%} likely late"
        event.add("description", f"Owner: {row.owner.name}\nRisk: {risk}\n"
                                 f"{compose.promise_url(ledger.settings, row.promise.id)}")
        calendar.add_component(event)
    return calendar.to_ical()


class _LedgerGauges(Collector):
    """Gauges read from the database at scrape time, so every process reports the same."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def collect(self) -> Iterator[GaugeMetricFamily]:
        levels = GaugeMetricFamily("reliability_open_promises", "Open promises by risk level.",
                                   labels=["level"])
        states = GaugeMetricFamily("reliability_notices", "Messages by state.",
                                   labels=["status"])
        with self.ledger.session() as session:
            for level, count in session.exec(
                    select(Promise.level, func.count()).where(
                        Promise.status == PromiseStatus.open).group_by(col(Promise.level))).all():
                levels.add_metric([level], count)
            for status, count in session.exec(
                    select(Notice.status, func.count()).group_by(col(Notice.status))).all():
                states.add_metric([status], count)
        yield levels
        yield states

    def describe(self) -> list[GaugeMetricFamily]:
        return []


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    ledger = ledger_of(request)
    expected = ledger.settings.web.metrics_token
    if expected is not None:
        sent = request.headers.get("authorization", "").partition(" ")[2]
        if not secrets.compare_digest(sent.encode(), expected.get_secret_value().encode()):
            raise HTTPException(401, "metrics need the bearer token from [web] metrics_token",
                                headers={"WWW-Authenticate": "Bearer"})
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(_LedgerGauges(ledger))
    return Response(generate_latest(REGISTRY) + generate_latest(gauges), media_type=PROMETHEUS)

