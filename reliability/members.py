"""Member credentials: the personal sign-in token and the calendar-feed secret, issued and
looked up.

Each command opens its own transaction, changes one member and writes one event. A new
personal token also ends the member's browser sessions and unused sign-in links.
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
    """Only this is stored, so a copy of the database signs nobody in."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def member_by_token(session: Session, token: str) -> Member | None:
    """Whose personal token this is; None for a wrong one or a removed member's."""
    if not token.startswith(PERSONAL_PREFIX):
        return None
    return session.exec(select(Member).where(
        Member.token_hash == token_hash(token), col(Member.removed_at).is_(None))).first()


def member_by_calendar_token(session: Session, token: str) -> Member | None:
    """Whose calendar feed this secret opens; None for a revoked one or a removed member's."""
    if not token:
        return None
    return session.exec(select(Member).where(
        Member.calendar_token == token, col(Member.removed_at).is_(None))).first()



def issue_personal_token(ledger: Ledger, email: str, *, now: datetime, actor: str) -> str:
    """A new personal token for a member; the previous one and their sessions stop working."""
    token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    with ledger.transaction() as session:
        member = ledger.find_current_member(session, email, "email")
        member.token_hash = token_hash(token)
        ledger.end_sessions(member)
        session.add(member)
        ledger.record(session, now=now, actor=actor, kind="member.token_issued",
                      member_id=member.id)
    return token


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
