"""Promises and requests found in conversations, offered to a person and logged only on
their yes.

A watched Slack channel, a client's mail or meeting notes yield findings
(`reliability.commitments`); each becomes at most one offer, keyed by where it was found,
so a redelivered Slack event or a mailbox read twice offers nothing twice. The person asked
is the one who made the commitment, or who owns the client's request: they log it (as
found, or changed), or say it is not a promise. A "no" is remembered by the deliverable's
fingerprint, so the same person is not asked about the same thing again; the words
themselves are kept only while the offer is open.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reliability import capture, compose, limits
from reliability.access import Actor, NotFound, scope_for
from reliability.calendar import BusinessCalendar
from reliability.commitments import Finding, FindingKind
from reliability.config import Settings
from reliability.errors import UserError
from reliability.ledger import Ledger, PromiseView
from reliability.limits import name_key
from reliability.members import token_hash
from reliability.models import (
    Client,
    Member,
    Notice,
    NoticeKind,
    Promise,
    Source,
    Suggestion,
    SuggestionStatus,
    WatchedChannel,
)

# An offer nobody answered is dropped after this long (and its words with it).
OFFER_LIFETIME = timedelta(days=14)
_NOT_WORDS = re.compile(r"[\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class Offer:
    """An open offer as the person asked sees it. `token` is the single-use secret of its
    Log / Not a promise links, present only when the offer was just made with a link."""

    id: int
    kind: FindingKind
    source: Source
    title: str
    sentence: str
    member_email: str
    member_name: str
    client: str | None
    due_at: datetime | None
    confidence: float
    token: str | None = None
    member_slack_user_id: str | None = None
    member_locale: str | None = None


@dataclass(frozen=True)
class Logged:
    """What a yes made: the promise, and for a client's request the receipt drafted."""

    view: PromiseView
    acknowledgement: Notice | None


def fingerprint(title: str) -> str:
    """The same deliverable, however it is dated or punctuated: "the revised deck" declined
    on Monday is the revised deck on Thursday too."""
    words = _NOT_WORDS.sub(" ", unicodedata.normalize("NFKC", title).casefold()).split()
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def offer(ledger: Ledger, finding: Finding, *, member_email: str, source: Source,
          origin_key: str, now: datetime, with_link: bool = False,
          confirm: Callable[[Session, Offer, Member], None] | None = None) -> Offer | None:
    """Offer `finding` to the member at `member_email`; None when it was offered before
    from the same origin or the member said no to the same deliverable. `confirm` queues
    the question to the member in the same transaction, so an offer is never stored
    without it, nor asked twice."""
    limits.text(finding.title, "promise title", "title")
    try:
        return _offer_once(ledger, finding, member_email=member_email, source=source,
                           origin_key=origin_key, now=now, with_link=with_link,
                           confirm=confirm)
    except IntegrityError:  # the same origin offered at the same moment by another worker
        return None


def _offer_once(ledger: Ledger, finding: Finding, *, member_email: str, source: Source,
                origin_key: str, now: datetime, with_link: bool,
                confirm: Callable[[Session, Offer, Member], None] | None) -> Offer | None:
    printed = fingerprint(finding.title)
    token = secrets.token_urlsafe(32) if with_link else None
    with ledger.transaction() as session:
        if session.exec(select(Suggestion.id).where(
                Suggestion.origin_key == origin_key)).first() is not None:
            return None
        member = ledger.find_current_member(session, member_email, "member")
        if session.exec(select(Suggestion.id).where(
                Suggestion.member_id == member.id, Suggestion.fingerprint == printed,
                Suggestion.status == SuggestionStatus.declined)).first() is not None:
            return None
        client = _client(session, finding.client)
        row = Suggestion(kind=finding.kind, source=source, origin_key=origin_key,
                         member_id=member.id, client_id=client.id if client else None,
                         title=finding.title, sentence=finding.sentence, due_at=finding.due_at,
                         confidence=finding.confidence, fingerprint=printed, created_at=now,
                         token_hash=token_hash(token) if token else None)
        session.add(row)
        session.flush()
        ledger.record(session, now=now, actor="reliability", kind="suggestion.offered",
                      suggestion_id=row.id, finding=str(finding.kind), source=str(source),
                      member_id=member.id)
        made = _offer(ledger, row, member, client, token)
        if confirm is not None:
            confirm(session, made, member)
        return made


