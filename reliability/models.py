"""The ledger's tables. Every moment is stored in UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import JSON, Column, Field, SQLModel

# Each `X as X` re-exports a word the tables do not name, for the modules that read both.
from reliability.vocabulary import CLIENT_KINDS as CLIENT_KINDS
from reliability.vocabulary import (
    Address,
    DeliveryChannel,
    Locale,
    NoticeStatus,
    PromiseStatus,
    Role,
    Severity,
    Source,
    SuggestionStatus,
    TokenScope,
)
from reliability.vocabulary import CheckInStatus as CheckInStatus
from reliability.vocabulary import NoticeKind as NoticeKind
from reliability.vocabulary import RiskLevel as RiskLevel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp column that refuses naive datetimes and always returns aware UTC ones.

    SQLite keeps no zone: the moment is stored as UTC text in SQLAlchemy's own layout
    (`YYYY-MM-DD HH:MM:SS.ffffff`, so text order is time order) and read back with the zone
    re-attached. PostgreSQL keeps one, and our sessions speak UTC (`db.make_engine`), so
    values arrive aware and in UTC; one behind a pooler that drops the session setting is
    still converted. The conversions are written out rather than left to the generic
    layers: a scan reads and writes tens of thousands of moments.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value)

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return _to_sqlite_text
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return _from_sqlite_text if dialect.name == "sqlite" else _in_utc


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be stored: attach a timezone")
    return value.astimezone(UTC)


def _in_utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is UTC else value.astimezone(UTC)


def _to_sqlite_text(value: datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat(" ", "microseconds")[:-6]


def _from_sqlite_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def utc_field(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def required_utc_field(*, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=False, index=index))


class Client(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Lower-cased name under a unique index: "Acme" and "ACME" are the same client.
    name_key: str = Field(max_length=200, unique=True)
    contact_name: str | None = Field(default=None, max_length=200)
    # How letters greet the contact ("Dana", "Dr Reed", "王经理"); None: derived from
    # contact_name, or the locale's neutral greeting when there is no contact.
    greeting: str | None = Field(default=None, max_length=100)
    email: str = Field(max_length=320)
    slack_channel: str | None = Field(default=None, max_length=64)
    locale: str = Field(default=Locale.en, max_length=8)
    # How a Swedish letter addresses them: "ni" (er, ert, era) or "du" (dig, din, ditt).
    address: str = Field(default=Address.ni, max_length=4)
    timezone: str = Field(max_length=64)
    country: str | None = Field(default=None, max_length=8)
    channel: str = Field(default=DeliveryChannel.email, max_length=16)
    auto_send: bool = False
    confirm_promises: bool = False
    created_at: datetime = required_utc_field()
    # Every promise ever made to the client (internal ones aside), counted as each is made
    # (`rollups`), so the trust view does not count a client's whole history on each read.
    promises_made: int = 0
    first_promise_at: datetime | None = utc_field(nullable=True)
    last_promise_at: datetime | None = utc_field(nullable=True)


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    slack_user_id: str | None = Field(default=None, max_length=64, unique=True)
    timezone: str = Field(max_length=64)
    country: str | None = Field(default=None, max_length=8)
    # The language of what the member reads (check-in requests, escalations, digests,
    # pages); None: the team's default (`[team] locale`).
    locale: str | None = Field(default=None, max_length=8)
    manager_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    # The lines that close their client letters instead of their name and the team's name.
    signature: str | None = Field(default=None, max_length=400)
    role: str = Field(default=Role.member, max_length=16)
    digest_channel: str = Field(default=DeliveryChannel.email, max_length=16)
    created_at: datetime = required_utc_field()
    # Sign-in: only a hash of the member's personal token is kept. The calendar feed's
    # token is a separate, revocable secret because it ends up in calendar apps' URLs.
    token_hash: str | None = Field(default=None, max_length=128, unique=True, index=True)
    calendar_token: str | None = Field(default=None, max_length=64, unique=True, index=True)
    # Every browser session and unused sign-in link carries the generation it was made in;
    # raising it (new token, role change, removal, "sign out everywhere") ends them all.
    session_generation: int = 0
    # A removed member keeps their history but can no longer sign in or be given promises.
    removed_at: datetime | None = utc_field(nullable=True)


class SignInLink(SQLModel, table=True):
    """An emailed sign-in link: only its hash is kept, and it works once."""

    __tablename__ = "sign_in_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    generation: int
    # Where the member goes after signing in: a path on this site, never part of the email.
    next_path: str = Field(max_length=2000)
    created_at: datetime = required_utc_field()
    expires_at: datetime = required_utc_field()
    used_at: datetime | None = utc_field(nullable=True)


class SignInRequest(SQLModel, table=True):
    """One accepted request for a sign-in link, counted by the rate limits in every process."""

    __tablename__ = "sign_in_request"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = required_utc_field(index=True)
    email: str = Field(max_length=320, index=True)
    ip: str = Field(max_length=64, index=True)


class EndedSession(SQLModel, table=True):
    """A browser session signed out before its cookie expires; its cookie is refused."""

    __tablename__ = "ended_session"

    session_hash: str = Field(max_length=64, primary_key=True)
    # After this moment the cookie has expired anyway, so the row can go.
    forget_after: datetime = required_utc_field(index=True)


# The figures' covering indexes (see Promise): a window by first due date holds what an
# outcome needs, by made date who made it; each leads with nothing, the owner or the client.
_BY_DUE = ("original_due_at", "internal", "owner_id", "client_id", "done_at", "cancelled_at",
           "due_at", "client_told_at")
_BY_MADE = ("made_at", "internal", "owner_id", "client_id")
FIGURES_INDEXES = tuple(
    (f"ix_promise_{prefix}{name}_figures",
     [*lead, *(column for column in columns if column not in lead)])
    for prefix, lead in (("", ()), ("owner_", ("owner_id",)), ("client_", ("client_id",)))
    for name, columns in (("original_due", _BY_DUE), ("made", _BY_MADE)))


class Promise(SQLModel, table=True):
    # The scanner reads an owner's latest finished promises and open load by these, so a
    # tick costs the same with ten thousand or a million rows stored. Every index costs each
    # scan's update of next_check_at a write, so none repeats another's leading columns.
    __table_args__ = (
        # Covering: the history read is answered from the index alone, one run per owner.
        sa.Index("ix_promise_owner_history", "owner_id", "status", "done_at", "made_at",
                 "original_due_at"),
        # An owner's open load: one short range per owner of the batch.
        sa.Index("ix_promise_owner_status_due_at", "owner_id", "status", "due_at"),
        # The scan's claim: open promises whose next check has come, soonest first.
        sa.Index("ix_promise_status_next_check_at", "status", "next_check_at"),
        sa.Index("ix_promise_status_done_at", "status", "done_at"),
        sa.Index("ix_promise_client_history", "client_id", "internal", "made_at"),
        # Lists soonest due first: the open promises, and one client's promises.
        sa.Index("ix_promise_status_due_at", "status", "due_at"),
        # The board's other ways in: open promises the scan raised, or could not assess.
        sa.Index("ix_promise_status_level", "status", "level"),
        sa.Index("ix_promise_status_assess_error", "status", "assess_error"),
        sa.Index("ix_promise_client_due_at", "client_id", "due_at"),
        # The ledger's figures count a range by the day a promise was first due or made
        # (metrics.figures) from these alone, never reading the table: everyone's, a team's
        # (by owner: a manager's) and a client's (the client page). What an outcome needs is
        # in each first-due index, who made it in each made one.
        *(sa.Index(name, *columns) for name, columns in FIGURES_INDEXES),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=500)
    client_id: int = Field(foreign_key="client.id")  # leads ix_promise_client_history
    owner_id: int = Field(foreign_key="member.id")  # leads two composite indexes
    made_at: datetime = required_utc_field()
    due_at: datetime = required_utc_field(index=True)
    original_due_at: datetime = required_utc_field()
    status: str = Field(default=PromiseStatus.open, max_length=16)  # indexed first in five
    done_at: datetime | None = utc_field(nullable=True)
    cancelled_at: datetime | None = utc_field(nullable=True)
    cancel_reason: str | None = None
    source: str = Field(default=Source.cli, max_length=16)
    raw_text: str | None = None
    # An internal commitment (a mistake's prevention step) is followed like any promise
    # but never produces a message to the client.
    internal: bool = False
    # The latest assessment, and when the scanner should look again: the scan reads only
    # rows whose next_check_at has come, never the whole table.
    level: str = Field(default="on_track", max_length=16)
    p_late: float | None = None
    # Codes with their facts (reliability.drafting.reasons), put in words for each reader.
    risk_reasons: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    assessed_at: datetime | None = utc_field(nullable=True)
    next_check_at: datetime | None = utc_field(nullable=True)
    # Why the scan could not assess it (an `AssessError` code); the scan skips it until a
    # change sets next_check_at again.
    assess_error: str | None = Field(default=None, max_length=32)
    # The forecast shown when the promise was made: how likely it was to run late for the
    # date asked, the later date offered (if any), and, when the person took that date,
    # the date first asked for.
    capture_p_late: float | None = None
    suggested_due_at: datetime | None = utc_field(nullable=True)
    asked_due_at: datetime | None = utc_field(nullable=True)
    # Kept beside the events by `rollups`, in the transaction that records them: when the
    # client first heard of a slip (a renegotiation they were told of, or a delay notice
    # that reached them) and the latest date they were told. The figures then judge a
    # promise from its own row.
    client_told_at: datetime | None = utc_field(nullable=True)
    client_told_due_at: datetime | None = utc_field(nullable=True)


class CheckIn(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    promise_id: int = Field(foreign_key="promise.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    at: datetime = required_utc_field()
    status: str = Field(max_length=16)
    progress: int | None = Field(default=None, ge=0, le=100)
    note: str | None = None  # for the team; never shown to the client
    # What the client still has to send, written for the client ("the October returns
    # figures"): the delay letter asks for it and makes the new date depend on it.
    waiting_for: str | None = Field(default=None, max_length=500)
    # What the client may be told about a slip, written for the client by the owner: the
    # delay letter's reason. The note above never reaches a client.
    client_reason: str | None = Field(default=None, max_length=1000)


class DueChange(SQLModel, table=True):
    """A renegotiated due date: the old and new moment, why, who, and whether the client knew."""

    __tablename__ = "due_change"

    id: int | None = Field(default=None, primary_key=True)
    promise_id: int = Field(foreign_key="promise.id", index=True)
    old_due_at: datetime = required_utc_field()
    new_due_at: datetime = required_utc_field()
    reason: str
    changed_by_id: int | None = Field(default=None, foreign_key="member.id")
    changed_at: datetime = required_utc_field(index=True)  # the ledger's renegotiations
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


class Assessment(SQLModel, table=True):
    """One assessment of one promise, kept so a manager sees when risk was first raised."""

    id: int | None = Field(default=None, primary_key=True)
    promise_id: int = Field(foreign_key="promise.id", index=True)
    at: datetime = required_utc_field()
    level: str = Field(max_length=16)
    p_late: float
    reasons: list[dict[str, Any]] = Field(default_factory=list,
                                          sa_column=Column(JSON, nullable=False))
    notice_by: datetime = required_utc_field()
    next_action: str = Field(max_length=16)
    forecast_done_at: datetime = required_utc_field()
    evidence: str = Field(max_length=16)


class Notice(SQLModel, table=True):
    """An outgoing message: a draft until approved, then a row of the outbox until sent.

    The idempotency key names the situation the message is about (for example
    `delay_notice:<promise>:<due>`), under a unique index: one slip, one notice.
    """

    # The ledger's check-in answer rate reads the requests of a range.
    __table_args__ = (sa.Index("ix_notice_kind_created_at", "kind", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    promise_id: int | None = Field(default=None, foreign_key="promise.id", index=True)
    mistake_id: int | None = Field(default=None, foreign_key="mistake.id", index=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=320)
    recipient_name: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=320)
    locale: str = Field(max_length=8)
    subject: str
    text: str
    html: str | None = None
    blocks: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # What the approver should know and the client never sees ("a repeat mistake").
    approver_note: str | None = None
    proposed_due_at: datetime | None = utc_field(nullable=True)
    status: str = Field(default=NoticeStatus.draft, max_length=16, index=True)
    created_by: str = Field(max_length=200)
    created_at: datetime = required_utc_field()
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: datetime | None = utc_field(nullable=True)
    snoozed_until: datetime | None = utc_field(nullable=True)
    escalate_at: datetime | None = utc_field(nullable=True, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = utc_field(nullable=True, index=True)
    lease_until: datetime | None = utc_field(nullable=True)
    leased_by: str | None = Field(default=None, max_length=100)
    sent_at: datetime | None = utc_field(nullable=True)
    provider_id: str | None = Field(default=None, max_length=300)
    last_error: str | None = None
    # A check-in request's first check-in on its promise at or after it was made, kept by
    # `rollups` as each check-in is recorded: the answer rate counts from this row alone.
    answered_at: datetime | None = utc_field(nullable=True)
    cancel_reason: str | None = None
    # A webhook delivery's endpoint (kind `webhook`); None for every other message.
    webhook_endpoint_id: int | None = Field(default=None, foreign_key="webhook_endpoint.id",
                                            index=True)


class WebhookEndpoint(SQLModel, table=True):
    """A URL an admin registered to receive events, signed with its own secret.

    The secret is kept as is, not hashed: the worker must sign every delivery with it
    (docs/api.md, Webhooks). A removed endpoint keeps its row for its deliveries' history."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=320)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str | None = Field(default=None, max_length=200)
    secret: str = Field(max_length=100)
    enabled: bool = True
    # Deliveries given up on since the last one that arrived; at the limit the endpoint is
    # switched off ([webhooks] disable_after).
    failures_in_a_row: int = 0
    disabled_reason: str | None = None
    created_by: str = Field(max_length=200)
    created_at: datetime = required_utc_field()
    disabled_at: datetime | None = utc_field(nullable=True)
    removed_at: datetime | None = utc_field(nullable=True)


