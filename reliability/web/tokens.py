"""Sign-in secrets: personal tokens and calendar-feed tokens (sign-in links: `sessions`).

Only a hash of a personal token is stored, so a copy of the database signs nobody in.
A new personal token also ends the member's browser sessions and unused sign-in links.
A removed member's secrets are cleared and never match again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Member

PERSONAL_PREFIX = "rel_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue_personal_token(ledger: Ledger, email: str, *, now: datetime, actor: str) -> str:
    """A new personal token for a member; the previous one stops working."""
    token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    with ledger.transaction() as session:
        member = ledger.find_current_member(session, email)
        member.token_hash = token_hash(token)
        ledger.end_sessions(member)
        session.add(member)
        ledger.record(session, now=now, actor=actor, kind="member.token_issued",
                      member_id=member.id)
    return token


def member_by_token(session: Session, token: str) -> Member | None:
    if not token.startswith(PERSONAL_PREFIX):
        return None
    return session.exec(select(Member).where(
        Member.token_hash == token_hash(token), col(Member.removed_at).is_(None))).first()


def calendar_token(ledger: Ledger, member_id: int, *, now: datetime, actor: str,
                   renew: bool = False) -> str:
    """The member's calendar-feed secret, made on first use; `renew` revokes the old URL."""
    with ledger.transaction() as session:
        member = session.get(Member, member_id)
        if member is None or member.removed_at is not None:
            raise UserError(f"there is no member #{member_id}")
        if member.calendar_token is None or renew:
            member.calendar_token = secrets.token_urlsafe(24)
            session.add(member)
            ledger.record(session, now=now, actor=actor, kind="member.calendar_token_issued",
                          member_id=member.id)
        return member.calendar_token


def member_by_calendar_token(session: Session, token: str) -> Member | None:
    if not token:
        return None
    return session.exec(select(Member).where(
        Member.calendar_token == token, col(Member.removed_at).is_(None))).first()
