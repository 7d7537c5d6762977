"""The JSON API's writes: every action the CLI and Slack have, through the same service
functions, permissions and words.

Each endpoint parses its body, calls one service (which checks the actor and writes its rows
and one event in one transaction) and presents the result. Every POST takes an
`Idempotency-Key` (reliability.web.idempotent); every error is one shape
(reliability.web.problems).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from reliability import capture, drafts, ratings, service_tokens
from reliability.access import Forbidden, NotFound
from reliability.calendar import BusinessCalendar, CalendarError
from reliability.deadlines import DeadlineError, resolve_due
from reliability.errors import UserError
from reliability.limits import TEXT
from reliability.mistakes import Credit, log_mistake
from reliability.models import Client, Member, Source
from reliability.records import iso, mistake_record
from reliability.risk import CaptureForecast
from reliability.web import queries
from reliability.web.api import (
    NoticeOut,
    PromiseOut,
    ReasonOut,
    _notice_out,
    _promise_out,
    _Reader,
)
from reliability.web.auth import Viewer, api_viewer, api_writer, ledger_of
from reliability.web.idempotent import Once, reading, writing
from reliability.web.problems import ERRORS
from reliability.web.queries import RowId

router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)

LocaleName = Literal["en", "sv", "zh"]
ChannelName = Literal["email", "slack"]
AddressName = Literal["ni", "du"]
RoleName = Literal["member", "manager", "admin"]
CheckInStatusName = Literal["on_track", "at_risk", "blocked", "done"]


def _text(name: str, **extra: Any) -> Any:
    """A text field bounded as the service bounds it (docs/limits.md)."""
    return Field(max_length=TEXT[name].maximum, **extra)


# -- models -----------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForecastOut(BaseModel):
    """The forecast at capture: how likely the promise is to be kept, why, and the day the
    owner will likely be done (80% of similar promises were)."""

    p_late: float = Field(examples=[0.42])
    chance: str = Field(examples=["Likely late"])
    reason: ReasonOut = Field(description="the one that matters most, worded for the reader")
    likely_done_by: str = Field(description="ISO 8601 in the client's timezone")
    suggested_due_at: str | None = Field(
        description="the likely day, offered when it is later than the date asked")
    evidence: str = Field(description="whose record it rests on: owner, team or prior")


class ParseIn(Strict):
    text: str = _text("promise text", description="what was promised, by when, in en/sv/zh",
                      examples=["Q3 report for Acme by Friday"])
    client: str | None = _text("client name", default=None,
                               description="the client, if the text does not name it")
    due: str | None = _text("deadline text", default=None,
                            description="when, if the text does not say: a phrase or ISO 8601")
    owner: str | None = _text("email address", default=None,
                              description="whose record the forecast reads (default: yours)")


class ParseOut(BaseModel):
    title: str = Field(examples=["Q3 report"])
    client: str = Field(examples=["Acme"])
    due_at: str = Field(description="ISO 8601 with the client's offset",
                        examples=["2026-11-20T17:00:00-05:00"])
    forecast: ForecastOut
    suggested_due_at: str | None = Field(
        description="the later date `use_suggested_date` would promise instead")


class PromiseIn(Strict):
    """Either `text` (one line, as in Slack's /promise) or `title` with `client` and `due`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Q3 report for Acme by Friday", "use_suggested_date": True},
        {"title": "Q3 report", "client": "Acme", "due": "2026-11-20T17:00:00-05:00",
         "owner": "alice@example.com"}]})

    text: str | None = _text("promise text", default=None,
                             examples=["Q3 report for Acme by Friday"])
    title: str | None = _text("promise title", default=None)
    client: str | None = _text("client name", default=None)
    due: str | None = _text("deadline text", default=None,
                            description="a phrase (\"by Friday\", \"senast fredag\", "
                                        "\"周五前\") or ISO 8601")
    owner: str | None = _text("email address", default=None,
                              description="the owner's email (default: you)")
    use_suggested_date: bool = Field(
        False, description="promise the day the forecast says the owner will likely be done, "
                           "when that is later than the date asked")


class PromiseCreated(BaseModel):
    promise: PromiseOut
    forecast: ForecastOut = Field(description="the forecast at capture, for the date asked")
    asked_due_at: str | None = Field(
        description="the date first asked, when the suggested date was promised instead")


class CheckInIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"status": "at_risk", "progress": 60, "note": "Waiting on the ad account data.",
         "waiting_for": "the ad account export",
         "client_reason": "the campaign figures need one more day of checking"}]})

    status: CheckInStatusName
    progress: int | None = Field(None, ge=0, le=100, description="percent done")
    note: str | None = _text("check-in note", default=None,
                             description="for the team only: shown to whoever approves a "
                                         "delay draft, never sent to the client")
    waiting_for: str | None = _text(
        "waiting for", default=None,
        description="client-facing: what the client still has to send; a delay letter nobody "
                    "has edited asks them for it")
    client_reason: str | None = _text(
        "reason for the client", default=None,
        description="client-facing: what the client may be told about the slip, the reason "
                    "a delay letter gives")


class CheckInOut(BaseModel):
    id: int
    promise_id: int
    at: str
    status: str
    progress: int | None
    note: str | None
    waiting_for: str | None
    client_reason: str | None
    promise: PromiseOut


class CancelPromiseIn(Strict):
    reason: str = _text("reason", examples=["the client dropped the campaign"])


class MoveIn(Strict):
    due: str = _text("deadline text", description="the new due date: a phrase or ISO 8601",
                     examples=["next Tuesday 5pm"])
    reason: str = _text("reason", examples=["the ad account data arrived late"])
    client_told: bool = Field(False, description="the client already knows")


class RequestIn(Strict):
    request: str = _text("request summary", description="what the client asked for",
                         examples=["a breakdown of Q3 ad spend by channel"])
    client: str = _text("client name", examples=["Acme"])
    reply_by: str = _text("deadline text", description="when they will hear back",
                          examples=["tomorrow 3pm"])
    owner: str | None = _text("email address", default=None,
                              description="who answers (default: you)")


class RequestOut(BaseModel):
    promise: PromiseOut
    draft_id: int | None = Field(description="the receipt to the client, awaiting approval")


class CreditIn(Strict):
    amount: str = Field(max_length=32, examples=["500"], description="digits, e.g. 500 or 12.50")
    currency: str = Field(max_length=8, examples=["USD"])
    method: Literal["credit_note", "refund", "reissued_invoice"] | None = None
    basis: Literal["overcharge", "goodwill"] | None = None


class MistakeIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"client": "Acme", "summary": "The October invoice double-counted ad spend",
         "prevention": "A second person checks every invoice before it goes",
         "category": "invoicing", "credit": {"amount": "500", "currency": "USD",
                                              "method": "credit_note", "basis": "overcharge"},
         "fixed": True}]})

    client: str = _text("client name")
    summary: str = _text("mistake summary")
    prevention: str = _text("prevention step",
                            description="what changes so it does not happen again")
    owner: str | None = _text("email address", default=None,
                              description="who owns it (default: the promise's owner, else "
                                          "you)")
    promise_id: int | None = Field(None, ge=1, le=2_147_483_647)
    category: str = _text("category", default="general")
    severity: Literal["minor", "major"] = "minor"
    credit: CreditIn | None = None
    fixed: bool = Field(False, description="already corrected (the letter says so only then)")
    fix_due: str | None = _text("deadline text", default=None,
                                description="not fixed yet: when it will be")


class MistakeOut(BaseModel):
    id: int
    client: str
    owner: str
    promise_id: int | None
    summary: str
    prevention: str
    category: str
    severity: str
    credit: str | None
    fixed: bool
    repeat: bool
    prevention_promise_id: int | None
    created_at: str
    draft_id: int | None = Field(description="the remediation message, awaiting approval")
    escalation_id: int | None = Field(description="the manager's escalation, for a repeat")


class ClientIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Globex", "email": "hank@globex.example", "contact_name": "Hank Scorpio",
         "locale": "sv", "timezone": "Europe/Stockholm", "country": "SE"}]})

    name: str = _text("client name")
    email: str = _text("email address", description="where client messages go")
    contact_name: str | None = _text("contact name", default=None)
    greeting: str | None = _text("greeting", default=None,
                                 description='how letters greet them, e.g. "Dr Reed"')
    locale: LocaleName = "en"
    address: AddressName = Field("ni", description="how a Swedish letter addresses them")
    timezone: str | None = _text("timezone", default=None, examples=["America/New_York"])
    country: str | None = _text("country", default=None, description="ISO country code")
    channel: ChannelName = "email"
    slack_channel: str | None = _text("Slack id", default=None)
    auto_send: bool = False
    confirm_promises: bool = False


