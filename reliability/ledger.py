"""The service layer: the only code that changes the ledger.

Each command validates everything first, then writes its rows and one Event in a single
transaction. A failed command raises UserError and leaves the database exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reliability import compose, limits, notices, rollups, tallies, webhook_events
from reliability.access import (
    EVERYONE,
    Actor,
    NotFound,
    actor_of,
    check_admins_remain,
    member_named,
    owner_named,
    promise_for,
    require_admin,
    require_manager,
    scope_for,
    team_of,
)
from reliability.calendar import BusinessCalendar, CalendarError, check_country, zone
from reliability.config import Settings
from reliability.db import read_session
from reliability.errors import UserError
from reliability.models import (
    Address,
    CheckIn,
    CheckInStatus,
    Client,
    DeliveryChannel,
    DueChange,
    Event,
    Locale,
    Member,
    Notice,
    NoticeKind,
    Promise,
    PromiseStatus,
    Role,
    ServiceToken,
    Source,
)
from reliability.promises import ListFilter, PromiseView, promise_views, promise_views_in_batches
from reliability.risk import CaptureForecast


@dataclass(frozen=True)
class PromiseHistory:
    view: PromiseView
    checkins: list[CheckIn]
    due_changes: list[DueChange]
    events: list[Event]


def normalise_email(value: str, field: str = "email") -> str:
    limits.text(value, "email address", field)
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise UserError(f"{value!r} is not an email address ({exc})", field=field,
                        hint="e.g. alice@example.com") from None


def _choice(value: str, allowed: type[Any], what: str, field: str) -> str:
    names = [item.value for item in allowed]
    if value not in names:
        raise UserError(f"unknown {what} {value!r}", field=field,
                        hint=f"use one of {', '.join(names)}")
    return value


def _timezone(value: str) -> str:
    limits.text(value, "timezone")
    try:
        zone(value)
    except CalendarError as exc:
        raise UserError(str(exc), field="timezone") from None
    return value


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    limits.text(value, "country")
    try:
        return check_country(value)
    except CalendarError as exc:
        raise UserError(str(exc), field="country") from None


def _text(value: str, what: str, field: str) -> str:
    cleaned = " ".join(limits.text(value, what, field).split())
    if not cleaned:
        raise UserError(f"the {what} is empty", field=field, hint="write a few words")
    return cleaned


# What `Ledger.edit_client` may change, in the order forms and `client edit` show them.
CLIENT_FIELDS = ("name", "contact_name", "greeting", "email", "locale", "address", "timezone",
                 "country", "channel", "slack_channel", "auto_send", "confirm_promises")


def _optional(value: str | None, what: str, field: str) -> str | None:
    """Optional text, stripped; empty means none."""
    return (limits.optional_text(value, what, field) or "").strip() or None


def _client_values(**given: Any) -> dict[str, Any]:
    """Each client field given, checked and cleaned the one way for adding and editing."""
    clean: dict[str, Callable[[Any], Any]] = {
        "name": lambda v: _text(v, "client name", "name"),
        "contact_name": lambda v: _optional(v, "contact name", "contact_name"),
        "greeting": lambda v: _optional(v, "greeting", "greeting"),
        "email": normalise_email,
        "locale": lambda v: _choice(v, Locale, "locale", "locale"),
        "address": lambda v: _choice(v, Address, "address", "address"),
        "timezone": _timezone,
        "country": lambda v: _country(v.strip() or None if isinstance(v, str) else v),
        "channel": lambda v: _choice(v, DeliveryChannel, "channel", "channel"),
        "slack_channel": lambda v: _optional(v, "Slack id", "slack_channel"),
        "auto_send": bool,
        "confirm_promises": bool,
    }
    return {key: clean[key](value) for key, value in given.items()}


def _member_locale(value: str | None) -> str | None:
    """A member's language; empty or None reads the team's default."""
    return _choice(value.strip(), Locale, "locale", "locale") if value and value.strip() else None


SIGNATURE_LINES = 4
SIGNATURE_CHARS = 400


def _signature(value: str) -> str | None:
    """A member's own sign-off for client letters: up to four lines of up to 400 characters
    in all, each line trimmed and blank ones dropped; empty means none (name and team)."""
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    if len(lines) > SIGNATURE_LINES:
        raise UserError(f"a signature has at most {SIGNATURE_LINES} lines", field="signature",
                        hint="e.g. your name, your title and the team's name")
    cleaned = "\n".join(lines)
    if len(cleaned) > SIGNATURE_CHARS:
        raise UserError(f"a signature has at most {SIGNATURE_CHARS} characters",
                        field="signature", hint="keep it to a name, a title and a team")
    return cleaned or None


def _reachable(client: Client) -> None:
    if client.channel == DeliveryChannel.slack and not client.slack_channel:
        raise UserError("a client reached by Slack needs a Slack channel",
                        field="slack_channel", hint="e.g. C0123ABCD")


def calendar_for(settings: Settings, *, client: Client | None = None,
                 owner: Member | None = None) -> BusinessCalendar:
    """A promise lives in its client's calendar, else its owner's, else the team default;
    a member's own day (their digest, their check-ins) in theirs."""
    if client is not None:
        return settings.calendar.calendar(client.timezone, client.country)
    if owner is not None:
        return settings.calendar.calendar(owner.timezone, owner.country)
    return settings.calendar.calendar()


