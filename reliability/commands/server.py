"""CLI commands that start long-running processes: the server (web, API, Slack, scheduler),
the headless worker, and the demo. This is the composition root: the only place that wires
the web app, the Slack app and the scheduler together."""

from __future__ import annotations

import gc
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from reliability.commands.runtime import runtime_of
from reliability.errors import UserError
from reliability.ledger import Ledger


def _offer_drafts(ledger: Ledger, *, now: datetime) -> list[int]:
    """The Slack app's offers of drafts, imported on first use: a worker without Slack never
    loads the Slack SDK, and starts as fast as before."""
    from reliability.slack_app import offer_drafts

    return offer_drafts(ledger, now=now)


def settle_the_heap() -> None:
    """What a long-running process has loaded by the time it serves (modules, templates,
    calendars, phrase tables) lives as long as it does: frozen, the collector's full passes
    skip it. Walking it paused every other page 0.15 s at a busy team's million promises
    (bench/bench_reads.py: the admin's /reliability p95 0.32 s against a median of 0.17 s;
    frozen, 0.18 s)."""
    gc.collect()
    gc.freeze()


def serve(
    ctx: typer.Context,
    socket_mode: Annotated[bool, typer.Option("--socket-mode", help="Also connect to Slack "
                                              "over Socket Mode (needs [slack] app_token).")]
    = False,
) -> None:
    """Run the dashboard, the API and the scheduler (scan, digests, delivery) together."""
    import secrets
    import threading

    import uvicorn
    from pydantic import SecretStr

    from reliability import deadlines, slack_app
    from reliability.scheduler import build
    from reliability.web.app import create_app
    from reliability.web.logs import redact_secrets_in_logs

    runtime = runtime_of(ctx)
    settings = runtime.settings
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    redact_secrets_in_logs()
    if settings.web.secret_key is None:
        settings.web.secret_key = SecretStr(secrets.token_urlsafe(32))
        typer.echo("warning: [web] secret_key is not set; using a per-process key, so "
                   "sign-ins end when this process stops (set RELIABILITY_WEB__SECRET_KEY)",
                   err=True)
    if socket_mode and (settings.slack.app_token is None or settings.slack.bot_token is None):
        raise UserError("--socket-mode needs RELIABILITY_SLACK__APP_TOKEN and "
                        "RELIABILITY_SLACK__BOT_TOKEN (see the README's Slack section)")
    ledger = runtime.ledger
    deadlines.warm()
    scheduler = build(ledger, background=True, offer_drafts=_offer_drafts)
    scheduler.start()
    if socket_mode:
        threading.Thread(target=slack_app.run_socket_mode, args=(ledger,), name="slack-socket-mode",
                         daemon=True).start()
    app = create_app(ledger)
    settle_the_heap()
    typer.echo(f"serving on http://{settings.web.host}:{settings.web.port}", err=True)
    try:
        uvicorn.run(app, host=settings.web.host, port=settings.web.port, log_level="info")
    finally:
        scheduler.shutdown(wait=False)


def worker(ctx: typer.Context) -> None:
    """Run the scheduler headless: scan every minute, digests, and the delivery loop."""
    from reliability.scheduler import build

    runtime = runtime_of(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    scheduler = build(runtime.ledger, background=False, offer_drafts=_offer_drafts)
    settle_the_heap()
    typer.echo("worker running: scan, digests and delivery (Ctrl-C to stop)", err=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        typer.echo("worker stopped", err=True)


def demo(
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Keep the demo's database here (default: a temporary folder).")] = None,
    serve: Annotated[bool, typer.Option(
        help="End with the dashboard running (--no-serve exits instead).")] = True,
    port: Annotated[int, typer.Option(help="The dashboard's port.")] = 8000,
) -> None:
    """Play a small agency's week: check-ins, risk, Wednesday drafts, sends, digest, ledger."""
    import tempfile

    from reliability.demo import Demo

    folder = directory or Path(tempfile.mkdtemp(prefix="reliability-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "reliability.db").exists():
        raise UserError(f"{folder} already holds a demo database: use an empty folder")
    week = Demo(folder, say=typer.echo)
    week.play()
    typer.echo(f"\nThe demo's database: {folder / 'reliability.db'}")
    if serve:
        week.serve(port=port)
