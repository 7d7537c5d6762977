"""The page a mailed suggestion's Log / Not a promise links open.

The link's token is the whole credential: 256 random bits, stored only as a hash, good for
one answer and dropped with the offer after `suggestions.OFFER_LIFETIME`. It answers for
the member it was sent to, so the page asks for no sign-in (the person is often on a phone,
away from a session); it logs nothing else and shows nothing but the offer. Opening it
changes nothing, since mail scanners follow links: only pressing a button (a POST with the
session's CSRF token) logs or declines.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from reliability import suggestions
from reliability.access import NotFound
from reliability.commitments import FindingKind
from reliability.deadlines import echo
from reliability.errors import UserError
from reliability.web.auth import check_form_csrf, ledger_of
from reliability.web.pages import render

router = APIRouter(include_in_schema=False)
# The address holds the secret: no other site may see it in a Referer header.
NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
USED = ("This link was already used or has expired: each link works once, and offers "
        "are dropped after 14 days. Log the promise with /promise in Slack or the web's "
        "Log a promise if it is still one.")


def _now(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


@router.get("/confirm/{token}", response_class=HTMLResponse)
def show(request: Request, token: str, answer: str = "log") -> HTMLResponse:
    """What Log would store; nothing changes."""
    ledger = ledger_of(request)
    try:
        offer, _ = suggestions.offer_by_token(ledger, token, _now(request))
    except NotFound:
        return _page(request, "This link does not work", USED, "error", 410)
    if offer.due_at is not None:
        due = echo(offer.due_at, suggestions.calendar_of(ledger, offer))
    else:
        due = "no date named: the end of the next business day"
    effect = ("Log stores this promise with its due date."
              if offer.kind == FindingKind.commitment else
              "Log stores a promise to reply and drafts the acknowledgement to the client "
              "for your review; nothing is sent before you approve it.")
    return render(request, "confirm.html", None, headers=NO_REFERRER, offer=offer,
                  token=token, due=due, effect=effect, answer=answer,
                  title="Log this promise?" if offer.kind == FindingKind.commitment
                  else "Acknowledge this request?")


@router.post("/confirm/{token}/log", dependencies=[Depends(check_form_csrf)],
             response_class=HTMLResponse)
def log_it(request: Request, token: str) -> HTMLResponse:
    ledger = ledger_of(request)
    try:
        offer, actor = suggestions.offer_by_token(ledger, token, _now(request))
        logged = suggestions.accept(ledger, offer.id, actor=actor, now=_now(request))
    except NotFound:
        return _page(request, "This link does not work", USED, "error", 410)
    except UserError as exc:
        return _page(request, "Not logged", str(exc), "error", 409)
    promise = logged.view.promise
    message = f"Logged: “{promise.title}” for {logged.view.client.name}, promise #{promise.id}."
    if logged.acknowledgement is not None:
        message += (f" The acknowledgement to {logged.view.client.name} waits for your "
                    f"review as draft #{logged.acknowledgement.id}.")
    return _page(request, "Logged", message, "ok", 200)


@router.post("/confirm/{token}/decline", dependencies=[Depends(check_form_csrf)],
             response_class=HTMLResponse)
def decline(request: Request, token: str) -> HTMLResponse:
    ledger = ledger_of(request)
    try:
        offer, actor = suggestions.offer_by_token(ledger, token, _now(request))
        suggestions.decline(ledger, offer.id, actor=actor, now=_now(request))
    except NotFound:
        return _page(request, "This link does not work", USED, "error", 410)
    except UserError as exc:
        return _page(request, "Not changed", str(exc), "error", 409)
    return _page(request, "Not a promise", f"Noted: “{offer.title}” is not a promise, and "
                 "you will not be asked about it again.", "ok", 200)


def _page(request: Request, title: str, message: str, kind: str,
          status: int) -> HTMLResponse:
    return render(request, "confirm.html", None, status_code=status, headers=NO_REFERRER,
                  title=title, message=message, kind=kind, offer=None)
