"""CLI commands: a manager's digest, and personal sign-in tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from reliability.commands.runtime import JsonOption, emit, runtime_of
from reliability.digest import digest_now, to_json
from reliability.drafting import rendering


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
    message = rendering.render("digest", "en", dict(context),
                              overrides=ledger.settings.templates.dir)
    emit(as_json, to_json(dict(context)), f"Subject: {message.subject}\n\n{message.text}")


def member_token(ctx: typer.Context, email: str) -> None:
    """Issue a personal sign-in token (shown once); it ends the old one and their sessions."""
    from reliability.members import issue_personal_token

    runtime = runtime_of(ctx)
    token = issue_personal_token(runtime.ledger, email, now=runtime.now, actor=runtime.actor)
    base = runtime.settings.web.base_url.rstrip("/")
    typer.echo(token)
    typer.echo(f"Sign in at {base}/sign-in with this token, or use it as an API bearer token "
               "(Authorization: Bearer …). It is shown only this once.", err=True)
