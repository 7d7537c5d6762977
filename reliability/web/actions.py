"""Every action on a promise from the web: log one from a sentence, check in, mark done,
cancel, move its date, acknowledge a client's request, log a mistake.

Forms are plain HTML (they work without JavaScript), carry the session's CSRF token and call
the same service functions as the CLI and Slack with the signed-in member as the actor, so
`reliability.access` decides who may do what. Bad input re-renders the form with what was
typed and the service's message beside the field it names (`UserError.field`); a refusal is
a 403 page; success redirects with a flash message saying what happened (Post/Redirect/Get).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from reliability import capture, idempotency
from reliability.access import Actor, Forbidden, NotFound, not_an_owner
from reliability.deadlines import DeadlineError, resolve_due
from reliability.drafting.contexts import CREDIT_BASES, CREDIT_METHODS
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.mistakes import Credit, log_mistake
from reliability.models import Member, Severity, Source
from reliability.notices import reader_time
from reliability.web import queries
from reliability.web.auth import Viewer, check_form_csrf, ledger_of, page_viewer, safe_next
from reliability.web.pages import flash, render

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_form_csrf)]
# The echo of a new promise is signed, so the confirmation stores exactly what was shown.
PROPOSAL_SALT = "reliability.web.actions.proposal"
PROPOSAL_MAX_AGE = 3600  # seconds an echo waits for its confirmation
INVALID = 422  # a form re-rendered with what was wrong
# The service's name for an input -> this page's control for it.
LOG_FIELDS = {"text": "text", "title": "text", "client": "text", "due": "text",
              "owner": "owner"}
CHECKIN_FIELDS = {"status": "status", "progress": "progress", "note": "note",
                  "client_reason": "client_reason", "waiting_for": "waiting_for"}
MOVE_FIELDS = {"due": "due", "reason": "reason"}
CANCEL_FIELDS = {"reason": "cancel_reason"}
REQUEST_FIELDS = {"summary": "summary", "client": "client", "owner": "owner",
                  "due": "reply_by", "text": "summary"}
MISTAKE_FIELDS = {"client": "client", "summary": "summary", "prevention": "prevention",
                  "owner": "owner", "promise": "promise", "category": "category",
                  "severity": "severity", "credit": "credit_amount",
                  "credit_method": "credit_method", "credit_basis": "credit_basis",
                  "fix_due": "fix_due", "prevention_due": "prevention"}


def _now(request: Request) -> datetime:
    moment = request.app.state.clock()
    assert isinstance(moment, datetime)
    return moment


def _form(raw: Mapping[str, Any], *names: str) -> dict[str, str]:
    """The named fields as typed (absent ones empty), for calling services and re-rendering."""
    return {name: str(raw.get(name) or "") for name in names}


def _errors(exc: UserError | DeadlineError, fields: Mapping[str, str], deadline_field: str,
            fallback: str = "") -> dict[str, str]:
    """The message under the control it is about; `fallback` ("": the top of the form) when
    the service names no field this form has."""
    if isinstance(exc, DeadlineError):
        return {deadline_field: str(exc)}
    return {fields.get(exc.field or "", fallback): str(exc)}


def _refused(request: Request, viewer: Viewer, exc: UserError) -> HTMLResponse:
    """404 for what is not there or not the viewer's (the two look alike), as in the API."""
    return render(request, "error.html", viewer,
                  status_code=404 if isinstance(exc, NotFound) else 403, message=str(exc))


def _done(request: Request, path: str, message: str) -> Response:
    flash(request, message)
    return RedirectResponse(path, status_code=303)


def _owners(ledger: Ledger, viewer: Viewer) -> list[Member]:
    """Whom the viewer may log for: themselves and, for a manager, everyone below them."""
    return [m for m in ledger.read(queries.members_in_scope, viewer.scope)
            if m.removed_at is None]


def _moments(ledger: Ledger, moment: datetime, viewer: Viewer,
             client_name: str) -> tuple[str, str | None]:
    """A moment in the reader's zone, named, and in the client's (None when the same)."""
    client = ledger.client_named(client_name)
    mine = reader_time(moment, viewer.member.timezone, year=True)
    if client.timezone == viewer.member.timezone:
        return mine, None
    return mine, reader_time(moment, client.timezone, year=True)


# -- log a promise: the text box, the echo, the confirmation ------------------------------


def _sealer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret, salt=PROPOSAL_SALT)


def _log_page(request: Request, viewer: Viewer, form: dict[str, str],
              errors: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "log_promise.html", viewer, page="promises", form=form,
                  errors=errors or {}, owners=_owners(ledger_of(request), viewer),
                  status_code=INVALID if errors else 200)