class ClientPatch(Strict):
    """Only the fields sent change; `null` clears an optional one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"greeting": "Dr Reed", "locale": "en"}]})

    name: str | None = _text("client name", default=None)
    email: str | None = _text("email address", default=None)
    contact_name: str | None = _text("contact name", default=None)
    greeting: str | None = _text("greeting", default=None)
    locale: LocaleName | None = None
    address: AddressName | None = None
    timezone: str | None = _text("timezone", default=None)
    country: str | None = _text("country", default=None)
    channel: ChannelName | None = None
    slack_channel: str | None = _text("Slack id", default=None)
    auto_send: bool | None = None
    confirm_promises: bool | None = None


class ClientOut(BaseModel):
    id: int
    name: str
    contact_name: str | None
    greeting: str | None
    email: str
    slack_channel: str | None
    locale: str
    address: str
    timezone: str
    country: str | None
    channel: str
    auto_send: bool
    confirm_promises: bool


class RatingIn(Strict):
    overall: int = Field(ge=1, le=5)
    would_continue: int | None = Field(None, ge=1, le=5)
    would_recommend: int | None = Field(None, ge=1, le=5)
    to_make_it_5: str | None = _text("rating comment", default=None)


class RatingOut(BaseModel):
    id: int
    client: str
    at: str
    overall: int
    would_continue: int | None
    would_recommend: int | None
    to_make_it_5: str | None
    recorded_by: str


class MemberIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"email": "dave@example.com", "name": "Dave", "manager": "bob@example.com",
         "timezone": "America/New_York", "role": "member"}]})

    email: str = _text("email address")
    name: str = _text("member name")
    manager: str | None = _text("email address", default=None, description="their manager")
    timezone: str | None = _text("timezone", default=None)
    country: str | None = _text("country", default=None)
    slack_user_id: str | None = _text("Slack id", default=None)
    role: RoleName = "member"


class MemberPatch(Strict):
    """Only the fields sent change; `"manager": null` leaves them without a manager."""

    name: str | None = _text("member name", default=None)
    role: RoleName | None = None
    manager: str | None = _text("email address", default=None)
    timezone: str | None = _text("timezone", default=None)
    country: str | None = _text("country", default=None)
    locale: LocaleName | None = None
    digest_channel: ChannelName | None = None


class MemberOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    manager: str | None
    timezone: str
    country: str | None
    locale: str | None
    slack_user_id: str | None
    digest_channel: str
    removed: bool


class DraftPatch(Strict):
    text: str | None = _text("message text", default=None)
    due: str | None = _text("deadline text", default=None,
                            description="a new proposed date (delay notices)")


class TokenIn(Strict):
    name: str = _text("token name", examples=["CRM sync"])
    scope: Literal["read", "write"] = "read"


class TokenOut(BaseModel):
    id: int
    name: str
    scope: str
    acts_as: str = Field(description="the admin the token acts as")
    created_at: str
    revoked_at: str | None


class TokenCreated(TokenOut):
    token: str | None = Field(description="the secret, shown only this once: a copy of the "
                                          "request (same Idempotency-Key) answers null")


# -- helpers ----------------------------------------------------------------------------


def _now(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


@contextmanager
def _dates(field: str) -> Iterator[None]:
    """A phrase the deadline reader cannot read is bad input for `field`, not a failure."""
    try:
        yield
    except (DeadlineError, CalendarError) as exc:
        raise UserError(str(exc), field=field,
                        hint='e.g. "by Friday", "next Tuesday 5pm" or '
                             "2026-11-27T17:00:00-05:00") from None


def _resolve(phrase: str, calendar: BusinessCalendar, now: datetime, field: str) -> datetime:
    with _dates(field):
        return resolve_due(phrase, now=now, calendar=calendar)


def _row(request: Request, promise_id: int, viewer: Viewer) -> queries.PromiseRow:
    """The promise as the API lists it, in the viewer's scope (a promise they just logged is
    theirs or their team's: `access.owner_named`)."""
    return ledger_of(request).read(queries.promise_page, viewer.scope, promise_id,
                                   _now(request)).row


