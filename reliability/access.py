"""Who may see and change what: one rule for the CLI, the dashboard, the API, the digest,
feeds and Slack.

A member answers for their own promises, drafts and mistakes; a manager also for those of
everyone below them (their reports, their reports' reports, ...); an admin for everyone's.
Two kinds of message belong to the person they are addressed to rather than the person
they are about: an escalation (its addressee, the addressee's managers and admins; never
the owner it is about) and a digest (its addressee and admins). The CLI runs with
database access, so it acts as the operator, who may do anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from reliability import limits
from reliability.db import locked
from reliability.errors import UserError
from reliability.models import Client, Member, Mistake, Notice, NoticeKind, Promise, Role


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: `label` goes into the event log; `member_id` is None for the
    operator at the CLI."""

    label: str
    member_id: int | None = None

    @classmethod
    def of(cls, member: Member, label: str | None = None) -> Actor:
        return cls(label or member.email, member.id)


class NotFound(UserError):
    """Not there, or not the actor's to see: the two look the same from outside, so that
    ids of other teams' rows reveal nothing."""


class Forbidden(UserError):
    """Seen, but not the actor's to have: another manager's digest."""


@dataclass(frozen=True)
class Scope:
    """The owners whose promises, drafts and mistakes a member may see and change; None is
    everyone (admins and the operator)."""

    member: Member | None
    owner_ids: frozenset[int] | None

    @property
    def member_id(self) -> int:
        return self.member.id or 0 if self.member is not None else 0

    def covers(self, owner_id: int | None) -> bool:
        return self.owner_ids is None or owner_id in self.owner_ids

    def where(self, owner_column: Any) -> ColumnElement[bool]:
        if self.owner_ids is None:
            return sa.true()
        return sa.type_coerce(owner_column, sa.Integer).in_(sorted(self.owner_ids))


EVERYONE = Scope(None, None)


def actor_of(actor: str | Actor) -> Actor:
    """A plain string is the operator's (the CLI, the scheduler), who may do anything; an
    Actor is a member, checked against their scope."""
    return actor if isinstance(actor, Actor) else Actor(actor)


def owner_for(scope: Scope, owner: Member, what: str, *, named: str | None = None) -> Member:
    """A member the scope may make a promise, a reply or a mistake theirs: a member
    themselves, a manager anyone below them, an admin anyone (and the operator). A refusal
    names them as the author did (`named`, e.g. a Slack mention), else by their email."""
    if not scope.covers(owner.id):
        raise not_an_owner(named or owner.email, what)
    return owner


def owner_named(session: Session, scope: Scope, email: str, what: str, *,
                current: bool = True) -> Member:
    """The member `email` names, if the scope may `what` for them (`owner_for`). To a member
    or manager, someone outside their team and someone not on the team (or removed) get the
    same refusal, so naming an owner tells nobody who is a member."""
    found = _by_email(session, email, "owner")
    if scope.owner_ids is not None and (
            found is None or found.removed_at is not None or not scope.covers(found.id)):
        raise not_an_owner(email.strip().lower(), what)
    return _known(found, email, "owner", current=current)


def member_named(session: Session, email: str, field: str, *, current: bool) -> Member:
    """The member with this email (any case); a removed one too unless `current`."""
    return _known(_by_email(session, email, field), email, field, current=current)


def _by_email(session: Session, email: str, field: str) -> Member | None:
    limits.text(email, "email address", field)
    return session.exec(select(Member).where(Member.email == email.strip().lower())).first()


def _known(member: Member | None, email: str, field: str, *, current: bool) -> Member:
    if member is None:
        raise UserError(f"unknown member {email!r}", field=field,
                        hint="an admin adds them as a member first")
    if current and member.removed_at is not None:
        raise UserError(f"{member.email} was removed from the team", field=field,
                        hint="choose a current member")
    return member


def not_an_owner(email: str, what: str) -> NotFound:
    """The one refusal for an owner the actor may not name, whoever or whatever they are."""
    return NotFound(f"{email} is not someone you can {what} for", field="owner",
                    hint="choose yourself or someone who reports to you; their manager or an "
                         "admin can do it for them")


def scope_of(session: Session, member: Member) -> Scope:
    """The member and everyone below them in the reporting tree."""
    if member.role == Role.admin:
        return Scope(member, None)
    return Scope(member, team_of(session, member.id or 0))


def team_of(session: Session, member_id: int) -> frozenset[int]:
    """The member and everyone below them in the reporting tree, whatever their role."""
    found = {member_id}
    layer = found
    while layer:
        below = session.exec(select(Member.id).where(
            col(Member.manager_id).in_(sorted(layer)))).all()
        layer = {m for m in below if m is not None} - found
        found |= layer
    return frozenset(found)


