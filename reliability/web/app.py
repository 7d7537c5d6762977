"""The ASGI application: dashboard, API, Slack endpoint, health and metrics."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from reliability import slack_app
from reliability.ledger import Ledger
from reliability.web import dashboard


def create_app(ledger: Ledger) -> FastAPI:
    app = FastAPI(title="reliability", summary="Promises to clients, kept or renegotiated early.")
    app.state.ledger = ledger

    @app.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    def healthz() -> str:
        return "ok"

    app.include_router(dashboard.router)
    app.include_router(slack_app.router)
    return app