class NoticeAttempt(SQLModel, table=True):
    """One try at delivering a notice: when, how long, what came of it."""

    __tablename__ = "notice_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    started_at: datetime = required_utc_field()
    worker: str = Field(max_length=100)
    duration_ms: float | None = None
    outcome: str = Field(max_length=16)
    error: str | None = None
    provider_id: str | None = Field(default=None, max_length=300)


class Mistake(SQLModel, table=True):
    """A mistake owned up to: what went wrong, the fix, and the step that prevents a repeat."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    promise_id: int | None = Field(default=None, foreign_key="promise.id")
    owner_id: int = Field(foreign_key="member.id", index=True)
    summary: str
    prevention: str
    category: str = Field(default="general", max_length=64)
    severity: str = Field(default=Severity.minor, max_length=16)
    credit_amount: float | None = None
    credit_currency: str | None = Field(default=None, max_length=3)
    credit_method: str | None = Field(default=None, max_length=16)  # drafting/contexts.py
    credit_basis: str | None = Field(default=None, max_length=16)  # drafting/contexts.py
    fixed: bool = True
    repeat_of_id: int | None = Field(default=None, foreign_key="mistake.id")
    prevention_promise_id: int | None = Field(default=None, foreign_key="promise.id")
    created_at: datetime = required_utc_field(index=True)


class Rating(SQLModel, table=True):
    """A client's own view of us, 1 to 5, and what would make it a 5."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    at: datetime = required_utc_field()
    overall: int = Field(ge=1, le=5)
    would_continue: int | None = Field(default=None, ge=1, le=5)
    would_recommend: int | None = Field(default=None, ge=1, le=5)
    to_make_it_5: str | None = None
    recorded_by: str = Field(max_length=200)