P = ParamSpec("P")
T = TypeVar("T")


class Ledger:
    """Commands and queries over one database, with the team's settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    # -- plumbing -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One command, one transaction: committed on success, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                tallies.refresh(session, self.settings)
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def session(self) -> Session:
        """A session for reads (lookups, sign-ins, pages, digests, figures). On SQLite it
        begins a deferred transaction (`db.read_session`) and never takes the write lock, so
        a long read keeps no writer waiting; commands write through `transaction()`."""
        return read_session(self.engine)

    def read(self, query: Callable[Concatenate[Session, P], T], *args: P.args,
             **kwargs: P.kwargs) -> T:
        """Run one read query in its own read-only session, so interfaces never hold one and
        a long read never holds SQLite's write lock."""
        with read_session(self.engine) as session:
            return query(session, *args, **kwargs)

    @staticmethod
    def record(
        session: Session,
        *,
        now: datetime,
        actor: str,
        kind: str,
        promise_id: int | None = None,
        **payload: Any,
    ) -> Event:
        event = Event(at=now, actor=actor, kind=kind, promise_id=promise_id, payload=payload)
        session.add(event)
        webhook_events.publish(session, event)
        return event

    def recount(self, *, now: datetime, actor: str) -> None:
        """Rebuild what the figures keep beside the events from the events themselves, after
        rows were loaded in bulk (see `rollups`). The operator's alone: the CLI."""
        with self.transaction() as session:
            rollups.recount(session, self.settings, now=now)
            self.record(session, now=now, actor=actor, kind="ledger.recounted")

    def calendar_for(self, client: Client | None = None, owner: Member | None = None) -> (
        BusinessCalendar
    ):
        return calendar_for(self.settings, client=client, owner=owner)

    # -- lookups ------------------------------------------------------------------------

    @staticmethod
    def find_client(session: Session, name: str) -> Client:
        limits.text(name, "client name")
        client = session.exec(
            select(Client).where(Client.name_key == limits.name_key(name))
        ).first()
        if client is None:
            known = session.exec(select(Client.name).order_by(Client.name).limit(10)).all()
            listed = f"known clients: {', '.join(known)}" if known else "no clients yet"
            raise UserError(f"unknown client {name!r} ({listed})", field="client",
                            hint="add the client first")
        return client

    @staticmethod
    def find_member(session: Session, email: str, field: str = "owner") -> Member:
        return member_named(session, email, field, current=False)

    @staticmethod
    def find_promise(session: Session, promise_id: int) -> Promise:
        return promise_for(session, EVERYONE, promise_id)

    def promise_view(self, promise_id: int, actor: str | Actor) -> PromiseView:
        """A promise with its client and owner, if `actor` may change it."""
        by, _ = _who(actor)
        with self.session() as session:
            return self.view(session, promise_for(session, scope_for(session, by), promise_id))

    def view(self, session: Session, promise: Promise) -> PromiseView:
        client = session.get(Client, promise.client_id)
        owner = session.get(Member, promise.owner_id)
        assert client is not None and owner is not None
        return PromiseView(promise, client, owner)

    # -- clients and members ------------------------------------------------------------

    def add_client(
        self,
        *,
        name: str,
        email: str,
        now: datetime,
        actor: str,
        contact_name: str | None = None,
        greeting: str | None = None,
        locale: str = Locale.en,
        address: str = Address.ni,
        timezone: str | None = None,
        country: str | None = None,
        channel: str = DeliveryChannel.email,
        slack_channel: str | None = None,
        auto_send: bool = False,
        confirm_promises: bool = False,
    ) -> Client:
        values = _client_values(
            name=name, email=email, contact_name=contact_name, greeting=greeting,
            locale=locale, address=address,
            timezone=timezone or self.settings.calendar.default_timezone,
            country=country if country is not None else self.settings.calendar.default_country,
            channel=channel, slack_channel=slack_channel, auto_send=auto_send,
            confirm_promises=confirm_promises)
        client = Client(**values, name_key=limits.name_key(values["name"]), created_at=now)
        _reachable(client)
        with self.transaction() as session:
            self._client_name_is_free(session, client.name_key, None)
            session.add(client)
            session.flush()
            self.record(session, now=now, actor=actor, kind="client.added",
                        client_id=client.id, name=client.name)
        return client

    def edit_client(self, client_id: int, *, now: datetime, actor: str | Actor,
                    **changes: str | bool | None) -> tuple[Client, dict[str, list[Any]]]:
        """Change any of a client's fields (`CLIENT_FIELDS`; None keeps a field, an empty
        text clears an optional one); managers and admins only. A new timezone or country
        moves the client's open promises to the new calendar: the scan assesses them again
        at once. Returns the client and what changed (field: [before, after])."""
        by, label = _who(actor)
        unknown = sorted(set(changes) - set(CLIENT_FIELDS))
        if unknown:
            raise UserError(f"a client has no field {unknown[0]!r}", field=unknown[0],
                            hint=f"change one of {', '.join(CLIENT_FIELDS)}")
        values = _client_values(**{k: v for k, v in changes.items() if v is not None})
        with self.transaction() as session:
            require_manager(session, by, "change a client's details")
            client = session.get(Client, limits.identifier(client_id, "client", "client"))
            if client is None:
                raise NotFound(f"there is no client #{client_id}", field="client",
                                hint="the list of clients shows the ones that exist")
            changed = {key: [getattr(client, key), value] for key, value in values.items()
                       if getattr(client, key) != value}
            if not changed:
                return client, {}
            self._client_name_is_free(session, limits.name_key(values.get("name", client.name)),
                                      client.id)
            for key, (_, value) in changed.items():
                setattr(client, key, value)
            client.name_key = limits.name_key(client.name)
            _reachable(client)
            if "timezone" in changed or "country" in changed:
                for promise in session.exec(select(Promise).where(
                        Promise.client_id == client.id,
                        Promise.status == PromiseStatus.open)).all():
                    promise.next_check_at = now
                    session.add(promise)
                session.flush()
                tallies.calendar_changed(session, client.id or 0)
            session.add(client)
            self.record(session, now=now, actor=label, kind="client.edited",
                        client_id=client.id, name=client.name, changes=changed)
            return client, changed

    @staticmethod
    def _client_name_is_free(session: Session, name_key: str, client_id: int | None) -> None:
        clash = session.exec(select(Client).where(Client.name_key == name_key)).first()
        if clash is not None and clash.id != client_id:
            raise UserError(f"a client called {clash.name!r} already exists",
                            field="name", hint="pick another name, or use that client")

    def add_member(
        self,
        *,
        email: str,
        name: str,
        now: datetime,
        actor: str | Actor,
        manager_email: str | None = None,
        timezone: str | None = None,
        country: str | None = None,
        slack_user_id: str | None = None,
        role: str = Role.member,
        digest_channel: str = DeliveryChannel.email,
        locale: str | None = None,
    ) -> Member:
        """A new member (admins only); `locale` None reads the team's default language."""
        by, label = _who(actor)
        member = self._new_member(email=email, name=name, timezone=timezone, country=country,
                                  slack_user_id=slack_user_id, role=role,
                                  digest_channel=digest_channel, now=now)
        member.locale = _member_locale(locale)
        with self.transaction() as session:
            require_admin(session, by, "add members")
            if session.exec(select(Member).where(Member.email == member.email)).first():
                raise UserError(f"a member with email {member.email} already exists",
                                field="email")
            self._slack_user_is_free(session, member.slack_user_id, member)
            if manager_email:
                boss = normalise_email(manager_email, "manager")
                member.manager_id = self.find_current_member(session, boss, "manager").id
            session.add(member)
            session.flush()
            self.record(session, now=now, actor=label, kind="member.added",
                        member_id=member.id, email=member.email)
        return member

    def edit_member(self, email: str, *, now: datetime, actor: str | Actor,
                    name: str | None = None, manager_email: str | None = None,
                    locale: str | None = None, timezone: str | None = None,
                    country: str | None = None,
                    digest_channel: str | None = None,
                    role: str | None = None,
                    signature: str | None = None) -> tuple[Member, dict[str, list[Any]]]:
        """Change a member's name, manager, language, calendar, digest channel, role or
        signature (admins only; a member may change their own signature alone), all or
        nothing. None keeps a field; an empty `manager_email` means no manager, an empty
        `locale` the team's default, an empty `country` no public holidays, an empty
        `signature` their name and the team's; a new role ends their sessions, as
        `change_role` does. Returns the member and what changed (field: [before, after])."""
        by, label = _who(actor)
        values: dict[str, Any] = {}
        if signature is not None:
            values["signature"] = _signature(signature)
        if role is not None:
            values["role"] = _choice(role, Role, "role", "role")
        if name is not None:
            values["name"] = _text(name, "member name", "name")
        if locale is not None:
            values["locale"] = _member_locale(locale)
        if timezone is not None:
            values["timezone"] = _timezone(timezone)
        if country is not None:
            values["country"] = _country(country.strip() or None)
        if digest_channel is not None:
            values["digest_channel"] = _choice(digest_channel, DeliveryChannel,
                                               "digest channel", "digest_channel")
        boss_email = (normalise_email(manager_email, "manager") if manager_email
                      else manager_email)
        only_signature = set(values) == {"signature"} and manager_email is None
        with self.transaction() as session:
            me = session.get(Member, by.member_id) if by.member_id is not None else None
            if not (only_signature and me is not None
                    and me.email == normalise_email(email, "email")):
                require_admin(session, by, "change a member's details")
            member = self.find_current_member(session, email, "email")
            changed = {key: [getattr(member, key), value] for key, value in values.items()
                       if getattr(member, key) != value}
            revoked = (self._leaves_admin(session, member, changed["role"][1], field="role",
                                          now=now, actor=label) if "role" in changed else [])
            for key, (_, value) in changed.items():
                setattr(member, key, value)
            if boss_email is not None:
                boss_id = self._manager_for(session, member, boss_email)
                if boss_id != member.manager_id:
                    before = session.get(Member, member.manager_id or 0)
                    changed["manager"] = [before.email if before else None, boss_email or None]
                    member.manager_id = boss_id
            if not changed:
                return member, {}
            if "role" in changed:
                self.end_sessions(member)
            if "timezone" in changed or "country" in changed:
                # Their own day moved: their next check-in request and digest follow it.
                for promise in session.exec(select(Promise).where(
                        Promise.owner_id == member.id,
                        Promise.status == PromiseStatus.open)).all():
                    promise.next_check_at = now
                    session.add(promise)
            session.add(member)
            self.record(session, now=now, actor=label, kind="member.edited",
                        member_id=member.id, email=member.email, changes=changed,
                        **({"tokens_revoked": revoked} if revoked else {}))
            return member, changed

    def _manager_for(self, session: Session, member: Member, boss_email: str) -> int | None:
        """The id of the member's new manager (None for none); never themselves or someone
        below them, which would make a loop of managers."""
        if not boss_email:
            return None
        boss = self.find_current_member(session, boss_email, "manager")
        if boss.id in team_of(session, member.id or 0):
            who = "themselves" if boss.id == member.id else f"{boss.email}, who reports to them"
            raise UserError(f"{member.email} cannot report to {who}", field="manager",
                            hint="choose someone outside their team")
        return boss.id

    def _new_member(self, *, email: str, name: str, now: datetime, timezone: str | None = None,
                    country: str | None = None, slack_user_id: str | None = None,
                    role: str = Role.member,
                    digest_channel: str = DeliveryChannel.email,
                    locale: str | None = None) -> Member:
        """A validated, unsaved member, with the team's default timezone and country."""
        return Member(
            email=normalise_email(email),
            name=_text(name, "member name", "name"),
            timezone=_timezone(timezone or self.settings.calendar.default_timezone),
            country=_country(country if country is not None
                             else self.settings.calendar.default_country),
            slack_user_id=limits.optional_text(slack_user_id, "Slack id", "slack_user") or None,
            role=_choice(role, Role, "role", "role"),
            digest_channel=_choice(digest_channel, DeliveryChannel, "digest channel",
                                   "digest_channel"),
            locale=_choice(locale, Locale, "locale", "locale") if locale else None,
            created_at=now,
        )

    @staticmethod
    def _slack_user_is_free(session: Session, slack_user_id: str | None, member: Member) -> None:
        if not slack_user_id:
            return
        holder = session.exec(select(Member).where(Member.slack_user_id == slack_user_id)).first()
        if holder is not None and holder is not member:
            raise UserError(f"Slack user {slack_user_id} is already a member ({holder.email})")

    def link_slack_user(self, *, email: str, slack_user_id: str, name: str,
                        timezone: str | None, now: datetime, actor: str,
                        create: bool = False, locale: str | None = None) -> Member:
        """The member behind a Slack user: linked by email, or (with `create`, when they log
        a promise of their own) added. From then on their check-in requests and digests come
        to Slack, where they answer, in Slack's language for them (`locale`) unless the
        member already chose one."""
        address = normalise_email(email)
        with self.transaction() as session:
            member = session.exec(select(Member).where(Member.email == address)).first()
            if member is None and not create:
                raise UserError(f"{address} is not a member of this team yet", field="owner",
                                hint="an admin adds them first; anyone may log a promise of "
                                     "their own, which adds them")
            if member is None:
                member = self._new_member(email=address, name=name or address,
                                          timezone=timezone, now=now, locale=locale)
            elif member.removed_at is not None:
                raise UserError(f"{member.email} was removed from the team")
            elif member.slack_user_id not in (None, slack_user_id):
                raise UserError(f"{member.email} is already linked to another Slack user")
            self._slack_user_is_free(session, slack_user_id, member)
            member.slack_user_id = slack_user_id
            member.digest_channel = DeliveryChannel.slack
            if member.locale is None and locale:
                member.locale = _choice(locale, Locale, "locale", "locale")
            session.add(member)
            session.flush()
            self.record(session, now=now, actor=actor, kind="member.linked",
                        member_id=member.id, slack_user_id=slack_user_id)
            return member

    @staticmethod
    def end_sessions(member: Member) -> None:
        """Every browser session and unused sign-in link of the member stops working."""
        member.session_generation += 1

    def sign_out_everywhere(self, member_id: int, *, now: datetime,
                            actor: str | Actor) -> Member:
        """End every session of a member: their own, or (for an admin) anyone's."""
        by, label = _who(actor)
        with self.transaction() as session:
            if by.member_id != member_id:
                require_admin(session, by, "sign another member out")
            member = session.get(Member, limits.identifier(member_id, "member", "member"))
            if member is None:
                raise UserError(f"there is no member #{member_id}")
            self.end_sessions(member)
            session.add(member)
            self.record(session, now=now, actor=label, kind="member.signed_out_everywhere",
                        member_id=member.id)
            return member

    def change_role(self, email: str, role: str, *, now: datetime,
                    actor: str | Actor) -> Member:
        """A new role takes effect at once (admins only): the member signs in again to use
        it."""
        by, label = _who(actor)
        new_role = _choice(role, Role, "role", "role")
        with self.transaction() as session:
            require_admin(session, by, "change a member's role")
            member = self.find_current_member(session, email)
            if member.role == new_role:
                raise UserError(f"{member.email} is already {new_role}", field="role",
                                hint="choose another role")
            revoked = self._leaves_admin(session, member, new_role, field="role", now=now,
                                         actor=label)
            previous, member.role = member.role, new_role
            self.end_sessions(member)
            session.add(member)
            self.record(session, now=now, actor=label, kind="member.role_changed",
                        member_id=member.id, previous=previous, role=new_role,
                        tokens_revoked=revoked)
            return member

    def remove_member(self, email: str, *, now: datetime, actor: str | Actor) -> Member:
        """Take a member off the team (admins only). Their history stays; their open
        promises must be completed or cancelled first, so no promise is left without
        someone keeping it."""
        by, label = _who(actor)
        with self.transaction() as session:
            require_admin(session, by, "remove members")
            member = self.find_current_member(session, email)
            open_ids = session.exec(select(Promise.id).where(
                Promise.owner_id == member.id, Promise.status == PromiseStatus.open)
                .order_by(Promise.id)).all()
            if open_ids:
                listed = ", ".join(f"#{promise_id}" for promise_id in open_ids[:10])
                raise UserError(f"{member.email} still owns {len(open_ids)} open promise(s) "
                                f"({listed})", field="email",
                                hint="complete or cancel them first")
            revoked = self._leaves_admin(session, member, None, field="email", now=now,
                                         actor=label)
            reports = session.exec(select(Member).where(Member.manager_id == member.id)).all()
            for report in reports:
                report.manager_id = None
                session.add(report)
            previous_role = member.role
            member.removed_at = now
            member.role = Role.member
            # Slack finds members by their Slack id: without it, they meet the refusal below.
            member.token_hash = member.calendar_token = member.slack_user_id = None
            self.end_sessions(member)
            session.add(member)
            self.record(session, now=now, actor=label, kind="member.removed",
                        member_id=member.id, email=member.email, role=previous_role,
                        reports=[report.email for report in reports], tokens_revoked=revoked)
            return member

    def _leaves_admin(self, session: Session, member: Member, new_role: str | None, *,
                      field: str, now: datetime, actor: str) -> list[int]:
        """An admin becoming `new_role` (None: leaving the team) stops being one for good:
        the team must keep another admin (`access.check_admins_remain`), and the service
        tokens they made are revoked in this transaction, each with its event, so that
        making them an admin again does not bring the tokens back. Returns their ids."""
        if member.role != Role.admin or new_role == Role.admin:
            return []
        check_admins_remain(session, member, field)
        tokens = session.exec(select(ServiceToken).where(
            ServiceToken.created_by_id == member.id, col(ServiceToken.revoked_at).is_(None))
            .order_by(col(ServiceToken.id))).all()
        why = "its admin left the team" if new_role is None else f"its admin became {new_role}"
        for token in tokens:
            token.revoked_at = now
            session.add(token)
            self.record(session, now=now, actor=actor, kind="service_token.revoked",
                        token_id=token.id, name=token.name, reason=why)
        return [token.id or 0 for token in tokens]

    @classmethod
    def find_current_member(cls, session: Session, email: str, field: str = "owner") -> Member:
        return member_named(session, email, field, current=True)

    def client_named(self, name: str) -> Client:
        """The client of that name (any case), or a UserError that lists the known ones."""
        with self.session() as session:
            return self.find_client(session, name)

    def client_calendar(self, name: str | None) -> BusinessCalendar:
        """The calendar a phrase about that client's deadline is read in (the team's without
        one)."""
        return self.calendar_for(self.client_named(name) if name else None)

    def member_by_slack_id(self, slack_user_id: str) -> Member | None:
        with self.session() as session:
            return session.exec(select(Member).where(
                Member.slack_user_id == slack_user_id)).first()

    def clients(self) -> list[Client]:
        with self.session() as session:
            return list(session.exec(select(Client).order_by(Client.name_key)).all())

    def members(self) -> list[tuple[Member, Member | None]]:
        manager = aliased(Member)
        with self.session() as session:
            rows = session.exec(
                select(Member, manager)
                .join(manager, col(Member.manager_id) == manager.id, isouter=True)
                .order_by(Member.email)
            ).all()
            return [(member, boss) for member, boss in rows]

    # -- promises -----------------------------------------------------------------------

    def add_promise(
        self,
        *,
        title: str,
        client_name: str,
        owner_email: str,
        due_at: datetime,
        now: datetime,
        actor: str | Actor,
        source: str = Source.cli,
        raw_text: str | None = None,
        forecast: CaptureForecast | None = None,
        asked_due_at: datetime | None = None,
    ) -> PromiseView:
        """`forecast` is the one shown at capture (reliability.capture); `asked_due_at` the
        date first asked for, when the person took the later date it offered. A member
        logs for themselves, a manager for anyone below them too (`access.owner_for`)."""
        with self.transaction() as session:
            return self.make_promise(session, title=title, client_name=client_name,
                                      owner_email=owner_email, due_at=due_at, now=now,
                                      actor=actor, source=source, raw_text=raw_text,
                                      forecast=forecast, asked_due_at=asked_due_at)

    def acknowledge_request(
        self,
        *,
        summary: str,
        client_name: str,
        owner_email: str,
        reply_by: datetime,
        now: datetime,
        actor: str | Actor,
        received_at: datetime | None = None,
        source: str = Source.cli,
    ) -> tuple[PromiseView, Notice | None]:
        """A client asked for something: promise a reply by a date, and draft the receipt
        that tells them so, in one transaction."""
        with self.transaction() as session:
            return self.acknowledge_in(session, summary=summary, client_name=client_name,
                                       owner_email=owner_email, reply_by=reply_by, now=now,
                                       actor=actor, received_at=received_at, source=source)

    def acknowledge_in(self, session: Session, *, summary: str, client_name: str,
                       owner_email: str, reply_by: datetime, now: datetime,
                       actor: str | Actor, received_at: datetime | None = None,
                       source: str = Source.cli) -> tuple[PromiseView, Notice | None]:
        """`acknowledge_request` in the caller's transaction (a suggestion taken up)."""
        summary = _text(summary, "request summary", "summary")
        by = actor_of(actor)
        view = self.make_promise(session, title=f"Reply: {summary}", raw_text=summary,
                                 client_name=client_name, owner_email=owner_email,
                                 due_at=reply_by, now=now, actor=by, source=source)
        notice = notices.create(
            session, self.settings, kind=NoticeKind.request_acknowledgement,
            key=f"request_acknowledgement:{view.promise.id}",
            recipient=notices.client_recipient(view.client), client=view.client,
            context=compose.request_acknowledgement(
                self.settings, summary=summary, received_at=received_at or now,
                reply_by=reply_by, client=view.client, owner=view.owner, now=now),
            now=now, created_by=by.label, promise_id=view.promise.id,
            reply_to=view.owner.email,
            # Kept with the receipt: how fast requests are acknowledged is counted from it.
            inputs={"request": {"received_at": (received_at or now).isoformat()}})
        return view, notice

    def make_promise(self, session: Session, *, title: str, client_name: str,
                     owner_email: str, due_at: datetime, now: datetime, actor: str | Actor,
                     source: str, raw_text: str | None,
                     forecast: CaptureForecast | None = None,
                     asked_due_at: datetime | None = None) -> PromiseView:
        """A new promise, in the caller's transaction."""
        by, actor = _who(actor)
        title = _text(title, "promise title", "title")
        limits.optional_text(raw_text, "promise text", "text")
        _choice(source, Source, "source", "source")
        client = self.find_client(session, client_name)
        owner = owner_named(session, scope_for(session, by), owner_email, "log a promise")
        self.check_due(due_at, now, self.calendar_for(client))
        promise = Promise(title=title, client_id=client.id, owner_id=owner.id, made_at=now,
                          due_at=due_at, original_due_at=due_at, source=source,
                          raw_text=raw_text, next_check_at=now)
        capture: dict[str, Any] = {}
        if forecast is not None:
            promise.capture_p_late = forecast.p_late
            promise.asked_due_at = asked_due_at
            promise.suggested_due_at = due_at if asked_due_at else forecast.suggested_due_at
            capture = {"forecast": forecast.to_json(),
                       "asked_due_at": asked_due_at.isoformat() if asked_due_at else None}
        rollups.promise_made(session, client, promise)
        session.add(promise)
        session.flush()
        self.record(session, now=now, actor=actor, kind="promise.made", promise_id=promise.id,
                    title=title, due_at=due_at.isoformat(), source=source, **capture)
        if client.confirm_promises:
            notices.create(
                session, self.settings, kind=NoticeKind.promise_confirmation,
                key=f"promise_confirmation:{promise.id}",
                recipient=notices.client_recipient(client), client=client,
                context=compose.promise_confirmation(self.settings, promise=promise,
                                                     client=client, owner=owner, now=now),
                now=now, created_by=actor, promise_id=promise.id, reply_to=owner.email)
        return PromiseView(promise, client, owner)

    def complete(self, promise_id: int, *, now: datetime, actor: str | Actor) -> PromiseView:
        by, actor = _who(actor)
        with self.transaction() as session:
            promise = self._open_promise(session, promise_id, "complete", by)
            self._mark_done(session, promise, now=now, actor=actor)
            return self.view(session, promise)

    def cancel(self, promise_id: int, *, reason: str, now: datetime,
               actor: str | Actor) -> PromiseView:
        by, actor = _who(actor)
        reason = _text(reason, "reason", "reason")
        with self.transaction() as session:
            promise = self._open_promise(session, promise_id, "cancel", by)
            promise.status = PromiseStatus.cancelled
            promise.cancelled_at = now
            promise.cancel_reason = reason
            promise.next_check_at = None
            tallies.finished(session, promise)
            notices.cancel_pending_for_promise(session, promise_id, now=now, actor=actor,
                                               reason="the promise was cancelled")
            session.add(promise)
            self.record(session, now=now, actor=actor, kind="promise.cancelled",
                        promise_id=promise.id, reason=reason)
            return self.view(session, promise)

    def check_in(
        self,
        promise_id: int,
        *,
        status: str,
        now: datetime,
        actor: str | Actor,
        progress: int | None = None,
        note: str | None = None,
        member_email: str | None = None,
        waiting_for: str | None = None,
        client_reason: str | None = None,
    ) -> CheckIn:
        """The owner's word on a promise; "done" also completes it. `note` is for the team;
        `client_reason` is what the client may be told, the pending delay letter's reason."""
        by, actor = _who(actor)
        _choice(status, CheckInStatus, "check-in status", "status")
        limits.optional_text(note, "check-in note", "note")
        limits.optional_text(waiting_for, "waiting for", "waiting_for")
        limits.optional_text(client_reason, "reason for the client", "client_reason")
        if progress is not None and not 0 <= progress <= 100:
            raise UserError(f"progress is a percentage from 0 to 100, not {progress}",
                            field="progress")
        with self.transaction() as session:
            promise = self._open_promise(session, promise_id, "check in on", by)
            member = self.find_member(session, member_email) if member_email else None
            checkin = CheckIn(
                promise_id=promise.id,
                member_id=member.id if member else promise.owner_id,
                at=now,
                status=status,
                progress=100 if status == CheckInStatus.done and progress is None else progress,
                note=note.strip() if note and note.strip() else None,
                waiting_for=waiting_for.strip() if waiting_for and waiting_for.strip()
                else None,
                client_reason=client_reason.strip() if client_reason and client_reason.strip()
                else None,
            )
            session.add(checkin)
            rollups.checked_in(session, promise, now)
            self.record(session, now=now, actor=actor, kind="promise.checked_in",
                        promise_id=promise.id, status=status, progress=checkin.progress,
                        note=checkin.note, client_reason=checkin.client_reason)
            if status == CheckInStatus.on_track:
                notices.cancel_pending_for_promise(session, promise_id, now=now, actor=actor,
                                                   reason="the owner reported it on track")
            elif ((checkin.note or checkin.waiting_for or checkin.client_reason)
                  and status in (CheckInStatus.at_risk, CheckInStatus.blocked)):
                notices.refresh_reason(session, self.settings, promise_id, note=checkin.note,
                                       client_reason=checkin.client_reason, now=now,
                                       actor=actor, waiting_for=checkin.waiting_for)
            if status == CheckInStatus.done:
                self._mark_done(session, promise, now=now, actor=actor)
            else:
                promise.next_check_at = now
                session.add(promise)
            session.flush()
            return checkin

    def move(
        self,
        promise_id: int,
        *,
        due_at: datetime,
        reason: str,
        now: datetime,
        actor: str | Actor,
        client_told: bool = False,
    ) -> PromiseView:
        """Renegotiate the due date; the original stays on the promise for the ledger."""
        by, actor = _who(actor)
        reason = _text(reason, "reason", "reason")
        with self.transaction() as session:
            promise = self._open_promise(session, promise_id, "move", by)
            view = self.view(session, promise)
            self.check_due(due_at, now, self.calendar_for(view.client))
            if due_at == promise.due_at:
                raise UserError("that is already the due date", field="due",
                                hint="give a different date")
            move_promise(session, promise, due_at=due_at, reason=reason, now=now, actor=actor,
                         client_told=client_told)
            return view

    def promises(
        self,
        *,
        status: str | None = None,
        client_name: str | None = None,
        owner_email: str | None = None,
    ) -> list[PromiseView]:
        with self.session() as session:
            conditions = []
            if status is not None:
                conditions.append(Promise.status == _choice(status, PromiseStatus, "status",
                                                            "status"))
            if client_name is not None:
                conditions.append(Promise.client_id == self.find_client(session, client_name).id)
            if owner_email is not None:
                conditions.append(Promise.owner_id == self.find_member(session, owner_email).id)
            return promise_views(session, *conditions)

    def each_promise(
        self,
        *,
        status: str | None = None,
        client_name: str | None = None,
        owner_email: str | None = None,
        batch: int = 500,
    ) -> Iterator[PromiseView]:
        """The same promises read `batch` at a time in one read-only session, for a reader
        that writes each out as it comes (memory stays flat however many are stored). Bad
        filters are refused here, before anything is read or written."""
        with read_session(self.engine) as session:
            where = ListFilter.of(
                status=None if status is None else _choice(status, PromiseStatus, "status",
                                                           "status"),
                client_id=None if client_name is None
                else self.find_client(session, client_name).id,
                owner_id=None if owner_email is None
                else self.find_member(session, owner_email).id)
        return self._promises_in_batches(where, batch)

    def _promises_in_batches(self, where: ListFilter, batch: int) -> Iterator[PromiseView]:
        with read_session(self.engine) as session:
            yield from promise_views_in_batches(session, where, batch=batch)

    def history(self, promise_id: int) -> PromiseHistory:
        with self.session() as session:
            promise = self.find_promise(session, promise_id)
            return PromiseHistory(
                view=self.view(session, promise),
                checkins=self._rows(session, CheckIn, CheckIn.promise_id, promise_id),
                due_changes=self._rows(session, DueChange, DueChange.promise_id, promise_id),
                events=self._rows(session, Event, Event.promise_id, promise_id),
            )

    # -- rules shared by the commands ---------------------------------------------------

    def _open_promise(self, session: Session, promise_id: int, verb: str, by: Actor) -> Promise:
        """An open promise that `by` may change: its owner, their managers, an admin or the
        operator."""
        promise = promise_for(session, scope_for(session, by), promise_id, lock=True)
        if promise.status != PromiseStatus.open:
            when = promise.done_at or promise.cancelled_at
            raise UserError(
                f"cannot {verb} promise #{promise_id}: it is already {promise.status}"
                + (f" (since {when.isoformat()})" if when else "")
            )
        return promise

    def _mark_done(self, session: Session, promise: Promise, *, now: datetime, actor: str) -> None:
        promise.status = PromiseStatus.done
        promise.done_at = now
        promise.next_check_at = None
        session.add(promise)
        tallies.finished(session, promise)
        notices.cancel_pending_for_promise(session, promise.id or 0, now=now, actor=actor,
                                           reason="the promise is done")
        self.record(session, now=now, actor=actor, kind="promise.done", promise_id=promise.id,
                    late=now > promise.due_at, late_vs_original=now > promise.original_due_at)

    def check_due(self, due_at: datetime, now: datetime, calendar: BusinessCalendar) -> None:
        """A due date must be ahead of now and within the horizon, whoever proposes it."""
        if due_at.tzinfo is None:
            raise UserError("a due date needs a timezone offset", field="due",
                            hint="e.g. 2026-11-27T17:00-05:00")
        if due_at <= now:
            raise UserError(
                f"the due date {calendar.local(due_at):%a %d %b %Y %H:%M} ({calendar.timezone}) "
                f"is in the past (now is {calendar.local(now):%a %d %b %H:%M}); "
                "give a later date"
            )
        limits.within_horizon(due_at, now, self.settings.policy.due_horizon_years)

    @staticmethod
    def _rows(session: Session, model: Any, column: Any, value: int) -> list[Any]:
        return list(session.exec(select(model).where(column == value).order_by(model.id)).all())


