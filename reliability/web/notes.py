"""Paste notes: the commitments and requests in meeting notes, each logged or dropped.

`capture.extract` reads the notes, as `reliability promise extract` does; nothing is stored
until a person logs a finding (a commitment through `capture.log_promise`, a request
through `Ledger.acknowledge_request`, which drafts the receipt), each with
`source=notes`. The notes themselves are never stored: what is still to decide travels
in the review page's address as a token signed with the session's CSRF secret (so a link
made in another session does not open), compressed, and redacted from access logs like
every `token` parameter. Only the sentence of a finding that is logged is kept, as the
promise's text.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session, col, select

from reliability import capture
from reliability.commitments import Finding, FindingKind
from reliability.deadlines import DeadlineError, echo, resolve_due
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Client, Member, Source
from reliability.web.auth import Viewer, check_form_csrf, csrf_token, ledger_of, page_viewer
from reliability.web.dashboard import now_of
from reliability.web.pages import flash, render

router = APIRouter(include_in_schema=False)
SALT = "reliability.notes.review"
# A review lives as long as a meeting's follow-up takes; the token then stops opening.
REVIEW_SECONDS = 12 * 3600
MAX_FINDINGS = 30  # the review's address must stay well under servers' header limits
SENTENCE_SHOWN = 300
REVIEW_FIELDS = ("title", "owner", "client", "due")
SESSION_LOGGED = "notes_logged"
REMEMBERED = 40


@dataclass(frozen=True)
class Item:
    """One finding under review; `state` is "" (to decide), "logged:<promise id>" or
    "dropped"."""

    kind: str
    sentence: str
    title: str
    owner: str
    client: str
    due: str  # as the form shows it: local "YYYY-MM-DD HH:MM" in the client's calendar
    nonce: str = ""  # tells this finding apart from the same words pasted again
    state: str = ""

    @property
    def logged_id(self) -> int | None:
        return int(self.state.split(":")[1]) if self.state.startswith("logged:") else None


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(csrf_token(request), salt=SALT)


def _token(request: Request, items: list[Item]) -> str:
    return _serializer(request).dumps([list(asdict(item).values()) for item in items])


def _items(request: Request, token: str) -> list[Item]:
    """The findings of a review, with the ones this session logged marked so, even in an
    earlier address (the browser's Back button): none is offered twice."""
    try:
        items = [Item(*row) for row in _serializer(request).loads(token, max_age=REVIEW_SECONDS)]
    except (BadSignature, TypeError, ValueError):
        raise UserError("this list of findings has expired or was made in another session",
                        field="notes", hint="paste the notes again") from None
    logged = dict(request.session.get(SESSION_LOGGED, []))
    return [replace(item, state=f"logged:{logged[item.nonce]}")
            if not item.state and item.nonce in logged else item for item in items]


def _remember(request: Request, item: Item, promise_id: int) -> None:
    """The session keeps the latest findings it logged: a few bytes each in its cookie."""
    logged = [pair for pair in request.session.get(SESSION_LOGGED, []) if pair[0] != item.nonce]
    request.session[SESSION_LOGGED] = [*logged, [item.nonce, promise_id]][-REMEMBERED:]


def _review(request: Request, items: list[Item]) -> Response:
    return RedirectResponse(f"/notes/review?token={quote(_token(request, items))}",
                            status_code=303)


def _people(session: Session) -> dict[str, Any]:
    """The drop-downs: who may own a finding (current members), who may have written the
    notes (they, or a client's contact) and which clients there are."""
    members = session.exec(select(Member).where(col(Member.removed_at).is_(None))
                           .order_by(Member.name)).all()
    clients = session.exec(select(Client).order_by(Client.name_key)).all()
    owners = [(m.email, f"{m.name} <{m.email}>") for m in members]
    return {"member_options": owners, "client_options": [(c.name, c.name) for c in clients],
            "author_options": owners + [(c.email, f"{c.contact_name or c.email}, {c.name}")
                                        for c in clients]}


def _notes_form(request: Request, viewer: Viewer, *, values: dict[str, str],
                errors: dict[str, str] | None = None, status_code: int = 200,
                found_nothing: bool = False) -> HTMLResponse:
    return render(request, "notes.html", viewer, page="notes", values=values,
                  errors=errors or {}, found_nothing=found_nothing, status_code=status_code,
                  **ledger_of(request).read(_people))


@router.get("/notes", response_class=HTMLResponse)
def notes_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    return _notes_form(request, viewer, values={"author": viewer.member.email})


@router.post("/notes", dependencies=[Depends(check_form_csrf)])
def read_notes(request: Request, notes: str = Form(""), client: str = Form(""),
               author: str = Form(""), viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    values = {"notes": notes, "client": client, "author": author}
    if not notes.strip():
        return _notes_form(request, viewer, values=values, status_code=400, errors={
            "notes": "there are no notes: paste the text of the meeting notes"})
    try:
        findings, _ = capture.extract(ledger, notes, client=client or None,
                                      author=author or None, now=now_of(request))
    except UserError as exc:
        field = "author" if exc.field == "owner" else exc.field  # an unknown author
        return _notes_form(request, viewer, values=values, status_code=400,
                           errors={field if field in ("client", "author") else "": str(exc)})
    if not findings:
        return _notes_form(request, viewer, values=values, found_nothing=True)
    members = ledger.read(_member_emails)
    items = [_item(ledger, finding, viewer, members) for finding in findings[:MAX_FINDINGS]]
    if len(findings) > MAX_FINDINGS:
        flash(request, f"{len(findings)} found; the first {MAX_FINDINGS} are listed. Paste the "
                       "rest of the notes after these.", "warn")
    return _review(request, items)


def _item(ledger: Ledger, finding: Finding, viewer: Viewer, members: set[str]) -> Item:
    """A finding as the review form shows it; a request's owner is the member who answers
    (the viewer when a client wrote it)."""
    client = ledger.client_named(finding.client) if finding.client else None
    due = ""
    if finding.due_at is not None:
        due = ledger.calendar_for(client).local(finding.due_at).strftime("%Y-%m-%d %H:%M")
    owner = finding.owner or viewer.member.email
    if owner not in members:  # a client's contact wrote it: the reader answers
        owner = viewer.member.email
    return Item(kind=str(finding.kind), sentence=finding.sentence[:SENTENCE_SHOWN],
                title=finding.title, owner=owner, client=finding.client or "", due=due,
                nonce=secrets.token_urlsafe(6))


def _member_emails(session: Session) -> set[str]:
    return set(session.exec(select(Member.email).where(col(Member.removed_at).is_(None))).all())


def _review_page(request: Request, viewer: Viewer, token: str, items: list[Item], *,
                 editing: int | None = None, typed: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    ledger = ledger_of(request)
    shown = [replace(item, **typed) if index == editing and typed else item
             for index, item in enumerate(items)]
    echoes = [_echo(ledger, item, now_of(request)) for item in shown]
    rows = [(index, {**asdict(item), "logged_id": item.logged_id})
            for index, item in enumerate(shown)]
    return render(request, "notes_review.html", viewer, page="notes", token=token,
                  items=rows, echoes=echoes, editing=editing,
                  errors=errors or {}, status_code=status_code, **ledger.read(_people))


def _echo(ledger: Ledger, item: Item, now: datetime) -> str:
    """How the date box reads in the client's calendar, or nothing when it does not read."""
    try:
        calendar = ledger.client_calendar(item.client or None)
        return echo(resolve_due(item.due, now=now, calendar=calendar), calendar, now)
    except (UserError, DeadlineError):
        return ""


@router.get("/notes/review", response_class=HTMLResponse)
def review(request: Request, token: str = "",
           viewer: Viewer = Depends(page_viewer)) -> Response:
    try:
        items = _items(request, token)
    except UserError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/notes", status_code=303)
    return _review_page(request, viewer, token, items)


@router.post("/notes/review", dependencies=[Depends(check_form_csrf)])
def decide(request: Request, token: str = Form(""), index: int = Form(-1),
           action: str = Form(""), title: str = Form(""), owner: str = Form(""),
           client: str = Form(""), due: str = Form(""),
           viewer: Viewer = Depends(page_viewer)) -> Response:
    """Log or drop one finding, then back to the list (Post/Redirect/Get)."""
    try:
        items = _items(request, token)
    except UserError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/notes", status_code=303)
    if not 0 <= index < len(items) or items[index].state or action not in ("log", "drop"):
        flash(request, "That finding was already decided: here is the list as it stands.",
              "warn")
        return _review(request, items)
    item = items[index]
    if action == "drop":
        items[index] = replace(item, state="dropped")
        flash(request, f"Dropped: {item.title}.")
        return _review(request, items)
    typed = {"title": title, "owner": owner, "client": client, "due": due}
    try:
        promise_id = _log(ledger_of(request), replace(item, **typed), viewer,
                          now_of(request))
    except UserError as exc:
        return _review_page(request, viewer, token, items, editing=index, typed=typed,
                            status_code=400, errors=_review_errors(exc))
    items[index] = replace(item, **typed, state=f"logged:{promise_id}")
    _remember(request, item, promise_id)
    flash(request, f"Logged #{promise_id}: {title.strip()}."
          + (" The receipt to the client awaits approval in Drafts."
             if item.kind == FindingKind.request else ""))
    return _review(request, items)


def _review_errors(exc: UserError) -> dict[str, str]:
    """The service's fields by the review form's names ("summary" is a request's title)."""
    field = {"summary": "title", "text": "title"}.get(exc.field or "", exc.field)
    return {field if field in REVIEW_FIELDS else "": str(exc)}


def _log(ledger: Ledger, item: Item, viewer: Viewer, now: datetime) -> int:
    """Store one finding as the person confirmed it: a promise, or a request's promise to
    reply with its receipt drafted; returns the promise's id."""
    if not item.client.strip():
        raise UserError("which client is it for?", field="client",
                        hint="choose the client from the list")
    if not item.due.strip():
        raise UserError("when is it due?" if item.kind == FindingKind.commitment
                        else "when will they hear back?", field="due",
                        hint="e.g. Friday 5pm, tomorrow, 2026-12-04 17:00")
    calendar = ledger.client_calendar(item.client)
    try:
        due_at = resolve_due(item.due, now=now, calendar=calendar)
    except DeadlineError as exc:
        raise UserError(str(exc), field="due") from None
    if item.kind == FindingKind.request:
        view, _ = ledger.acknowledge_request(
            summary=item.title, client_name=item.client, owner_email=item.owner,
            reply_by=due_at, now=now, actor=viewer.acting, source=Source.notes)
    else:
        view, _ = capture.log_promise(
            ledger, title=item.title, client_name=item.client, owner_email=item.owner,
            due_at=due_at, now=now, actor=viewer.acting, source=Source.notes,
            raw_text=item.sentence)
    return view.promise.id or 0