def open_offer(ledger: Ledger, suggestion_id: int, *, actor: Actor) -> Offer:
    """An offer the actor may answer (theirs, or someone's below them)."""
    with ledger.session() as session:
        row = _claimable(session, suggestion_id, actor)
        return _offer(ledger, row, _member(session, row), _client_of(session, row))


def offer_by_token(ledger: Ledger, token: str,
                   now: datetime | None = None) -> tuple[Offer, Actor]:
    """The offer a mailed link stands for, and the member it speaks for; at `now`, a link
    older than `OFFER_LIFETIME` is expired even before `expire` has run."""
    with ledger.session() as session:
        row = _by_token(session, token)
        if now is not None and row.created_at + OFFER_LIFETIME <= now:
            raise NotFound("this link was already used or has expired", field="token",
                           hint="log the promise with /promise or the web's Log a promise")
        member = _member(session, row)
        return _offer(ledger, row, member, _client_of(session, row)), Actor.of(member)


def calendar_of(ledger: Ledger, offer: Offer) -> BusinessCalendar:
    """The calendar an offer's date reads in: its client's, else the team's."""
    with ledger.session() as session:
        client = ledger.find_client(session, offer.client) if offer.client else None
        return ledger.calendar_for(client)


def accept(ledger: Ledger, suggestion_id: int, *, actor: Actor, now: datetime,
           title: str | None = None, client_name: str | None = None,
           due_at: datetime | None = None) -> Logged:
    """Log the offer (with the person's changes): a commitment becomes a promise with the
    forecast it was made under; a client's request a promise to reply, by its deadline or
    the end of the next business day, and the receipt that tells the client so."""
    with ledger.session() as session:
        row = _claimable(session, suggestion_id, actor)
        member = _member(session, row)
        client = client_name or (_client_of(session, row).name if row.client_id else None)
    if client is None:
        raise UserError("which client is this for? the conversation named none",
                        field="client", hint="choose the client before logging it")
    title = title if title is not None else row.title
    due = due_at or row.due_at
    if due is None and row.kind == FindingKind.commitment:
        raise UserError("when is it due? the sentence named no date", field="due",
                        hint="give a date such as 'Friday' or '2026-12-04 17:00'")
    made = (capture.forecast(ledger, client_name=client, owner_email=member.email,
                             due_at=due, now=now, actor=actor)
            if row.kind == FindingKind.commitment and due is not None else None)
    with ledger.transaction() as session:
        _decide(session, row, SuggestionStatus.accepted, actor, now)
        if made is not None and due is not None:
            view = ledger.make_promise(session, title=title, client_name=client,
                                       owner_email=member.email, due_at=due, now=now,
                                       actor=actor.label, source=row.source,
                                       raw_text=row.sentence, forecast=made)
            notice = None
        else:
            calendar = ledger.calendar_for(ledger.find_client(session, client))
            reply_by = due or calendar.end_of(
                calendar.add_business_days(calendar.local(now).date(), 1))
            view, notice = ledger.acknowledge_in(
                session, summary=title, client_name=client, owner_email=member.email,
                reply_by=reply_by, now=now, actor=actor.label, received_at=row.created_at,
                source=row.source)
        session.execute(sa.update(Suggestion).where(col(Suggestion.id) == row.id).values(
            promise_id=view.promise.id))
        ledger.record(session, now=now, actor=actor.label, kind="suggestion.accepted",
                      promise_id=view.promise.id, suggestion_id=row.id)
    return Logged(view, notice)


def decline(ledger: Ledger, suggestion_id: int, *, actor: Actor, now: datetime) -> None:
    """"Not a promise": forget the words, remember the deliverable for this person."""
    with ledger.session() as session:
        row = _claimable(session, suggestion_id, actor)
    with ledger.transaction() as session:
        _decide(session, row, SuggestionStatus.declined, actor, now)
        ledger.record(session, now=now, actor=actor.label, kind="suggestion.declined",
                      suggestion_id=row.id)


