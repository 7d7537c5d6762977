"""Who is asking: the signed session cookie or a personal bearer token, and CSRF checks.

Every route depends on `page_viewer` or `api_viewer`; the scope they carry (from
`reliability.access.scope_of`) is the only place that decides whose promises one sees.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request

from reliability import service_tokens, signins
from reliability.access import Actor, Scope
from reliability.ledger import Ledger
from reliability.models import Member
from reliability.signins import new_session_key

SESSION_MEMBER = "member_id"
SESSION_GENERATION = "generation"
SESSION_KEY = "key"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_NEXT = 2000


@dataclass(frozen=True)
class Viewer:
    """Who is asking. A service token's viewer is the admin who made it (`member`, `scope`),
    with `service_token` naming the token; `can_write` is False for a read-only token."""

    member: Member
    scope: Scope
    by_bearer: bool = False
    service_token: str | None = None
    token_id: int | None = None
    can_write: bool = True

    @property
    def actor(self) -> str:
        return f"token:{self.service_token}" if self.service_token else self.member.email

    @property
    def acting(self) -> Actor:
        """The actor changes are checked against and recorded as."""
        return Actor(self.actor, self.member.id)

    @property
    def caller(self) -> str:
        """Whose idempotency keys these are: one member's (any of their credentials), or
        one service token's."""
        return f"token:{self.token_id}" if self.token_id else f"member:{self.member.id}"

    @property
    def sees_a_team(self) -> bool:
        return self.scope.owner_ids is None or len(self.scope.owner_ids) > 1


class SignInRequired(Exception):
    """A page was asked for without a session; the app answers with the sign-in page."""


def ledger_of(request: Request) -> Ledger:
    ledger = request.app.state.ledger
    assert isinstance(ledger, Ledger)
    return ledger


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use (an anonymous session gets one too)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[SESSION_CSRF] = token
    return token


def sign_in(request: Request, member: Member) -> None:
    """A fresh session for the member: the old CSRF token is not carried over."""
    request.session.clear()
    request.session[SESSION_MEMBER] = member.id
    request.session[SESSION_GENERATION] = member.session_generation
    request.session[SESSION_KEY] = new_session_key()
    csrf_token(request)


def _viewer(request: Request) -> Viewer | None:
    ledger = ledger_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        token = credentials.strip()
        if token.startswith(service_tokens.SERVICE_PREFIX):
            service = service_tokens.signed_in(ledger, token)
            return Viewer(service.member, service.scope, by_bearer=True,
                          service_token=service.token.name, token_id=service.token.id,
                          can_write=service.can_write) if service else None
        found = signins.by_token(ledger, token)
        return Viewer(found.member, found.scope, by_bearer=True) if found else None
    member_id = request.session.get(SESSION_MEMBER)
    if not isinstance(member_id, int):
        return None
    found = signins.by_session(ledger, member_id,
                               generation=request.session.get(SESSION_GENERATION),
                               key=request.session.get(SESSION_KEY))
    return Viewer(found.member, found.scope) if found else None


def page_viewer(request: Request) -> Viewer:
    viewer = _viewer(request)
    if viewer is None:
        raise SignInRequired
    return viewer


def api_viewer(request: Request) -> Viewer:
    viewer = _viewer(request)
    if viewer is None:
        raise HTTPException(401, "sign in first: send Authorization: Bearer <personal token>",
                            headers={"WWW-Authenticate": "Bearer"})
    return viewer


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(target, safe='')}"


async def check_form_csrf(request: Request) -> None:
    """Every form post carries the session's token; a forged cross-site post does not."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(SESSION_CSRF)
    if not (isinstance(sent, str) and isinstance(expected, str)
            and secrets.compare_digest(sent, expected)):
        raise HTTPException(403, "this form has expired or did not come from this site; "
                                 "reload the page and try again")


def check_api_csrf(request: Request, viewer: Viewer = Depends(api_viewer)) -> Viewer:
    """A bearer token cannot be sent by another site; a cookie can, so it needs the header."""
    if viewer.by_bearer:
        return viewer
    expected = request.session.get(SESSION_CSRF)
    sent = request.headers.get(CSRF_HEADER, "")
    if not (isinstance(expected, str) and secrets.compare_digest(sent, expected)):
        raise HTTPException(403, f"send the session's CSRF token in the {CSRF_HEADER} header")
    return viewer


def api_writer(request: Request, viewer: Viewer = Depends(check_api_csrf)) -> Viewer:
    """Someone who may change things: a person, or a service token with the write scope."""
    if not viewer.can_write:
        raise HTTPException(403, f"the service token {viewer.service_token!r} may only read: "
                                 "an admin makes a token with the write scope for changes")
    return viewer


def safe_next(target: Any) -> str:
    """Only a path on this site: a sign-in must not bounce someone elsewhere. Anything else,
    including `//host`, `/\\host` and control characters browsers would skip, means home."""
    if (not isinstance(target, str) or len(target) > MAX_NEXT or not target.startswith("/")
            or target.startswith("//")
            or any(c == "\\" or c.isspace() or not c.isprintable() for c in target)):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target
