"""CLI commands: service tokens for integrations, made for an admin, listed and revoked."""

from __future__ import annotations

from typing import Annotated

import typer

from reliability import service_tokens
from reliability.commands.runtime import JsonOption, emit, runtime_of, sub_app, table
from reliability.records import iso

token_app = sub_app("Service tokens: API access for integrations, acting as an admin.")


def _record(listed: service_tokens.TokenListing) -> dict[str, object]:
    row = listed.row
    return {"id": row.id, "name": row.name, "scope": row.scope,
            "acts_as": listed.creator.email, "created_at": iso(row.created_at),
            "revoked_at": iso(row.revoked_at)}


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help='What uses it, e.g. "CRM sync".')],
    admin: Annotated[str, typer.Option(help="The admin it acts as (email).")],
    scope: Annotated[str, typer.Option(help="read | write")] = "read",
) -> None:
    """Make a service token (shown once); it acts as the admin, within its scope."""
    runtime = runtime_of(ctx)
    issued = service_tokens.create(runtime.ledger, runtime.operator, name=name, scope=scope,
                                   admin_email=admin, now=runtime.now)
    typer.echo(issued.token)
    typer.echo(f"service token #{issued.row.id} {issued.row.name!r} ({issued.row.scope}) acts "
               f"as {issued.creator.email}. Send it as Authorization: Bearer …; it is shown "
               "only this once.", err=True)


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every service token, newest first (secrets are never shown again)."""
    runtime = runtime_of(ctx)
    records = [_record(listed)
               for listed in service_tokens.listing(runtime.ledger, runtime.operator)]
    rows = [[str(r["id"]), str(r["name"]), str(r["scope"]), str(r["acts_as"]),
             "revoked" if r["revoked_at"] else "live"] for r in records]
    emit(as_json, records, table(rows, ["id", "name", "scope", "acts as", "state"]))


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int) -> None:
    """Revoke a service token: it stops working at once."""
    runtime = runtime_of(ctx)
    listed = service_tokens.revoke(runtime.ledger, runtime.operator, token_id, now=runtime.now)
    typer.echo(f"service token #{listed.row.id} {listed.row.name!r} revoked")