def expire(ledger: Ledger, *, now: datetime) -> int:
    """Drop offers nobody answered within `OFFER_LIFETIME`, with their words and links."""
    with ledger.transaction() as session:
        done = session.execute(
            sa.update(Suggestion)
            .where(Suggestion.status == SuggestionStatus.offered,
                   col(Suggestion.created_at) < now - OFFER_LIFETIME)
            .values(status=SuggestionStatus.expired, decided_at=now, sentence=None,
                    token_hash=None))
        return int(getattr(done, "rowcount", 0) or 0)


def _decide(session: Session, row: Suggestion, status: SuggestionStatus, actor: Actor,
            now: datetime) -> None:
    """Close the offer once: a second answer (another worker, a link clicked twice) finds
    it closed and changes nothing."""
    closed = session.execute(
        sa.update(Suggestion)
        .where(col(Suggestion.id) == row.id, Suggestion.status == SuggestionStatus.offered)
        .values(status=status, decided_at=now, decided_by=actor.label, token_hash=None,
                sentence=row.sentence if status == SuggestionStatus.accepted else None))
    if not getattr(closed, "rowcount", 0):
        raise UserError("this suggestion was already answered", field="suggestion",
                        hint="the promise list shows what was logged")


def _claimable(session: Session, suggestion_id: int, actor: Actor) -> Suggestion:
    row = session.get(Suggestion, suggestion_id)
    if row is None or not scope_for(session, actor).covers(row.member_id):
        raise NotFound(f"there is no suggestion #{suggestion_id} you can answer",
                       field="suggestion")
    if row.status != SuggestionStatus.offered:
        raise UserError("this suggestion was already answered", field="suggestion",
                        hint="the promise list shows what was logged")
    return row


def _by_token(session: Session, token: str) -> Suggestion:
    row = session.exec(select(Suggestion).where(
        Suggestion.token_hash == token_hash(token))).first() if token else None
    if row is None:
        raise NotFound("this link was already used or has expired", field="token",
                       hint="log the promise with /promise or the web's Log a promise")
    return row


def _client(session: Session, name: str | None) -> Client | None:
    if not name:
        return None
    return session.exec(select(Client).where(Client.name_key == name_key(name))).first()


def _client_of(session: Session, row: Suggestion) -> Client | None:
    return session.get(Client, row.client_id) if row.client_id else None


def _member(session: Session, row: Suggestion) -> Member:
    member = session.get(Member, row.member_id)
    assert member is not None
    return member


def _offer(ledger: Ledger, row: Suggestion, member: Member, client: Client | None,
           token: str | None = None) -> Offer:
    assert row.id is not None
    return Offer(id=row.id, kind=FindingKind(row.kind), source=Source(row.source),
                 title=row.title, sentence=row.sentence or "", member_email=member.email,
                 member_name=member.name, client=client.name if client else None,
                 due_at=row.due_at, confidence=row.confidence, token=token,
                 member_slack_user_id=member.slack_user_id,
                 member_locale=compose.member_locale(ledger.settings, member))


# -- Slack channels watched for promises ----------------------------------------------------

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")


@dataclass(frozen=True)
class Watch:
    """A watched channel as the person who asked sees it; `changed` is False when it was
    already watched for that client (nothing was written)."""

    channel_id: str
    client: str
    watched_by: str
    changed: bool


def watch(ledger: Ledger, *, channel_id: str, client_name: str, actor: Actor,
          now: datetime) -> Watch:
    """Read the channel's new messages for promises to `client_name` from now on.

    Any current member may ask, for a channel they are in (Slack runs a slash command only
    where the person may post); asked again for another client, the channel moves to it and
    to the member who asked. A direct message is never watched."""
    if not CHANNEL_ID.match(channel_id):
        raise UserError("only a channel can be watched, not a direct message",
                        field="channel", hint="run `/promise watch` in the channel shared "
                        "with the client")
    with ledger.transaction() as session:
        member = _acting_member(session, actor)
        client = ledger.find_client(session, client_name)
        row = session.get(WatchedChannel, channel_id)
        if row is not None and row.client_id == client.id:
            return Watch(channel_id, client.name, _name_of(session, row.watched_by_id), False)
        previous = row.client_id if row is not None else None
        if row is None:
            row = WatchedChannel(slack_channel_id=channel_id, client_id=client.id or 0,
                                 watched_by_id=member.id or 0, created_at=now)
        else:
            row.client_id, row.watched_by_id, row.created_at = client.id or 0, member.id or 0, now
        session.add(row)
        session.flush()
        ledger.record(session, now=now, actor=actor.label, kind="channel.watched",
                      slack_channel_id=channel_id, client_id=client.id,
                      previous_client_id=previous, member_id=member.id)
        return Watch(channel_id, client.name, member.name, True)


