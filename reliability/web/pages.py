"""Rendering pages: the Jinja2 environment (autoescaped), filters and flash messages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from reliability.calendar import zone
from reliability.compose import member_locale
from reliability.drafting.reasons import reason_texts
from reliability.drafting.rendering import money_text
from reliability.notices import reader_and_client_time, state_words
from reliability.web.auth import CSRF_FIELD, Viewer, csrf_token, ledger_of

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
LEVEL_LABELS = {"on_track": "On track", "watch": "Watch", "at_risk": "At risk",
                "overdue": "Overdue"}


def _when(moment: datetime | None, timezone: str = "UTC", client_zone: str | None = None) -> str:
    """A time with its zone named beside it, and the client's own time too when given."""
    if moment is None:
        return "–"
    return reader_and_client_time(moment, timezone, client_zone)


def _day(moment: datetime | None, timezone: str = "UTC") -> str:
    if moment is None:
        return "–"
    return moment.astimezone(zone(timezone)).strftime("%a %d %b")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _label(value: str | None) -> str:
    if value is None:
        return "–"
    return LEVEL_LABELS.get(value, value.replace("_", " ").capitalize())


@pass_context
def _reasons(ctx: Context, reasons: list[dict[str, Any]] | None) -> list[str]:
    """Risk reasons in the signed-in member's language and timezone."""
    return reason_texts(reasons, str(ctx.get("lang", "en")), timezone=str(ctx.get("tz", "UTC")),
                        now=ctx["now"])


TEMPLATES.env.filters.update(when=_when, day=_day, pct=_pct, label=_label, money=money_text,
                             reasons=_reasons, state=state_words)
TEMPLATES.env.globals["CSRF_FIELD"] = CSRF_FIELD


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A one-time message shown on the next page, after a redirect. The list is assigned
    anew: the session cookie is rewritten only when the session itself is set."""
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def render(request: Request, template: str, viewer: Viewer | None, *, status_code: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    messages = request.session.pop("flash", [])
    settings = ledger_of(request).settings
    return TEMPLATES.TemplateResponse(request, template, {
        "viewer": viewer,
        "tz": viewer.member.timezone if viewer else "UTC",
        "lang": member_locale(settings, viewer.member) if viewer else settings.team.locale,
        "now": request.app.state.clock(),
        "csrf": csrf_token(request),
        "messages": messages,
        **context,
    }, status_code=status_code, headers=headers)
