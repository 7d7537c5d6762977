"""iCalendar feeds of due dates.

A calendar app cannot sign in, so a feed's URL carries its own secret (member.calendar_token,
revocable from the calendar page).

The feed is written as RFC 5545 text here rather than built as `icalendar` objects: a busy
team's feed holds tens of thousands of events, and building each as objects took a quarter
of a millisecond on a quiet machine (4.2 s for the admin's 15,000 events at a million
promises, 18 s under load).
Every value goes through `_text` (TEXT escaping) and every line through `_line` (folding at
75 octets); tests read the feeds back with the `icalendar` parser.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from reliability import compose, feeds
from reliability.ledger import Ledger
from reliability.models import Member
from reliability.web.auth import ledger_of

router = APIRouter(include_in_schema=False)
ICS = "text/calendar; charset=utf-8"
# A due date shows as a short block ending at the due moment, where a calendar shows it best.
EVENT_LENGTH = timedelta(minutes=30)
# RFC 5545 3.1: a line holds at most 75 octets; a longer one continues on the next after a
# space, so each piece holds 74 and the space.
FOLD_AT = 74
# Control characters TEXT may not hold (RFC 5545 3.3.11, TSAFE-CHAR): inputs refuse them
# (`limits`), so this only keeps an old or imported row from breaking the whole calendar.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Line breaks, written as TEXT's escaped one: CR, LF, and those a reader splitting lines as
# Python's str.splitlines does would end a content line at (NEL, U+2028, U+2029), taking
# what follows for a property of its own. The ledger folds them out of what it takes; a
# restored row may still hold them.
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


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
    host = _text(ledger.settings.web.base_url.split("//")[-1].split("/")[0])
    stamp = b"DTSTAMP:" + _moment(now)
    feed = feeds.due_dates(ledger, member, now, team=team)
    # Without commas or semicolons: some readers show this property's TEXT escapes as typed.
    about = f"Open promises due {_day(feed.start)} – {_day(feed.end)} (UTC)"
    if feed.more:
        shown, total = len(feed.dates), len(feed.dates) + feed.more
        about += (f". Showing only the one due closest to today ({total} in all)" if shown == 1
                  else f". Showing the {shown} of {total} due closest to today")
        about += f". See all at {ledger.settings.web.base_url.rstrip('/')}/promises"
    lines = [b"BEGIN:VCALENDAR", b"VERSION:2.0", b"PRODID:-//reliability//due dates//EN",
             _line(f"X-WR-CALNAME:{_text(name)}"), _line(f"X-WR-CALDESC:{_text(about)}")]
    for due in feed.dates:
        url = compose.promise_url(ledger.settings, due.promise_id)
        risk = due.level.replace("_", " ")
        if due.p_late is not None:
            risk += f", {due.p_late:.0%} likely late"
        summary = f"Due: {due.title} ({due.client_name})"
        description = f"Owner: {due.owner_name}\nRisk: {risk}\n{url}"
        lines += (b"BEGIN:VEVENT",
                  _line(f"SUMMARY:{_text(summary)}"),
                  b"DTSTART:" + _moment(due.due_at - EVENT_LENGTH),
                  b"DTEND:" + _moment(due.due_at),
                  stamp,
                  _line(f"UID:promise-{due.promise_id}@{host}"),
                  _line(f"DESCRIPTION:{_text(description)}"),
                  _line(f"URL:{url}"),
                  b"END:VEVENT")
    lines.append(b"END:VCALENDAR")
    return b"\r\n".join(lines) + b"\r\n"


def _day(moment: datetime) -> str:
    """19 Oct 2026: the day as people write it, without a leading zero."""
    return f"{moment.day} {moment:%b %Y}"


def _text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped, each line
    break (`LINE_BREAKS`) written as \\n."""
    return LINE_BREAKS.sub("\\\\n", CONTROLS.sub(" ", value).replace("\\", "\\\\")
                           .replace(";", "\\;").replace(",", "\\,"))


def _moment(value: datetime) -> bytes:
    """A DATE-TIME in UTC (RFC 5545 3.3.5, form #2)."""
    # isoformat's first 19 characters are YYYY-MM-DDTHH:MM:SS: four times faster than
    # strftime, and a feed writes two moments an event
    return value.astimezone(UTC).isoformat()[:19].replace("-", "").replace(":", "").encode() + b"Z"


def _line(line: str) -> bytes:
    """A content line, folded (RFC 5545 3.1): pieces of at most 74 octets, each after the
    first on a line that starts with a space, never cut inside a UTF-8 character or
    between a backslash and the character it escapes."""
    raw = line.encode()
    if len(raw) <= FOLD_AT:
        return raw
    pieces, start = [], 0
    while len(raw) - start > FOLD_AT:
        cut = start + FOLD_AT
        while raw[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back to the character
            cut -= 1
        backslashes = cut - start - len(raw[start:cut].rstrip(b"\\"))
        cut -= backslashes % 2  # an escape's backslash goes with what it escapes
        pieces.append(raw[start:cut])
        start = cut
    pieces.append(raw[start:])
    return b"\r\n ".join(pieces)