def scope_for(session: Session, actor: Actor) -> Scope:
    """The actor's scope, read in the command's own session so a changed role counts."""
    if actor.member_id is None:
        return EVERYONE
    member = session.get(Member, actor.member_id)
    if member is None:
        raise NotFound("you are no longer a member of this team; ask an admin to add you")
    return scope_of(session, member)


def manages_anyone(scope: Scope) -> bool:
    """A manager by role, an admin, anyone named as someone's manager, or the operator."""
    return (scope.owner_ids is None or len(scope.owner_ids) > 1
            or (scope.member is not None and scope.member.role == Role.manager))


def check_manager(scope: Scope, what: str) -> None:
    """Changing a client's contact, channel or calendar touches every promise made to them:
    managers and admins do it (and the operator); a member is told who can."""
    if not manages_anyone(scope):
        raise Forbidden(f"only a manager or an admin can {what}",
                        hint="ask your manager to make the change")


def check_admin(scope: Scope, what: str) -> None:
    """Who is on the team, and with what role, is an admin's to change (and the operator's)."""
    if scope.member is not None and scope.member.role != Role.admin:
        raise Forbidden(f"only an admin can {what}", hint="ask an admin to make the change")


def check_admins_remain(session: Session, member: Member, field: str) -> None:
    """An admin may lose the role, or leave, only while another current admin remains: the
    last one going would leave nobody to add members, change roles or manage tokens and
    webhooks from the pages, the API or Slack. The current admins' rows are locked until the
    change commits, so two admins stepping down at once cannot both pass (PostgreSQL; SQLite
    has one writer at a time)."""
    admins = session.exec(select(Member.id).where(
        Member.role == Role.admin, col(Member.removed_at).is_(None))
        .order_by(col(Member.id)).with_for_update()).all()
    if not set(admins) - {member.id}:
        raise UserError(f"{member.email} is the team's last admin", field=field,
                        hint="make someone else an admin first")


def require_manager(session: Session, actor: Actor, what: str) -> None:
    check_manager(scope_for(session, actor), what)


def require_admin(session: Session, actor: Actor, what: str) -> None:
    check_admin(scope_for(session, actor), what)


def notice_owner() -> ColumnElement[Any]:
    """Whose a message is: its promise's owner, else its mistake's, else the member it is
    addressed to. Select from Notice outer-joined to Promise and Mistake to use it."""
    return sa.func.coalesce(Promise.owner_id, Mistake.owner_id, Notice.member_id)


def notice_visible(scope: Scope) -> ColumnElement[bool]:
    """The one rule for messages: a digest is its addressee's, an escalation its
    addressee's side's (never the owner's it is about), anything else its owner's side's."""
    if scope.owner_ids is None:
        return sa.true()
    about = sa.func.coalesce(Promise.owner_id, Mistake.owner_id, 0)
    personal = (NoticeKind.digest, NoticeKind.escalation)
    return sa.or_(
        sa.and_(Notice.kind == NoticeKind.digest, Notice.member_id == scope.member_id),
        sa.and_(Notice.kind == NoticeKind.escalation, scope.where(Notice.member_id),
                about != scope.member_id),
        sa.and_(col(Notice.kind).not_in(personal), scope.where(notice_owner())))


def notices_in_scope(scope: Scope) -> Any:
    """Notices with their client, in `scope`; callers add filters and ordering. Webhook
    deliveries are machine traffic, shown on the webhooks page instead."""
    return (select(Notice, Client)
            .join(Promise, col(Notice.promise_id) == Promise.id, isouter=True)
            .join(Mistake, col(Notice.mistake_id) == Mistake.id, isouter=True)
            .join(Client, col(Notice.client_id) == Client.id, isouter=True)
            .where(notice_visible(scope), Notice.kind != NoticeKind.webhook))


def notice_for(session: Session, scope: Scope, notice_id: int) -> tuple[Notice, Client | None]:
    """A message the scope may see and change, or one refusal for "not there" and "not
    yours" alike."""
    limits.identifier(notice_id, "message", "draft")
    row = session.exec(notices_in_scope(scope).where(Notice.id == notice_id)).first()
    if row is None:
        raise NotFound(f"there is no message #{notice_id} you can see")
    notice, client = row
    return notice, client


def promise_for(session: Session, scope: Scope, promise_id: int, *,
                lock: bool = False) -> Promise:
    """A promise the scope may change: its owner, their managers or an admin. One refusal for
    "not there" and "not yours" alike, naming nobody, so ids of others' promises reveal
    neither that they exist nor whose they are. With `lock`, for a command about to change
    it, its row is read afresh and held until the transaction ends (`db.locked`)."""
    key = limits.identifier(promise_id, "promise", "promise")
    promise = locked(session, Promise, key) if lock else session.get(Promise, key)
    if promise is None or not scope.covers(promise.owner_id):
        raise NotFound(f"there is no promise #{promise_id} that you can change",
                       field="promise",
                       hint="the list of promises shows the ones you can change")
    return promise
