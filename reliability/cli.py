"""The `reliability` command line: a thin caller of the service layer.

Contract: listing commands take `--json` and then print one JSON document on stdout;
errors go to stderr as one message with exit code 2, and nothing is written.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine
from typer.core import TyperGroup

from reliability.calendar import BusinessCalendar, CalendarError
from reliability.config import ConfigError, Settings, load_settings
from reliability.db import DatabaseError, check_schema, make_engine, upgrade
from reliability.errors import UserError
from reliability.ledger import Ledger, PromiseView
from reliability.records import (
    checkin_record,
    client_record,
    due_change_record,
    event_record,
    iso,
    member_record,
    promise_record,
)

EXPECTED_ERRORS = (UserError, ConfigError, DatabaseError, CalendarError)


class _Group(TyperGroup):
    """Turns every expected failure into one line on stderr and exit code 2."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


def _app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


app = _app("Keep the promises your team makes to clients, and warn early when one slips.")
client_app = _app("Clients: who you make promises to, in which language, calendar and channel.")
member_app = _app("Members: the people who make and keep promises, and their managers.")
promise_app = _app("Promises: log, list, check in, complete, cancel or renegotiate.")
app.add_typer(client_app, name="client")
app.add_typer(member_app, name="member")
app.add_typer(promise_app, name="promise")


@dataclass
class Runtime:
    """What every command needs: settings, the pinned "now", and the ledger."""

    settings: Settings
    as_of: datetime | None = None
    actor: str = field(default_factory=lambda: f"cli:{getpass.getuser()}")

    @property
    def now(self) -> datetime:
        return self.as_of or datetime.now(UTC)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url)

    @cached_property
    def ledger(self) -> Ledger:
        check_schema(self.engine)
        return Ledger(self.engine, self.settings)


def _runtime(ctx: typer.Context) -> Runtime:
    runtime = ctx.find_root().obj
    assert isinstance(runtime, Runtime)
    return runtime


def parse_moment(value: str, timezone: str, what: str) -> datetime:
    """ISO 8601; a moment without an offset is read in `timezone`."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UserError(
            f"{what} {value!r} is not an ISO 8601 moment; e.g. 2026-11-23T10:00-05:00"
        ) from None
    if moment.tzinfo is None:
        moment = BusinessCalendar(timezone).at(moment.date(), moment.time())
    return moment


def parse_due(value: str, now: datetime, calendar: BusinessCalendar) -> datetime:
    """A due moment as ISO 8601; a bare date means the end of that business day."""
    text = value.strip()
    try:
        if len(text) == 10:
            return calendar.end_of(datetime.fromisoformat(text).date())
        return parse_moment(text, calendar.timezone, "due date")
    except ValueError:
        raise UserError(
            f"due date {value!r} is not understood; e.g. 2026-11-27T17:00-05:00 or 2026-11-27"
        ) from None


def _emit(as_json: bool, document: Any, human: str) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2) if as_json else human)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (else $RELIABILITY_CONFIG, "
                                  "else ./reliability.toml).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (also $RELIABILITY_DATABASE__URL).",
                     show_default=False),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", envvar="RELIABILITY_AS_OF",
                     help="Pin 'now' (ISO 8601) for this invocation: demos, simulations."),
    ] = None,
) -> None:
    settings = load_settings(config)
    if db:
        settings.database.url = db
    pinned = parse_moment(as_of, settings.calendar.default_timezone, "--as-of") if as_of else None
    ctx.obj = Runtime(settings=settings, as_of=pinned)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    runtime = _runtime(ctx)
    try:
        revision = upgrade(runtime.engine)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None
    url = sa.make_url(runtime.settings.database.url).render_as_string(hide_password=True)
    typer.echo(f"database ready: {url} (schema {revision})")


# -- clients ----------------------------------------------------------------------------


@client_app.command("add")
def client_add(
    ctx: typer.Context,
    name: str,
    email: Annotated[str, typer.Option(help="Where client messages go.")],
    contact_name: Annotated[str | None, typer.Option(help="Who we write to.")] = None,
    locale: Annotated[str, typer.Option(help="en | zh | sv")] = "en",
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. America/New_York.")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country for public holidays.")] = None,
    channel: Annotated[str, typer.Option(help="email | slack")] = "email",
    slack_channel: Annotated[str | None, typer.Option(help="Slack channel id.")] = None,
    auto_send: Annotated[bool, typer.Option(help="Send notices without approval.")] = False,
    confirm_promises: Annotated[
        bool, typer.Option(help="Send the client a confirmation of each new promise.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a client."""
    runtime = _runtime(ctx)
    client = runtime.ledger.add_client(
        name=name, email=email, contact_name=contact_name, locale=locale, timezone=timezone,
        country=country, channel=channel, slack_channel=slack_channel, auto_send=auto_send,
        confirm_promises=confirm_promises, now=runtime.now, actor=runtime.actor,
    )
    _emit(as_json, client_record(client),
          f"client #{client.id} {client.name} ({client.locale}, {client.timezone}) added")