@router.get("/promises/new", response_class=HTMLResponse)
def log_form(request: Request, text: str = "", owner: str = "",
             viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    return _log_page(request, viewer, {"text": text, "owner": owner or viewer.member.email})


@router.post("/promises/new", dependencies=CSRF, response_class=HTMLResponse)
async def log_echo(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    """What the sentence was understood as, with the forecast; nothing is stored."""
    form = _form(await request.form(), "text", "owner")
    form["owner"] = form["owner"].strip().lower() or viewer.member.email
    ledger, now = ledger_of(request), _now(request)
    owner = next((m for m in _owners(ledger, viewer) if m.email == form["owner"]), None)
    if owner is None:
        return _log_page(request, viewer, form, _errors(
            not_an_owner(form["owner"], "log a promise"), LOG_FIELDS, "text", "text"))
    try:
        if not form["text"].strip():
            raise UserError("say what was promised, for which client and by when",
                            field="text", hint='e.g. "Q3 report for Acme by Friday"')
        title, client_name, due_at = capture.understand(ledger, form["text"], client=None,
                                                        due=None, now=now)
        made = capture.forecast(ledger, client_name=client_name, owner_email=owner.email,
                                due_at=due_at, now=now, actor=Actor.of(viewer.member))
    except (UserError, DeadlineError) as exc:
        return _log_page(request, viewer, form, _errors(exc, LOG_FIELDS, "text", "text"))
    client = ledger.client_named(client_name)
    calendar = ledger.calendar_for(client)
    suggested = made.suggested_due_at
    sealed = _sealer(request).dumps({
        "by": viewer.member.id, "once": secrets.token_urlsafe(16), "title": title,
        "client": client.name, "owner": owner.email,
        "text": form["text"], "due_at": due_at.isoformat(),
        "suggested_due_at": suggested.isoformat() if suggested else None})
    due_mine, due_client = _moments(ledger, due_at, viewer, client.name)
    return render(request, "log_confirm.html", viewer, page="promises", form=form,
                  title=title, client=client, owner=owner, due_mine=due_mine,
                  due_client=due_client, forecast=capture.describe(
                      made, owner_name=owner.name, calendar=calendar, now=now),
                  asked_day=capture.day(due_at, calendar),
                  suggested_day=capture.day(suggested, calendar) if suggested else None,
                  proposal=sealed)


@router.post("/promises/new/confirm", dependencies=CSRF)
async def log_confirm(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "proposal", "choice")
    try:
        proposal = _sealer(request).loads(form["proposal"], max_age=PROPOSAL_MAX_AGE)
    except BadSignature:
        proposal = None
    if not isinstance(proposal, dict) or proposal.get("by") != viewer.member.id:
        return render(request, "error.html", viewer, status_code=400, message=(
            "this confirmation has expired or was not made for you: log the promise again"))
    # The echo is confirmed once: a double click (or Back and confirm again) finds the key
    # of the first and goes where it went, storing nothing twice (reliability.idempotency).
    ledger, now = ledger_of(request), _now(request)
    caller, key = f"member:{viewer.member.id}", f"web-log:{proposal['once']}"
    held = idempotency.claim(ledger, caller=caller, key=key, request_hash=key, now=now)
    if not isinstance(held, idempotency.Claim):
        logged = held.body if held is not None else "/promises"
        return _done(request, logged, "This promise was already logged: here it is.")
    asked = datetime.fromisoformat(proposal["due_at"])
    took = proposal["suggested_due_at"] if form["choice"] == "suggested" else None
    try:
        view, _ = capture.log_promise(
            ledger, title=proposal["title"], client_name=proposal["client"],
            owner_email=proposal["owner"],
            due_at=datetime.fromisoformat(took) if took else asked,
            asked_due_at=asked if took else None, now=now,
            actor=Actor.of(viewer.member), source=Source.web, raw_text=proposal["text"])
    except (NotFound, Forbidden) as exc:
        idempotency.release(ledger, held)
        return _refused(request, viewer, exc)
    except UserError as exc:
        idempotency.release(ledger, held)
        return _log_page(request, viewer, {"text": proposal["text"], "owner": proposal["owner"]},
                         _errors(exc, LOG_FIELDS, "text", "text"))
    except BaseException:
        idempotency.release(ledger, held)
        raise
    where = f"/promises/{view.promise.id}"
    idempotency.record(ledger, held, status_code=303, body=where)
    due, _ = _moments(ledger, view.promise.due_at, viewer, view.client.name)
    return _done(request, where,
                 f"Logged #{view.promise.id}: {view.promise.title} for {view.client.name}, "
                 f"due {due}, owned by {view.owner.name}.")


# -- actions on one promise: from its page and from its card on the board -----------------


def _promise_page(request: Request, viewer: Viewer, promise_id: int, form: dict[str, str],
                  errors: dict[str, str], action: str) -> HTMLResponse:
    page = ledger_of(request).read(queries.promise_page, viewer.scope, promise_id,
                                   _now(request))
    return render(request, "promise.html", viewer, p=page, page="promises", form=form,
                  errors=errors, action=action, status_code=INVALID)


def _act(request: Request, viewer: Viewer, promise_id: int, action: str, form: dict[str, str],
         fields: Mapping[str, str], deadline_field: str, run: Callable[[], str]) -> Response:
    """Run one service call for a promise; its refusal, its message or its result."""
    try:
        message = run()
    except (NotFound, Forbidden) as exc:
        return _refused(request, viewer, exc)
    except (UserError, DeadlineError) as exc:
        if isinstance(exc, UserError) and exc.field == "promise":
            return render(request, "error.html", viewer, status_code=404, message=str(exc))
        return _promise_page(request, viewer, promise_id, form,
                             _errors(exc, fields, deadline_field), action)
    return _done(request, safe_next(form.get("back") or f"/promises/{promise_id}"), message)


def _progress(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip().rstrip("%"))
    except ValueError:
        raise UserError(f"progress {value!r} is not a number", field="progress",
                        hint="a whole percentage from 0 to 100, e.g. 60") from None


@router.post("/promises/{promise_id}/check-in", dependencies=CSRF)
async def check_in(request: Request, promise_id: queries.RowId,
                   viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "status", "progress", "note", "client_reason",
                 "waiting_for", "back")

    def run() -> str:
        checkin = ledger_of(request).check_in(
            promise_id, status=form["status"], progress=_progress(form["progress"]),
            note=form["note"] or None, client_reason=form["client_reason"] or None,
            waiting_for=form["waiting_for"] or None, now=_now(request),
            actor=Actor.of(viewer.member))
        done = f", {checkin.progress}% done" if checkin.progress is not None else ""
        return f"Check-in on #{promise_id} recorded: {checkin.status.replace('_', ' ')}{done}."

    return _act(request, viewer, promise_id, "check-in", form, CHECKIN_FIELDS, "status", run)


@router.post("/promises/{promise_id}/done", dependencies=CSRF)
async def mark_done(request: Request, promise_id: queries.RowId,
                    viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "back")

    def run() -> str:
        view = ledger_of(request).complete(promise_id, now=_now(request),
                                           actor=Actor.of(viewer.member))
        late = (" It was after the due date, so it counts as late."
                if view.promise.done_at and view.promise.done_at > view.promise.due_at else "")
        return f"#{promise_id} {view.promise.title} for {view.client.name} is done.{late}"

    return _act(request, viewer, promise_id, "done", form, {}, "", run)


@router.post("/promises/{promise_id}/cancel", dependencies=CSRF)
async def cancel(request: Request, promise_id: queries.RowId,
                 viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "cancel_reason", "back")

    def run() -> str:
        view = ledger_of(request).cancel(promise_id, reason=form["cancel_reason"],
                                         now=_now(request), actor=Actor.of(viewer.member))
        return (f"#{promise_id} {view.promise.title} is cancelled; messages about it that "
                "were not sent are called off.")

    return _act(request, viewer, promise_id, "cancel", form, CANCEL_FIELDS, "", run)


@router.post("/promises/{promise_id}/move", dependencies=CSRF)
async def move(request: Request, promise_id: queries.RowId,
               viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "due", "reason", "client_told", "back")

    def run() -> str:
        ledger, now, actor = ledger_of(request), _now(request), Actor.of(viewer.member)
        client = ledger.promise_view(promise_id, actor).client
        if not form["due"].strip():
            raise UserError("say the new date", field="due", hint="e.g. next Tuesday, or Dec 4")
        due_at = resolve_due(form["due"], now=now, calendar=ledger.calendar_for(client))
        view = ledger.move(promise_id, due_at=due_at, reason=form["reason"],
                           client_told=bool(form["client_told"]), now=now, actor=actor)
        mine, _ = _moments(ledger, due_at, viewer, view.client.name)
        told = ("" if form["client_told"] else
                f" Make sure {view.client.name} hears of it.")
        return f"#{promise_id} {view.promise.title} moved to {mine}.{told}"

    return _act(request, viewer, promise_id, "move", form, MOVE_FIELDS, "due", run)


# -- a client's request, a mistake: forms of their own ------------------------------------


def _clients(ledger: Ledger) -> list[str]:
    return [client.name for client in ledger.clients()]


def _request_page(request: Request, viewer: Viewer, form: dict[str, str],
                  errors: dict[str, str] | None = None) -> HTMLResponse:
    ledger = ledger_of(request)
    return render(request, "acknowledge_request.html", viewer, page="promises", form=form,
                  errors=errors or {}, owners=_owners(ledger, viewer), clients=_clients(ledger),
                  status_code=INVALID if errors else 200)


@router.get("/requests/new", response_class=HTMLResponse)
def request_form(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    return _request_page(request, viewer, {"owner": viewer.member.email})


@router.post("/requests/new", dependencies=CSRF)
async def acknowledge(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "client", "summary", "owner", "reply_by")
    ledger, now = ledger_of(request), _now(request)
    try:
        if not form["reply_by"].strip():
            raise UserError("say when they will hear back", field="due",
                            hint="e.g. tomorrow, or Friday 3pm")
        calendar = ledger.client_calendar(form["client"] or None)
        view, notice = ledger.acknowledge_request(
            summary=form["summary"], client_name=form["client"],
            owner_email=form["owner"] or viewer.member.email,
            reply_by=resolve_due(form["reply_by"], now=now, calendar=calendar), now=now,
            actor=Actor.of(viewer.member), source=Source.web)
    except (NotFound, Forbidden) as exc:
        return _refused(request, viewer, exc)
    except (UserError, DeadlineError) as exc:
        return _request_page(request, viewer, form, _errors(exc, REQUEST_FIELDS, "reply_by"))
    if notice is None:
        return _done(request, f"/promises/{view.promise.id}",
                     f"Logged #{view.promise.id}: {view.promise.title}.")
    return _done(request, f"/drafts/{notice.id}",
                 f"Logged #{view.promise.id}: {view.promise.title}. The receipt to "
                 f"{view.client.name} is drafted below: approve it to send it.")


def _mistake_page(request: Request, viewer: Viewer, form: dict[str, str],
                  errors: dict[str, str] | None = None) -> HTMLResponse:
    ledger = ledger_of(request)
    return render(request, "log_mistake.html", viewer, page="mistakes", form=form,
                  errors=errors or {}, owners=_owners(ledger, viewer), clients=_clients(ledger),
                  methods=CREDIT_METHODS, bases=CREDIT_BASES,
                  severities=[Severity.minor.value, Severity.major.value],
                  status_code=INVALID if errors else 200)


@router.get("/mistakes/new", response_class=HTMLResponse)
def mistake_form(request: Request, promise: queries.FilterId = None,
                 viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    """Blank, or about one promise (its client and owner filled in)."""
    form = {"owner": viewer.member.email, "category": "general", "severity": "minor"}
    if promise is not None:
        try:
            view = ledger_of(request).promise_view(promise, Actor.of(viewer.member))
        except (NotFound, Forbidden) as exc:
            return _refused(request, viewer, exc)
        form.update(promise=str(promise), client=view.client.name, owner=view.owner.email,
                    about=view.promise.title)
    return _mistake_page(request, viewer, form)


@router.post("/mistakes/new", dependencies=CSRF)
async def mistake(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    form = _form(await request.form(), "client", "summary", "prevention", "owner", "promise",
                 "about", "category", "severity", "credit_amount", "credit_currency",
                 "credit_method", "credit_basis", "fixed", "fix_due")
    ledger, now = ledger_of(request), _now(request)
    try:
        credit = (Credit.parse(form["credit_amount"].strip(), form["credit_currency"],
                               form["credit_method"] or None, form["credit_basis"] or None)
                  if form["credit_amount"].strip() else None)
        promise_id = _promise_number(form["promise"])
        calendar = ledger.client_calendar(form["client"] or None)
        logged = log_mistake(
            ledger, client_name=form["client"], summary=form["summary"],
            prevention=form["prevention"], owner_email=form["owner"] or None,
            promise_id=promise_id, category=form["category"] or "general",
            severity=form["severity"] or Severity.minor, credit=credit,
            fixed=bool(form["fixed"]),
            fix_due_at=resolve_due(form["fix_due"], now=now, calendar=calendar)
            if form["fix_due"].strip() else None, now=now, actor=Actor.of(viewer.member))
    except (NotFound, Forbidden) as exc:
        return _refused(request, viewer, exc)
    except (UserError, DeadlineError) as exc:
        return _mistake_page(request, viewer, form, _errors(exc, MISTAKE_FIELDS, "fix_due"))
    repeat = (f" It is a repeat ({logged.repeat_count + 1} of this kind): the manager has "
              "been told." if logged.repeat_count else "")
    message = (f"Mistake #{logged.mistake.id} logged for {logged.client.name}, with prevention "
               f"step #{logged.prevention_promise_id}.{repeat}")
    if logged.draft_id is None:
        return _done(request, "/mistakes", message)
    return _done(request, f"/drafts/{logged.draft_id}",
                 f"{message} The message to {logged.client.name} is drafted below: approve "
                 "it to send it.")


def _promise_number(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip().lstrip("#"))
    except ValueError:
        raise UserError(f"{value!r} is not a promise number", field="promise",
                        hint="leave it empty, or give the number, e.g. 12") from None