def _promise(request: Request, promise_id: int, viewer: Viewer) -> PromiseOut:
    return _promise_out(_row(request, promise_id, viewer), _Reader.of(request, viewer))


def _forecast(request: Request, viewer: Viewer, made: CaptureForecast,
              timezone: str) -> ForecastOut:
    [reason] = _Reader.of(request, viewer).reasons([made.reason])
    return ForecastOut(p_late=round(made.p_late, 3), chance=made.chance, reason=reason,
                       likely_done_by=iso(made.likely_done_by, timezone) or "",
                       suggested_due_at=iso(made.suggested_due_at, timezone),
                       evidence=str(made.evidence))


def _owner(viewer: Viewer, owner: str | None) -> str:
    """The owner named, else the caller; a service token is nobody's, so it names one."""
    if owner:
        return owner
    if viewer.service_token is not None:
        raise UserError("a service token acts for no one in particular", field="owner",
                        hint="name the owner's email")
    return viewer.member.email


def _client_out(client: Client) -> ClientOut:
    return ClientOut(id=client.id or 0, name=client.name, contact_name=client.contact_name,
                     greeting=client.greeting, email=client.email,
                     slack_channel=client.slack_channel, locale=client.locale,
                     address=client.address,
                     timezone=client.timezone, country=client.country, channel=client.channel,
                     auto_send=client.auto_send, confirm_promises=client.confirm_promises)


def _member_out(member: Member, boss: Member | None) -> MemberOut:
    return MemberOut(id=member.id or 0, email=member.email, name=member.name, role=member.role,
                     manager=boss.email if boss else None, timezone=member.timezone,
                     country=member.country, locale=member.locale,
                     slack_user_id=member.slack_user_id, digest_channel=member.digest_channel,
                     removed=member.removed_at is not None)


def _token_out(listed: service_tokens.TokenListing) -> TokenOut:
    row = listed.row
    return TokenOut(id=row.id or 0, name=row.name, scope=row.scope, acts_as=listed.creator.email,
                    created_at=iso(row.created_at) or "", revoked_at=iso(row.revoked_at))


# Fields that always hold a value: `null` for one of these is refused, not stored.
CLIENT_REQUIRED = frozenset({"name", "email", "locale", "address", "timezone", "channel",
                             "auto_send", "confirm_promises"})
MEMBER_REQUIRED = frozenset({"name", "role", "timezone", "digest_channel"})


def _required(changes: dict[str, Any], required: frozenset[str], what: str) -> None:
    for name in sorted(changes):
        if changes[name] is None and name in required:
            raise UserError(f"a {what}'s {name} cannot be empty", field=name,
                            hint="leave the field out to keep it as it is")


def _person(viewer: Viewer) -> Viewer:
    if viewer.service_token is not None:
        raise Forbidden("service tokens are managed by a person, not by another token",
                        field="Authorization", hint="use an admin's personal token or session")
    return viewer


# -- promises ---------------------------------------------------------------------------


@router.post("/promises/parse", response_model=ParseOut)
def parse_promise(request: Request, body: ParseIn, once: Once = Depends(reading)) -> Response:
    """What a line would be logged as (title, client, due date, forecast, suggested date),
    without storing anything."""

    def run() -> ParseOut:
        ledger, now = ledger_of(request), _now(request)
        with _dates("due" if body.due else "text"):
            title, client_name, due_at = capture.understand(ledger, body.text,
                                                            client=body.client, due=body.due,
                                                            now=now)
        owner = body.owner or (None if once.viewer.service_token else once.viewer.member.email)
        made = capture.forecast(ledger, client_name=client_name, owner_email=owner,
                                due_at=due_at, now=now, actor=once.viewer.acting)
        client = ledger.client_named(client_name)
        return ParseOut(title=title, client=client.name,
                        due_at=iso(due_at, client.timezone) or "",
                        forecast=_forecast(request, once.viewer, made, client.timezone),
                        suggested_due_at=iso(made.suggested_due_at, client.timezone))

    return once.run(run)


