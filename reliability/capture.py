"""Capture: a new promise is assessed at once, before anything is stored.

Most slips are decided at the moment of promising: a promise due tomorrow leaves no scan
time to warn, so the echo of every new promise (Slack, the CLI, the web form and the API)
says how likely it is to be kept and offers the day the owner will likely be done. Nothing
is stored until the person chooses; the forecast is then recorded with the promise.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_percent
from sqlmodel import Session, col, select

from reliability import phrases
from reliability.access import Actor, actor_of, owner_named, scope_for
from reliability.calendar import BusinessCalendar
from reliability.commitments import Finding, Person, detect
from reliability.deadlines import MONTH_NAMES, WEEKDAY_NAMES, resolve, resolve_due
from reliability.drafting.reasons import reason_text
from reliability.errors import UserError
from reliability.forecast import PastPromise, Record
from reliability.ledger import Ledger, PromiseView
from reliability.models import Client, Member, Promise, PromiseStatus, Source
from reliability.phrases import say
from reliability.risk import CHANCE_WORDS, CaptureForecast, OpenLoad, Policy, forecast_at_capture
from reliability.scan import Scanner

NEWCOMER = "the owner"  # a Slack user who has made no promise here yet
# The forecast's chance in words, in order: phrases' chance_0 … chance_4 say each.
CHANCE_BOUNDS = [words for _, words in CHANCE_WORDS]
_DAY = {"sv": "EEE d MMM", "zh": "M月d日（E）"}


def forecast(ledger: Ledger, *, client_name: str, owner_email: str | None, due_at: datetime,
             now: datetime, actor: str | Actor) -> CaptureForecast:
    """The forecast for a promise that `owner_email` would make to the client at `now`
    (`owner_email` None: someone not a member yet, a Slack user before their first promise).
    It reads the owner's record, so `actor` must be one who may log a promise for them
    (`access.owner_named`): to anyone else an owner outside their team and someone not on
    the team get the same refusal."""
    with ledger.session() as session:
        client = ledger.find_client(session, client_name)
        ledger.check_due(due_at, now, ledger.calendar_for(client))
        owner = (owner_named(session, scope_for(session, actor_of(actor)), owner_email,
                             "log a promise", current=False) if owner_email else None)
        return _forecast(ledger, session, client, owner, due_at, now)


def understand(ledger: Ledger, text: str, *, client: str | None, due: str | None,
               now: datetime) -> tuple[str, str, datetime]:
    """The title, client and due moment of a promise typed as one line ("Q3 report for Acme
    by Friday"); `client` and `due` given apart win over what the text says."""
    with ledger.session() as session:
        names = ([ledger.find_client(session, client).name] if client
                 else list(session.exec(select(Client.name).order_by(Client.name_key)).all()))
        calendar = ledger.calendar_for(ledger.find_client(session, client) if client else None)
        if due is not None:
            if client is None:
                raise UserError("with --due, say which client: --client NAME", field="client")
            return text, client, resolve_due(due, now=now, calendar=calendar)
        found = resolve(text, now=now, calendar=calendar, client_names=names)
        client_name = client or found.client
        if client_name is None:
            raise UserError(
                "which client is it for?"
                + (f" {found.client_hint!r} is not a client yet" if found.client_hint else ""),
                field="client", hint="name a known client in the text (the CLI also takes "
                                     "--client NAME), or add the client first")
        if client is None:
            calendar = ledger.calendar_for(ledger.find_client(session, client_name))
            found = resolve(text, now=now, calendar=calendar, client_names=names)
        return found.title, client_name, found.due_at


def extract(ledger: Ledger, text: str, *, client: str | None, author: str | None,
            now: datetime, from_client: bool = False) -> tuple[list[Finding], BusinessCalendar]:
    """The promises and requests in a text, read against the team and the clients; the
    calendar its dates were read in. Stores nothing. `from_client`: written by one of the
    client's people whose address is unknown (a Slack Connect guest), so it holds requests."""
    with ledger.session() as session:
        conversation = ledger.find_client(session, client) if client else None
        author_is_member = not from_client
        if author is not None:
            writer = session.exec(select(Client).where(
                sa.func.lower(Client.email) == author.strip().lower())).first()
            if writer is None:
                ledger.find_member(session, author)
            else:
                author_is_member = False
                conversation = conversation or writer
        team = [Person(m.email, m.name, m.slack_user_id) for m in
                session.exec(select(Member).where(col(Member.removed_at).is_(None))).all()]
        names = list(session.exec(select(Client.name)).all())
        calendar = ledger.calendar_for(conversation)
    findings = detect(
        text, author=(author or "").strip().lower() or None, author_is_member=author_is_member,
        client=conversation.name if conversation else None, now=now, calendar=calendar,
        members=team, client_names=names,
    )
    return findings, calendar


def rough_guess(ledger: Ledger, *, due_at: datetime, now: datetime) -> CaptureForecast:
    """The forecast for a Slack user not a member yet, in the team's time zone: it rests on
    no one's record, so it tells them nothing about the team's."""
    calendar = ledger.calendar_for()
    ledger.check_due(due_at, now, calendar)
    return forecast_at_capture(
        owner="", owner_name=NEWCOMER, due_at=due_at, now=now, calendar=calendar,
        owner_history=(), team_history=(), open_load=(),
        policy=Policy.from_settings(ledger.settings.policy))


def log_promise(ledger: Ledger, *, title: str, client_name: str, owner_email: str,
                due_at: datetime, now: datetime, actor: str | Actor, source: str = Source.cli,
                raw_text: str | None = None,
                asked_due_at: datetime | None = None) -> tuple[PromiseView, CaptureForecast]:
    """Store a promise for `due_at` with the forecast it was made under. When the person
    took the later date the echo offered, `asked_due_at` is the date they first asked for:
    the forecast recorded is the one for that ask, the one they were shown."""
    made = forecast(ledger, client_name=client_name, owner_email=owner_email,
                    due_at=asked_due_at or due_at, now=now, actor=actor)
    view = ledger.add_promise(title=title, client_name=client_name, owner_email=owner_email,
                              due_at=due_at, now=now, actor=actor, source=source,
                              raw_text=raw_text, forecast=made, asked_due_at=asked_due_at)
    return view, made


def day(moment: datetime, calendar: BusinessCalendar, locale: str = "en") -> str:
    """'Mon 7 Dec', 'mån 7 dec.', '12月7日（周一）': the way a suggested date is offered."""
    local = calendar.local(moment)
    if phrases.language(locale) != "en":
        return format_date(local.date(), _DAY[phrases.language(locale)], locale=locale)
    return f"{WEEKDAY_NAMES[local.weekday()]} {local.day} {MONTH_NAMES[local.month - 1]}"


def describe(made: CaptureForecast, *, owner_name: str | None, calendar: BusinessCalendar,
             now: datetime, locale: str = "en") -> list[str]:
    """The forecast in the reader's words: the chance, the reason, the likely day
    (`owner_name` None: someone not a member yet, named as "the owner")."""
    name = owner_name or say(locale, "newcomer")
    reason = dict(made.reason)
    if reason.get("owner") == NEWCOMER:
        reason["owner"] = name
    words = reason_text(reason, phrases.language(locale), timezone=calendar.timezone, now=now)
    chance = say(locale, f"chance_{CHANCE_BOUNDS.index(made.chance)}")
    return [
        say(locale, "forecast_chance", chance=chance, reason=words,
            percent=format_percent(made.p_late, locale=phrases.language(locale))),
        say(locale, "forecast_likely", who=name[:1].upper() + name[1:],
            day=day(made.likely_done_by, calendar, locale)),
    ]


def _forecast(ledger: Ledger, session: Session, client: Client, owner: Member | None,
              due_at: datetime, now: datetime) -> CaptureForecast:
    """The scan's own reads (owner's and team's history, open load), so a new promise is
    judged by the record the scan will judge it by."""
    calendar = ledger.calendar_for(client)
    history: list[PastPromise] = []
    load: list[datetime] = []
    if owner is not None and owner.id is not None:
        history = Scanner._histories(session, {owner.id})[owner.id]
        # Load counts promises due by the end of this one's due day: a day on bounds it.
        load = list(session.exec(select(Promise.due_at).where(
            Promise.owner_id == owner.id, Promise.status == PromiseStatus.open,
            col(Promise.due_at) <= due_at + timedelta(days=1),
            col(Promise.internal).is_(False))).all())
    return forecast_at_capture(
        owner=owner.email if owner else "", owner_name=owner.name if owner else NEWCOMER,
        due_at=due_at, now=now, calendar=calendar,
        owner_history=Record.of(history, calendar),
        team_history=Record.of(Scanner._team_history(session), calendar),
        open_load=[OpenLoad(due) for due in load],
        policy=Policy.from_settings(ledger.settings.policy),
    )
