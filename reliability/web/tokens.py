"""Sign-in secrets: personal tokens, magic links and calendar-feed tokens, and who they
belong to (`reliability.members` issues them).

Only a hash of a personal token is stored, so a copy of the database signs nobody in.
Magic links are signed with `[web] secret_key` and expire; they carry a fingerprint of the
member's current token hash, so issuing a new personal token also voids older links.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, select

from reliability.members import PERSONAL_PREFIX, token_hash
from reliability.models import Member

MAGIC_LINK_SECONDS = 15 * 60


def member_by_token(session: Session, token: str) -> Member | None:
    if not token.startswith(PERSONAL_PREFIX):
        return None
    return session.exec(select(Member).where(Member.token_hash == token_hash(token))).first()


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
