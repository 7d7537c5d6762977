"""The `reliability` command line: a thin caller of the service layer.

Contract: listing commands take `--json` and then print one JSON document on stdout;
errors go to stderr as one message with exit code 2, and nothing is written.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from reliability import capture, compose, drafts, exchange, limits, notices, tallies
from reliability.commands import digests, extract, inbox, reports, server, slack, tokens, webhooks
from reliability.commands.runtime import (
    JsonOption,
    Runtime,
    emit,
    emit_each,
    internal_error,
    parse_moment,
    runtime_of,
    sub_app,
    table,
)
from reliability.config import load_settings
from reliability.db import upgrade
from reliability.deadlines import resolve, resolve_due
from reliability.drafting import rendering, samples
from reliability.drafting.contexts import KINDS, LOCALES
from reliability.drafting.reasons import reason_text
from reliability.errors import UserError
from reliability.ledger import PromiseView
from reliability.mistakes import Credit, log_mistake
from reliability.mistakes import mistakes as list_mistakes
from reliability.records import (
    checkin_record,
    client_record,
    due_change_record,
    event_record,
    member_record,
    mistake_record,
    notice_record,
    promise_record,
)

app = sub_app("Keep the promises your team makes to clients, and warn early when one slips.")
client_app = sub_app("Clients: who you make promises to, in which language, calendar and channel.")
member_app = sub_app("Members: the people who make and keep promises, and their managers.")
promise_app = sub_app("Promises: log, list, check in, complete, cancel or renegotiate.")
app.add_typer(client_app, name="client")
app.add_typer(member_app, name="member")
drafts_app = sub_app("Drafts and the outbox: review, edit, approve or cancel outgoing messages.")
mistake_app = sub_app("Mistakes: own them with a fix and a prevention step.")
templates_app = sub_app("Message templates: check them all, or preview one.")
app.add_typer(promise_app, name="promise")
app.add_typer(drafts_app, name="drafts")
app.add_typer(mistake_app, name="mistake")
app.add_typer(templates_app, name="templates")


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
    ctx.call_on_close(ctx.obj.close)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    runtime = runtime_of(ctx)
    revision = upgrade(runtime.engine)
    url = sa.make_url(runtime.settings.database.url).render_as_string(hide_password=True)
    if not runtime.ledger.read(tallies.complete):  # upgraded past 0024 with promises in it
        runtime.ledger.recount(now=runtime.now, actor=runtime.actor)
        typer.echo("rebuilt the stored reliability figures from existing promises "
                   "(a one-time step after this upgrade)")
    typer.echo(f"database ready: {url} (schema {revision})")


# -- clients ----------------------------------------------------------------------------


@client_app.command("add")
def client_add(
    ctx: typer.Context,
    name: str,
    email: Annotated[str, typer.Option(help="Where client messages go.")],
    contact_name: Annotated[str | None, typer.Option(help="Who we write to.")] = None,
    greeting: Annotated[str | None, typer.Option(
        help='How letters greet them, e.g. "Dr Reed" or 王经理 (default: the first name).')]
    = None,
    locale: Annotated[str, typer.Option(help="en | zh | sv")] = "en",
    address: Annotated[str, typer.Option(
        help="ni | du: how a Swedish letter addresses them.")] = "ni",
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
    runtime = runtime_of(ctx)
    client = runtime.ledger.add_client(
        name=name, email=email, contact_name=contact_name, greeting=greeting, locale=locale,
        address=address, timezone=timezone,
        country=country, channel=channel, slack_channel=slack_channel, auto_send=auto_send,
        confirm_promises=confirm_promises, now=runtime.now, actor=runtime.actor,
    )
    emit(as_json, client_record(client),
          f"client #{client.id} {client.name} ({client.locale}, {client.timezone}) added")


@client_app.command("edit")
def client_edit(
    ctx: typer.Context,
    client: Annotated[str, typer.Argument(help="The client's current name.")],
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    email: Annotated[str | None, typer.Option(help="Where client messages go.")] = None,
    contact_name: Annotated[str | None, typer.Option(help='Who we write to ("" for nobody).')]
    = None,
    greeting: Annotated[str | None, typer.Option(
        help='How letters greet them ("" to derive it from the contact).')] = None,
    locale: Annotated[str | None, typer.Option(help="en | zh | sv")] = None,
    address: Annotated[str | None, typer.Option(
        help="ni | du: how a Swedish letter addresses them.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone.")] = None,
    country: Annotated[str | None, typer.Option(
        help='ISO country for public holidays ("" for none).')] = None,
    channel: Annotated[str | None, typer.Option(help="email | slack")] = None,
    slack_channel: Annotated[str | None, typer.Option(help='Slack channel id ("" for none).')]
    = None,
    auto_send: Annotated[bool | None, typer.Option(
        "--auto-send/--no-auto-send", help="Send notices without approval.")] = None,
    confirm_promises: Annotated[bool | None, typer.Option(
        "--confirm-promises/--no-confirm-promises",
        help="Send the client a confirmation of each new promise.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a client's details; only the options given change."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    found, changed = ledger.edit_client(
        ledger.client_named(client).id or 0, now=runtime.now, actor=runtime.actor, name=name,
        email=email, contact_name=contact_name, greeting=greeting, locale=locale,
        address=address, timezone=timezone, country=country, channel=channel,
        slack_channel=slack_channel, auto_send=auto_send, confirm_promises=confirm_promises)
    emit(as_json, client_record(found),
         f"client #{found.id} {found.name}: " + _changes(changed))


def _changes(changed: dict[str, list[object]]) -> str:
    if not changed:
        return "nothing changed"
    return "; ".join(f"{key} {before if before not in (None, '') else '-'} -> "
                     f"{after if after not in (None, '') else '-'}"
                     for key, (before, after) in changed.items())


@client_app.command("list")
def client_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List clients."""
    clients = runtime_of(ctx).ledger.clients()
    rows = [[str(c.id), c.name, c.email, c.locale, c.timezone, c.country or "-", c.channel]
            for c in clients]
    emit(as_json, [client_record(c) for c in clients],
          table(rows, ["id", "name", "email", "locale", "timezone", "country", "channel"]))


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
    locale: Annotated[str | None, typer.Option(
        help="en | sv | zh: the language of what they read (default: [team] locale).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a team member."""
    runtime = runtime_of(ctx)
    member = runtime.ledger.add_member(
        email=email, name=name, manager_email=manager, timezone=timezone, country=country,
        slack_user_id=slack_user, role=role, locale=locale, now=runtime.now,
        actor=runtime.actor,
    )
    emit(as_json, member_record(member), f"member #{member.id} {member.name} <{member.email}>"
          " added")


@member_app.command("list")
def member_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List team members."""
    members = runtime_of(ctx).ledger.members()
    rows = [[str(m.id), m.email, m.name, "removed" if m.removed_at else m.role,
             boss.email if boss else "-", m.timezone]
            for m, boss in members]
    emit(as_json, [member_record(m, boss) for m, boss in members],
          table(rows, ["id", "email", "name", "role", "manager", "timezone"]))


@member_app.command("edit")
def member_edit(
    ctx: typer.Context,
    email: str,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    manager: Annotated[str | None, typer.Option(help='The manager\'s email ("" for none).')]
    = None,
    locale: Annotated[str | None, typer.Option(
        help='en | zh | sv ("" for the team\'s language).')] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone.")] = None,
    country: Annotated[str | None, typer.Option(
        help='ISO country for public holidays ("" for none).')] = None,
    digest_channel: Annotated[str | None, typer.Option(help="email | slack")] = None,
    signature: Annotated[str | None, typer.Option(
        help='Lines that close their client letters; \\n starts a new line, e.g. '
             '"Priya Raman\\nAccount Director" ("" for their name and the team\'s).')] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a member's details (the role has `member role`); only the options given
    change."""
    runtime = runtime_of(ctx)
    member, changed = runtime.ledger.edit_member(
        email, name=name, manager_email=manager, locale=locale, timezone=timezone,
        country=country, digest_channel=digest_channel,
        signature=signature.replace("\\n", "\n") if signature is not None else None,
        now=runtime.now, actor=runtime.actor)
    boss = next((b for m, b in runtime.ledger.members() if m.id == member.id), None)
    emit(as_json, member_record(member, boss), f"{member.email}: " + _changes(changed))


@member_app.command("role")
def member_role(ctx: typer.Context, email: str,
                role: Annotated[str, typer.Argument(help="member | manager | admin")]) -> None:
    """Change a member's role; their browser sessions end, so they sign in again to use it."""
    runtime = runtime_of(ctx)
    member = runtime.ledger.change_role(email, role, now=runtime.now, actor=runtime.actor)
    typer.echo(f"{member.email} is now {member.role}; their browser sessions have ended")


@member_app.command("remove")
def member_remove(ctx: typer.Context, email: str) -> None:
    """Take a member off the team, keeping their history (not while they own open promises)."""
    runtime = runtime_of(ctx)
    member = runtime.ledger.remove_member(email, now=runtime.now, actor=runtime.actor)
    typer.echo(f"{member.email} removed: their sessions, token and calendar feeds no longer "
               "work; their promises and history are kept")


# -- promises ---------------------------------------------------------------------------


def _promise_line(view: PromiseView) -> str:
    record = promise_record(view.promise, view.client, view.owner)
    due = notices.reader_time(view.promise.due_at, view.client.timezone)
    return (f"#{record['id']} {record['title']} for {record['client']}, owner {record['owner']},"
            f" due {due} [{record['status']}]")


def _promise_out(view: PromiseView, as_json: bool) -> None:
    emit(as_json, promise_record(view.promise, view.client, view.owner), _promise_line(view))


@promise_app.command("add")
def promise_add(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(
        help='What was promised, by when: "Q3 report for Acme by Friday".')],
    client: Annotated[str | None, typer.Option(
        help="Client name (else recognised in the text).")] = None,
    owner: Annotated[str, typer.Option(help="Owner's email.")] = "",
    due: Annotated[str | None, typer.Option(
        help="When, if the text does not say: a phrase or ISO 8601.")] = None,
    due_suggested: Annotated[bool, typer.Option(
        "--due-suggested", help="Promise the day the owner will likely be done instead, "
        "when the forecast says that is later than the date asked.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Log a promise made to a client, with the forecast of whether it will be kept."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    if not owner:
        raise UserError("say who owns the promise: --owner EMAIL")
    title, client_name, due_at = capture.understand(ledger, text, client=client, due=due,
                                                    now=runtime.now)
    suggested = (capture.forecast(ledger, client_name=client_name, owner_email=owner,
                                  due_at=due_at, now=runtime.now,
                                  actor=runtime.actor).suggested_due_at
                 if due_suggested else None)
    view, made = capture.log_promise(
        ledger, title=title, client_name=client_name, owner_email=owner,
        due_at=suggested or due_at, now=runtime.now, actor=runtime.actor, raw_text=text,
        asked_due_at=due_at if suggested else None)
    calendar = ledger.calendar_for(view.client)
    lines = [_promise_line(view), *capture.describe(made, owner_name=view.owner.name,
                                                    calendar=calendar, now=runtime.now)]
    if suggested:
        lines.append(f"Promised {capture.day(suggested, calendar)} instead of the "
                     f"{capture.day(due_at, calendar)} asked for.")
    elif made.suggested_due_at:
        lines.append(f"Logged for the date asked; --due-suggested would have promised "
                     f"{capture.day(made.suggested_due_at, calendar)}, the likely day, instead.")
    emit(as_json, {**promise_record(view.promise, view.client, view.owner),
                   "forecast": made.to_json()}, "\n".join(lines))


@promise_app.command("acknowledge")
def promise_acknowledge(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help="What the client asked for, in a sentence.")],
    client: Annotated[str, typer.Option(help="Client name.")],
    owner: Annotated[str, typer.Option(help="Who answers (email).")],
    reply_by: Annotated[str, typer.Option(help="When they will hear back: a phrase or ISO.")],
    as_json: JsonOption = False,
) -> None:
    """Acknowledge a client's request: a promise to reply, and a receipt draft to the client."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    calendar = ledger.client_calendar(client)
    view, notice = ledger.acknowledge_request(
        summary=request, client_name=client, owner_email=owner,
        reply_by=resolve_due(reply_by, now=runtime.now, calendar=calendar),
        now=runtime.now, actor=runtime.actor)
    record = {**promise_record(view.promise, view.client, view.owner),
              "draft_id": notice.id if notice else None}
    emit(as_json, record, f"{_promise_line(view)}\nreceipt draft #{record['draft_id']} "
         "awaits approval (`reliability drafts show`)")


@promise_app.command("list")
def promise_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open | done | cancelled")] = None,
    client: Annotated[str | None, typer.Option(help="Only this client's.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's (email).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List promises, soonest due first (as JSON, written as they are read)."""
    views = runtime_of(ctx).ledger.each_promise(status=status, client_name=client,
                                                owner_email=owner)
    if as_json:
        emit_each(promise_record(v.promise, v.client, v.owner) for v in views)
        return
    shown = list(views)  # a table needs every row's width before it prints one
    records = [promise_record(v.promise, v.client, v.owner) for v in shown]
    rows = [[str(r["id"]), r["title"], r["client"], r["owner"],
             notices.reader_time(v.promise.due_at, v.client.timezone), r["status"]]
            for r, v in zip(records, shown, strict=True)]
    emit(as_json, records, table(rows, ["id", "title", "client", "owner", "due", "status"]))


@promise_app.command("show")
def promise_show(ctx: typer.Context, promise_id: int, as_json: JsonOption = False) -> None:
    """One promise with its check-ins, date changes and timeline of events."""
    history = runtime_of(ctx).ledger.history(promise_id)
    view = history.view
    tz = view.client.timezone
    document = {
        **promise_record(view.promise, view.client, view.owner),
        "checkins": [checkin_record(c, tz) for c in history.checkins],
        "due_changes": [due_change_record(d, tz) for d in history.due_changes],
        "timeline": [event_record(e, tz) for e in history.events],
    }
    timeline = "\n".join(
        f"  {notices.reader_time(e.at, tz)}  {e.kind:<20} {e.actor}  "
        + ", ".join(f"{k}={v}" for k, v in e.payload.items() if v is not None)
        for e in history.events
    )
    emit(as_json, document, f"{_promise_line(view)}\ntimeline:\n{timeline}")


@promise_app.command("done")
def promise_done(ctx: typer.Context, promise_id: int, as_json: JsonOption = False) -> None:
    """Mark a promise as delivered."""
    runtime = runtime_of(ctx)
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
    runtime = runtime_of(ctx)
    view = runtime.ledger.cancel(promise_id, reason=reason, now=runtime.now, actor=runtime.actor)
    _promise_out(view, as_json)


@promise_app.command("checkin")
def promise_checkin(
    ctx: typer.Context,
    promise_id: int,
    status: Annotated[str, typer.Option(help="on_track | at_risk | blocked | done")],
    progress: Annotated[int | None, typer.Option(help="Percent done, 0-100.")] = None,
    note: Annotated[str | None, typer.Option(help="A word on where it stands.")] = None,
    waiting_for: Annotated[str | None, typer.Option(
        help="What the client still has to send, in their language; the delay letter asks "
             "for it.")] = None,
    client_reason: Annotated[str | None, typer.Option(
        help="What the client may be told about the delay, written for them; the delay "
             "letter uses it (the note never reaches the client).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the owner's check-in on a promise."""
    runtime = runtime_of(ctx)
    checkin = runtime.ledger.check_in(promise_id, status=status, progress=progress, note=note,
                                      now=runtime.now, actor=runtime.actor,
                                      waiting_for=waiting_for, client_reason=client_reason)
    emit(as_json, checkin_record(checkin),
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
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    calendar = ledger.calendar_for(ledger.promise_view(promise_id, runtime.actor).client)
    due_at = resolve_due(due, now=runtime.now, calendar=calendar)
    view = ledger.move(promise_id, due_at=due_at, reason=reason, client_told=client_told,
                       now=runtime.now, actor=runtime.actor)
    _promise_out(view, as_json)


# -- early warning ----------------------------------------------------------------------


@app.command()
def when(
    ctx: typer.Context,
    phrase: Annotated[str, typer.Argument(help='"by Friday", "EOM", "senast fredag", "周五前"')],
    timezone: Annotated[str | None, typer.Option(help="IANA zone (default: config).")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country for holidays.")] = None,
    locale: Annotated[str | None, typer.Option(help="en | zh | sv (default: detect).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show how a deadline phrase resolves, in a calendar."""
    runtime = runtime_of(ctx)
    calendar = runtime.settings.calendar.calendar(timezone, country)
    found = resolve(phrase, now=runtime.now, calendar=calendar, locale=locale)
    limits.within_horizon(found.due_at, runtime.now, runtime.settings.policy.due_horizon_years)
    document = found.to_json()
    document.pop("client", None)
    human = found.echo + (f"  (or: {', '.join(a.isoformat() for a in found.alternatives)})"
                          if found.ambiguous else "")
    emit(as_json, document, human)


@app.command()
def scan(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Assess every promise due a look now (one scheduler tick), and queue what follows."""
    from reliability.scan import Scanner

    runtime = runtime_of(ctx)
    report = Scanner(runtime.ledger).tick(runtime.now)
    document = report.to_json()
    # Reasons in the team's language and zone: the CLI has no member of its own.
    words = {"locale": runtime.settings.team.locale,
             "timezone": runtime.settings.calendar.default_timezone, "now": runtime.now}
    for change in document["changes"]:
        change["reasons"] = [{**reason, "text": reason_text(reason, **words)}
                             for reason in change["reasons"]]
    lines = [f"assessed {report.assessed} promise(s)"]
    lines += [f"  #{c['promise_id']}: {c['from']} -> {c['to']} (p_late {c['p_late']:.0%})"
              + "".join(f"\n      - {reason['text']}" for reason in c["reasons"])
              for c in document["changes"]]
    lines += [f"  {a['kind']} #{a['notice_id']} for promise #{a['promise_id']}"
              for a in report.actions]
    lines += [f"  could not assess promise #{f['promise_id']}: {f['reason']}"
              for f in report.failed]
    emit(as_json, document, "\n".join(lines))


# -- drafts -----------------------------------------------------------------------------


def _notice_out(runtime: Runtime, notice_id: int, as_json: bool) -> None:
    view = drafts.show(runtime.ledger, runtime.operator, notice_id)
    notice, client = view.notice, view.client
    record = notice_record(notice, client.name if client else None,
                           client.timezone if client else None)
    human = (f"#{notice.id} {notice.kind} to {notice.recipient} [{notice.status}]\n"
             + f"state: {notices.state_words(notice, _reader_zone(runtime))}\n"
             + (f"note for the approver: {notice.approver_note}\n" if notice.approver_note
                else "")
             + f"subject: {notice.subject}\n\n{notice.text}")
    emit(as_json, record, human)


@drafts_app.command("list")
def drafts_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="draft | queued | sent | dead | …")] = None,
    as_json: JsonOption = False,
) -> None:
    """Outgoing messages, newest first."""
    runtime = runtime_of(ctx)
    rows = [(view.notice, view.client)
            for view in drafts.listing(runtime.ledger, runtime.operator, status=status)]
    records = [notice_record(n, c.name if c else None, c.timezone if c else None)
               for n, c in rows]
    rows = [[str(r["id"]), r["kind"], str(r["promise_id"] or "-"), r["client"] or "-",
              r["locale"], r["status"], r["subject"][:60]] for r in records]
    emit(as_json, records, table(rows, ["id", "kind", "promise", "client", "locale",
                                           "status", "subject"]))


@drafts_app.command("show")
def drafts_show(ctx: typer.Context, notice_id: int, as_json: JsonOption = False) -> None:
    """One message in full."""
    _notice_out(runtime_of(ctx), notice_id, as_json)


@drafts_app.command("edit")
def drafts_edit(
    ctx: typer.Context,
    notice_id: int,
    text_file: Annotated[Path | None, typer.Option(help="The new body text.")] = None,
    due: Annotated[str | None, typer.Option(help="A new proposed date (delay notices).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Edit a draft before approval; the earlier wording is kept in its history."""
    runtime = runtime_of(ctx)
    if text_file is None and due is None:
        raise UserError("nothing to change: give --text-file FILE and/or --due WHEN")
    try:
        text = text_file.read_text(encoding="utf-8") if text_file else None
    except OSError as exc:
        raise UserError(f"cannot read {text_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{text_file} is not UTF-8 text", field="text",
                        hint="save it as UTF-8 and try again") from None
    drafts.edit(runtime.ledger, runtime.operator, notice_id, text=text, due=due,
                now=runtime.now)
    _notice_out(runtime, notice_id, as_json)


@drafts_app.command("approve")
def drafts_approve(ctx: typer.Context, notice_id: int, as_json: JsonOption = False) -> None:
    """Approve a draft: it joins the outbox and is sent."""
    runtime = runtime_of(ctx)
    drafts.approve(runtime.ledger, runtime.operator, notice_id, now=runtime.now)
    _notice_out(runtime, notice_id, as_json)


@drafts_app.command("cancel")
def drafts_cancel(
    ctx: typer.Context,
    notice_id: int,
    reason: Annotated[str, typer.Option(help="Why it should not go out.")],
    as_json: JsonOption = False,
) -> None:
    """Call off a message that has not been sent."""
    runtime = runtime_of(ctx)
    drafts.cancel(runtime.ledger, runtime.operator, notice_id, reason=reason, now=runtime.now)
    _notice_out(runtime, notice_id, as_json)


# -- mistakes ---------------------------------------------------------------------------


@mistake_app.command("add")
def mistake_add(
    ctx: typer.Context,
    client: Annotated[str, typer.Option(help="Client name.")],
    summary: Annotated[str, typer.Option(help="What went wrong.")],
    prevention: Annotated[str, typer.Option(help="What changes so it does not happen again.")],
    owner: Annotated[str | None, typer.Option(help="Who owns it (default: the promise's "
                                                   "owner).")] = None,
    promise: Annotated[int | None, typer.Option(help="The promise it concerns.")] = None,
    category: Annotated[str, typer.Option(help="A short label; repeats are per category.")]
    = "general",
    severity: Annotated[str, typer.Option(help="minor | major")] = "minor",
    credit: Annotated[tuple[str, str] | None, typer.Option(
        help="An approved credit: AMOUNT CURRENCY, e.g. --credit 500 USD.")] = None,
    credit_method: Annotated[str | None, typer.Option(
        help="How the credit reaches them: credit_note | refund | reissued_invoice.")] = None,
    credit_basis: Annotated[str | None, typer.Option(
        help="What the credit is: overcharge (money back) | goodwill (on top).")] = None,
    fixed: Annotated[bool, typer.Option(
        "--fixed", help="It is already corrected (the letter says so only then).")] = False,
    fix_due: Annotated[str | None, typer.Option(
        help="Not fixed yet: when it will be.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Log a mistake: drafts the remediation message and a prevention commitment."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    calendar = ledger.client_calendar(client)
    logged = log_mistake(
        ledger, client_name=client, summary=summary, prevention=prevention, owner_email=owner,
        promise_id=promise, category=category, severity=severity,
        credit=Credit.parse(*credit, credit_method, credit_basis) if credit else None,
        fixed=fixed,
        fix_due_at=resolve_due(fix_due, now=runtime.now, calendar=calendar) if fix_due else None,
        now=runtime.now, actor=runtime.actor,
    )
    record = {
        **mistake_record(logged.mistake, logged.client, logged.owner),
        "draft_id": logged.draft_id,
        "escalation_id": logged.escalation_id,
    }
    lines = [f"mistake #{logged.mistake.id} logged for {logged.client.name}; "
             f"remediation draft #{logged.draft_id}; prevention commitment "
             f"#{logged.prevention_promise_id}"]
    if logged.repeat_count:
        lines.append(f"REPEAT: {logged.repeat_count + 1} in category '{category}'; "
                     "the manager has been told")
    emit(as_json, record, "\n".join(lines))


@mistake_app.command("list")
def mistake_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Mistakes, newest first, repeats marked."""
    rows = list_mistakes(runtime_of(ctx).ledger)
    records = [mistake_record(m, c, o) for m, c, o in rows]
    rows = [[str(r["id"]), r["client"], r["category"], "yes" if r["repeat"] else "",
              r["summary"][:50], r["created_at"][:10]] for r in records]
    emit(as_json, records, table(rows, ["id", "client", "category", "repeat", "summary",
                                           "date"]))


# -- templates --------------------------------------------------------------------------


@templates_app.command("check")
def templates_check(ctx: typer.Context) -> None:
    """Render every template in every locale against sample data; list any error."""
    overrides = runtime_of(ctx).settings.templates.dir
    problems = rendering.check(overrides)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(2)
    count = len(KINDS) * len(LOCALES)
    typer.echo(f"all templates render: {count} kind/locale pairs"
               + (f" (with overrides from {overrides})" if overrides else ""))


@templates_app.command("preview")
def templates_preview(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="One of: " + ", ".join(KINDS))],
    locale: Annotated[str, typer.Option(help="en | zh | sv")] = "en",
    promise: Annotated[int | None, typer.Option(
        help="Render a delay notice with this promise's facts instead of sample data.")] = None,
    part: Annotated[str, typer.Option(help="text | html | blocks")] = "text",
) -> None:
    """Print one rendering."""
    runtime = runtime_of(ctx)
    if kind not in KINDS:
        raise UserError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if locale not in LOCALES:
        raise UserError(f"unknown locale {locale!r}: use en, zh or sv")
    if part not in ("text", "html", "blocks"):
        raise UserError(f"unknown part {part!r}: use text, html or blocks")
    context = samples.sample_context(kind, locale)
    if promise is not None:
        if kind != "delay_notice":
            raise UserError("--promise previews a delay_notice; leave it out for other kinds")
        ledger = runtime.ledger
        view = ledger.promise_view(promise, runtime.actor)
        calendar = ledger.calendar_for(view.client)
        proposed = calendar.end_of(calendar.add_business_days(
            calendar.local(view.promise.due_at).date(), 2))
        context = compose.delay_notice(runtime.settings, promise=view.promise,
                                       client=view.client, owner=view.owner,
                                       new_due_at=proposed, reason=None, interim=None,
                                       now=runtime.now)
    try:
        message = rendering.render(kind, locale, context, overrides=runtime.settings.templates.dir)
    except rendering.TemplateError as exc:
        raise UserError(str(exc)) from None
    body = {"text": message.text, "html": message.html,
            "blocks": json.dumps(message.blocks, ensure_ascii=False, indent=2)}[part]
    typer.echo(f"Subject: {message.subject}\n\n{body}")


@app.command()
def deliver(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One round (one batch), then stop.")]
    = False,
    as_json: JsonOption = False,
) -> None:
    """Send what the outbox holds (approved and team messages), then stop."""
    from reliability.outbox import DeliveryReport, Outbox

    runtime = runtime_of(ctx)
    outbox = Outbox(runtime.ledger)
    total = DeliveryReport()
    while True:
        report = outbox.deliver(runtime.now)
        total.claimed += report.claimed
        total.sent += report.sent
        total.retrying += report.retrying
        total.dead += report.dead
        if once or report.claimed == 0:
            break
    lines = [f"sent {len(total.sent)}, retrying {len(total.retrying)}, dead {len(total.dead)}"]
    for notice_id in [*total.retrying, *total.dead]:
        notice = drafts.show(runtime.ledger, runtime.operator, notice_id).notice
        lines.append(f"  #{notice_id} {notice.kind} to {notice.recipient}: "
                     f"{notices.state_words(notice, _reader_zone(runtime))}")
    emit(as_json, total.to_json(), "\n".join(lines))


def _reader_zone(runtime: Runtime) -> str:
    """The CLI's reader has no member row: times are in the team's zone, named."""
    return runtime.settings.calendar.default_timezone


# -- export and import ------------------------------------------------------------------


@app.command()
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="json (JSON Lines) | csv")] = "json",
    out: Annotated[Path | None, typer.Option(help=(
        "json: a new file (default: stdout). csv: a new folder, or a file ending in .zip."
    ))] = None,
) -> None:
    """Export every table, secrets left out, as JSON Lines or CSV (see docs/export.md)."""
    counts = exchange.export_to(runtime_of(ctx).ledger.engine, format=format, out=out,
                                stdout=sys.stdout)
    if out is not None:
        typer.echo(f"exported {counts.total} rows to {out} ({counts.summary()})")


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(
        help="An export: a JSON Lines file, a CSV folder or a CSV .zip.")],
) -> None:
    """Restore an export into an empty database made with `reliability init`."""
    runtime = runtime_of(ctx)
    counts = exchange.import_from(runtime.ledger.engine, runtime.ledger.settings, source,
                                  now=runtime.now)
    typer.echo(f"imported {counts.total} rows from {source} ({counts.summary()})")


@app.command()
def recount(ctx: typer.Context) -> None:
    """Rebuild the stored figures from the event history.

    Recomputes the daily totals behind the on-time and notice figures, and the facts kept
    alongside them (when each client first heard of a slip, which check-in requests were
    answered, how many promises each client has had). Run it after loading rows into the
    database by other means, or after changing calendar settings (business hours, closures)
    so that past days are counted with them. A client's new time zone or country needs no
    recount: `client edit` applies it."""
    runtime = runtime_of(ctx)
    runtime.ledger.recount(now=runtime.now, actor=runtime.actor)
    typer.echo("recount done: stored figures rebuilt from the event history")


def main() -> None:
    """Console entry point: no traceback reaches a user unless they ask for it."""
    try:
        app()
    except Exception:
        if os.environ.get("RELIABILITY_DEBUG"):
            traceback.print_exc()
        else:
            internal_error()
        sys.exit(1)


# Every command defined outside this module, registered in one place (after this module's
# own, which is the order `--help` lists them in).
app.command()(digests.digest)
member_app.command("token")(digests.member_token)
app.command()(server.serve)
app.command()(server.worker)
app.command()(server.demo)
promise_app.command("extract")(extract.promise_extract)
app.command("inbox")(inbox.inbox)
app.command()(reports.report)
app.add_typer(reports.rating_app, name="rating")
client_app.command("trust")(reports.client_trust)
app.command("backtest")(reports.backtest_command)
app.add_typer(slack.slack_group, name="slack")
app.add_typer(webhooks.webhook_app, name="webhook")
app.add_typer(tokens.token_app, name="token")
