"""The ledger's tables. Every moment is stored in UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import JSON, Column, Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp column that refuses naive datetimes and always returns aware UTC ones.

    SQLite keeps no zone, PostgreSQL keeps one: storing UTC and re-attaching it on the way
    out makes both backends behave the same.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored: attach a timezone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_field(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def required_utc_field(*, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=False, index=index))


class Locale(StrEnum):
    en = "en"
    zh = "zh"
    sv = "sv"


class DeliveryChannel(StrEnum):
    email = "email"
    slack = "slack"


class Role(StrEnum):
    member = "member"
    manager = "manager"
    admin = "admin"


class PromiseStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class Source(StrEnum):
    cli = "cli"
    slack = "slack"
    web = "web"
    api = "api"
    rule = "rule"


class CheckInStatus(StrEnum):
    on_track = "on_track"
    at_risk = "at_risk"
    blocked = "blocked"
    done = "done"


class Client(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Lower-cased name under a unique index: "Acme" and "ACME" are the same client.
    name_key: str = Field(max_length=200, unique=True)
    contact_name: str | None = Field(default=None, max_length=200)
    email: str = Field(max_length=320)
    slack_channel: str | None = Field(default=None, max_length=64)
    locale: str = Field(default=Locale.en, max_length=8)
    timezone: str = Field(max_length=64)
    country: str | None = Field(default=None, max_length=8)
    channel: str = Field(default=DeliveryChannel.email, max_length=16)
    auto_send: bool = False
    confirm_promises: bool = False
    created_at: datetime = required_utc_field()


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    slack_user_id: str | None = Field(default=None, max_length=64, unique=True)
    timezone: str = Field(max_length=64)
    country: str | None = Field(default=None, max_length=8)
    manager_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    role: str = Field(default=Role.member, max_length=16)
    digest_channel: str = Field(default=DeliveryChannel.email, max_length=16)
    created_at: datetime = required_utc_field()


class Promise(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=500)
    client_id: int = Field(foreign_key="client.id", index=True)
    owner_id: int = Field(foreign_key="member.id", index=True)
    made_at: datetime = required_utc_field()
    due_at: datetime = required_utc_field(index=True)
    original_due_at: datetime = required_utc_field()
    status: str = Field(default=PromiseStatus.open, max_length=16, index=True)
    done_at: datetime | None = utc_field(nullable=True)
    cancelled_at: datetime | None = utc_field(nullable=True)
    cancel_reason: str | None = None
    source: str = Field(default=Source.cli, max_length=16)
    raw_text: str | None = None
    # An internal commitment (a mistake's prevention step) is followed like any promise
    # but never produces a message to the client.
    internal: bool = False


class CheckIn(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    promise_id: int = Field(foreign_key="promise.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    at: datetime = required_utc_field()
    status: str = Field(max_length=16)
    progress: int | None = Field(default=None, ge=0, le=100)
    note: str | None = None


class DueChange(SQLModel, table=True):
    """A renegotiated due date: the old and new moment, why, who, and whether the client knew."""

    __tablename__ = "due_change"

    id: int | None = Field(default=None, primary_key=True)
    promise_id: int = Field(foreign_key="promise.id", index=True)
    old_due_at: datetime = required_utc_field()
    new_due_at: datetime = required_utc_field()
    reason: str
    changed_by_id: int | None = Field(default=None, foreign_key="member.id")
    changed_at: datetime = required_utc_field()
    client_told: bool = False
    client_told_at: datetime | None = utc_field(nullable=True)


class Event(SQLModel, table=True):
    """The append-only log: one row per state change, written in the change's transaction."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = required_utc_field(index=True)
    actor: str = Field(max_length=200)
    kind: str = Field(max_length=64, index=True)
    promise_id: int | None = Field(default=None, foreign_key="promise.id", index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
