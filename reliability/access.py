"""Who sees what: one rule for the dashboard, the API, the digest, feeds and Slack.

A member answers for their own promises, a manager also for their direct reports', an admin
for everyone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from reliability.models import Client, Member, Mistake, Notice, Promise, Role


@dataclass(frozen=True)
class Scope:
    """The owners whose promises, drafts and mistakes a member may see; None is everyone."""

    member: Member
    owner_ids: frozenset[int] | None

    def covers(self, owner_id: int | None) -> bool:
        return self.owner_ids is None or owner_id in self.owner_ids

    def where(self, owner_column: Any) -> ColumnElement[bool]:
        if self.owner_ids is None:
            return sa.true()
        return sa.type_coerce(owner_column, sa.Integer).in_(sorted(self.owner_ids))


def scope_of(session: Session, member: Member) -> Scope:
    if member.role == Role.admin:
        return Scope(member, None)
    reports = session.exec(select(Member.id).where(Member.manager_id == member.id)).all()
    return Scope(member, frozenset({member.id or 0, *(r for r in reports if r is not None)}))


def notice_owner() -> ColumnElement[Any]:
    """Whose a message is: its promise's owner, else its mistake's, else the member it is
    addressed to. Select from Notice outer-joined to Promise and Mistake to use it."""
    return sa.func.coalesce(Promise.owner_id, Mistake.owner_id, Notice.member_id)


def notices_in_scope(scope: Scope) -> Any:
    """Notices with their client, in `scope`; callers add filters and ordering."""
    return (select(Notice, Client)
            .join(Promise, col(Notice.promise_id) == Promise.id, isouter=True)
            .join(Mistake, col(Notice.mistake_id) == Mistake.id, isouter=True)
            .join(Client, col(Notice.client_id) == Client.id, isouter=True)
            .where(scope.where(notice_owner())))
