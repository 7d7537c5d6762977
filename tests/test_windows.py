"""Reads over a window: the digest's unanswered check-ins are the requests of the last ten
days, and the calendar feeds hold the open promises due from 30 days back to a year ahead."""

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from helpers import at
from icalendar import Calendar
from scenarios import START, agency_with
from sqlmodel import Session, col, select, update
from web_helpers import app_for

from reliability.digest import build_digest
from reliability.ledger import Ledger
from reliability.members import calendar_token
from reliability.models import CheckIn, Member, Notice, Promise

NOW = at("2026-11-18T10:00-05:00")


@pytest.fixture
def team(ledger: Ledger) -> Ledger:
    """Acme, Bob and his report Alice; Carol manages Dan, in another team."""
    agency_with(ledger, "en")
    ledger.add_member(email="carol@example.com", name="Carol", role="manager",
                      timezone="America/New_York", now=START, actor="t")
    ledger.add_member(email="dan@example.com", name="Dan", manager_email="carol@example.com",
                      timezone="America/New_York", now=START, actor="t")
    return ledger


def promise(ledger: Ledger, title: str, due: datetime, owner: str = "alice@example.com",
            made: datetime | None = None) -> int:
    view = ledger.add_promise(title=title, client_name="Acme", owner_email=owner, due_at=due,
                              now=made or due - timedelta(days=3), actor="t")
    return view.promise.id or 0


def asked(ledger: Ledger, promise_id: int, when: datetime, *, answered: datetime | None = None,
          status: str = "sent") -> None:
    """A check-in request as the scan leaves it in the outbox, and maybe its answer."""
    with Session(ledger.engine) as session:
        session.add(Notice(kind="checkin_request", idempotency_key=f"ask:{promise_id}:{when}",
                           promise_id=promise_id, channel="email",
                           recipient="alice@example.com", locale="en", subject="How is it going?",
                           text="Check in, please.", status=status, created_by="t",
                           created_at=when, sent_at=when if status == "sent" else None))
        if answered:
            session.add(CheckIn(promise_id=promise_id, at=answered, status="on_track"))
        session.commit()


def unanswered(ledger: Ledger, email: str) -> list[tuple[str, datetime]]:
    with Session(ledger.engine) as session:
        manager = session.exec(select(Member).where(Member.email == email)).one()
        digest = build_digest(session, ledger.settings, manager, NOW)
    return [(item["promise"]["title"], item["asked_at"])
            for item in digest["unanswered_checkins"]]


def test_the_digest_lists_the_check_ins_asked_in_the_last_ten_days_and_still_unanswered(
        team: Ledger) -> None:
    friday = at("2026-11-20T17:00-05:00")
    waiting = promise(team, "Waiting", friday)
    asked(team, waiting, NOW - timedelta(days=3))
    asked(team, waiting, NOW - timedelta(days=1))  # asked again: the later one counts
    answered = promise(team, "Answered", friday)
    asked(team, answered, NOW - timedelta(days=2), answered=NOW - timedelta(days=1))
    answered_before = promise(team, "Answered before asking", friday)
    asked(team, answered_before, NOW - timedelta(hours=23), answered=NOW - timedelta(days=2))
    stale = promise(team, "Asked long ago", friday)
    asked(team, stale, NOW - timedelta(days=11))
    unsent = promise(team, "Still a draft", friday)
    asked(team, unsent, NOW - timedelta(days=1), status="cancelled")
    finished = promise(team, "Delivered", friday)
    asked(team, finished, NOW - timedelta(days=1))
    team.complete(finished, now=NOW - timedelta(hours=1), actor="t")
    elsewhere = promise(team, "Dan's", friday, owner="dan@example.com")
    asked(team, elsewhere, NOW - timedelta(days=4))

    assert unanswered(team, "bob@example.com") == [
        ("Waiting", NOW - timedelta(days=1)),
        ("Answered before asking", NOW - timedelta(hours=23))]
    assert unanswered(team, "carol@example.com") == [
        ("Dan's", NOW - timedelta(days=4))]


def feed_titles(ledger: Ledger, email: str) -> list[str]:
    with Session(ledger.engine) as session:
        member_id = session.exec(select(Member.id).where(Member.email == email)).one()
    token = calendar_token(ledger, member_id, now=START, actor="t")
    feed = TestClient(app_for(ledger, NOW)).get(f"/calendar/{token}.ics")
    assert feed.status_code == 200
    return [str(event["SUMMARY"]) for event in Calendar.from_ical(feed.content).walk("VEVENT")]


def test_the_feed_holds_open_promises_due_from_30_days_back_to_a_year_ahead(
        team: Ledger) -> None:
    made = NOW - timedelta(days=60)
    for title, days in (("Long overdue", -31), ("Overdue", -29), ("Next year", 364),
                        ("After next year", 366)):
        promise(team, title, NOW + timedelta(days=days), made=made)
    done = promise(team, "Delivered", NOW + timedelta(days=2), made=made)
    team.complete(done, now=NOW - timedelta(hours=1), actor="t")
    assert feed_titles(team, "alice@example.com") == ["Due: Overdue (Acme)",
                                                      "Due: Next year (Acme)"]
    team.settings.web.feed_days_back = 60
    team.settings.web.feed_days_ahead = 400
    assert feed_titles(team, "alice@example.com") == [
        "Due: Long overdue (Acme)", "Due: Overdue (Acme)", "Due: Next year (Acme)",
        "Due: After next year (Acme)"]