@router.post("/promises", response_model=PromiseCreated, status_code=201)
def log_promise(request: Request, body: PromiseIn, once: Once = Depends(writing)) -> Response:
    """Log a promise: one line in `text`, or `title`, `client` and `due`, for yourself or (a
    manager) anyone below you, or (an admin) anyone: `access.owner_named`, as everywhere."""

    def run() -> PromiseCreated:
        ledger, now, viewer = ledger_of(request), _now(request), once.viewer
        if (body.text is None) == (body.title is None):
            raise UserError("give either text or title", field="text",
                            hint='e.g. {"text": "Q3 report for Acme by Friday"}, or title, '
                                 "client and due")
        if body.title is not None and not (body.client and body.due):
            raise UserError("with a title, say the client and the due date",
                            field="client" if not body.client else "due",
                            hint='e.g. "client": "Acme", "due": "Friday 5pm"')
        owner = _owner(viewer, body.owner)
        line = body.text if body.text is not None else body.title or ""
        with _dates("due" if body.due else "text"):
            title, client_name, due_at = capture.understand(ledger, line, client=body.client,
                                                            due=body.due, now=now)
        suggested = (capture.forecast(ledger, client_name=client_name, owner_email=owner,
                                      due_at=due_at, now=now,
                                      actor=viewer.acting).suggested_due_at
                     if body.use_suggested_date else None)
        view, made = capture.log_promise(
            ledger, title=title, client_name=client_name, owner_email=owner,
            due_at=suggested or due_at, asked_due_at=due_at if suggested else None, now=now,
            actor=viewer.acting, source=Source.api, raw_text=body.text)
        tz = view.client.timezone
        return PromiseCreated(promise=_promise(request, view.promise.id or 0, viewer),
                              forecast=_forecast(request, viewer, made, tz),
                              asked_due_at=iso(due_at, tz) if suggested else None)

    return once.run(run, 201)


@router.post("/promises/{promise_id}/checkins", response_model=CheckInOut, status_code=201)
def check_in(request: Request, promise_id: RowId, body: CheckInIn,
             once: Once = Depends(writing)) -> Response:
    """The owner's word on a promise (its owner, their managers or an admin); "done" also
    completes it, "on_track" calls off pending delay drafts."""

    def run() -> CheckInOut:
        viewer = once.viewer
        checkin = ledger_of(request).check_in(
            promise_id, status=body.status, progress=body.progress, note=body.note,
            waiting_for=body.waiting_for, client_reason=body.client_reason,
            now=_now(request), actor=viewer.acting,
            member_email=None if viewer.service_token else viewer.member.email)
        row = _row(request, promise_id, viewer)
        return CheckInOut(id=checkin.id or 0, promise_id=promise_id,
                          at=iso(checkin.at, row.client.timezone) or "", status=checkin.status,
                          progress=checkin.progress, note=checkin.note,
                          waiting_for=checkin.waiting_for,
                          client_reason=checkin.client_reason,
                          promise=_promise_out(row, _Reader.of(request, viewer)))

    return once.run(run, 201)


@router.post("/promises/{promise_id}/done", response_model=PromiseOut)
def mark_done(request: Request, promise_id: RowId, once: Once = Depends(writing)) -> Response:
    """Mark a promise delivered; its pending drafts are called off."""

    def run() -> PromiseOut:
        ledger_of(request).complete(promise_id, now=_now(request), actor=once.viewer.acting)
        return _promise(request, promise_id, once.viewer)

    return once.run(run)


@router.post("/promises/{promise_id}/cancel", response_model=PromiseOut)
def cancel_promise(request: Request, promise_id: RowId, body: CancelPromiseIn,
                   once: Once = Depends(writing)) -> Response:
    """Cancel a promise, with the reason."""

    def run() -> PromiseOut:
        ledger_of(request).cancel(promise_id, reason=body.reason, now=_now(request),
                                  actor=once.viewer.acting)
        return _promise(request, promise_id, once.viewer)

    return once.run(run)


@router.post("/promises/{promise_id}/move", response_model=PromiseOut)
def move_promise(request: Request, promise_id: RowId, body: MoveIn,
                 once: Once = Depends(writing)) -> Response:
    """Renegotiate the due date (the original is kept); say whether the client was told."""

    def run() -> PromiseOut:
        ledger, now = ledger_of(request), _now(request)
        view = ledger.promise_view(promise_id, once.viewer.acting)
        due_at = _resolve(body.due, ledger.calendar_for(view.client), now, "due")
        ledger.move(promise_id, due_at=due_at, reason=body.reason, client_told=body.client_told,
                    now=now, actor=once.viewer.acting)
        return _promise(request, promise_id, once.viewer)

    return once.run(run)


