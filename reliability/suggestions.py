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

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reliability import capture, limits
from reliability.access import Actor, NotFound, scope_for
from reliability.commitments import Finding, FindingKind
from reliability.errors import UserError
from reliability.ledger import Ledger, PromiseView
from reliability.limits import name_key
from reliability.members import token_hash
from reliability.models import Client, Member, Notice, Source, Suggestion, SuggestionStatus

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
        made = _offer(row, member, client, token)
        if confirm is not None:
            confirm(session, made, member)
        return made


def open_offer(ledger: Ledger, suggestion_id: int, *, actor: Actor) -> Offer:
    """An offer the actor may answer (theirs, or someone's below them)."""
    with ledger.session() as session:
        row = _claimable(session, suggestion_id, actor)
        return _offer(row, _member(session, row), _client_of(session, row))


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
        return _offer(row, member, _client_of(session, row)), Actor.of(member)


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
                             due_at=due, now=now)
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


def _offer(row: Suggestion, member: Member, client: Client | None,
           token: str | None = None) -> Offer:
    assert row.id is not None
    return Offer(id=row.id, kind=FindingKind(row.kind), source=Source(row.source),
                 title=row.title, sentence=row.sentence or "", member_email=member.email,
                 member_name=member.name, client=client.name if client else None,
                 due_at=row.due_at, confidence=row.confidence, token=token)
