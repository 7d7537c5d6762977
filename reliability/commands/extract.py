"""`reliability promise extract`: the commitments and requests in meeting notes or an email.

Reads the team and the clients to recognise names and to place due dates on the client's
calendar; stores nothing: the person reading the list decides what to log.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from sqlmodel import Session, col, select

from reliability.calendar import BusinessCalendar
from reliability.cli import JsonOption, emit, promise_app, runtime_of
from reliability.commitments import Finding, Person, detect
from reliability.deadlines import echo
from reliability.errors import UserError
from reliability.models import Client, Member

MAX_BYTES = 1024 * 1024  # notes and emails are far shorter; more is not a conversation


@promise_app.command("extract")
def promise_extract(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(
        help="A notes or email file, or - for stdin: UTF-8 text of at most 1 MiB.")],
    client: Annotated[str | None, typer.Option(
        help="The conversation's client (else the author's, when a client contact wrote it)."
    )] = None,
    author: Annotated[str | None, typer.Option(
        help="Who wrote it: a member's email, or a client contact's address.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the promises and requests found in a text, with owner, client and date."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    text = _read(source)
    with ledger.session() as session:
        conversation = ledger.find_client(session, client) if client else None
        author_is_member = True
        if author is not None:
            writer = _client_of_contact(session, author)
            if writer is None:
                ledger.find_member(session, author)
            else:
                author_is_member = False
                conversation = conversation or writer
        team = [Person(m.email, m.name, m.slack_user_id) for m in
                session.exec(select(Member).where(col(Member.removed_at).is_(None))).all()]
        names = list(session.exec(select(Client.name)).all())
        calendar = ledger.calendar_for(conversation)
    findings = detect(
        text, author=(author or "").strip().lower() or None, author_is_member=author_is_member,
        client=conversation.name if conversation else None, now=runtime.now, calendar=calendar,
        members=team, client_names=names,
    )
    emit(as_json, [finding.to_json() for finding in findings],
         "\n".join(_line(f, calendar) for f in findings) or "(no commitments or requests found)")


def _read(source: str) -> str:
    """The text, read no further than one byte past MAX_BYTES (a device never ends)."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {source!r}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{source!r} is over 1 MiB ({MAX_BYTES:,} bytes): extract from a "
                        "shorter part of it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{source!r} is not UTF-8 text") from None


def _client_of_contact(session: Session, address: str) -> Client | None:
    return session.exec(
        select(Client).where(sa.func.lower(Client.email) == address.strip().lower())
    ).first()


def _line(finding: Finding, calendar: BusinessCalendar) -> str:
    due = echo(finding.due_at, calendar) if finding.due_at else "no date"
    return (f"{finding.kind}: {finding.title} (owner {finding.owner or 'unknown'}, "
            f"client {finding.client or 'unknown'}, due {due}, confidence "
            f"{finding.confidence:.2f})\n  \u201c{finding.sentence}\u201d")
