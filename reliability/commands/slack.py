"""CLI commands: slack (the app manifest, and offering drafts to owners by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from reliability.commands.runtime import JsonOption, emit, runtime_of, sub_app
from reliability.errors import UserError

slack_group = sub_app("Slack: the app manifest, and drafts offered to their owners.")
MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yml"
PLACEHOLDER = "https://reliability.example.com"


@slack_group.command("manifest")
def manifest(
    ctx: typer.Context,
    base_url: Annotated[str | None, typer.Option(
        help="The server's public address (default: web.base_url).")] = None,
) -> None:
    """Print the Slack app manifest with this server's request URL filled in."""
    address = _absolute_http(base_url or runtime_of(ctx).settings.web.base_url).rstrip("/")
    typer.echo(MANIFEST.read_text(encoding="utf-8").replace(PLACEHOLDER, address), nl=False)


def _absolute_http(address: str) -> str:
    """Slack posts to this address: an http(s) URL with a host, no spaces or control codes."""
    parts = urlsplit(address)
    if parts.scheme in ("http", "https") and parts.hostname and address.isprintable() and (
            " " not in address):
        return address
    raise UserError(f"{address!r} is not an absolute http(s) address without spaces, like "
                    "https://promises.example.com", field="base_url")


@slack_group.command("offer-drafts")
def offer_drafts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Queue each waiting draft's offer to its owner in Slack; the outbox DMs it (the
    scheduler does both every round)."""
    from reliability.slack_app import offer_drafts as offer

    runtime = runtime_of(ctx)
    offered = offer(runtime.ledger, now=runtime.now)
    emit(as_json, {"offered": offered},
         f"queued the Slack offer of {len(offered)} draft(s)"
         + (f": {json.dumps(offered)}" if offered else ""))