class Suggestion(SQLModel, table=True):
    """A promise or a client's request found in a conversation, offered to a person to log.

    Nothing becomes a promise without their yes. `origin_key` names where it was found
    (a Slack message, a mail message's finding) under a unique index, so a redelivered
    event or a re-read mailbox never offers it twice. The sentence is kept only while the
    offer is open: a declined or expired offer keeps the title's fingerprint (so the same
    person is not asked about the same thing again), not the words.
    """

    __table_args__ = (sa.Index("ix_suggestion_member_fingerprint", "member_id", "fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # commitments.FindingKind
    source: str = Field(max_length=16)  # where it was found: Source.slack_watch, email, ...
    origin_key: str = Field(max_length=300, unique=True)
    # Who is asked to confirm: the member who made the commitment, or the owner of the
    # client's request.
    member_id: int = Field(foreign_key="member.id")
    client_id: int | None = Field(default=None, foreign_key="client.id")
    title: str = Field(max_length=500)
    sentence: str | None = None
    due_at: datetime | None = utc_field(nullable=True)
    confidence: float
    fingerprint: str = Field(max_length=64)
    status: str = Field(default=SuggestionStatus.offered, max_length=16, index=True)
    created_at: datetime = required_utc_field(index=True)
    decided_at: datetime | None = utc_field(nullable=True)
    decided_by: str | None = Field(default=None, max_length=200)
    promise_id: int | None = Field(default=None, foreign_key="promise.id")
    # The hash of a single-use link's token (mail confirmations); None once decided.
    token_hash: str | None = Field(default=None, max_length=64, unique=True)


class WatchedChannel(SQLModel, table=True):
    """A Slack channel whose messages are read for promises: opted in by `/promise watch`,
    linked to the client the conversation is with. Unwatched channels are never read."""

    __tablename__ = "watched_channel"

    slack_channel_id: str = Field(max_length=64, primary_key=True)
    client_id: int = Field(foreign_key="client.id")
    watched_by_id: int = Field(foreign_key="member.id")
    created_at: datetime = required_utc_field()


class ServiceToken(SQLModel, table=True):
    """An integration's bearer token, made by an admin: only its hash is kept. It acts as
    that admin (never beyond what they may do now) and only within its scope."""

    __tablename__ = "service_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    scope: str = Field(default=TokenScope.read, max_length=8)
    created_by_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = required_utc_field()
    revoked_at: datetime | None = utc_field(nullable=True)


class IdempotencyKey(SQLModel, table=True):
    """An API POST sent with an Idempotency-Key, claimed before its action runs: a repeat
    within a day (or a duplicate arriving at the same time) gets the first answer instead of
    running the action again. `caller` is whose key it is ("member:7", "token:3")."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("caller", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    caller: str = Field(max_length=32)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    # None while the first request runs; then the answer every repeat gets.
    status_code: int | None = None
    response: str | None = Field(default=None, sa_column=Column(sa.Text(), nullable=True))
    created_at: datetime = required_utc_field()
    expires_at: datetime = required_utc_field(index=True)

class ProcessedMail(SQLModel, table=True):
    """A mail message the inbox has read, by its Message-ID (else a hash of its bytes), so
    no message is read twice: not after a restart, a reconnect, a new UIDVALIDITY, or the
    same message piped in again. Only what happened is kept, never the words."""

    __tablename__ = "processed_mail"

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(max_length=300, unique=True)
    via: str = Field(max_length=16)  # stdin, imap
    outcome: str = Field(max_length=32)  # offered, nothing found, no client, too large, ...
    offers: int = 0
    processed_at: datetime = required_utc_field()


# -- the figures summed ahead (reliability/tallies.py) ------------------------------------

# Everything a tally row is counted by but its number: a range of days is summed from these
# columns alone, everyone's by day first, some owners' or clients' by their ids first.
_TALLY_COLUMNS = ("kind", "code", "lead", "kept", "number")


class Tally(SQLModel, table=True):
    """How many things of one kind one owner's (grouping 0), one client's (grouping 1) or one
    owner's to one client (grouping 2: a team's figures for a client) promises counted on
    one UTC day, with the same final part in the figures: a promise
    made, a renegotiation, a promise first due that day and finished (its outcome `code`,
    the business days' notice the client had and whether the new date was kept), a
    check-in request (answered in time or not). Rebuilt day by day from the rows whenever a
    command changes one (`tallies`)."""

    __table_args__ = (
        sa.Index("ix_tally_days", "grouping", "day", "owner_id", "client_id", *_TALLY_COLUMNS),
        sa.Index("ix_tally_owner_days", "grouping", "owner_id", "day", "client_id",
                 *_TALLY_COLUMNS),
        sa.Index("ix_tally_client_days", "grouping", "client_id", "day", "owner_id",
                 *_TALLY_COLUMNS),
    )

    id: int | None = Field(default=None, primary_key=True)
    grouping: int
    owner_id: int = 0  # 0 in a client's tally
    client_id: int = 0  # 0 in an owner's tally
    day: date
    kind: int
    code: int = 0
    lead: int | None = None
    kept: int = 0
    number: int = 0


class TallyDay(SQLModel, table=True):
    """One UTC day of one kind of tally: how many of its promises are still open (they have
    no final part yet) and the moment from which every counted part holds (the last
    finish, notice or check-in request's answer deadline). A figure as of a moment sums the
    tally of a day only when nothing of the day is open and every part held by then."""

    __tablename__ = "tally_day"

    day: date = Field(primary_key=True)
    kind: int = Field(primary_key=True)
    open: int = 0
    settles_by: datetime | None = utc_field(nullable=True)


class TallyState(SQLModel, table=True):
    """One row once the tally holds every day of the ledger (`reliability recount`): until
    then every figure is counted from the rows."""

    __tablename__ = "tally_state"

    id: int | None = Field(default=None, primary_key=True)
    counted_at: datetime = required_utc_field()
