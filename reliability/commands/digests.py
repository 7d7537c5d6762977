"""CLI commands: a manager's digest, personal sign-in tokens, and serving the web app."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from reliability import drafting
from reliability.cli import JsonOption, app, emit, member_app, runtime_of
from reliability.digest import digest_now, to_json
from reliability.errors import UserError


@app.command()
def digest(
    ctx: typer.Context,
    manager: Annotated[str, typer.Option(help="The manager's email.")],
    send: Annotated[bool, typer.Option("--send", help="Queue it for delivery now "
                                       "(at most once a day, like the scheduled one).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a manager's daily digest as it stands now."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    found = digest_now(ledger, manager, now=runtime.now, actor=runtime.actor, send=send)
    context, queued = found.context, found.queued
    if send and queued is None:
        typer.echo(f"{found.manager.email}'s digest for {found.day} was already queued; "
                   "not sending it twice", err=True)
    elif queued is not None:
        typer.echo(f"queued as message #{queued.id} to {queued.recipient}", err=True)
    message = drafting.render("digest", "en", dict(context),
                              overrides=ledger.settings.templates.dir)
    emit(as_json, to_json(dict(context)), f"Subject: {message.subject}\n\n{message.text}")


@member_app.command("token")
def member_token(ctx: typer.Context, email: str) -> None:
    """Issue a personal sign-in token (shown once); it ends the old one and their sessions."""
    from reliability.members import issue_personal_token

    runtime = runtime_of(ctx)
    token = issue_personal_token(runtime.ledger, email, now=runtime.now, actor=runtime.actor)
    base = runtime.settings.web.base_url.rstrip("/")
    typer.echo(token)
    typer.echo(f"Sign in at {base}/sign-in with this token, or use it as an API bearer token "
               "(Authorization: Bearer …). It is shown only this once.", err=True)


@app.command()
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
    scheduler = build(ledger, background=True)
    scheduler.start()
    if socket_mode:
        threading.Thread(target=slack_app.run_socket_mode, args=(ledger,), name="slack-socket-mode",
                         daemon=True).start()
    typer.echo(f"serving on http://{settings.web.host}:{settings.web.port}", err=True)
    try:
        uvicorn.run(create_app(ledger), host=settings.web.host, port=settings.web.port,
                    log_level="info")
    finally:
        scheduler.shutdown(wait=False)
