"""iCalendar feeds of due dates.

A calendar app cannot sign in, so a feed's URL carries its own secret (member.calendar_token,
revocable from the calendar page).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from icalendar import Calendar, Event

from reliability import compose, feeds
from reliability.ledger import Ledger
from reliability.models import Member
from reliability.web.auth import ledger_of

router = APIRouter(include_in_schema=False)
ICS = "text/calendar; charset=utf-8"
# A due date shows as a short block ending at the due moment, where a calendar shows it best.
EVENT_LENGTH = timedelta(minutes=30)


def _feed_owner(request: Request, token: str) -> tuple[Ledger, Member]:
    ledger = ledger_of(request)
    member = feeds.feed_owner(ledger, token)
    if member is None:
        raise HTTPException(404, "no such calendar")
    return ledger, member


@router.get("/calendar/{token}.ics")
def own_feed(request: Request, token: str) -> Response:
    ledger, member = _feed_owner(request, token)
    return Response(_feed(ledger, member, f"{member.name}: promises", request, team=False),
                    media_type=ICS)


@router.get("/calendar/{token}/team.ics")
def team_feed(request: Request, token: str) -> Response:
    ledger, member = _feed_owner(request, token)
    return Response(_feed(ledger, member, f"{member.name}'s team: promises", request,
                          team=True), media_type=ICS)


def _feed(ledger: Ledger, member: Member, name: str, request: Request, *, team: bool) -> bytes:
    now = request.app.state.clock()
    calendar = Calendar()
    calendar.add("prodid", "-//reliability//due dates//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    host = ledger.settings.web.base_url.split("//")[-1].split("/")[0]
    for due in feeds.due_dates(ledger, member, now, team=team):
        promise, url = due.view.promise, compose.promise_url(ledger.settings, due.view.promise.id)
        event = Event()
        event.add("uid", f"promise-{promise.id}@{host}")
        event.add("summary", f"Due: {promise.title} ({due.view.client.name})")
        event.add("dtstart", promise.due_at - EVENT_LENGTH)
        event.add("dtend", promise.due_at)
        event.add("dtstamp", now)
        event.add("url", url)
        risk = due.level.replace("_", " ")
        if promise.p_late is not None:
            risk += f", {promise.p_late:.0%} likely late"
        event.add("description", f"Owner: {due.view.owner.name}\nRisk: {risk}\n{url}")
        calendar.add_component(event)
    return calendar.to_ical()
