"""The JSON API under /api: what the dashboard shows, and every action, for scripts and
other tools (docs/api.md).

Authenticate with `Authorization: Bearer <token>`: a member's personal token (from
`reliability member token`) or a service token an admin made (read or write). A browser
session works too, and then changes need the session's X-CSRF-Token header. Every POST
takes an `Idempotency-Key` header. Every error is `{"error": {"code": ..., "message": ...,
"field": ..., "hint": ...}}`: 400 for a control character (NUL and the like) in the request,
a page size outside 1 to 500 or a cursor no list gave, 401 without sign-in, 403 for what is
not yours to do, 404 for what is not yours to see, 409 when the change is not possible in
the current state (or an Idempotency-Key is reused), 422 for an input at fault.

Lists come a page at a time: `{"items": [...], "next": "/api/...&after=..." or null}`.
`limit` sets the page size (default 50, at most 500); follow `next` as it is for the page
after. Pages are cut by the list's sort key (keyset), not by offset, so a page costs the
same deep in a list, and rows added meanwhile move no row between pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from reliability import drafts, metrics
from reliability.access import Actor
from reliability.compose import member_locale
from reliability.digest import digest_for, to_json
from reliability.drafting.reasons import reason_text
from reliability.errors import UserError
from reliability.limits import TEXT, ledger_year
from reliability.paging import DEFAULT_LIMIT
from reliability.records import iso
from reliability.web import queries
from reliability.web.auth import Viewer, api_viewer, ledger_of
from reliability.web.idempotent import Once, writing
from reliability.web.problems import ERRORS
from reliability.web.queries import After, FilterId, Limit, RowId

router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
MAX_RANGE = timedelta(days=800)
Item = TypeVar("Item")

PromiseStatusName = Literal["open", "done", "cancelled"]
LevelName = Literal["on_track", "watch", "at_risk", "overdue"]
NoticeStatusName = Literal["draft", "approved", "queued", "sending", "retry", "sent", "dead",
                           "cancelled"]


class Told(BaseModel):
    at: str
    what: str


class ReasonOut(BaseModel):
    code: str = Field(description="what kind of reason, e.g. little_history or crowded")
    facts: dict[str, Any] = Field(description="the facts the reason states; moments in ISO 8601")
    text: str = Field(description="the reason in words, in your language and timezone")


class PromiseOut(BaseModel):
    id: int
    title: str
    client: str
    client_id: int
    owner: str
    owner_name: str
    status: str
    level: str = Field(description="on_track, watch, at_risk or overdue")
    p_late: float | None
    reasons: list[ReasonOut]
    made_at: str
    due_at: str = Field(description="ISO 8601 in the client's timezone")
    original_due_at: str
    done_at: str | None
    internal: bool
    notice_by: str | None = None
    pending_draft_id: int | None = None
    told: list[Told] = Field(default_factory=list, description="what the client has been told")


class NoticeOut(BaseModel):
    id: int
    kind: str
    status: str
    promise_id: int | None
    client: str | None
    channel: str
    recipient: str
    locale: str
    subject: str
    text: str
    approver_note: str | None
    proposed_due_at: str | None
    created_at: str
    approved_by: str | None
    sent_at: str | None
    last_error: str | None


class TimelineOut(BaseModel):
    at: str
    kind: str
    title: str
    detail: str | None
    reasons: list[ReasonOut] = Field(default_factory=list, description="an assessment's")


class PromiseDetailOut(BaseModel):
    promise: PromiseOut
    timeline: list[TimelineOut]
    notices: list[NoticeOut]
    next: str | None = Field(description="the timeline's next page (its next 50 events and "
                                         "what happened between them), or null on the last")


class PageOut(BaseModel, Generic[Item]):
    items: list[Item]
    next: str | None = Field(description="the next page (same filters and size), or null "
                                         "on the last")


class BoardOut(PageOut[PromiseOut]):
    counts: dict[str, int] = Field(description="promises on the whole board per group: "
                                               "overdue, at_risk, watch, unassessed")


class EventOut(BaseModel):
    id: int
    at: str
    kind: str
    actor: str
    payload: dict[str, Any]


class RatingOut(BaseModel):
    id: int
    at: str
    overall: int
    would_continue: int | None
    would_recommend: int | None
    to_make_it_5: str | None


class MistakeOut(BaseModel):
    id: int
    created_at: str
    client: str
    client_id: int
    owner: str
    summary: str
    category: str
    severity: str
    prevention: str
    fixed: bool
    repeat_of_id: int | None
    prevention_promise_id: int | None


class CancelIn(BaseModel):
    reason: str = Field("cancelled through the API", max_length=TEXT["reason"].maximum)


class MetricsOut(BaseModel):
    start: str
    end: str
    stats: metrics.Stats  # FastAPI documents the dataclass as it is


@dataclass(frozen=True)
class _Reader:
    """Who reads the answer: reasons are worded in their language and timezone."""

    locale: str
    timezone: str
    now: datetime

    @classmethod
    def of(cls, request: Request, viewer: Viewer) -> _Reader:
        return cls(member_locale(ledger_of(request).settings, viewer.member),
                   viewer.member.timezone, _now(request))

    def reasons(self, reasons: list[dict[str, Any]] | None) -> list[ReasonOut]:
        return [ReasonOut(code=str(reason.get("code")),
                          facts={k: v for k, v in reason.items() if k != "code"},
                          text=reason_text(reason, self.locale, timezone=self.timezone,
                                           now=self.now))
                for reason in reasons or [] if isinstance(reason, dict)]


def _promise_out(row: queries.PromiseRow, reader: _Reader) -> PromiseOut:
    p, tz = row.promise, row.client.timezone
    return PromiseOut(
        id=p.id or 0, title=p.title, client=row.client.name, client_id=row.client.id or 0,
        owner=row.owner.email, owner_name=row.owner.name, status=p.status, level=row.level,
        p_late=p.p_late, reasons=reader.reasons(p.risk_reasons), made_at=iso(p.made_at, tz) or "",
        due_at=iso(p.due_at, tz) or "", original_due_at=iso(p.original_due_at, tz) or "",
        done_at=iso(p.done_at, tz), internal=p.internal, notice_by=iso(row.notice_by, tz),
        pending_draft_id=row.draft.id if row.draft else None,
        told=[Told(at=iso(t.at, tz) or "", what=t.what) for t in row.told])


def _notice_out(row: queries.NoticeRow) -> NoticeOut:
    n = row.notice
    tz = row.client.timezone if row.client else None
    return NoticeOut(
        id=n.id or 0, kind=n.kind, status=n.status, promise_id=n.promise_id,
        client=row.client.name if row.client else None, channel=n.channel,
        recipient=n.recipient, locale=n.locale, subject=n.subject, text=n.text,
        approver_note=n.approver_note, proposed_due_at=iso(n.proposed_due_at, tz),
        created_at=iso(n.created_at, tz) or "", approved_by=n.approved_by,
        sent_at=iso(n.sent_at, tz), last_error=n.last_error)


def _now(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


def _moment(value: datetime, name: str) -> datetime:
    """A date the API was given, aware (UTC when it has no offset), in a year the ledger can
    reason about."""
    try:
        ledger_year(value.year, name, name)
    except UserError as refused:
        raise HTTPException(400, str(refused)) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _next(request: Request, after: str | None) -> str | None:
    """The same request with the next page's cursor, as a path the API answers."""
    if after is None:
        return None
    url = request.url.include_query_params(after=after)
    return f"{url.path}?{url.query}"