def _who(actor: str | Actor) -> tuple[Actor, str]:
    """The actor (see `access.actor_of`) and the label its events carry."""
    by = actor_of(actor)
    return by, by.label


def move_promise(session: Session, promise: Promise, *, due_at: datetime, reason: str,
                 now: datetime, actor: str, client_told: bool,
                 notice_lead_business_days: int | None = None) -> None:
    """The one rule for a new due date, whoever moves it (a person, or a sent delay notice):
    a DueChange row keeps the old date, pending drafts about the old date are called off,
    the promise is assessed again at once, and one `promise.moved` event says so."""
    old_due_at = promise.due_at
    session.add(DueChange(promise_id=promise.id, old_due_at=old_due_at, new_due_at=due_at,
                          reason=reason, changed_by_id=None, changed_at=now,
                          client_told=client_told, client_told_at=now if client_told else None))
    if not promise.internal:
        tallies.touch(session, tallies.RENEGOTIATED, now, promise.owner_id, promise.client_id)
    if client_told:
        rollups.client_told(promise, at=now, new_due_at=due_at)
    promise.due_at = due_at
    promise.next_check_at = now
    session.add(promise)
    notices.cancel_pending_for_promise(
        session, promise.id or 0, now=now, actor=actor,
        reason="the due date was renegotiated" + (" with the client" if client_told else ""))
    Ledger.record(session, now=now, actor=actor, kind="promise.moved", promise_id=promise.id,
                  old_due_at=old_due_at.isoformat(), new_due_at=due_at.isoformat(),
                  reason=reason, client_told=client_told,
                  notice_lead_business_days=notice_lead_business_days)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

