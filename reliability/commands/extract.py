"""`reliability promise extract`: the commitments and requests in meeting notes or an email.

Reads the team and the clients to recognise names and to place due dates on the client's
calendar; stores nothing: the person reading the list decides what to log.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reliability import capture
from reliability.calendar import BusinessCalendar
from reliability.commands.runtime import JsonOption, emit, runtime_of
from reliability.commitments import Finding
from reliability.deadlines import echo
from reliability.errors import UserError

MAX_BYTES = 1024 * 1024  # notes and emails are far shorter; more is not a conversation


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
    findings, calendar = capture.extract(ledger, text, client=client, author=author,
                                         now=runtime.now)
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
    except ValueError:  # a NUL in the name, which no file system allows
        raise UserError(f"cannot read {source!r}: a file name cannot contain a NUL character",
                        hint="give the path of a notes or email file, or - for stdin") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{source!r} is over 1 MiB ({MAX_BYTES:,} bytes): extract from a "
                        "shorter part of it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{source!r} is not UTF-8 text") from None


def _line(finding: Finding, calendar: BusinessCalendar) -> str:
    due = echo(finding.due_at, calendar) if finding.due_at else "no date"
    return (f"{finding.kind}: {finding.title} (owner {finding.owner or 'unknown'}, "
            f"client {finding.client or 'unknown'}, due {due}, confidence "
            f"{finding.confidence:.2f})\n  \u201c{finding.sentence}\u201d")
