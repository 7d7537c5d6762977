"""Managing clients (any member adds one, managers and admins edit) and members (admins).

Each form posts to a service in `reliability.ledger`, the same one `reliability client …`
and `reliability member …` call, which checks the actor itself. Bad input re-renders the
form with what was typed and the service's message under the field it names; a change
redirects with a flash message (Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from reliability.access import (
    Actor,
    Forbidden,
    NotFound,
    check_admin,
    check_manager,
    manages_anyone,
)
from reliability.errors import UserError
from reliability.ledger import CLIENT_FIELDS, Ledger
from reliability.models import Address, Client, DeliveryChannel, Locale, Member, Role
from reliability.web.auth import Viewer, check_form_csrf, ledger_of, page_viewer
from reliability.web.dashboard import now_of
from reliability.web.pages import TEMPLATES, flash, render
from reliability.web.queries import RowId

router = APIRouter(include_in_schema=False)
TEMPLATES.env.globals["manages_anyone"] = manages_anyone  # the client page's "Edit details"
CLIENT_FLAGS = ("auto_send", "confirm_promises")
MEMBER_FIELDS = ("name", "manager", "locale", "timezone", "country", "digest_channel",
                 "signature")
LOCALE_NAMES = {Locale.en: "English", Locale.sv: "Svenska", Locale.zh: "中文"}
ROLE_OPTIONS = [(Role.member, "Member: their own promises"),
                (Role.manager, "Manager: theirs and their reports'"),
                (Role.admin, "Admin: everyone's, and the team")]


def choices(ledger: Ledger) -> dict[str, Any]:
    """What the forms' drop-downs offer: the product's words and the team's defaults."""
    return {"locales": LOCALE_NAMES, "role_options": ROLE_OPTIONS,
            "default_country": ledger.settings.calendar.default_country or ""}


def field_errors(exc: UserError, fields: tuple[str, ...]) -> dict[str, str]:
    """The service's message under the input it names, or above the form (key "")."""
    return {exc.field if exc.field in fields else "": str(exc)}


def done(request: Request, path: str, message: str) -> Response:
    flash(request, message)
    return RedirectResponse(path, status_code=303)


def _text_fields(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in names}


def changes_text(changed: dict[str, list[Any]]) -> str:
    return ", ".join(key.replace("_", " ") for key in changed)


# -- clients ----------------------------------------------------------------------------


def _client(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"there is no client #{client_id}", field="client",
                        hint="the list of clients shows the ones that exist")
    return client


