"""Dashboard pages: the at-risk board, promises, drafts inbox, mistakes, reliability, clients.

Views are thin: read through `queries` in the viewer's scope, or call the service layer
(`notices`, `ratings`) in one transaction, then redirect with a flash message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reliability import metrics, notices, ratings
from reliability.db import read_session
from reliability.deadlines import DeadlineError, resolve_due
from reliability.errors import UserError
from reliability.models import Client, NoticeStatus, PromiseStatus, RiskLevel
from reliability.web import charts, queries
from reliability.web.auth import Viewer, check_form_csrf, ledger_of, page_viewer
from reliability.web.pages import flash, render
from reliability.web.queries import FilterId, RowId
from reliability.web.tokens import calendar_token

router = APIRouter(include_in_schema=False)
WEEKS_SHOWN = 12
RANKING_DAYS = 90


def now_of(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


def _back(request: Request, path: str, message: str, kind: str = "ok") -> Response:
    flash(request, message, kind)
    return RedirectResponse(path, status_code=303)


@router.get("/")
def home(viewer: Viewer = Depends(page_viewer)) -> Response:
    return RedirectResponse("/board", status_code=303)


@router.get("/board", response_class=HTMLResponse)
def board(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        rows = queries.board(session, viewer.scope, now_of(request))
    return render(request, "board.html", viewer, rows=rows, page="board")


@router.get("/promises", response_class=HTMLResponse)
def promise_list(request: Request, status: str = "open", client: FilterId = None,
                 owner: FilterId = None, level: str = "", q: str = "",
                 viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        rows = queries.promise_list(session, viewer.scope, now_of(request),
                                    status=status or None, client_id=client, owner_id=owner,
                                    level=level or None, text=q or None)
        clients = queries.clients(session)
        owners = queries.members_in_scope(session, viewer.scope)
    filters = {"status": status, "client": client, "owner": owner, "level": level, "q": q}
    return render(request, "promises.html", viewer, rows=rows, clients=clients, owners=owners,
                  filters=filters, statuses=[s.value for s in PromiseStatus],
                  levels=[lvl.value for lvl in RiskLevel], page="promises")


@router.get("/promises/{promise_id}", response_class=HTMLResponse)
def promise_page(request: Request, promise_id: RowId,
                 viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        page = queries.promise_page(session, viewer.scope, promise_id, now_of(request))
    return render(request, "promise.html", viewer, p=page, page="promises")


@router.get("/drafts", response_class=HTMLResponse)
def drafts_inbox(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        drafts = queries.notice_rows(session, viewer.scope, statuses=(NoticeStatus.draft,))
        dead = queries.notice_rows(session, viewer.scope, statuses=(NoticeStatus.dead,))
        recent = queries.notice_rows(session, viewer.scope, statuses=(
            NoticeStatus.queued, NoticeStatus.sending, NoticeStatus.retry,
            NoticeStatus.sent))[:20]
    return render(request, "drafts.html", viewer, drafts=drafts, dead=dead, recent=recent,
                  page="drafts")


@router.get("/drafts/{notice_id}", response_class=HTMLResponse)
def draft_page(request: Request, notice_id: RowId,
               viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        row = queries.notice_in_scope(session, viewer.scope, notice_id)
    return render(request, "draft.html", viewer, row=row, page="drafts")


@router.post("/drafts/{notice_id}/edit", dependencies=[Depends(check_form_csrf)])
def draft_edit(request: Request, notice_id: RowId, text: str = Form(""),
               proposed_due: str = Form(""), viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    now = now_of(request)
    try:
        with ledger.transaction() as session:
            row = queries.notice_in_scope(session, viewer.scope, notice_id)
            proposed = None
            if proposed_due.strip():
                proposed = resolve_due(proposed_due, now=now,
                                       calendar=ledger.calendar_for(row.client))
            changed_text = text if text.strip() and text.strip() != row.notice.text else None
            if changed_text is None and proposed is None:
                raise UserError("nothing changed: edit the text or give a new date")
            # A new date re-renders the message; text typed over the old one then wins.
            notices.edit(session, ledger.settings, notice_id, now=now, actor=viewer.actor,
                         text=changed_text, proposed_due_at=proposed)
    except (UserError, DeadlineError) as exc:
        return _back(request, f"/drafts/{notice_id}", str(exc), "error")
    return _back(request, f"/drafts/{notice_id}", "Draft saved. Approve it when it reads right.")


@router.post("/drafts/{notice_id}/approve", dependencies=[Depends(check_form_csrf)])
def draft_approve(request: Request, notice_id: RowId,
                  viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    try:
        with ledger.transaction() as session:
            row = queries.notice_in_scope(session, viewer.scope, notice_id)
            notices.approve(session, notice_id, now=now_of(request), actor=viewer.actor)
    except UserError as exc:
        return _back(request, f"/drafts/{notice_id}", str(exc), "error")
    return _back(request, "/drafts", f"Approved: “{row.notice.subject}” is on its way to "
                                     f"{row.notice.recipient}.")


@router.post("/drafts/{notice_id}/cancel", dependencies=[Depends(check_form_csrf)])
def draft_cancel(request: Request, notice_id: RowId, reason: str = Form(""),
                 viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    try:
        with ledger.transaction() as session:
            row = queries.notice_in_scope(session, viewer.scope, notice_id)
            notices.cancel(session, notice_id, reason=reason.strip() or "cancelled by hand",
                           now=now_of(request), actor=viewer.actor)
    except UserError as exc:
        return _back(request, f"/drafts/{notice_id}", str(exc), "error")
    return _back(request, "/drafts", f"Cancelled: “{row.notice.subject}” will not be sent.")


@router.get("/mistakes", response_class=HTMLResponse)
def mistakes(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        rows = queries.mistake_rows(session, viewer.scope)
    return render(request, "mistakes.html", viewer, rows=rows, page="mistakes")


@router.get("/mistakes/{mistake_id}")
def mistake(mistake_id: RowId, viewer: Viewer = Depends(page_viewer)) -> Response:
    return RedirectResponse(f"/mistakes#mistake-{mistake_id}", status_code=303)


@router.get("/reliability", response_class=HTMLResponse)
def reliability(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    settings = ledger.settings
    now = now_of(request)
    cal = settings.calendar.calendar(viewer.member.timezone, viewer.member.country)
    today = cal.local(now).date()
    monday = today - timedelta(days=today.weekday())
    owners = None if viewer.scope.owner_ids is None else sorted(viewer.scope.owner_ids)
    since = now - timedelta(days=RANKING_DAYS)
    starts = [cal.at(monday - timedelta(weeks=back), datetime.min.time())
              for back in range(WEEKS_SHOWN - 1, -1, -1)]
    with read_session(ledger.engine) as session:
        history = metrics.History(session, settings, start=min(starts[0], since), end=now,
                                  owner_ids=owners)
        weeks = [(f"W{start.isocalendar().week}",
                  history.stats(start=start, end=min(start + timedelta(weeks=1), now))
                  .on_time_rate) for start in starts]
        total = history.stats(start=since)
        per_owner = history.stats_by(by="owner", start=since)
        per_client = history.stats_by(by="client", start=since)
        by_owner = [(m.name, s.on_time_rate, s.due) for m in
                    queries.members_in_scope(session, viewer.scope)
                    if (s := per_owner.get(m.email, metrics.NO_STATS)).due]
        by_client = [(c.name, s.on_time_rate, s.due) for c in queries.clients(session)
                     if (s := per_client.get(c.name, metrics.NO_STATS)).due]
    return render(request, "reliability.html", viewer, page="reliability", total=total,
                  days=RANKING_DAYS,
                  weekly=charts.weekly_line(weeks, label="On-time rate per week"),
                  owners=charts.rate_bars(by_owner, label="On-time rate per owner"),
                  clients=charts.rate_bars(by_client, label="On-time rate per client"))


@router.get("/clients", response_class=HTMLResponse)
def client_list(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    with ledger_of(request).session() as session:
        rows = queries.clients(session)
    return render(request, "clients.html", viewer, clients=rows, page="clients")


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client_page(request: Request, client_id: RowId,
                viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    with ledger.session() as session:
        page = queries.client_page(session, ledger.settings, viewer.scope, client_id,
                                   now_of(request))
    return render(request, "client.html", viewer, c=page, page="clients")


@router.post("/clients/{client_id}/ratings", dependencies=[Depends(check_form_csrf)])
def add_rating(request: Request, client_id: RowId, overall: int = Form(...),
               would_continue: int | None = Form(None), would_recommend: int | None = Form(None),
               to_make_it_5: str = Form(""), viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    with ledger.session() as session:
        client = session.get(Client, client_id)
    if client is None:
        raise queries.NotFound(f"there is no client #{client_id}")
    try:
        ratings.add_rating(ledger, client_name=client.name, overall=overall,
                           would_continue=would_continue, would_recommend=would_recommend,
                           to_make_it_5=to_make_it_5.strip() or None, now=now_of(request),
                           actor=viewer.actor)
    except UserError as exc:
        return _back(request, f"/clients/{client_id}", str(exc), "error")
    return _back(request, f"/clients/{client_id}", f"Rating for {client.name} recorded.")


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    token = calendar_token(ledger, viewer.member.id or 0, now=now_of(request),
                           actor=viewer.actor)
    base = ledger.settings.web.base_url.rstrip("/")
    return render(request, "calendar.html", viewer, page="calendar",
                  own=f"{base}/calendar/{token}.ics",
                  team=f"{base}/calendar/{token}/team.ics" if viewer.sees_a_team else None)


@router.post("/calendar/token", dependencies=[Depends(check_form_csrf)])
def renew_calendar_token(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    calendar_token(ledger_of(request), viewer.member.id or 0, now=now_of(request),
                   actor=viewer.actor, renew=True)
    return _back(request, "/calendar", "New calendar address made; the old one no longer works.")