@router.post("/requests", response_model=RequestOut, status_code=201)
def acknowledge_request(request: Request, body: RequestIn,
                        once: Once = Depends(writing)) -> Response:
    """A client asked for something: a promise to reply by a date, and a receipt draft (for
    whom, as for logging a promise)."""

    def run() -> RequestOut:
        ledger, now = ledger_of(request), _now(request)
        calendar = ledger.client_calendar(body.client)
        view, notice = ledger.acknowledge_request(
            summary=body.request, client_name=body.client,
            owner_email=_owner(once.viewer, body.owner),
            reply_by=_resolve(body.reply_by, calendar, now, "reply_by"), now=now,
            actor=once.viewer.acting, source=Source.api)
        return RequestOut(promise=_promise(request, view.promise.id or 0, once.viewer),
                          draft_id=notice.id if notice else None)

    return once.run(run, 201)


# -- mistakes ---------------------------------------------------------------------------


@router.post("/mistakes", response_model=MistakeOut, status_code=201)
def add_mistake(request: Request, body: MistakeIn, once: Once = Depends(writing)) -> Response:
    """Own a mistake: the remediation draft to the client, and the prevention step as an
    internal commitment. Yours, or (for a manager) a report's."""

    def run() -> MistakeOut:
        ledger, now, viewer = ledger_of(request), _now(request), once.viewer
        owner = body.owner or (None if body.promise_id or viewer.service_token
                               else viewer.member.email)
        fix_due_at = (_resolve(body.fix_due, ledger.client_calendar(body.client), now,
                               "fix_due") if body.fix_due else None)
        credit = (Credit.parse(body.credit.amount, body.credit.currency, body.credit.method,
                               body.credit.basis) if body.credit else None)
        logged = log_mistake(
            ledger, client_name=body.client, summary=body.summary, prevention=body.prevention,
            owner_email=owner, promise_id=body.promise_id, category=body.category,
            severity=body.severity, credit=credit, fixed=body.fixed, fix_due_at=fix_due_at,
            now=now, actor=viewer.acting)
        return MistakeOut(**mistake_record(logged.mistake, logged.client, logged.owner),
                          draft_id=logged.draft_id, escalation_id=logged.escalation_id)

    return once.run(run, 201)


# -- clients ----------------------------------------------------------------------------


@router.post("/clients", response_model=ClientOut, status_code=201)
def add_client(request: Request, body: ClientIn, once: Once = Depends(writing)) -> Response:
    """Add a client (anyone on the team, as in Slack)."""

    def run() -> ClientOut:
        client = ledger_of(request).add_client(**body.model_dump(), now=_now(request),
                                               actor=once.viewer.actor)
        return _client_out(client)

    return once.run(run, 201)


@router.patch("/clients/{client_id}", response_model=ClientOut)
def update_client(request: Request, client_id: RowId, body: ClientPatch,
                  viewer: Viewer = Depends(api_writer)) -> ClientOut:
    """Change a client's details (managers and admins); only the fields sent change, and
    `null` clears an optional one."""
    changes = body.model_dump(exclude_unset=True)
    _required(changes, CLIENT_REQUIRED, "client")
    client, _ = ledger_of(request).edit_client(
        client_id, now=_now(request), actor=viewer.acting,
        **{name: "" if value is None else value for name, value in changes.items()})
    return _client_out(client)


@router.post("/clients/{client_id}/ratings", response_model=RatingOut, status_code=201)
def rate_client(request: Request, client_id: RowId, body: RatingIn,
                once: Once = Depends(writing)) -> Response:
    """Record the client's own 1-5 rating of us, and what would make it a 5."""

    def run() -> RatingOut:
        ledger = ledger_of(request)
        client = ledger.read(queries.client_named, client_id)
        rating = ratings.add_rating(ledger, client_name=client.name, overall=body.overall,
                                    would_continue=body.would_continue,
                                    would_recommend=body.would_recommend,
                                    to_make_it_5=body.to_make_it_5, now=_now(request),
                                    actor=once.viewer.actor)
        return RatingOut(**ratings.rating_record(rating, client))

    return once.run(run, 201)


