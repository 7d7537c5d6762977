"""Sign-in links and browser sessions, kept in the database so every process agrees.

A sign-in link is a random token of which only the hash is stored; it works once, for
`LINK_LIFETIME`, and only while the member's session generation is the one it was made in.
Requests for links are counted per address and per client IP over `[sign_in] window_minutes`.
A session cookie carries the member's generation and a random session key; signing out
records the key as ended, and raising the generation ends every session at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, text, update
from sqlmodel import Session, col, func, select

from reliability.access import Scope, scope_of
from reliability.db import on_postgresql
from reliability.ledger import Ledger
from reliability.members import member_by_token, token_hash
from reliability.models import EndedSession, Member, SignInLink, SignInRequest

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=14)
# Serialises link requests on PostgreSQL so two processes cannot both pass a limit at once.
_REQUESTS_LOCK = 0x5167_4E49


class LinkRefused(StrEnum):
    """Why a sign-in link did not sign anyone in, each with its own page."""

    unknown = "unknown"
    used = "used"
    expired = "expired"
    revoked = "revoked"


@dataclass(frozen=True)
class LinkToSend:
    email: str
    name: str
    token: str


def admit_link_request(ledger: Ledger, *, email: str, ip: str, now: datetime) -> (
        datetime | None):
    """Count a request for a sign-in link, or return when to try again if a limit is hit.

    Every address counts, member or not, so the answer never tells who is a member."""
    limits = ledger.settings.sign_in
    window = timedelta(minutes=limits.window_minutes)
    since = now - window
    with ledger.transaction() as session:
        if on_postgresql(session):
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _REQUESTS_LOCK})
        session.execute(delete(SignInRequest).where(col(SignInRequest.at) <= since))
        room_again = []
        for column, value, limit in ((SignInRequest.email, email, limits.links_per_address),
                                     (SignInRequest.ip, ip, limits.links_per_ip)):
            recent = session.exec(select(SignInRequest.at).where(
                column == value, col(SignInRequest.at) > since)
                .order_by(col(SignInRequest.at).desc()).limit(limit)).all()
            if len(recent) >= limit:
                # The window has room again once the oldest of the last `limit` leaves it.
                room_again.append(recent[-1] + window)
        if room_again:
            return max(room_again)
        session.add(SignInRequest(at=now, email=email, ip=ip))
        return None


def issue_link(ledger: Ledger, *, email: str, next_path: str, now: datetime) -> (
        LinkToSend | None):
    """A new sign-in link for the member with this address, or None if there is none."""
    token = secrets.token_urlsafe(32)
    with ledger.transaction() as session:
        member = session.exec(select(Member).where(
            Member.email == email, col(Member.removed_at).is_(None))).first()
        if member is None or member.id is None:
            return None
        session.add(SignInLink(token_hash=token_hash(token), member_id=member.id,
                               generation=member.session_generation, next_path=next_path,
                               created_at=now, expires_at=now + LINK_LIFETIME))
        return LinkToSend(member.email, member.name, token)


def check_link(ledger: Ledger, token: str, now: datetime) -> LinkRefused | None:
    """Why the link would be refused, without using it up (None: it would work)."""
    with ledger.session() as session:
        found = _link(session, token, now)
    return found if isinstance(found, LinkRefused) else None


def use_link(ledger: Ledger, token: str, now: datetime) -> tuple[Member, str] | LinkRefused:
    """The member a link signs in and where they were going; the link is then spent."""
    with ledger.transaction() as session:
        found = _link(session, token, now)
        if isinstance(found, LinkRefused):
            return found
        link, member = found
        spent = session.execute(update(SignInLink).where(
            col(SignInLink.id) == link.id, col(SignInLink.used_at).is_(None))
            .values(used_at=now))
        if spent.rowcount != 1:  # another request used it a moment ago
            return LinkRefused.used
        return member, link.next_path


def _link(session: Session, token: str, now: datetime) -> (
        tuple[SignInLink, Member] | LinkRefused):
    link = session.exec(select(SignInLink).where(
        SignInLink.token_hash == token_hash(token))).first()
    if link is None:
        return LinkRefused.unknown
    if link.used_at is not None:
        return LinkRefused.used
    if link.expires_at <= now:
        return LinkRefused.expired
    member = session.get(Member, link.member_id)
    if member is None or member.removed_at is not None or (
            member.session_generation != link.generation):
        return LinkRefused.revoked
    return link, member


def new_session_key() -> str:
    return secrets.token_urlsafe(24)


def session_is_live(session: Session, member: Member, *, generation: object,
                    key: object) -> bool:
    """Whether a cookie's session still counts: same generation, not signed out."""
    if member.removed_at is not None or generation != member.session_generation:
        return False
    if not isinstance(key, str):
        return False
    ended = session.exec(select(func.count()).select_from(EndedSession).where(
        EndedSession.session_hash == token_hash(key))).one()
    return ended == 0


def end_session(ledger: Ledger, *, member_id: int, key: str, now: datetime) -> None:
    """Sign one session out for good, and spend the member's unused sign-in links."""
    with ledger.transaction() as session:
        session.execute(delete(EndedSession).where(col(EndedSession.forget_after) < now))
        session.merge(EndedSession(session_hash=token_hash(key),
                                   forget_after=now + SESSION_LIFETIME))
        session.execute(update(SignInLink).where(
            col(SignInLink.member_id) == member_id, col(SignInLink.used_at).is_(None))
            .values(used_at=now))


@dataclass(frozen=True)
class SignedIn:
    """A member signed in, with the scope of promises they see."""

    member: Member
    scope: Scope


def by_token(ledger: Ledger, token: str) -> SignedIn | None:
    """Who a personal bearer token signs in; None for a wrong or revoked one."""
    with ledger.session() as session:
        member = member_by_token(session, token)
        return SignedIn(member, scope_of(session, member)) if member else None


def by_session(ledger: Ledger, member_id: int, *, generation: object,
               key: object) -> SignedIn | None:
    """Who a session cookie signs in; None once the member signed out or was removed."""
    with ledger.session() as session:
        member = session.get(Member, member_id)
        if member is None or not session_is_live(session, member, generation=generation,
                                                 key=key):
            return None
        return SignedIn(member, scope_of(session, member))