@client_app.command("list")
def client_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List clients."""
    clients = _runtime(ctx).ledger.clients()
    rows = [[str(c.id), c.name, c.email, c.locale, c.timezone, c.country or "-", c.channel]
            for c in clients]
    _emit(as_json, [client_record(c) for c in clients],
          _table(rows, ["id", "name", "email", "locale", "timezone", "country", "channel"]))


# -- members ----------------------------------------------------------------------------


@member_app.command("add")
def member_add(
    ctx: typer.Context,
    email: str,
    name: Annotated[str, typer.Option(help="Full name.")],
    manager: Annotated[str | None, typer.Option(help="The manager's email.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone.")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country for public holidays.")] = None,
    slack_user: Annotated[str | None, typer.Option(help="Slack user id, e.g. U0123ABCD.")] = None,
    role: Annotated[str, typer.Option(help="member | manager | admin")] = "member",
    as_json: JsonOption = False,
) -> None:
    """Add a team member."""
    runtime = _runtime(ctx)
    member = runtime.ledger.add_member(
        email=email, name=name, manager_email=manager, timezone=timezone, country=country,
        slack_user_id=slack_user, role=role, now=runtime.now, actor=runtime.actor,
    )
    _emit(as_json, member_record(member), f"member #{member.id} {member.name} <{member.email}>"
          " added")


@member_app.command("list")
def member_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List team members."""
    members = _runtime(ctx).ledger.members()
    rows = [[str(m.id), m.email, m.name, m.role, boss.email if boss else "-", m.timezone]
            for m, boss in members]
    _emit(as_json, [member_record(m, boss) for m, boss in members],
          _table(rows, ["id", "email", "name", "role", "manager", "timezone"]))


# -- promises ---------------------------------------------------------------------------


def _promise_line(view: PromiseView) -> str:
    record = promise_record(view.promise, view.client, view.owner)
    return (f"#{record['id']} {record['title']} for {record['client']}, owner {record['owner']},"
            f" due {record['due_at']} [{record['status']}]")


def _promise_out(view: PromiseView, as_json: bool) -> None:
    _emit(as_json, promise_record(view.promise, view.client, view.owner), _promise_line(view))


@promise_app.command("add")
def promise_add(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What was promised.")],
    client: Annotated[str, typer.Option(help="Client name.")],
    owner: Annotated[str, typer.Option(help="Owner's email.")],
    due: Annotated[str, typer.Option(help="When: ISO 8601, e.g. 2026-11-27T17:00-05:00.")],
    as_json: JsonOption = False,
) -> None:
    """Log a promise made to a client."""
    runtime = _runtime(ctx)
    ledger = runtime.ledger
    with ledger.session() as session:
        calendar = ledger.calendar_for(ledger.find_client(session, client))
    view = ledger.add_promise(
        title=text, client_name=client, owner_email=owner,
        due_at=parse_due(due, runtime.now, calendar), now=runtime.now, actor=runtime.actor,
        raw_text=text,
    )
    _promise_out(view, as_json)


