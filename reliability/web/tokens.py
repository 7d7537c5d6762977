"""Sign-in secrets: personal tokens, magic links and calendar-feed tokens.

Only a hash of a personal token is stored, so a copy of the database signs nobody in.
Magic links are signed with `[web] secret_key` and expire; they carry a fingerprint of the
member's current token hash, so issuing a new personal token also voids older links.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, select

from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Member

PERSONAL_PREFIX = "rel_"
MAGIC_LINK_SECONDS = 15 * 60


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue_personal_token(ledger: Ledger, email: str, *, now: datetime, actor: str) -> str:
    """A new personal token for a member; the previous one stops working."""
    token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    with ledger.transaction() as session:
        member = ledger.find_member(session, email)
        member.token_hash = token_hash(token)
        session.add(member)
        ledger.record(session, now=now, actor=actor, kind="member.token_issued",
                      member_id=member.id)
    return token


def member_by_token(session: Session, token: str) -> Member | None:
    if not token.startswith(PERSONAL_PREFIX):
        return None
    return session.exec(select(Member).where(Member.token_hash == token_hash(token))).first()


def calendar_token(ledger: Ledger, member_id: int, *, now: datetime, actor: str,
                   renew: bool = False) -> str:
    """The member's calendar-feed secret, made on first use; `renew` revokes the old URL."""
    with ledger.transaction() as session:
        member = session.get(Member, member_id)
        if member is None:
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
    return session.exec(select(Member).where(Member.calendar_token == token)).first()


class MagicLinks:
    """Short-lived signed sign-in links."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="reliability.magic-link")

    def make(self, member: Member) -> str:
        return self._serializer.dumps({"m": member.id, "f": _fingerprint(member)})

    def member(self, session: Session, token: str) -> Member | None:
        """The member a link signs in, or None when it is forged, expired or superseded."""
        try:
            data = self._serializer.loads(token, max_age=MAGIC_LINK_SECONDS)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict):
            return None
        member = session.get(Member, data.get("m"))
        if member is None or data.get("f") != _fingerprint(member):
            return None
        return member


def _fingerprint(member: Member) -> str:
    return (member.token_hash or "none")[:12]
