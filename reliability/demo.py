"""`reliability demo`: a small agency's week, played day by day with time travel.

Everything runs through the real product: the service layer, the scanner, the templates,
the outbox (into an SMTP sink started in this process), the digest and the ledger. Only
the people are simulated: they answer check-ins and approve drafts at set moments.
"""

from __future__ import annotations

import email
import email.policy
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlmodel import Session as DatabaseSession
from sqlmodel import select

from reliability import drafts, metrics, notices
from reliability.access import Actor
from reliability.calendar import BusinessCalendar
from reliability.config import Settings
from reliability.db import make_engine, upgrade
from reliability.digest import digest_key, queue_due_digests
from reliability.drafting.reasons import reason_texts
from reliability.ledger import Ledger
from reliability.models import Member, Notice, NoticeKind
from reliability.outbox import Outbox
from reliability.scan import Scanner

MONDAY = date(2026, 11, 16)
Say = Callable[[str], None]


class MailSink:
    """An SMTP server in this process that keeps what it receives, for the demo to show."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(envelope.original_content or b"",
                                          policy=email.policy.default)
        with self._lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"

    def start(self) -> int:
        self._controller.start()
        return self.port

    def stop(self) -> None:
        self._controller.stop()


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    timezone: str
    country: str
    role: str = "member"
    manager: str | None = None
    late_share: float = 0.1
    locale: str = "en"  # what they read: check-in requests, escalations, digests


CLIENTS = [
    dict(name="Acme Analytics", email="dana@acme.example", contact_name="Dana Reed",
         locale="en", timezone="America/New_York", country="US"),
    dict(name="Norrsken AB", email="karin@norrsken.example", contact_name="Karin Berg",
         locale="sv", timezone="Europe/Stockholm", country="SE"),
    dict(name="华信咨询", email="wang@huaxin.example", contact_name="王经理",
         locale="zh", timezone="Asia/Shanghai", country="CN"),
]
PEOPLE = [
    Person("bob@agency.example", "Bob Hale", "America/New_York", "US", "manager"),
    Person("sara@agency.example", "Sara Lind", "Europe/Stockholm", "SE", "manager",
           locale="sv"),
    Person("fang@agency.example", "王芳", "Asia/Shanghai", "CN", "manager", locale="zh"),
    Person("alice@agency.example", "Alice Ng", "America/New_York", "US",
           manager="bob@agency.example", late_share=0.5),
    Person("erik@agency.example", "Erik Holm", "Europe/Stockholm", "SE",
           manager="sara@agency.example", late_share=0.45, locale="sv"),
    Person("mei@agency.example", "陈梅", "Asia/Shanghai", "CN",
           manager="fang@agency.example", late_share=0.4, locale="zh"),
]
# This week's promises, as people typed them on Monday morning.
THIS_WEEK = [
    ("alice@agency.example", "Q3 report for Acme Analytics by Friday"),
    ("erik@agency.example", "Kvartalsrapporten till Norrsken AB senast fredag"),
    ("mei@agency.example", "给华信咨询的市场分析 周五前"),
    ("alice@agency.example", "Dashboard walkthrough for Acme Analytics by Thursday 3pm"),
    ("erik@agency.example", "Workshop notes for Norrsken AB by Wednesday"),
    ("alice@agency.example", "Campaign brief for Acme Analytics by Friday"),
    ("erik@agency.example", "Budgetunderlaget till Norrsken AB senast fredag"),
    ("mei@agency.example", "给华信咨询的竞品报告 周五前"),
]
# How the owners answer the check-in requests, by day (a promise missing: no answer): status,
# progress, the note for the team and what the client may be told (None: the draft is
# flagged for its owner to add it before sending).
Answer = tuple[str, int, str | None, str | None]
TUESDAY_ANSWERS: dict[str, Answer] = {
    "Q3 report": ("at_risk", 40, "Waiting on the ad account data from Acme's agency.",
                  "The ad account figures the report is built on reached us later than "
                  "planned, and we want to check them properly before we draw conclusions."),
    "Kvartalsrapporten": ("at_risk", 35, "Exporten från affärssystemet är försenad.",
                          "Underlaget från affärssystemet kom senare än planerat, och vi vill "
                          "hinna kontrollera siffrorna ordentligt."),
    "市场分析": ("blocked", 30, "客户的销售数据还没有到。",
             "分析所需的销售数据比预期晚到，我们需要时间完成核对。"),
    "Campaign brief": ("at_risk", 30, "Bob pulled me onto the Q3 report all week.", None),
    "Budgetunderlaget": ("at_risk", 25, "Jag har suttit med kvartalsrapporten hela veckan.",
                         None),
    "竞品报告": ("at_risk", 20, "这周一直在赶市场分析。", None),
    "Dashboard walkthrough": ("on_track", 80, None, None),
    "Workshop notes": ("done", 100, None, None),
}
THURSDAY_ANSWERS: dict[str, Answer] = {
    "Q3 report": ("on_track", 70, "The data arrived; on course for the new date.", None),
    "Kvartalsrapporten": ("on_track", 60, "Exporten kom i går, vi är i fas.", None),
    "市场分析": ("on_track", 55, "数据已经收到，按新日期推进。", None),
    "Dashboard walkthrough": ("done", 100, None, None),
}


@dataclass
class Demo:
    """The agency, its database and the clock of the week being played."""

    folder: Path
    say: Say
    sink: MailSink = field(default_factory=MailSink)

    def __post_init__(self) -> None:
        self.settings = Settings()
        self.settings.database.url = f"sqlite:///{self.folder / 'reliability.db'}"
        self.settings.smtp.from_address = "promises@agency.example"
        self.settings.smtp.from_name = "Northwind Studio"
        self.settings.team.name = "Northwind Studio"
        self.settings.web.base_url = "http://127.0.0.1:8000"
        self.engine = make_engine(self.settings.database.url)
        upgrade(self.engine)
        self.ledger = Ledger(self.engine, self.settings)
        self.calendar = BusinessCalendar("America/New_York", "US")

    def at(self, day: date, clock: time) -> datetime:
        return self.calendar.at(day, clock)

    # -- setting the stage --------------------------------------------------------------

    def agency(self) -> None:
        start = self.at(MONDAY - timedelta(weeks=8), time(9))
        for client in CLIENTS:
            self.ledger.add_client(now=start, actor="demo", **client)  # type: ignore[arg-type]
        for person in PEOPLE:
            self.ledger.add_member(email=person.email, name=person.name, role=person.role,
                                   manager_email=person.manager, timezone=person.timezone,
                                   country=person.country, now=start, actor="demo",
                                   locale=person.locale)
        self.say(f"An agency with {len(CLIENTS)} clients (English, Swedish, Chinese) and "
                 f"{len(PEOPLE)} people, three of them managers; each reads in their own "
                 "language.")

    def history(self) -> None:
        """Six weeks of promises made and kept (or not), so the forecast has evidence."""
        rng = random.Random(20261116)
        owners = [p for p in PEOPLE if p.role == "member"]
        count = late = 0
        for week in range(6, 0, -1):
            monday = MONDAY - timedelta(weeks=week)
            for person in owners:
                for index in range(2):
                    made = self.at(monday + timedelta(days=index), time(10))
                    due = self.at(monday + timedelta(days=index + 3), time(17))
                    client = CLIENTS[(week + index) % len(CLIENTS)]["name"]
                    view = self.ledger.add_promise(
                        title=f"Weekly deliverable {week}.{index}", client_name=client,
                        owner_email=person.email, due_at=due, now=made, actor=person.email)
                    is_late = rng.random() < person.late_share
                    done = due + timedelta(days=rng.randint(1, 3)) if is_late else (
                        due - timedelta(hours=rng.randint(2, 30)))
                    self.ledger.complete(view.promise.id or 0, now=done, actor=person.email)
                    count += 1
                    late += is_late
        self.say(f"Six weeks of history: {count} promises, {late} of them delivered late.")

    def this_week(self) -> None:
        monday_9 = self.at(MONDAY, time(9))
        names = [client["name"] for client in CLIENTS]
        from reliability.deadlines import resolve

        for owner, text in THIS_WEEK:
            found = resolve(text, now=monday_9, calendar=self.calendar, client_names=names)
            assert found.client is not None
            calendar = self.ledger.client_calendar(found.client)
            found = resolve(text, now=monday_9, calendar=calendar, client_names=names)
            view = self.ledger.add_promise(title=found.title, client_name=found.client or "",
                                           owner_email=owner, due_at=found.due_at,
                                           now=monday_9, actor=owner, raw_text=text)
            self.say(f'  "{text}" -> #{view.promise.id} {found.title!r} for {found.client}, '
                     f"due {found.echo}")

    # -- the week -----------------------------------------------------------------------

    def scan(self, moment: datetime) -> None:
        """A scheduler tick, then the delivery loop that follows it."""
        report = Scanner(self.ledger).tick(moment)
        self.say(f"  scan at {moment:%a %H:%M}: {report.assessed} assessed")
        for change in report.changes:
            self.say(f"    #{change['promise_id']} {change['from']} -> {change['to']} "
                     f"(p_late {change['p_late']:.0%})")
            for reason in reason_texts(change["reasons"], self.ledger.settings.team.locale,
                                       timezone=self.ledger.settings.calendar.default_timezone,
                                       now=moment):
                self.say(f"        - {reason}")
        for action in report.actions:
            self.say(f"    {action['kind'].replace('_', ' ')} #{action['notice_id']} "
                     f"for promise #{action['promise_id']}")
        digests = queue_due_digests(self.ledger, now=moment)
        if digests:
            self.say(f"    the managers' daily digests: {len(digests)} queued")
        self.deliver(moment + timedelta(minutes=1))

    def deliver(self, moment: datetime) -> None:
        before = len(self.sink.messages)
        report = Outbox(self.ledger).deliver(moment)
        for message in self.sink.messages[before:]:
            self.say(f"    sent to {message['To']}: {message['Subject']}")
        if report.retrying or report.dead:
            self.say(f"    {len(report.retrying)} to retry, {len(report.dead)} failed")

    def answer_checkins(self, moment: datetime, answers: dict[str, Answer]) -> None:
        asked = self.ledger.read(notices.listing, kinds=(NoticeKind.checkin_request,))
        answered: set[int] = set()
        for notice, _client in asked:
            if notice.promise_id is None or notice.promise_id in answered:
                continue
            if self.ledger.history(notice.promise_id).view.promise.status != "open":
                continue
            answered.add(notice.promise_id)
            title = self.ledger.history(notice.promise_id).view.promise.title
            answer = next((a for key, a in answers.items() if key in title), None)
            if answer is None:
                continue
            status, progress, note, client_reason = answer
            self.ledger.check_in(notice.promise_id, status=status, progress=progress,
                                 note=note, now=moment, actor="demo:owner",
                                 client_reason=client_reason)
            self.say(f"  #{notice.promise_id} {title}: {status.replace('_', ' ')}, "
                     f"{progress}% done" + (f' - note for the team: "{note}"' if note else "")
                     + (f' - for the client: "{client_reason}"' if client_reason else ""))

    def show_checkin_requests(self, day: date) -> None:
        """The first check-in request each owner got that day, in their own language."""
        asked = self.ledger.read(notices.listing, kinds=(NoticeKind.checkin_request,))
        shown: set[str] = set()
        for notice, _client in reversed(asked):
            local = notice.created_at.astimezone(self.calendar.tz).date()
            if local != day or notice.recipient in shown:
                continue
            shown.add(notice.recipient)
            self.say(f"\n  --- check-in request to {notice.recipient} ({notice.locale}) ---")
            self.say(f"  Subject: {notice.subject}")
            for line in notice.text.splitlines():
                self.say(f"  {line}")

    def show_drafts(self) -> list[Notice]:
        waiting = [n for n, _ in self.ledger.read(notices.listing, status="draft",
                                                   kinds=(NoticeKind.delay_notice,))]
        for draft in waiting:
            self.say(f"\n  --- delay notice #{draft.id} to {draft.recipient} "
                     f"({draft.locale}) ---")
            if draft.approver_note:
                self.say(f"  [for the owner, not the client] {draft.approver_note}")
            self.say(f"  Subject: {draft.subject}")
            for line in draft.text.splitlines():
                self.say(f"  {line}")
        return waiting

    def approve_and_send(self, waiting: list[Notice], moment: datetime) -> None:
        for draft in waiting:
            drafts.approve(self.ledger, Actor("demo:owner"), draft.id or 0, now=moment)
        self.say(f"  approved {len(waiting)} delay notice(s)")
        self.deliver(moment)

    def show_digest(self, manager_email: str, day: date) -> None:
        """The digest a manager got that morning, as the email's plain text."""
        found = self.ledger.read(_digest_of, manager_email, day)
        if found is None:
            return
        manager, notice = found
        self.say(f"\n{manager.name}'s digest for {day:%A %d %B} ({notice.status}):")
        self.say(f"  Subject: {notice.subject}")
        for line in notice.text.splitlines():
            self.say(f"  {line}")

    def show_ledger(self, now: datetime) -> None:
        """Who kept their promises, over the demo's whole history."""
        start = self.at(MONDAY - timedelta(weeks=6), time(0))
        by_owner = self.ledger.read(metrics.stats_by, self.settings, start=start, end=now,
                                    by="owner", now=now)
        self.say(f"\nThe ledger, {start:%d %b} to {now:%d %b}, by owner:")
        self.say(f"  {'owner':<24}{'due':>5}{'on time':>9}{'after notice':>14}"
                 f"{'late, no notice':>17}{'on-time rate':>14}{'proactive':>11}")
        for owner, stats in sorted(by_owner.items()):
            self.say(f"  {owner:<24}{stats.due:>5}{stats.kept_on_time:>9}"
                     f"{stats.kept_after_notice:>14}{stats.late_without_notice:>17}"
                     f"{_rate(stats.on_time_rate):>14}{_rate(stats.proactive_notice_rate):>11}")
        self.say("  The same figures from the CLI: reliability --db "
                 f"{self.settings.database.url} --as-of {now.isoformat()} report --by owner "
                 f"--from {start.date().isoformat()} --to {now.date().isoformat()} --json")

    def play(self) -> None:
        port = self.sink.start()
        self.settings.smtp.host, self.settings.smtp.port = "127.0.0.1", port
        try:
            self.agency()
            self.history()
            self.say("\nMonday 16 November: this week's promises")
            self.this_week()
            self.scan(self.at(MONDAY, time(9, 5)))
            tuesday = MONDAY + timedelta(days=1)
            self.say("\nTuesday: three business days before Friday, owners are asked to "
                     "check in")
            self.scan(self.at(tuesday, time(9)))
            self.show_checkin_requests(tuesday)
            self.answer_checkins(self.at(tuesday, time(11)), TUESDAY_ANSWERS)
            wednesday = MONDAY + timedelta(days=2)
            self.say("\nWednesday morning: the notice deadline is today for Friday promises")
            self.scan(self.at(wednesday, time(9)))
            waiting = self.show_drafts()
            self.say("\nWednesday 10:00: the owners approve; the clients hear it today, "
                     "not on Friday")
            self.approve_and_send(waiting, self.at(wednesday, time(10)))
            thursday, friday = MONDAY + timedelta(days=3), MONDAY + timedelta(days=4)
            self.say("\nThursday: the renegotiated promises are asked again")
            self.scan(self.at(thursday, time(9)))
            self.answer_checkins(self.at(thursday, time(11)), THURSDAY_ANSWERS)
            self.say("\nFriday")
            self.scan(self.at(friday, time(9)))
            for manager in (p for p in PEOPLE if p.role == "manager"):
                self.show_digest(manager.email, wednesday)
            self.show_ledger(self.at(MONDAY + timedelta(days=4), time(18)))
            self.say(f"\nThe SMTP sink received {len(self.sink.messages)} message(s) this "
                     "week.")
        finally:
            self.sink.stop()

    def serve(self, host: str = "127.0.0.1", port: int = 8000) -> None:
        """The dashboard over the demo's database, its clock stopped at Friday evening."""
        import secrets

        import uvicorn
        from pydantic import SecretStr

        from reliability.signins import issue_link
        from reliability.web.app import create_app

        secret = secrets.token_urlsafe(32)
        self.settings.web.secret_key = SecretStr(secret)
        self.settings.web.base_url = f"http://{host}:{port}"
        friday_evening = self.at(MONDAY + timedelta(days=4), time(18))
        made = issue_link(self.ledger, email=PEOPLE[0].email, next_path="/board",
                          now=friday_evening)
        assert made is not None
        link = f"{self.settings.web.base_url}/sign-in/link/{made.token}"
        self.say(f"\nThe dashboard is at {self.settings.web.base_url} (Ctrl-C to stop).")
        self.say(f"Sign in as {made.name}, a manager, with this link (it works once): {link}")
        q3 = next(v for v in self.ledger.promises(owner_email="alice@agency.example")
                  if v.promise.title == "Q3 report")
        self.say(f"The Q3 report's week, step by step: {self.settings.web.base_url}/promises/"
                 f"{q3.promise.id}; the week's figures: {self.settings.web.base_url}/reliability")
        uvicorn.run(create_app(self.ledger, clock=lambda: friday_evening), host=host,
                    port=port, log_level="warning")


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _digest_of(session: DatabaseSession, manager_email: str,
               day: date) -> tuple[Member, Notice] | None:
    """The digest a manager was sent for `day`, if any."""
    manager = Ledger.find_member(session, manager_email)
    notice = session.exec(select(Notice).where(
        Notice.idempotency_key == digest_key(manager, day))).first()
    return None if notice is None else (manager, notice)
