"""The webhooks page, for admins: endpoints, their latest deliveries with every attempt,
adding one (its secret shown once, on the answer page, never in a cookie or a URL),
switching one on or off, a new secret, removal. Everything goes through
`reliability.webhooks`, which refuses anyone but an admin."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reliability import webhooks
from reliability.access import Actor
from reliability.errors import UserError
from reliability.web.auth import Viewer, check_form_csrf, ledger_of, page_viewer
from reliability.web.pages import flash, render
from reliability.web.queries import RowId

router = APIRouter(include_in_schema=False)
DELIVERIES_SHOWN = 10


def _now(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


def _page(request: Request, viewer: Viewer, *, status_code: int = 200,
          secret: webhooks.Registered | None = None, error: UserError | None = None,
          form: dict[str, object] | None = None) -> HTMLResponse:
    ledger, actor = ledger_of(request), Actor.of(viewer.member)
    listed = ledger.read(webhooks.endpoints, actor)
    rows = [ledger.read(webhooks.recent_deliveries, actor, row.id, DELIVERIES_SHOWN)
            for row in listed]
    # A page showing a secret must not be kept by the browser or a proxy.
    headers = {"Cache-Control": "no-store"} if secret else None
    return render(request, "webhooks.html", viewer, status_code=status_code, headers=headers,
                  rows=rows, events=webhooks.EVENTS, secret=secret, error=error,
                  form=form or {"url": "", "events": [], "description": ""}, page="webhooks")


@router.get("/webhooks", response_class=HTMLResponse)
def webhook_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    return _page(request, viewer)


@router.post("/webhooks", dependencies=[Depends(check_form_csrf)], response_class=HTMLResponse)
def webhook_add(request: Request, url: str = Form(""), events: list[str] = Form([]),
                description: str = Form(""),
                viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    try:
        added = webhooks.add_endpoint(ledger_of(request), Actor.of(viewer.member), url=url,
                                      events=events, description=description or None,
                                      now=_now(request))
    except UserError as exc:
        return _page(request, viewer, status_code=422, error=exc,
                     form={"url": url, "events": events, "description": description})
    return _page(request, viewer, secret=added)


@router.post("/webhooks/{endpoint_id}/rotate-secret", dependencies=[Depends(check_form_csrf)],
             response_class=HTMLResponse)
def webhook_rotate(request: Request, endpoint_id: RowId,
                   viewer: Viewer = Depends(page_viewer)) -> Response:
    try:
        rotated = webhooks.rotate_secret(ledger_of(request), Actor.of(viewer.member),
                                         endpoint_id, now=_now(request))
    except UserError as exc:
        return _back(request, str(exc), "error")
    return _page(request, viewer, secret=rotated)


@router.post("/webhooks/{endpoint_id}/{action}", dependencies=[Depends(check_form_csrf)])
def webhook_switch(request: Request, endpoint_id: RowId, action: str,
                   viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger, actor, now = ledger_of(request), Actor.of(viewer.member), _now(request)
    try:
        if action == "remove":
            removed = webhooks.remove_endpoint(ledger, actor, endpoint_id, now=now)
            return _back(request, f"Removed {removed.url}: nothing more is sent to it.")
        if action not in ("enable", "disable"):
            return _back(request, f"There is no action {action!r} on a webhook.", "error")
        view = webhooks.set_enabled(ledger, actor, endpoint_id, action == "enable", now=now)
    except UserError as exc:
        return _back(request, str(exc), "error")
    state = "on: events are sent to it again" if view.enabled else "off: nothing is sent to it"
    return _back(request, f"{view.url} is {state}.")


def _back(request: Request, message: str, kind: str = "ok") -> Response:
    flash(request, message, kind)
    return RedirectResponse("/webhooks", status_code=303)
