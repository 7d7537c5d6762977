"""Signing in and out: a single-use link by email, or a personal token from the CLI.

Asking for a link answers the same for members and strangers, at once: the link is made
and sent after the answer, so neither a slow or failing mail server nor the lookup shows.
Opening a link shows a button; only pressing it spends the link, so mail scanners that
follow links cannot use it up.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reliability.channels import DeliveryError, OutgoingMessage
from reliability.channels.email import EmailChannel
from reliability.errors import UserError
from reliability.ledger import Ledger, normalise_email
from reliability.members import token_hash
from reliability.signins import (
    LINK_LIFETIME,
    LinkRefused,
    admit_link_request,
    by_token,
    check_link,
    end_session,
    issue_link,
    use_link,
)
from reliability.web.auth import (
    SESSION_KEY,
    SESSION_MEMBER,
    Viewer,
    check_form_csrf,
    ledger_of,
    page_viewer,
    safe_next,
    sign_in,
)
from reliability.web.pages import flash, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
# The link page's address holds the secret: no other site may see it in a Referer header.
NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
REFUSALS = {
    LinkRefused.unknown: (404, "That sign-in link is not valid. Check that the whole link "
                               "was copied, or ask for a new one."),
    LinkRefused.used: (410, "That sign-in link has already been used (each link works "
                            "once), or you signed out since it was sent."),
    LinkRefused.expired: (410, f"That sign-in link has expired: links work for "
                               f"{LINK_LIFETIME.seconds // 60} minutes."),
    LinkRefused.revoked: (410, "That sign-in link no longer works: a new personal token "
                               "was issued or you signed out everywhere since it was sent."),
}


def _now(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "sign_in.html", None, next=safe_next(next))


@router.post("/sign-in/token", dependencies=[Depends(check_form_csrf)])
def sign_in_with_token(request: Request, token: str = Form(""), next: str = Form("/")) -> (
        Response):
    found = by_token(ledger_of(request), token.strip())
    if found is None:
        flash(request, "That token is not valid. Ask for a new one with "
                       "`reliability member token EMAIL`.", "error")
        return RedirectResponse(f"/sign-in?next={quote(safe_next(next), safe='')}",
                                status_code=303)
    sign_in(request, found.member)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/sign-in/email", dependencies=[Depends(check_form_csrf)])
def ask_for_link(request: Request, tasks: BackgroundTasks, email: str = Form(""),
                 next: str = Form("/")) -> Response:
    ledger, now = ledger_of(request), _now(request)
    try:
        address = normalise_email(email)
    except UserError:
        flash(request, "Enter the email address you are known by here, like "
                       "you@example.com.", "error")
        return RedirectResponse("/sign-in", status_code=303)
    client_ip = (request.client.host if request.client else "unknown")[:64]
    retry_at = admit_link_request(ledger, email=address, ip=client_ip, now=now)
    if retry_at is not None:
        minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))
        return render(request, "sign_in_refused.html", None, status_code=429,
                      title="Too many sign-in links",
                      message=f"Too many sign-in links were asked for just now. Try again in "
                              f"{minutes} minute{'s' if minutes != 1 else ''} (after "
                              f"{retry_at:%H:%M} UTC), or sign in with a personal token.",
                      headers={"Retry-After": str(minutes * 60)})
    tasks.add_task(_send_link, ledger, address, safe_next(next), now)
    # The same answer either way, so the form does not reveal who is a member.
    flash(request, f"If {address} belongs to a member, a sign-in link is on its way. "
                   f"It works once, for {LINK_LIFETIME.seconds // 60} minutes.")
    return RedirectResponse("/sign-in", status_code=303)


async def _send_link(ledger: Ledger, email: str, next_path: str, now: datetime) -> None:
    """Made and sent after the answer; a failure is logged for the operator, not shown."""
    link = issue_link(ledger, email=email, next_path=next_path, now=now)
    if link is None:
        return
    url = f"{ledger.settings.web.base_url.rstrip('/')}/sign-in/link/{link.token}"
    message = OutgoingMessage(
        idempotency_key=f"sign-in:{token_hash(link.token)[:24]}",  # one Message-ID a link
        recipient=link.email, recipient_name=link.name, subject="Your sign-in link",
        text=f"Hi {link.name},\n\nSign in to {ledger.settings.smtp.from_name}: {url}\n\n"
             f"The link works once, for {LINK_LIFETIME.seconds // 60} minutes. If you did "
             "not ask for it, ignore this message.\n")
    try:
        await EmailChannel(ledger.settings.smtp).send(message)
    except DeliveryError as exc:
        log.warning("sign-in link to %s not sent: %s", link.email, exc.reason)


def _refused(request: Request, reason: LinkRefused) -> HTMLResponse:
    status, message = REFUSALS[reason]
    return render(request, "sign_in_refused.html", None, status_code=status,
                  title="This sign-in link does not work", message=message,
                  headers=NO_REFERRER)


@router.get("/sign-in/link/{token}", response_class=HTMLResponse)
def open_link(request: Request, token: str) -> HTMLResponse:
    refused = check_link(ledger_of(request), token, _now(request))
    if refused is not None:
        return _refused(request, refused)
    return render(request, "sign_in_link.html", None, token=token, headers=NO_REFERRER)


@router.post("/sign-in/link/{token}", dependencies=[Depends(check_form_csrf)])
def follow_link(request: Request, token: str) -> Response:
    used = use_link(ledger_of(request), token, _now(request))
    if isinstance(used, LinkRefused):
        return _refused(request, used)
    member, next_path = used
    sign_in(request, member)
    return RedirectResponse(safe_next(next_path), status_code=303)


@router.post("/sign-out", dependencies=[Depends(check_form_csrf)])
def sign_out(request: Request) -> Response:
    """This browser's session ends for good: a copy of its cookie no longer works."""
    member_id, key = request.session.get(SESSION_MEMBER), request.session.get(SESSION_KEY)
    if isinstance(member_id, int) and isinstance(key, str):
        end_session(ledger_of(request), member_id=member_id, key=key, now=_now(request))
    request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)


@router.post("/sign-out/everywhere", dependencies=[Depends(check_form_csrf)])
def sign_out_everywhere(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger_of(request).sign_out_everywhere(viewer.member.id or 0, now=_now(request),
                                           actor=viewer.actor)
    request.session.clear()
    flash(request, "You are signed out on every device, and unused sign-in links no longer "
                   "work.")
    return RedirectResponse("/sign-in", status_code=303)

