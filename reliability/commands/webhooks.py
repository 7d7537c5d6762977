"""CLI commands: the webhook endpoints events are signed and sent to (docs/api.md, Webhooks)."""

from __future__ import annotations

from typing import Annotated

import typer

from reliability import webhooks
from reliability.commands.runtime import JsonOption, emit, runtime_of, sub_app, table

webhook_app = sub_app("Webhooks: URLs that receive signed events (docs/api.md).")

EVENT_HELP = (f"An event to send (repeat it): {', '.join(webhooks.EVENTS)}; "
              f"or {webhooks.ALL!r}.")


def _shown_once(registered: webhooks.Registered, what: str) -> str:
    return (f"webhook #{registered.endpoint.id} {what}: {registered.endpoint.url}\n"
            f"secret: {registered.secret}\n"
            "This is the only time the secret is shown: keep it where the receiver can read "
            "it, and verify every request's Reliability-Signature with it.")


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where events are POSTed; https.")],
    event: Annotated[list[str], typer.Option("--event", help=EVENT_HELP)],
    description: Annotated[str | None, typer.Option(help="What receives them.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register an endpoint for some events; prints its signing secret once."""
    runtime = runtime_of(ctx)
    registered = webhooks.add_endpoint(runtime.ledger, runtime.operator, url=url, events=event,
                                       description=description, now=runtime.now)
    emit(as_json, {**registered.endpoint.to_json(), "secret": registered.secret},
         _shown_once(registered, "added"))


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The registered endpoints, with whether they are on and their failures in a row."""
    runtime = runtime_of(ctx)
    rows = runtime.ledger.read(webhooks.endpoints, runtime.operator)
    emit(as_json, [row.to_json() for row in rows], table(
        [[str(row.id), row.url, "on" if row.enabled else "off", str(row.failures_in_a_row),
          ", ".join(row.events)] for row in rows],
        ["id", "url", "state", "failures", "events"]))


@webhook_app.command("remove")
def webhook_remove(ctx: typer.Context, endpoint_id: int, as_json: JsonOption = False) -> None:
    """Stop sending to an endpoint for good; its queued deliveries are called off."""
    runtime = runtime_of(ctx)
    removed = webhooks.remove_endpoint(runtime.ledger, runtime.operator, endpoint_id,
                                       now=runtime.now)
    emit(as_json, removed.to_json(), f"webhook #{removed.id} removed: {removed.url}")


@webhook_app.command("rotate-secret")
def webhook_rotate(ctx: typer.Context, endpoint_id: int, as_json: JsonOption = False) -> None:
    """A new signing secret at once; the old one stops working for every delivery."""
    runtime = runtime_of(ctx)
    registered = webhooks.rotate_secret(runtime.ledger, runtime.operator, endpoint_id,
                                        now=runtime.now)
    emit(as_json, {**registered.endpoint.to_json(), "secret": registered.secret},
         _shown_once(registered, "has a new secret"))


@webhook_app.command("enable")
def webhook_enable(ctx: typer.Context, endpoint_id: int, as_json: JsonOption = False) -> None:
    """Switch an endpoint back on; its count of failures starts again."""
    _switch(ctx, endpoint_id, True, as_json)


@webhook_app.command("disable")
def webhook_disable(ctx: typer.Context, endpoint_id: int, as_json: JsonOption = False) -> None:
    """Switch an endpoint off; its queued deliveries are called off."""
    _switch(ctx, endpoint_id, False, as_json)


def _switch(ctx: typer.Context, endpoint_id: int, enabled: bool, as_json: bool) -> None:
    runtime = runtime_of(ctx)
    view = webhooks.set_enabled(runtime.ledger, runtime.operator, endpoint_id, enabled,
                                now=runtime.now)
    emit(as_json, view.to_json(),
         f"webhook #{view.id} is {'on' if view.enabled else 'off'}: {view.url}")