@router.get("/promises", response_model=PageOut[PromiseOut])
def list_promises(request: Request, status: PromiseStatusName | None = None,
                  client_id: FilterId = None, owner_id: FilterId = None,
                  level: LevelName | None = None,
                  q: str | None = Query(None, max_length=TEXT["search text"].maximum),
                  limit: Limit = DEFAULT_LIMIT, after: After = None,
                  viewer: Viewer = Depends(api_viewer)) -> PageOut[PromiseOut]:
    """Promises you can see, soonest due first, a page at a time."""
    found = ledger_of(request).read(
        queries.promise_list, viewer.scope, _now(request), status=status,
        client_id=client_id, owner_id=owner_id, level=level, text=q, after=after, limit=limit)
    return PageOut(items=[_promise_out(row, _Reader.of(request, viewer)) for row in found.items],
                   next=_next(request, found.after))


@router.get("/clients/{client_id}/promises", response_model=PageOut[PromiseOut])
def client_promises(request: Request, client_id: RowId, limit: Limit = DEFAULT_LIMIT,
                    after: After = None,
                    viewer: Viewer = Depends(api_viewer)) -> PageOut[PromiseOut]:
    """A client's promises you can see, soonest due first, a page at a time."""
    ledger = ledger_of(request)
    ledger.read(queries.client_named, client_id)
    found = ledger.read(queries.promise_list, viewer.scope, _now(request),
                        client_id=client_id, after=after, limit=limit)
    return PageOut(items=[_promise_out(row, _Reader.of(request, viewer)) for row in found.items],
                   next=_next(request, found.after))