def unwatch(ledger: Ledger, *, channel_id: str, actor: Actor, now: datetime) -> str | None:
    """Stop reading the channel; the client it was watched for, None if it was not watched.
    Any current member may: stopping the reading is always the safe direction."""
    with ledger.transaction() as session:
        _acting_member(session, actor)
        row = session.get(WatchedChannel, channel_id)
        if row is None:
            return None
        client = session.get(Client, row.client_id)
        session.delete(row)
        ledger.record(session, now=now, actor=actor.label, kind="channel.unwatched",
                      slack_channel_id=channel_id, client_id=row.client_id)
        return client.name if client else None


def watched_client(ledger: Ledger, channel_id: str) -> str | None:
    """The client a channel is watched for; None for a channel nobody opted in (nothing else
    is read about it)."""
    with ledger.session() as session:
        row = session.get(WatchedChannel, channel_id)
        client = session.get(Client, row.client_id) if row is not None else None
        return client.name if client else None


@dataclass(frozen=True)
class SlackMessage:
    """A message posted in a channel, as the Events API delivers it."""

    team_id: str
    channel_id: str
    ts: str
    user_id: str
    text: str

    @property
    def origin_key(self) -> str:
        """Slack's own identity of a message: a redelivery carries the same."""
        return f"slack:{self.team_id}:{self.channel_id}:{self.ts}"


def offer_from_slack(ledger: Ledger, message: SlackMessage, *, now: datetime) -> Offer | None:
    """At most one offer for a message in a watched channel: its likeliest finding.

    A member's message yields their commitments, offered to the member who commits; a
    message by someone who is not a member (the client's people in a Slack Connect channel)
    yields requests, offered to the member they name or else to whoever watches the channel.
    In a channel nobody watches, nothing beyond the channel's id is looked at."""
    with ledger.session() as session:
        row = session.get(WatchedChannel, message.channel_id)
        if row is None:
            return None
        client = session.get(Client, row.client_id)
        watcher = session.get(Member, row.watched_by_id)
        author = session.exec(select(Member).where(
            Member.slack_user_id == message.user_id,
            col(Member.removed_at).is_(None))).first()
        reachable = {m.email for m in session.exec(select(Member).where(
            col(Member.removed_at).is_(None), col(Member.slack_user_id).is_not(None))).all()}
    if client is None or watcher is None:
        return None
    findings, _ = capture.extract(
        ledger, message.text, client=client.name, now=now,
        author=author.email if author else None, from_client=author is None)
    wanted = FindingKind.commitment if author else FindingKind.request
    candidates = [found for found in findings if found.kind == wanted]
    if not candidates:
        return None
    best = max(candidates, key=lambda found: found.confidence)
    fallback = author.email if author else watcher.email
    asked = best.owner if best.owner in reachable else fallback
    return offer(ledger, best, member_email=asked, source=Source.slack_watch,
                 origin_key=message.origin_key, now=now)


def _acting_member(session: Session, actor: Actor) -> Member:
    member = session.get(Member, actor.member_id) if actor.member_id is not None else None
    if member is None or member.removed_at is not None:
        raise UserError("only a member of the team may do this", field="member",
                        hint="an admin adds you with `reliability member add`")
    return member


def _name_of(session: Session, member_id: int) -> str:
    member = session.get(Member, member_id)
    return member.name if member else "?"


# -- what the ledger report counts ------------------------------------------------------------


