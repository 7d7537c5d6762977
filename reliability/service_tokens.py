"""Service tokens: bearer tokens an admin makes for an integration (a CRM, a script).

A service token acts as the admin who made it, never as more: its power is that admin's
scope as it stands at each request (`access.scope_of`), narrowed to the token's own scope
(read, or read and write). It stops working when it is revoked; demoting or removing its
maker revokes it for good, in the same transaction (`Ledger._leaves_admin`), so an
integration never outlives the authority behind it and making them an admin again does
not revive it. Only a hash of the token is kept; the token itself is shown once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from reliability import limits
from reliability.access import Actor, Forbidden, NotFound, Scope, scope_for, scope_of
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.members import token_hash
from reliability.models import Member, Role, ServiceToken, TokenScope

SERVICE_PREFIX = "rel_svc_"


@dataclass(frozen=True)
class IssuedToken:
    """A new service token: the secret is in `token`, shown this once."""

    row: ServiceToken
    creator: Member
    token: str


@dataclass(frozen=True)
class TokenListing:
    row: ServiceToken
    creator: Member


def _admin(session: Session, actor: Actor, email: str | None) -> Member:
    """The admin a new token will act as: the actor themselves, or (at the CLI, which acts
    as the operator) the admin named."""
    if actor.member_id is not None:
        member = session.get(Member, actor.member_id)
        if member is None or member.removed_at is not None:
            raise NotFound("you are no longer a member of this team")
        if email is not None and email.strip().lower() != member.email:
            raise Forbidden("a service token acts as the admin who makes it", field="admin",
                            hint="leave the admin out; the token will act as you")
    else:
        if not email:
            raise UserError("say which admin the token acts as", field="admin",
                            hint="give an admin's email, e.g. --admin erin@example.com")
        member = Ledger.find_current_member(session, email.strip().lower(), "admin")
    if member.role != Role.admin:
        raise Forbidden(f"{member.email} is not an admin", field="admin",
                        hint="only an admin makes, lists or revokes service tokens")
    return member


def _scope(value: str) -> str:
    if value not in tuple(TokenScope):
        raise UserError(f"unknown token scope {value!r}", field="scope",
                        hint="use read or write")
    return value


def create(ledger: Ledger, actor: Actor, *, name: str, scope: str, now: datetime,
           admin_email: str | None = None) -> IssuedToken:
    """A new service token acting as an admin, within `scope`."""
    cleaned = " ".join(limits.text(name, "token name", "name").split())
    if not cleaned:
        raise UserError("the token has no name", field="name",
                        hint="say what uses it, e.g. CRM sync")
    _scope(scope)
    token = SERVICE_PREFIX + secrets.token_urlsafe(32)
    with ledger.transaction() as session:
        creator = _admin(session, actor, admin_email)
        row = ServiceToken(name=cleaned, token_hash=token_hash(token), scope=scope,
                           created_by_id=creator.id or 0, created_at=now)
        session.add(row)
        session.flush()
        ledger.record(session, now=now, actor=actor.label, kind="service_token.created",
                      token_id=row.id, name=row.name, scope=row.scope,
                      acts_as=creator.email)
        return IssuedToken(row, creator, token)


def listing(ledger: Ledger, actor: Actor) -> list[TokenListing]:
    """Every service token, revoked ones too, newest first (admins and the operator)."""
    with ledger.session() as session:
        if scope_for(session, actor).owner_ids is not None:
            raise Forbidden("only an admin lists service tokens", field="token",
                            hint="ask an admin")
        rows = session.exec(select(ServiceToken, Member)
                            .join(Member, col(ServiceToken.created_by_id) == Member.id)
                            .order_by(col(ServiceToken.id).desc())).all()
        return [TokenListing(row, creator) for row, creator in rows]


def revoke(ledger: Ledger, actor: Actor, token_id: int, *, now: datetime) -> TokenListing:
    """The token stops working at once; its row stays, marked revoked, for the record."""
    limits.identifier(token_id, "service token", "token")
    with ledger.transaction() as session:
        if scope_for(session, actor).owner_ids is not None:
            raise Forbidden("only an admin revokes service tokens", field="token",
                            hint="ask an admin")
        row = session.get(ServiceToken, token_id)
        if row is None:
            raise NotFound(f"there is no service token #{token_id}", field="token",
                           hint="the list of service tokens shows their ids")
        if row.revoked_at is not None:
            raise UserError(f"service token #{token_id} is already revoked", field="token")
        row.revoked_at = now
        session.add(row)
        ledger.record(session, now=now, actor=actor.label, kind="service_token.revoked",
                      token_id=row.id, name=row.name)
        creator = session.get(Member, row.created_by_id)
        assert creator is not None
        return TokenListing(row, creator)


@dataclass(frozen=True)
class SignedInToken:
    """A service token at work: the admin it acts as, with that admin's scope now."""

    token: ServiceToken
    member: Member
    scope: Scope

    @property
    def can_write(self) -> bool:
        return self.token.scope == TokenScope.write


def signed_in(ledger: Ledger, token: str) -> SignedInToken | None:
    """Who a service token acts as; None for a wrong or revoked one."""
    with ledger.session() as session:
        found = by_token(session, token)
        if found is None:
            return None
        row, admin = found
        return SignedInToken(row, admin, scope_of(session, admin))


def by_token(session: Session, token: str) -> tuple[ServiceToken, Member] | None:
    """The live service token and the admin it acts as; None for a wrong or revoked token,
    or one whose maker is no longer a current admin."""
    if not token.startswith(SERVICE_PREFIX):
        return None
    found = session.exec(select(ServiceToken, Member)
                         .join(Member, col(ServiceToken.created_by_id) == Member.id)
                         .where(ServiceToken.token_hash == token_hash(token),
                                col(ServiceToken.revoked_at).is_(None),
                                col(Member.removed_at).is_(None),
                                Member.role == Role.admin)).first()
    return (found[0], found[1]) if found else None