@router.get("/clients/{client_id}/ratings", response_model=PageOut[RatingOut])
def client_ratings(request: Request, client_id: RowId, limit: Limit = DEFAULT_LIMIT,
                   after: After = None,
                   viewer: Viewer = Depends(api_viewer)) -> PageOut[RatingOut]:
    """A client's ratings, newest first, a page at a time."""
    found = ledger_of(request).read(queries.rating_rows, client_id, after=after, limit=limit)
    return PageOut(items=[RatingOut(id=r.id or 0, at=iso(r.at) or "", overall=r.overall,
                                    would_continue=r.would_continue,
                                    would_recommend=r.would_recommend,
                                    to_make_it_5=r.to_make_it_5) for r in found.items],
                   next=_next(request, found.after))


@router.get("/mistakes", response_model=PageOut[MistakeOut])
def list_mistakes(request: Request, client_id: FilterId = None, limit: Limit = DEFAULT_LIMIT,
                  after: After = None,
                  viewer: Viewer = Depends(api_viewer)) -> PageOut[MistakeOut]:
    """Mistakes you can see, newest first, a page at a time."""
    found = ledger_of(request).read(queries.mistake_rows, viewer.scope, client_id=client_id,
                                    after=after, limit=limit)
    return PageOut(items=[MistakeOut(
        id=m.id or 0, created_at=iso(m.created_at, row.client.timezone) or "",
        client=row.client.name, client_id=row.client.id or 0, owner=row.owner.email,
        summary=m.summary, category=m.category, severity=m.severity, prevention=m.prevention,
        fixed=m.fixed, repeat_of_id=m.repeat_of_id,
        prevention_promise_id=m.prevention_promise_id)
        for row in found.items for m in (row.mistake,)], next=_next(request, found.after))


@router.get("/promises/{promise_id}", response_model=PromiseDetailOut)
def promise_detail(request: Request, promise_id: RowId, after: After = None,
                   viewer: Viewer = Depends(api_viewer)) -> PromiseDetailOut:
    """One promise with a page of its timeline: events, check-ins, assessments and messages."""
    page = ledger_of(request).read(queries.promise_page, viewer.scope, promise_id,
                                   _now(request), after=after)
    tz = page.row.client.timezone
    reader = _Reader.of(request, viewer)
    return PromiseDetailOut(
        promise=_promise_out(page.row, reader),
        timeline=[TimelineOut(at=iso(e.at, tz) or "", kind=e.kind, title=e.title,
                              detail=e.detail, reasons=reader.reasons(e.reasons))
                  for e in page.timeline],
        notices=[_notice_out(queries.NoticeRow(n, page.row.client)) for n in page.notices],
        next=_next(request, page.after))


@router.get("/promises/{promise_id}/events", response_model=PageOut[EventOut])
def promise_events(request: Request, promise_id: RowId, limit: Limit = DEFAULT_LIMIT,
                   after: After = None,
                   viewer: Viewer = Depends(api_viewer)) -> PageOut[EventOut]:
    """What happened to one promise, oldest first, a page at a time."""
    found = ledger_of(request).read(queries.promise_events, viewer.scope, promise_id,
                                    after=after, limit=limit)
    return PageOut(items=[EventOut(id=e.id or 0, at=iso(e.at) or "", kind=e.kind,
                                   actor=e.actor, payload=e.payload or {})
                          for e in found.items], next=_next(request, found.after))