@dataclass(frozen=True)
class CaptureFigures:
    """How promises came into the ledger over a range, and how fast clients' requests were
    acknowledged: suggestions by where they were found, promises by how they were captured,
    and each acknowledgement's wait in the client's business hours."""

    suggestions: dict[str, dict[str, int]]  # source -> made, accepted, declined, expired, open
    promises_by_source: dict[str, int]
    requests: int  # acknowledgements drafted for requests received in the range
    acknowledged_within_a_day: int
    acknowledged_later: int
    not_acknowledged: int  # drafted, not sent (yet, or ever)
    later_business_days: list[float]  # how long each of the later ones took
    # Promises made in the range whose forecast at capture offered a later date: how often
    # the later date was taken, and how many of each kind were kept on time once settled.
    suggested_dates: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "suggestions": self.suggestions,
            "promises_by_source": self.promises_by_source,
            "suggested_dates": self.suggested_dates,
            "requests": {
                "received": self.requests,
                "acknowledged_within_one_business_day": self.acknowledged_within_a_day,
                "acknowledged_later": self.acknowledged_later,
                "not_acknowledged": self.not_acknowledged,
                "later_business_days": self.later_business_days,
            },
        }


def capture_figures(session: Session, settings: Settings, *, start: datetime,
                    end: datetime) -> CaptureFigures:
    """Suggestions made in [start, end) and what became of them; promises made in it by
    source; requests received in it, acknowledged (the receipt sent) within one business day
    of their receipt or later."""
    made = sa.and_(col(Suggestion.created_at) >= start, col(Suggestion.created_at) < end)
    table: dict[str, dict[str, int]] = {}
    for source, status, count in session.execute(
            sa.select(Suggestion.source, Suggestion.status, sa.func.count())
            .where(made).group_by(Suggestion.source, Suggestion.status)).all():
        row = table.setdefault(source, dict.fromkeys(
            ("made", *(str(s) for s in SuggestionStatus)), 0))
        row["made"] += count
        row[status] += count
    promises = {source: count for source, count in session.execute(
        sa.select(Promise.source, sa.func.count())
        .where(col(Promise.made_at) >= start, col(Promise.made_at) < end)
        .group_by(Promise.source)).all()}
    within = later = waiting = received = 0
    took: list[float] = []
    for context, sent_at, timezone, country in session.execute(
            sa.select(Notice.context, Notice.sent_at, Client.timezone, Client.country)
            .join(Client, col(Notice.client_id) == Client.id)
            .where(Notice.kind == NoticeKind.request_acknowledgement,
                   col(Notice.created_at) >= start - OFFER_LIFETIME,
                   col(Notice.created_at) < end)).all():
        asked = _moment(((context or {}).get("request") or {}).get("received_at"))
        if asked is None or not start <= asked < end:
            continue
        received += 1
        if sent_at is None:
            waiting += 1
            continue
        calendar = settings.calendar.calendar(timezone, country)
        days = calendar.business_hours(asked, sent_at) / calendar.hours_per_day
        if days <= 1:
            within += 1
        else:
            later += 1
            took.append(round(days, 1))
    return CaptureFigures(dict(sorted(table.items())), dict(sorted(promises.items())), received,
                          within, later, waiting, sorted(took),
                          _suggested_dates(session, start=start, end=end))


def _suggested_dates(session: Session, *, start: datetime, end: datetime) -> dict[str, int]:
    """Taken: the person promised the later date the forecast offered (the ask is kept in
    `asked_due_at`). Settled: done, or past its date by `end`; kept: done by its date."""
    taken = col(Promise.asked_due_at).is_not(None)
    settled = sa.or_(col(Promise.done_at).is_not(None), col(Promise.due_at) < end)
    kept = sa.and_(col(Promise.done_at).is_not(None), col(Promise.done_at) <= Promise.due_at)

    def count(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = session.execute(
        sa.select(sa.func.count(), count(taken), count(sa.and_(taken, settled)),
                  count(sa.and_(taken, kept)), count(sa.and_(sa.not_(taken), settled)),
                  count(sa.and_(sa.not_(taken), kept)))
        .where(col(Promise.made_at) >= start, col(Promise.made_at) < end,
               col(Promise.suggested_due_at).is_not(None))).one()
    names = ("offered", "taken", "taken_settled", "taken_kept", "declined_settled",
             "declined_kept")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