@promise_app.command("list")
def promise_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open | done | cancelled")] = None,
    client: Annotated[str | None, typer.Option(help="Only this client's.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's (email).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List promises, soonest due first."""
    views = _runtime(ctx).ledger.promises(status=status, client_name=client, owner_email=owner)
    records = [promise_record(v.promise, v.client, v.owner) for v in views]
    rows = [[str(r["id"]), r["title"], r["client"], r["owner"], r["due_at"], r["status"]]
            for r in records]
    _emit(as_json, records, _table(rows, ["id", "title", "client", "owner", "due", "status"]))


@promise_app.command("show")
def promise_show(ctx: typer.Context, promise_id: int, as_json: JsonOption = False) -> None:
    """One promise with its check-ins, date changes and timeline of events."""
    history = _runtime(ctx).ledger.history(promise_id)
    view = history.view
    tz = view.client.timezone
    document = {
        **promise_record(view.promise, view.client, view.owner),
        "checkins": [checkin_record(c, tz) for c in history.checkins],
        "due_changes": [due_change_record(d, tz) for d in history.due_changes],
        "timeline": [event_record(e, tz) for e in history.events],
    }
    timeline = "\n".join(
        f"  {iso(e.at, tz)}  {e.kind:<20} {e.actor}  "
        + ", ".join(f"{k}={v}" for k, v in e.payload.items() if v is not None)
        for e in history.events
    )
    _emit(as_json, document, f"{_promise_line(view)}\ntimeline:\n{timeline}")


@promise_app.command("done")
def promise_done(ctx: typer.Context, promise_id: int, as_json: JsonOption = False) -> None:
    """Mark a promise as delivered."""
    runtime = _runtime(ctx)
    _promise_out(runtime.ledger.complete(promise_id, now=runtime.now, actor=runtime.actor),
                 as_json)


@promise_app.command("cancel")
def promise_cancel(
    ctx: typer.Context,
    promise_id: int,
    reason: Annotated[str, typer.Option(help="Why it is off.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a promise, with the reason."""
    runtime = _runtime(ctx)
    view = runtime.ledger.cancel(promise_id, reason=reason, now=runtime.now, actor=runtime.actor)
    _promise_out(view, as_json)


@promise_app.command("checkin")
def promise_checkin(
    ctx: typer.Context,
    promise_id: int,
    status: Annotated[str, typer.Option(help="on_track | at_risk | blocked | done")],
    progress: Annotated[int | None, typer.Option(help="Percent done, 0-100.")] = None,
    note: Annotated[str | None, typer.Option(help="A word on where it stands.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the owner's check-in on a promise."""
    runtime = _runtime(ctx)
    checkin = runtime.ledger.check_in(promise_id, status=status, progress=progress, note=note,
                                      now=runtime.now, actor=runtime.actor)
    _emit(as_json, checkin_record(checkin),
          f"check-in on #{promise_id}: {checkin.status}"
          + (f", {checkin.progress}% done" if checkin.progress is not None else ""))


@promise_app.command("move")
def promise_move(
    ctx: typer.Context,
    promise_id: int,
    due: Annotated[str, typer.Option(help="The new due date.")],
    reason: Annotated[str, typer.Option(help="Why it moved.")],
    client_told: Annotated[bool, typer.Option(help="The client already knows.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Renegotiate a due date (the original date is kept)."""
    runtime = _runtime(ctx)
    ledger = runtime.ledger
    with ledger.session() as session:
        calendar = ledger.calendar_for(ledger.view(session, ledger.find_promise(session,
                                                                                promise_id)).client)
    view = ledger.move(promise_id, due_at=parse_due(due, runtime.now, calendar), reason=reason,
                       client_told=client_told, now=runtime.now, actor=runtime.actor)
    _promise_out(view, as_json)


# -- export -----------------------------------------------------------------------------


@app.command()
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="json | csv")] = "json",
    out: Annotated[Path | None, typer.Option(help="Write files into this folder.")] = None,
) -> None:
    """Export all data (JSON on stdout, or one file per table with --out)."""
    if format not in ("json", "csv"):
        raise UserError(f"unknown export format {format!r}: use json or csv")
    if format == "csv" and out is None:
        raise UserError("CSV export writes one file per table: give a folder with --out DIR")
    tables = _runtime(ctx).ledger.export()
    if out is None:
        typer.echo(json.dumps(tables, ensure_ascii=False, indent=2))
        return
    out.mkdir(parents=True, exist_ok=True)
    if format == "json":
        (out / "reliability.json").write_text(json.dumps(tables, ensure_ascii=False, indent=2),
                                              encoding="utf-8")
    else:
        for name, rows in tables.items():
            with (out / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                columns = list(rows[0]) if rows else []
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(
                    {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()}
                    for row in rows
                )
    typer.echo(f"exported {sum(len(rows) for rows in tables.values())} rows to {out}")


def main() -> None:
    """Console entry point: no traceback reaches a user unless they ask for it."""
    try:
        app()
    except Exception:
        if os.environ.get("RELIABILITY_DEBUG"):
            traceback.print_exc()
        else:
            typer.echo(
                f"internal error: {sys.exc_info()[1]!r} (set RELIABILITY_DEBUG=1 for details)",
                err=True,
            )
        sys.exit(1)
