"""Signing in and out: a magic link by email, or a personal token from the CLI."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from reliability.channels import DeliveryError, OutgoingMessage
from reliability.channels.email import EmailChannel
from reliability.models import Member
from reliability.web.auth import check_form_csrf, ledger_of, safe_next, sign_in
from reliability.web.pages import flash, render
from reliability.web.tokens import MAGIC_LINK_SECONDS, MagicLinks, member_by_token

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def magic_links(request: Request) -> MagicLinks:
    links = request.app.state.magic_links
    assert isinstance(links, MagicLinks)
    return links


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
    with ledger_of(request).session() as session:
        member = member_by_token(session, token.strip())
    if member is None:
        flash(request, "That token is not valid. Ask for a new one with "
                       "`reliability member token EMAIL`.", "error")
        return RedirectResponse(f"/sign-in?next={safe_next(next)}", status_code=303)
    sign_in(request, member)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/sign-in/email", dependencies=[Depends(check_form_csrf)])
async def send_magic_link(request: Request, email: str = Form(""), next: str = Form("/")) -> (
        Response):
    ledger = ledger_of(request)
    with ledger.session() as session:
        member = session.exec(select(Member).where(Member.email == email.strip().lower())).first()
    if member is not None:
        link = (f"{ledger.settings.web.base_url.rstrip('/')}/sign-in/link/"
                f"{magic_links(request).make(member)}?next={safe_next(next)}")
        minutes = MAGIC_LINK_SECONDS // 60
        message = OutgoingMessage(
            idempotency_key=f"sign-in:{member.id}:{_now(request).isoformat()}",
            recipient=member.email, recipient_name=member.name,
            subject="Your sign-in link",
            text=f"Hi {member.name},\n\nSign in to {ledger.settings.smtp.from_name}: {link}\n\n"
                 f"The link works for {minutes} minutes. If you did not ask for it, ignore "
                 "this message.\n")
        try:
            await EmailChannel(ledger.settings.smtp).send(message)
        except DeliveryError as exc:
            log.warning("sign-in link to %s not sent: %s", member.email, exc.reason)
            flash(request, "The sign-in email could not be sent just now; try again in a "
                           "minute or sign in with a personal token.", "error")
            return RedirectResponse("/sign-in", status_code=303)
    # The same answer either way, so the form does not reveal who is a member.
    flash(request, f"If {email.strip()} belongs to a member, a sign-in link is on its way.")
    return RedirectResponse("/sign-in", status_code=303)


@router.get("/sign-in/link/{token}")
def follow_magic_link(request: Request, token: str, next: str = "/") -> Response:
    with ledger_of(request).session() as session:
        member = magic_links(request).member(session, token)
    if member is None:
        flash(request, "That sign-in link has expired or was already replaced; "
                       "ask for a new one.", "error")
        return RedirectResponse("/sign-in", status_code=303)
    sign_in(request, member)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/sign-out", dependencies=[Depends(check_form_csrf)])
def sign_out(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)
