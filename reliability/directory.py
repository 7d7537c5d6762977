"""Changing a client or a member after they were added: the details letters and calendars
are built from (contact, greeting, language, timezone, country, channel) and, for members,
role and manager.

Each command checks the actor, validates every field with the rule that adds them
(`reliability.ledger`), and writes the row and one event in one transaction. Clients are
the team's: managers and admins change them. Members are changed by admins only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from reliability import limits
from reliability.access import Actor, Forbidden, NotFound, require_admin, scope_for
from reliability.errors import UserError
from reliability.ledger import (
    Ledger,
    _choice,
    _country,
    _text,
    _timezone,
    normalise_email,
)
from reliability.models import Client, DeliveryChannel, Locale, Member, Role

CLIENT_FIELDS = frozenset({"name", "email", "contact_name", "greeting", "locale", "timezone",
                           "country", "channel", "slack_channel", "auto_send",
                           "confirm_promises"})
MEMBER_FIELDS = frozenset({"name", "role", "manager", "timezone", "country", "locale",
                           "slack_user_id", "digest_channel"})
# Fields that always hold a value: `None` for one of these is refused, not stored.
CLIENT_REQUIRED = frozenset({"name", "email", "locale", "timezone", "channel", "auto_send",
                             "confirm_promises"})
MEMBER_REQUIRED = frozenset({"name", "role", "timezone", "digest_channel"})


def _check_fields(changes: dict[str, Any], known: frozenset[str], required: frozenset[str],
                  what: str) -> None:
    for name in sorted(changes):
        if name not in known:
            raise UserError(f"a {what} has no field {name!r}", field=name,
                            hint=f"change any of {', '.join(sorted(known))}")
        if changes[name] is None and name in required:
            raise UserError(f"a {what}'s {name} cannot be empty", field=name,
                            hint="leave the field out to keep it as it is")


def _client_value(name: str, value: Any, ledger: Ledger) -> Any:
    """One field of a client, checked as `Ledger.add_client` checks it."""
    if name == "name":
        return _text(value, "client name", "name")
    if name == "email":
        return normalise_email(value)
    if name in ("contact_name", "greeting"):
        what = "contact name" if name == "contact_name" else "greeting"
        return (limits.optional_text(value, what, name) or "").strip() or None
    if name == "slack_channel":
        return limits.optional_text(value, "Slack id", name) or None
    if name == "locale":
        return _choice(value, Locale, "locale", "locale")
    if name == "timezone":
        return _timezone(value)
    if name == "country":
        return _country(value)
    if name == "channel":
        return _choice(value, DeliveryChannel, "channel", "channel")
    return bool(value)


def update_client(ledger: Ledger, actor: Actor, client_id: int, changes: dict[str, Any], *,
                  now: datetime) -> Client:
    """Change some of a client's details; fields not named stay as they are."""
    limits.identifier(client_id, "client", "client")
    _check_fields(changes, CLIENT_FIELDS, CLIENT_REQUIRED, "client")
    values = {name: _client_value(name, value, ledger) for name, value in changes.items()}
    with ledger.transaction() as session:
        _manager_or_admin(session, actor)
        client = session.get(Client, client_id)
        if client is None:
            raise NotFound(f"there is no client #{client_id}", field="client",
                           hint="the list of clients shows their ids")
        if "name" in values:
            key = limits.name_key(values["name"])
            clash = session.exec(select(Client).where(Client.name_key == key,
                                                      Client.id != client.id)).first()
            if clash is not None:
                raise UserError(f"a client called {clash.name!r} already exists", field="name",
                                hint="pick another name")
            client.name_key = key
        changed = {name: [getattr(client, name), value] for name, value in values.items()
                   if getattr(client, name) != value}
        for name, (_, value) in changed.items():
            setattr(client, name, value)
        if client.channel == DeliveryChannel.slack and not client.slack_channel:
            raise UserError("a client reached by Slack needs a Slack channel",
                            field="slack_channel", hint="e.g. C0123ABCD")
        session.add(client)
        ledger.record(session, now=now, actor=actor.label, kind="client.updated",
                      client_id=client.id, changes=changed)
        return client


def _manager_or_admin(session: Session, actor: Actor) -> None:
    scope = scope_for(session, actor)
    if scope.member is not None and scope.member.role not in (Role.manager, Role.admin):
        raise Forbidden("only a manager or an admin can change a client's details",
                        field="client", hint="ask your manager to make the change")


def update_member(ledger: Ledger, actor: Actor, member_id: int, changes: dict[str, Any], *,
                  now: datetime) -> tuple[Member, Member | None]:
    """Change some of a member's details (admins only); a new role ends their sessions, as
    `Ledger.change_role` does, so they sign in again to use it. Returns the member and
    their manager."""
    limits.identifier(member_id, "member", "member")
    _check_fields(changes, MEMBER_FIELDS, MEMBER_REQUIRED, "member")
    with ledger.transaction() as session:
        require_admin(session, actor, "change a member")
        member = session.get(Member, member_id)
        if member is None or member.removed_at is not None:
            raise NotFound(f"there is no current member #{member_id}", field="member",
                           hint="the list of members shows their ids")
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "manager":
                values["manager_id"] = _new_manager(session, member, value)
            elif name == "name":
                values[name] = _text(value, "member name", "name")
            elif name == "role":
                values[name] = _choice(value, Role, "role", "role")
            elif name == "timezone":
                values[name] = _timezone(value)
            elif name == "country":
                values[name] = _country(value)
            elif name == "locale":
                values[name] = None if value is None else _choice(value, Locale, "locale",
                                                                  "locale")
            elif name == "digest_channel":
                values[name] = _choice(value, DeliveryChannel, "digest channel",
                                       "digest_channel")
            else:
                values[name] = _slack_user(session, member, value)
        changed = {name: [getattr(member, name), value] for name, value in values.items()
                   if getattr(member, name) != value}
        for name, (_, value) in changed.items():
            setattr(member, name, value)
        if "role" in changed:
            ledger.end_sessions(member)
        session.add(member)
        ledger.record(session, now=now, actor=actor.label, kind="member.updated",
                      member_id=member.id, changes=changed)
        boss = session.get(Member, member.manager_id) if member.manager_id else None
        return member, boss


def _new_manager(session: Session, member: Member, email: str | None) -> int | None:
    """A manager who is a current member and not the member or anyone below them."""
    if email is None:
        return None
    boss = Ledger.find_current_member(session, normalise_email(email, "manager"), "manager")
    above: Member | None = boss
    seen: set[int | None] = set()
    while above is not None and above.id not in seen:  # up the chain from the new manager
        if above.id == member.id:
            raise UserError(f"{boss.email} is {member.email} or reports to them",
                            field="manager",
                            hint="a manager must be someone outside the member's own team")
        seen.add(above.id)
        above = session.get(Member, above.manager_id) if above.manager_id else None
    return boss.id


def _slack_user(session: Session, member: Member, value: str | None) -> str | None:
    slack_user = limits.optional_text(value, "Slack id", "slack_user_id") or None
    if slack_user:
        holder = session.exec(select(Member).where(Member.slack_user_id == slack_user)).first()
        if holder is not None and holder.id != member.id:
            raise UserError(f"Slack user {slack_user} is already a member ({holder.email})",
                            field="slack_user_id")
    return slack_user
