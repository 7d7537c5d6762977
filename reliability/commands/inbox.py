"""`reliability inbox`: client mail read for promises and requests, each offered once.

Ways in: one message on stdin (`reliability inbox -`, for a mail server's pipe, as
Redmine and Request Tracker take mail), one round over the IMAP mailbox (`--imap`),
rounds every `--every` seconds (`--imap --loop`, for a worker), or an SMTP listener the
mail server delivers to (`--smtp`). A round that cannot reach
the mailbox is logged and tried again; nothing is marked read before it is recorded.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
import typer

from reliability import inbox as service
from reliability import limits
from reliability.channels.imap import MailboxError
from reliability.channels.listener import ListenerError
from reliability.commands.runtime import JsonOption, emit, runtime_of
from reliability.db import DatabaseError
from reliability.errors import UserError
from reliability.ledger import Ledger

log = logging.getLogger(__name__)
# sysexits' EX_TEMPFAIL: a mail server keeps the message and pipes it again later.
TEMPFAIL = 75


def inbox(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Argument(
        help="- to read one RFC 822 message from stdin (a mail server's pipe).")] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="The same as -.")] = False,
    imap: Annotated[bool, typer.Option(
        "--imap", help="Read the waiting messages of the [inbox] IMAP mailbox.")] = False,
    smtp: Annotated[bool, typer.Option(
        "--smtp", help="Listen for mail delivered by SMTP on [inbox] listen_host:listen_port "
                       "until Ctrl-C.")] = False,
    loop: Annotated[bool, typer.Option(
        "--loop", help="With --imap: keep reading, every --every seconds.")] = False,
    every: Annotated[int | None, typer.Option(
        help="Seconds between rounds with --loop (default: [inbox] poll_seconds).",
        min=5)] = None,
    as_json: JsonOption = False,
) -> None:
    """Read client mail for promises and requests, and ask their owners to confirm them."""
    runtime = runtime_of(ctx)
    from_stdin = stdin or source == "-"
    if source not in (None, "-"):
        raise UserError(f"unknown message source {source!r}",
                        hint="use - (or --stdin) for one message on stdin, or --imap")
    if [from_stdin, imap, smtp].count(True) != 1:
        raise UserError("say where the mail comes from, one way",
                        hint="reliability inbox - (one message on stdin), reliability inbox "
                             "--imap (the [inbox] mailbox) or reliability inbox --smtp "
                             "(a listener for the mail server)")
    if loop and not imap:
        raise UserError("--loop reads a mailbox", hint="use it with --imap")
    if from_stdin:
        raw = sys.stdin.buffer.read(limits.MAX_MAIL_BYTES + 1)
        try:
            receipts = [service.receive(runtime.ledger, raw, now=runtime.now, via="stdin")]
        except (sa.exc.OperationalError, DatabaseError) as exc:
            typer.echo(f"error: the database could not take the message ({exc}); the mail "
                       "server should try again later", err=True)
            raise typer.Exit(TEMPFAIL) from None
        _show(as_json, receipts)
        return
    ledger = runtime.ledger
    if smtp:
        _listen(ledger, runtime.as_of)
        return
    seconds = every or ledger.settings.inbox.poll_seconds
    try:
        while True:
            now = runtime.as_of or datetime.now(UTC)
            try:
                _show(as_json, service.poll(ledger, now=now))
            except (MailboxError, sa.exc.OperationalError) as exc:
                if not loop:
                    raise UserError(str(exc)) from None
                typer.echo(f"inbox: {exc}; trying again in {seconds} s", err=True)
            if not loop:
                return
            time.sleep(seconds)
    except KeyboardInterrupt:  # Ctrl-C or SIGINT: a message half-read is read again
        return


def _listen(ledger: Ledger, as_of: datetime | None) -> None:
    settings = ledger.settings.inbox
    try:
        with service.listener(ledger, clock=lambda: as_of or datetime.now(UTC)):
            typer.echo(f"listening for mail on {settings.listen_host}:{settings.listen_port} "
                       "(Ctrl-C to stop)", err=True)
            while True:
                time.sleep(3600)
    except ListenerError as exc:
        raise UserError(str(exc), hint="choose a free port with [inbox] listen_port") from None
    except KeyboardInterrupt:
        return


def _show(as_json: bool, receipts: list[service.Receipt]) -> None:
    emit(as_json, [receipt.to_json() for receipt in receipts],
         "\n".join(_line(receipt) for receipt in receipts) or "(no new mail)")


def _line(receipt: service.Receipt) -> str:
    offers = "".join(f"\n  offered {offer.kind} “{offer.title}” ({offer.client}) to "
                     f"{offer.member_email}" for offer in receipt.offers)
    return f"{receipt.key}: {receipt.outcome}{offers}"
