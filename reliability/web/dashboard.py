"""Dashboard pages: the at-risk board, promises, drafts inbox, mistakes, reliability, clients.

Views are thin: read through `queries` in the viewer's scope, or call the service layer
(`notices`, `ratings`) in one transaction, then redirect with a flash message.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reliability import drafts, ratings
from reliability.access import Actor
from reliability.deadlines import DeadlineError
from reliability.errors import UserError
from reliability.members import calendar_token
from reliability.models import NoticeStatus, PromiseStatus, RiskLevel
from reliability.web import charts, queries
from reliability.web.auth import Viewer, check_form_csrf, ledger_of, page_viewer
from reliability.web.pages import flash, render
from reliability.web.queries import After, FilterId, RowId

router = APIRouter(include_in_schema=False)
WEEKS_SHOWN = 12
RANKING_DAYS = 90
RECENT_SHOWN = 20


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


def next_page(request: Request, after: str | None, param: str = "after") -> str | None:
    """This page's address with the cursor of the page after it in `param`."""
    if after is None:
        return None
    url = request.url.include_query_params(**{param: after})
    return f"{url.path}?{url.query}"


@router.get("/board", response_class=HTMLResponse)
def board(request: Request, after: After = None,
          viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    found = ledger_of(request).read(queries.board, viewer.scope, now_of(request), after=after)
    return render(request, "board.html", viewer, rows=found.rows, counts=found.counts,
                  next=next_page(request, found.after), page="board")


@router.get("/promises", response_class=HTMLResponse)
def promise_list(request: Request, status: str = "open", client: FilterId = None,
                 owner: FilterId = None, level: str = "", q: str = "", after: After = None,
                 viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    found = ledger.read(queries.promise_list, viewer.scope, now_of(request),
                        status=status or None, client_id=client, owner_id=owner,
                        level=level or None, text=q or None, after=after)
    clients = ledger.read(queries.clients)
    owners = ledger.read(queries.members_in_scope, viewer.scope)
    filters = {"status": status, "client": client, "owner": owner, "level": level, "q": q}
    return render(request, "promises.html", viewer, rows=found.items, clients=clients,
                  owners=owners, filters=filters, statuses=[s.value for s in PromiseStatus],
                  levels=[lvl.value for lvl in RiskLevel],
                  next=next_page(request, found.after), page="promises")


@router.get("/promises/{promise_id}", response_class=HTMLResponse)
def promise_page(request: Request, promise_id: RowId, after: After = None,
                 viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    page = ledger_of(request).read(queries.promise_page, viewer.scope, promise_id,
                                   now_of(request), after=after)
    return render(request, "promise.html", viewer, p=page, page="promises",
                  next=next_page(request, page.after))


@router.get("/drafts", response_class=HTMLResponse)
def drafts_inbox(request: Request, after: After = None, dead_after: After = None,
                 viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    waiting = ledger.read(queries.notice_rows, viewer.scope, statuses=(NoticeStatus.draft,),
                          after=after)
    dead = ledger.read(queries.notice_rows, viewer.scope, statuses=(NoticeStatus.dead,),
                       after=dead_after)
    recent = ledger.read(queries.notice_rows, viewer.scope, statuses=(
        NoticeStatus.queued, NoticeStatus.sending, NoticeStatus.retry, NoticeStatus.sent),
        limit=RECENT_SHOWN)
    return render(request, "drafts.html", viewer, drafts=waiting.items, dead=dead.items,
                  recent=recent.items, next=next_page(request, waiting.after),
                  dead_next=next_page(request, dead.after, "dead_after"), page="drafts")


@router.get("/drafts/{notice_id}", response_class=HTMLResponse)
def draft_page(request: Request, notice_id: RowId,
               viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    row = ledger_of(request).read(queries.notice_in_scope, viewer.scope, notice_id)
    return render(request, "draft.html", viewer, row=row, page="drafts")


@router.post("/drafts/{notice_id}/edit", dependencies=[Depends(check_form_csrf)])
def draft_edit(request: Request, notice_id: RowId, text: str = Form(""),
               proposed_due: str = Form(""), viewer: Viewer = Depends(page_viewer)) -> Response:
    """A new date re-renders the message; text typed over the old one then wins. An empty
    text box keeps the text."""
    try:
        drafts.edit(ledger_of(request), Actor.of(viewer.member), notice_id,
                    now=now_of(request), text=text if text.strip() else None, due=proposed_due)
    except (UserError, DeadlineError) as exc:
        return _back(request, f"/drafts/{notice_id}", str(exc), "error")
    return _back(request, f"/drafts/{notice_id}", "Draft saved. Approve it when it reads right.")


@router.post("/drafts/{notice_id}/approve", dependencies=[Depends(check_form_csrf)])
def draft_approve(request: Request, notice_id: RowId,
                  viewer: Viewer = Depends(page_viewer)) -> Response:
    try:
        view = drafts.approve(ledger_of(request), Actor.of(viewer.member), notice_id,
                              now=now_of(request))
    except UserError as exc:
        return _back(request, f"/drafts/{notice_id}", str(exc), "error")
    return _back(request, "/drafts", f"Approved: “{view.notice.subject}” is on its way to "
                                     f"{view.notice.recipient}.")


@router.post("/drafts/{notice_id}/cancel", dependencies=[Depends(check_form_csrf)])
def draft_cancel(request: Request, notice_id: RowId, reason: str = Form(""),
                 viewer: Viewer = Depends(page_viewer)) -> Response:
    try:
        view = drafts.cancel(ledger_of(request), Actor.of(viewer.member), notice_id,
                             reason=reason.strip() or "cancelled by hand", now=now_of(request))
    except UserError as exc:
        return _back(request, f"/drafts/{notice_id}", str(exc), "error")
    return _back(request, "/drafts", f"Cancelled: “{view.notice.subject}” will not be sent.")


@router.get("/mistakes", response_class=HTMLResponse)
def mistakes(request: Request, client: FilterId = None, after: After = None,
             viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    found = ledger_of(request).read(queries.mistake_rows, viewer.scope, client_id=client,
                                    after=after)
    return render(request, "mistakes.html", viewer, rows=found.items,
                  next=next_page(request, found.after), page="mistakes")


@router.get("/mistakes/{mistake_id}")
def mistake(request: Request, mistake_id: RowId,
            viewer: Viewer = Depends(page_viewer)) -> Response:
    """The page of mistakes that starts at this one."""
    start = ledger_of(request).read(queries.mistake_cursor, viewer.scope, mistake_id)
    where = f"/mistakes?after={start}" if start else "/mistakes"
    return RedirectResponse(f"{where}#mistake-{mistake_id}", status_code=303)


@router.get("/reliability", response_class=HTMLResponse)
def reliability(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    settings = ledger.settings
    cal = settings.calendar.calendar(viewer.member.timezone, viewer.member.country)
    figures = ledger.read(queries.reliability_figures, settings, viewer.scope, cal,
                    now_of(request), weeks=WEEKS_SHOWN, days=RANKING_DAYS)
    return render(request, "reliability.html", viewer, page="reliability",
                  total=figures.total, days=RANKING_DAYS,
                  weekly=charts.weekly_line(figures.weeks, label="On-time rate per week"),
                  owners=charts.rate_bars(figures.by_owner, label="On-time rate per owner"),
                  clients=charts.rate_bars(figures.by_client, label="On-time rate per client"))


@router.get("/clients", response_class=HTMLResponse)
def client_list(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    rows = ledger_of(request).read(queries.clients)
    return render(request, "clients.html", viewer, clients=rows, page="clients")


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client_page(request: Request, client_id: RowId, after: After = None,
                ratings_after: After = None, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    ledger = ledger_of(request)
    page = ledger.read(queries.client_page, ledger.settings, viewer.scope, client_id,
                       now_of(request), after=after, ratings_after=ratings_after)
    return render(request, "client.html", viewer, c=page, page="clients",
                  next=next_page(request, page.promises.after),
                  ratings_next=next_page(request, page.ratings.after, "ratings_after"))


@router.post("/clients/{client_id}/ratings", dependencies=[Depends(check_form_csrf)])
def add_rating(request: Request, client_id: RowId, overall: int = Form(...),
               would_continue: int | None = Form(None), would_recommend: int | None = Form(None),
               to_make_it_5: str = Form(""), viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    client = ledger.read(queries.client_named, client_id)
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