def _client_form(request: Request, viewer: Viewer, *, values: dict[str, Any],
                 client: Client | None = None, errors: dict[str, str] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    return render(request, "client_form.html", viewer, page="clients", client=client,
                  values=values, errors=errors or {}, status_code=status_code,
                  **choices(ledger_of(request)))


def _client_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    """The client form's fields; a form posted without `address` (one made before it
    existed) keeps the client's, or the default ni for a new client."""
    values: dict[str, Any] = _text_fields(form, tuple(k for k in CLIENT_FIELDS
                                                      if k not in CLIENT_FLAGS))
    values.update({flag: flag in form for flag in CLIENT_FLAGS})
    if not values["address"]:
        del values["address"]
    return values


@router.get("/clients/new", response_class=HTMLResponse)
def new_client(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    settings = ledger_of(request).settings.calendar
    return _client_form(request, viewer, values={
        "locale": Locale.en, "address": Address.ni, "channel": DeliveryChannel.email,
        "timezone": settings.default_timezone, "country": settings.default_country or ""})


@router.post("/clients/new", dependencies=[Depends(check_form_csrf)])
async def add_client(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    form = await request.form()
    values = _client_fields(form)
    try:
        client = ledger_of(request).add_client(now=now_of(request), actor=viewer.actor, **values)
    except UserError as exc:
        return _client_form(request, viewer, values=values, status_code=400,
                            errors=field_errors(exc, CLIENT_FIELDS))
    return done(request, f"/clients/{client.id}", f"Client {client.name} added.")


@router.get("/clients/{client_id}/edit", response_class=HTMLResponse)
def edit_client_page(request: Request, client_id: RowId,
                     viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    check_manager(viewer.scope, "change a client's details")
    client = ledger_of(request).read(_client, client_id)
    values = {key: getattr(client, key) for key in CLIENT_FIELDS}
    return _client_form(request, viewer, client=client,
                        values={k: "" if v is None else v for k, v in values.items()})


@router.post("/clients/{client_id}/edit", dependencies=[Depends(check_form_csrf)])
async def edit_client(request: Request, client_id: RowId,
                      viewer: Viewer = Depends(page_viewer)) -> Response:
    ledger = ledger_of(request)
    form = await request.form()
    values = _client_fields(form)
    try:
        client, changed = ledger.edit_client(client_id, now=now_of(request),
                                             actor=Actor.of(viewer.member), **values)
    except (Forbidden, NotFound):
        raise
    except UserError as exc:
        return _client_form(request, viewer, client=ledger.read(_client, client_id),
                            values=values, status_code=400,
                            errors=field_errors(exc, CLIENT_FIELDS))
    return done(request, f"/clients/{client.id}",
                f"Saved {client.name}: {changes_text(changed)}." if changed
                else f"Nothing changed for {client.name}.")


# -- members ----------------------------------------------------------------------------


def _team(session: Session) -> list[tuple[Member, Member | None]]:
    members = {m.id: m for m in session.exec(select(Member).order_by(Member.name)).all()}
    return [(m, members.get(m.manager_id)) for m in members.values()]


def _member(session: Session, member_id: int) -> tuple[Member, Member | None]:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"there is no member #{member_id}", field="member",
                        hint="the list of members shows the ones that exist")
    return member, session.get(Member, member.manager_id) if member.manager_id else None


def _manager_options(team: list[Member]) -> list[tuple[str, str]]:
    return [("", "No manager"), *((m.email, f"{m.name} <{m.email}>") for m in team)]


def _admin(viewer: Viewer = Depends(page_viewer)) -> Viewer:
    """Members pages are an admin's, reading them included: a member or manager gets 403."""
    check_admin(viewer.scope, "manage members")
    return viewer


def _member_page(request: Request, viewer: Viewer, member_id: int, *,
                 typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    """The member's page, its forms showing what is stored or, after a refusal, `typed`."""
    ledger = ledger_of(request)
    member, boss = ledger.read(_member, member_id)
    values = {"name": member.name, "manager": boss.email if boss else "",
              "locale": member.locale or "", "timezone": member.timezone,
              "country": member.country or "", "digest_channel": member.digest_channel,
              "role": member.role, "signature": member.signature or "", **(typed or {})}
    team = [m for m, _ in ledger.read(_team) if m.removed_at is None and m.id != member.id]
    return render(request, "member.html", viewer, page="members", member=member, boss=boss,
                  manager_options=_manager_options(team), values=values,
                  errors=errors or {}, status_code=status_code, **choices(ledger))


@router.get("/members", response_class=HTMLResponse)
def members(request: Request, viewer: Viewer = Depends(_admin)) -> HTMLResponse:
    return render(request, "members.html", viewer, page="members",
                  rows=ledger_of(request).read(_team), locales=LOCALE_NAMES)


@router.get("/members/new", response_class=HTMLResponse)
def new_member(request: Request, viewer: Viewer = Depends(_admin)) -> HTMLResponse:
    return _new_member_form(request, viewer, values={
        "role": Role.member, "digest_channel": DeliveryChannel.email,
        "timezone": ledger_of(request).settings.calendar.default_timezone})


def _new_member_form(request: Request, viewer: Viewer, *, values: dict[str, Any],
                     errors: dict[str, str] | None = None,
                     status_code: int = 200) -> HTMLResponse:
    ledger = ledger_of(request)
    team = [m for m, _ in ledger.read(_team) if m.removed_at is None]
    return render(request, "member_new.html", viewer, page="members",
                  manager_options=_manager_options(team),
                  values=values, errors=errors or {}, status_code=status_code,
                  **choices(ledger))


MemberAction = Callable[[Ledger, Member, dict[str, str], Actor], str]
NEW_MEMBER_FIELDS = ("email", "name", "role", "manager", "locale", "timezone", "country",
                     "digest_channel")


@router.post("/members/new", dependencies=[Depends(check_form_csrf)])
async def add_member(request: Request, viewer: Viewer = Depends(_admin)) -> Response:
    values = _text_fields(await request.form(), NEW_MEMBER_FIELDS)
    try:
        member = ledger_of(request).add_member(
            email=values["email"], name=values["name"], role=values["role"],
            manager_email=values["manager"] or None, locale=values["locale"] or None,
            timezone=values["timezone"] or None, country=values["country"] or None,
            digest_channel=values["digest_channel"], now=now_of(request),
            actor=Actor.of(viewer.member))
    except UserError as exc:
        return _new_member_form(request, viewer, values=values, status_code=400,
                                errors=field_errors(exc, NEW_MEMBER_FIELDS))
    return done(request, f"/members/{member.id}",
                f"{member.name} <{member.email}> added as {member.role}. They sign in with "
                "their email address.")


@router.get("/members/{member_id}", response_class=HTMLResponse)
def member_page(request: Request, member_id: RowId,
                viewer: Viewer = Depends(_admin)) -> HTMLResponse:
    return _member_page(request, viewer, member_id)


async def _member_action(request: Request, viewer: Viewer, member_id: int,
                         fields: tuple[str, ...], act: MemberAction) -> Response:
    """Run one member service; a refusal re-renders the member's page with the input."""
    ledger = ledger_of(request)
    member, _ = ledger.read(_member, member_id)
    values = _text_fields(await request.form(), fields)
    try:
        message = act(ledger, member, values, Actor.of(viewer.member))
    except UserError as exc:
        return _member_page(request, viewer, member_id, typed=values, status_code=400,
                            errors=field_errors(exc, fields))
    return done(request, f"/members/{member_id}", message)


@router.post("/members/{member_id}/edit", dependencies=[Depends(check_form_csrf)])
async def edit_member(request: Request, member_id: RowId,
                      viewer: Viewer = Depends(_admin)) -> Response:
    def act(ledger: Ledger, member: Member, values: dict[str, str], actor: Actor) -> str:
        found, changed = ledger.edit_member(
            member.email, name=values["name"], manager_email=values["manager"],
            locale=values["locale"], timezone=values["timezone"], country=values["country"],
            digest_channel=values["digest_channel"], signature=values["signature"],
            now=now_of(request), actor=actor)
        return (f"Saved {found.name}: {changes_text(changed)}." if changed
                else f"Nothing changed for {found.name}.")

    return await _member_action(request, viewer, member_id, MEMBER_FIELDS, act)


def _signature_form(request: Request, viewer: Viewer, *, values: dict[str, str],
                    errors: dict[str, str] | None = None,
                    status_code: int = 200) -> HTMLResponse:
    return render(request, "signature.html", viewer, page="signature", values=values,
                  errors=errors or {}, status_code=status_code)


@router.get("/signature", response_class=HTMLResponse)
def signature_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> HTMLResponse:
    """Any member's own signature, the one member detail they change themselves."""
    return _signature_form(request, viewer,
                           values={"signature": viewer.member.signature or ""})


@router.post("/signature", dependencies=[Depends(check_form_csrf)])
async def set_signature(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    values = _text_fields(await request.form(), ("signature",))
    try:
        _, changed = ledger_of(request).edit_member(
            viewer.member.email, signature=values["signature"], now=now_of(request),
            actor=Actor.of(viewer.member))
    except UserError as exc:
        return _signature_form(request, viewer, values=values, status_code=400,
                               errors=field_errors(exc, ("signature",)))
    return done(request, "/signature",
                "Your signature is saved." if changed else "Your signature is unchanged.")


@router.post("/members/{member_id}/role", dependencies=[Depends(check_form_csrf)])
async def change_role(request: Request, member_id: RowId,
                      viewer: Viewer = Depends(_admin)) -> Response:
    def act(ledger: Ledger, member: Member, values: dict[str, str], actor: Actor) -> str:
        found = ledger.change_role(member.email, values["role"], now=now_of(request),
                                   actor=actor)
        return (f"{found.name} is now {found.role}; their sessions have ended, so they sign "
                "in again to use it.")

    return await _member_action(request, viewer, member_id, ("role",), act)


@router.post("/members/{member_id}/sign-out", dependencies=[Depends(check_form_csrf)])
async def sign_out_member(request: Request, member_id: RowId,
                          viewer: Viewer = Depends(_admin)) -> Response:
    def act(ledger: Ledger, member: Member, values: dict[str, str], actor: Actor) -> str:
        found = ledger.sign_out_everywhere(member.id or 0, now=now_of(request), actor=actor)
        return f"{found.name} is signed out on every device."

    return await _member_action(request, viewer, member_id, (), act)


@router.post("/members/{member_id}/remove", dependencies=[Depends(check_form_csrf)])
async def remove_member(request: Request, member_id: RowId,
                        viewer: Viewer = Depends(_admin)) -> Response:
    def act(ledger: Ledger, member: Member, values: dict[str, str], actor: Actor) -> str:
        found = ledger.remove_member(member.email, now=now_of(request), actor=actor)
        return (f"{found.name} is removed from the team: their sessions, token and calendar "
                "feeds no longer work; their promises and history are kept.")

    return await _member_action(request, viewer, member_id, (), act)