# -- members (admins) -------------------------------------------------------------------


@router.post("/members", response_model=MemberOut, status_code=201)
def add_member(request: Request, body: MemberIn, once: Once = Depends(writing)) -> Response:
    """Add a member (admins only)."""

    def run() -> MemberOut:
        ledger = ledger_of(request)
        member = ledger.add_member(
            email=body.email, name=body.name, manager_email=body.manager,
            timezone=body.timezone, country=body.country, slack_user_id=body.slack_user_id,
            role=body.role, now=_now(request), actor=once.viewer.acting)
        return _member_out(*_member_and_boss(ledger.members(), member.id or 0))

    return once.run(run, 201)


@router.patch("/members/{member_id}", response_model=MemberOut)
def update_member(request: Request, member_id: RowId, body: MemberPatch,
                  viewer: Viewer = Depends(api_writer)) -> MemberOut:
    """Change a member's role, manager, language, timezone... (admins only), all or
    nothing; a new role ends their sessions, so they sign in again to use it."""
    changes = body.model_dump(exclude_unset=True)
    _required(changes, MEMBER_REQUIRED, "member")
    ledger = ledger_of(request)
    found, _ = _member_and_boss(ledger.members(), member_id)
    if "manager" in changes:
        changes["manager_email"] = changes.pop("manager") or ""
    member, _ = ledger.edit_member(
        found.email, now=_now(request), actor=viewer.acting,
        **{name: "" if value is None else value for name, value in changes.items()})
    return _member_out(*_member_and_boss(ledger.members(), member.id or 0))


@router.post("/members/{member_id}/remove", response_model=MemberOut)
def remove_member(request: Request, member_id: RowId,
                  once: Once = Depends(writing)) -> Response:
    """Take a member off the team, keeping their history (admins only; not while they own
    open promises)."""

    def run() -> MemberOut:
        ledger = ledger_of(request)
        found, _ = _member_and_boss(ledger.members(), member_id)
        member = ledger.remove_member(found.email, now=_now(request), actor=once.viewer.acting)
        return _member_out(member, None)

    return once.run(run)


def _member_and_boss(members: list[tuple[Member, Member | None]],
                     member_id: int) -> tuple[Member, Member | None]:
    for member, boss in members:
        if member.id == member_id:
            return member, boss
    raise NotFound(f"there is no member #{member_id}", field="member",
                   hint="the list of members shows their ids")


# -- drafts -----------------------------------------------------------------------------


@router.patch("/drafts/{notice_id}", response_model=NoticeOut)
def edit_draft(request: Request, notice_id: RowId, body: DraftPatch,
               viewer: Viewer = Depends(api_writer)) -> NoticeOut:
    """Edit a draft's text and/or proposed date before approval; the earlier wording is
    kept in its history."""
    with _dates("due"):
        view = drafts.edit(ledger_of(request), viewer.acting, notice_id, text=body.text,
                           due=body.due, now=_now(request))
    return _notice_out(queries.NoticeRow(view.notice, view.client))


# -- service tokens (admins) ------------------------------------------------------------


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(request: Request, body: TokenIn, once: Once = Depends(writing)) -> Response:
    """Make a service token acting as you (an admin), within its scope; the secret is in
    this answer only."""

    def run() -> TokenCreated:
        issued = service_tokens.create(ledger_of(request), _person(once.viewer).acting,
                                       name=body.name, scope=body.scope, now=_now(request))
        listed = _token_out(service_tokens.TokenListing(issued.row, issued.creator))
        return TokenCreated(**listed.model_dump(), token=issued.token)

    return once.run(run, 201, withheld=frozenset({"token"}))


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(request: Request, viewer: Viewer = Depends(api_viewer)) -> list[TokenOut]:
    """Every service token, revoked ones too, newest first (admins only)."""
    return [_token_out(listed)
            for listed in service_tokens.listing(ledger_of(request), _person(viewer).acting)]


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut)
def revoke_token(request: Request, token_id: RowId, once: Once = Depends(writing)) -> Response:
    """Revoke a service token: it stops working at once (admins only)."""

    def run() -> TokenOut:
        return _token_out(service_tokens.revoke(ledger_of(request), _person(once.viewer).acting,
                                                token_id, now=_now(request)))

    return once.run(run)