@router.get("/at-risk", response_model=BoardOut)
def at_risk(request: Request, limit: Limit = DEFAULT_LIMIT, after: After = None,
            viewer: Viewer = Depends(api_viewer)) -> BoardOut:
    """The at-risk board: overdue, at risk and watched promises, worst first, a page at a
    time, with how many the whole board holds in each group."""
    found = ledger_of(request).read(queries.board, viewer.scope, _now(request), after=after,
                                    limit=limit)
    return BoardOut(items=[_promise_out(row, _Reader.of(request, viewer)) for row in found.rows],
                    next=_next(request, found.after), counts=found.counts)


@router.get("/drafts", response_model=PageOut[NoticeOut])
def list_drafts(request: Request, status: NoticeStatusName = "draft",
                limit: Limit = DEFAULT_LIMIT, after: After = None,
                viewer: Viewer = Depends(api_viewer)) -> PageOut[NoticeOut]:
    """Messages in one state (drafts awaiting approval by default), newest first, a page
    at a time."""
    found = ledger_of(request).read(queries.notice_rows, viewer.scope, statuses=(status,),
                                    after=after, limit=limit)
    return PageOut(items=[_notice_out(row) for row in found.items],
                   next=_next(request, found.after))


@router.post("/drafts/{notice_id}/approve", response_model=NoticeOut)
def approve_draft(request: Request, notice_id: RowId,
                  once: Once = Depends(writing)) -> Response:
    """Approve a draft: it joins the outbox and is sent."""

    def run() -> NoticeOut:
        view = drafts.approve(ledger_of(request), once.viewer.acting, notice_id,
                              now=_now(request))
        return _notice_out(queries.NoticeRow(view.notice, view.client))

    return once.run(run)


@router.post("/drafts/{notice_id}/cancel", response_model=NoticeOut)
def cancel_draft(request: Request, notice_id: RowId, body: CancelIn | None = None,
                 once: Once = Depends(writing)) -> Response:
    """Call off a message that has not been sent."""

    def run() -> NoticeOut:
        reason = (body.reason.strip() if body else "") or "cancelled through the API"
        view = drafts.cancel(ledger_of(request), once.viewer.acting, notice_id,
                             reason=reason, now=_now(request))
        return _notice_out(queries.NoticeRow(view.notice, view.client))

    return once.run(run)


@router.get("/digest", response_model=dict[str, Any])
def digest(request: Request,
           manager: str | None = Query(None, max_length=TEXT["email address"].maximum),
           viewer: Viewer = Depends(api_viewer)) -> dict[str, Any]:
    """A manager's digest as it stands now (yours by default; admins may ask for anyone's)."""
    context = digest_for(ledger_of(request), Actor.of(viewer.member), manager,
                         now=_now(request))
    document = to_json(dict(context))
    assert isinstance(document, dict)
    return document


@router.get("/metrics", response_model=MetricsOut)
def reliability_metrics(request: Request, start: datetime | None = None,
                        end: datetime | None = None, owner_id: FilterId = None,
                        client_id: FilterId = None,
                        viewer: Viewer = Depends(api_viewer)) -> MetricsOut:
    """Reliability figures over a range (default: the last 30 days), in your scope."""
    now = _now(request)
    end = _moment(end, "end") if end else now
    start = _moment(start, "start") if start else end - timedelta(days=30)
    if not start < end or end - start > MAX_RANGE:
        raise HTTPException(400, "give start before end, at most 800 days apart")
    if owner_id is not None and not viewer.scope.covers(owner_id):
        raise HTTPException(404, f"there is no member #{owner_id} you can see")
    ledger = ledger_of(request)
    scope = viewer.scope.owner_ids
    owners = [owner_id] if owner_id is not None else None if scope is None else sorted(scope)
    stats = ledger.read(metrics.stats, ledger.settings, start=start, end=end,
                  owner_ids=owners, client_ids=[client_id] if client_id is not None else None)
    return MetricsOut(start=start.isoformat(), end=end.isoformat(),
                      stats=stats)

