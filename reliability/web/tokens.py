"""Sign-in secrets: who a personal token or a calendar-feed token belongs to
(`reliability.members` issues them; sign-in links: `sessions`).

Only a hash of a personal token is stored, so a copy of the database signs nobody in.
A new personal token also ends the member's browser sessions and unused sign-in links.
A removed member's secrets are cleared and never match again.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from reliability.members import PERSONAL_PREFIX, token_hash
from reliability.models import Member


def member_by_token(session: Session, token: str) -> Member | None:
    if not token.startswith(PERSONAL_PREFIX):
        return None
    return session.exec(select(Member).where(
        Member.token_hash == token_hash(token), col(Member.removed_at).is_(None))).first()


def member_by_calendar_token(session: Session, token: str) -> Member | None:
    if not token:
        return None
    return session.exec(select(Member).where(
        Member.calendar_token == token, col(Member.removed_at).is_(None))).first()