def test_a_full_feed_holds_the_promises_due_nearest_to_now_and_says_how_many_more_wait(
        team: Ledger) -> None:
    for title, days in (("Third", 9), ("Missed long ago", -20), ("First", -2), ("Second", 4)):
        promise(team, title, NOW + timedelta(days=days), made=NOW - timedelta(days=25))
    team.settings.web.feed_max_events = 2
    assert feed_titles(team, "alice@example.com") == ["Due: First (Acme)",
                                                      "Due: Second (Acme)"]
    token = next(iter(team.read(lambda session: session.exec(
        select(Member.calendar_token).where(Member.email == "alice@example.com")).all())))
    feed = Calendar.from_ical(TestClient(app_for(team, NOW)).get(
        f"/calendar/{token}.ics").content)
    assert str(feed["X-WR-CALDESC"]) == (
        "Open promises due 19 Oct 2026 – 18 Nov 2027 (UTC). Showing the 2 of 4 due closest to "
        "today. See all at http://127.0.0.1:8000/promises")
    team.settings.web.feed_max_events = 1
    feed = Calendar.from_ical(TestClient(app_for(team, NOW)).get(
        f"/calendar/{token}.ics").content)
    assert str(feed["X-WR-CALDESC"]).endswith(
        "(UTC). Showing only the one due closest to today (4 in all). "
        "See all at http://127.0.0.1:8000/promises")
    team.settings.web.feed_max_events = 3
    assert feed_titles(team, "alice@example.com") == [
        "Due: First (Acme)", "Due: Second (Acme)", "Due: Third (Acme)"]


def test_the_feed_is_rfc_5545_text_whatever_a_title_holds(team: Ledger) -> None:
    """The feed is written as text, not built by the icalendar library: escapes, folding
    at 75 octets (never inside a character or an escape) and CRLF, read back exactly."""
    titles = ["Budget; v2, final \\ draft", "年度报告" * 30, "x" * 60 + "\\;,\\" * 20,
              "Åsa's “quarterly” review, part 1/2"]
    for days, title in enumerate(titles, start=1):
        promise(team, title, NOW + timedelta(days=days))
    with Session(team.engine) as session:
        alice = session.exec(select(Member.id).where(Member.email == "alice@example.com")).one()
    token = calendar_token(team, alice, now=START, actor="t")
    body = TestClient(app_for(team, NOW)).get(f"/calendar/{token}.ics").content

    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    unfolded = body.replace(b"\r\n ", b"").decode()  # every piece cut between characters
    assert "SUMMARY:Due: Budget\\; v2\\, final \\\\ draft (Acme)" in unfolded
    events = Calendar.from_ical(body).walk("VEVENT")
    assert [str(event["SUMMARY"]) for event in events] == [f"Due: {t} (Acme)" for t in titles]
    assert [str(event["DESCRIPTION"]).split("\n")[:2] for event in events] == [
        ["Owner: Alice", "Risk: on track"]] * len(titles)
    assert events[0].decoded("DTEND") == NOW + timedelta(days=1)


def test_a_title_with_unicode_line_separators_adds_no_line_to_the_feed(team: Ledger) -> None:
    """The ledger folds a title's white space as it takes it, but a row restored by
    `import` (or stored by an older version) may still hold U+2028, U+2029 or NEL, which a
    reader splitting lines as Python's str.splitlines does would take for the end of the
    line, and what follows for a property of its own: each is written as the escaped line
    break it stands for."""
    injected = "\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Free pizza\nURL:https://evil.example"
    separators = ("\u2028", "\u2029", "\x85")
    for days, separator in enumerate(separators, start=1):
        promise_id = promise(team, "Q3 report", NOW + timedelta(days=days))
        with Session(team.engine) as session:
            session.execute(update(Promise).where(col(Promise.id) == promise_id).values(
                title=f"Q3 report{injected.replace(chr(10), separator)}"))
            session.commit()
    with Session(team.engine) as session:
        alice = session.exec(select(Member.id).where(Member.email == "alice@example.com")).one()
    token = calendar_token(team, alice, now=START, actor="t")
    body = TestClient(app_for(team, NOW)).get(f"/calendar/{token}.ics").content

    lines = body.replace(b"\r\n ", b"").decode().splitlines()
    assert [line for line in lines if line.startswith(("BEGIN:VEVENT", "URL:https://evil"))] == [
        "BEGIN:VEVENT"] * len(separators)
    events = Calendar.from_ical(body).walk("VEVENT")
    assert [str(event["SUMMARY"]) for event in events] == [
        f"Due: Q3 report{injected} (Acme)"] * len(separators)

def test_the_digest_lists_the_longest_waiting_check_ins_first_and_counts_the_rest(
        team: Ledger) -> None:
    friday = at("2026-11-20T17:00-05:00")
    for days, title in ((2, "Asked Monday"), (4, "Asked last week"), (1, "Asked yesterday")):
        asked(team, promise(team, title, friday), NOW - timedelta(days=days))
    team.settings.digest.items_per_section = 2
    with Session(team.engine) as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        digest = build_digest(session, team.settings, bob, NOW)
    assert [item["promise"]["title"] for item in digest["unanswered_checkins"]] == [
        "Asked last week", "Asked Monday"]
    assert digest["more"]["unanswered_checkins"] == {"count": 1, "url": None}
