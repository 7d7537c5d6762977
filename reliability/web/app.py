"""The ASGI application: dashboard, API, Slack endpoint, health and metrics."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from reliability import slack_http
from reliability.access import Forbidden, NotFound
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.paging import BadRequest
from reliability.signins import SESSION_LIFETIME
from reliability.web import (
    actions,
    admin,
    api,
    api_writes,
    confirm,
    dashboard,
    ical,
    notes,
    problems,
    prometheus,
    signin,
    webhooks,
)
from reliability.web.auth import SignInRequired, Viewer, api_viewer, sign_in_url
from reliability.web.guard import InputGuard
from reliability.web.logs import redact_secrets_in_logs
from reliability.web.pages import render

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(ledger: Ledger, *, clock: Callable[[], datetime] = _utc_now) -> FastAPI:
    """The whole web side over one ledger; `clock` pins "now" for tests and demos."""
    settings = ledger.settings.web
    if settings.secret_key is None:
        secret = secrets.token_urlsafe(32)
        log.warning("[web] secret_key is not set: sessions and sign-in links last only as "
                    "long as this process")
    else:
        secret = settings.secret_key.get_secret_value()
    # The document is served below, behind sign-in; the interactive docs would need a CDN.
    app = FastAPI(title="reliability", version="1",
                  summary="Promises to clients, kept or renegotiated early.",
                  description=api.__doc__, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ledger = ledger
    app.state.clock = clock
    app.state.secret = secret  # signs what a form carries between two steps (web.actions)
    redact_secrets_in_logs()
    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie="reliability_session",
                       max_age=int(SESSION_LIFETIME.total_seconds()), same_site="lax",
                       https_only=settings.base_url.startswith("https://"))
    app.add_middleware(InputGuard)  # nothing behind it sees a control character
    app.add_middleware(slack_http.SlackEvents)  # outermost: Slack's signature comes first
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    def healthz() -> str:
        return "ok"

    # The app comes from the request, not from this closure: FastAPI caches endpoints by
    # identity (4,096 of them), and a closure over `app` kept every app ever built alive,
    # with its ledger and connection pool.
    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request, viewer: Viewer = Depends(api_viewer)) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(request), status_code=303)

    @app.exception_handler(UserError)
    def _user_error(request: Request, exc: UserError) -> Response:
        if problems.is_api(request.url.path):
            return problems.user_error(exc)
        status = (404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden)
                  else 400 if isinstance(exc, BadRequest) else 409)
        if _wants_html(request):
            return render(request, "error.html", None, status_code=status, message=str(exc))
        return JSONResponse({"detail": str(exc), "error": exc.message, "field": exc.field,
                             "hint": exc.hint}, status_code=status)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if problems.is_api(request.url.path):
            return problems.http_error(exc)
        if _wants_html(request) and exc.status_code != 401:
            return render(request, "error.html", None, status_code=exc.status_code,
                          message=str(exc.detail))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if problems.is_api(request.url.path):
            return problems.validation_error(exc)
        return await request_validation_exception_handler(request, exc)

    app.include_router(signin.router)
    app.include_router(actions.router)  # before dashboard: /promises/new is not a promise id
    app.include_router(admin.router)  # before dashboard: /clients/new is not a client id
    app.include_router(confirm.router)
    app.include_router(dashboard.router)
    app.include_router(api.router)
    app.include_router(api_writes.router)
    app.include_router(ical.router)
    app.include_router(notes.router)
    app.include_router(prometheus.router)
    app.include_router(webhooks.router)
    return app


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", "")
