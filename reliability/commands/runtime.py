"""What every CLI command shares: the runtime (settings, "now", the ledger), the error
contract, and the JSON or human output. Command modules import this, never `cli`, which
registers them all."""

from __future__ import annotations

import getpass
import json
import os
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, NoReturn

import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine
from typer.core import TyperGroup

from reliability import limits
from reliability.access import Actor
from reliability.calendar import BusinessCalendar, CalendarError
from reliability.config import ConfigError, Settings
from reliability.db import DatabaseError, check_schema, make_engine
from reliability.deadlines import DeadlineError
from reliability.errors import UserError
from reliability.ledger import Ledger

EXPECTED_ERRORS = (UserError, ConfigError, DatabaseError, CalendarError, DeadlineError)


class _Group(TyperGroup):
    """Turns every expected failure into one line on stderr and exit code 2, and anything
    else (a bug) into one "internal error" line and exit code 1: never a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS as exc:
            option = self._option_for(ctx, getattr(exc, "field", None))
            _error(f"{option + ': ' if option else ''}{exc}")
        except sa.exc.OperationalError as exc:
            _error(f"the database could not do it: {exc.orig}")
        except OSError as exc:
            if exc.filename is None:
                raise
            # A file or folder the person named (too long a name, no permission, ...).
            _error(f"cannot use {str(exc.filename)[:200]}: {exc.strerror}")
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors, --help, Ctrl-C
            raise
        except Exception:
            if os.environ.get("RELIABILITY_DEBUG"):
                raise
            internal_error()
            raise typer.Exit(1) from None

    def _option_for(self, ctx: typer.Context, field: str | None) -> str | None:
        """The invoked command's option for the input a service error names, if it has one."""
        command = self.get_command(ctx, ctx.invoked_subcommand or "") if field else None
        for param in command.params if command is not None else []:
            if param.name in (field, f"{field}_file") and param.param_type_name == "option":
                return param.opts[0]
        return None


def _error(message: str) -> NoReturn:
    # A non-UTF-8 argument arrives as lone surrogates, which stderr cannot encode.
    typer.echo("error: " + message.encode("utf-8", "backslashreplace").decode(), err=True)
    raise typer.Exit(2)


def internal_error() -> None:
    typer.echo(f"internal error: {sys.exc_info()[1]!r} (set RELIABILITY_DEBUG=1 for details)",
               err=True)


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


@dataclass
class Runtime:
    """What every command needs: settings, the pinned "now", and the ledger."""

    settings: Settings
    as_of: datetime | None = None
    actor: str = field(default_factory=lambda: f"cli:{getpass.getuser()}")

    @property
    def now(self) -> datetime:
        return self.as_of or datetime.now(UTC)

    @property
    def operator(self) -> Actor:
        """The CLI runs with database access, so it acts as the operator: anything goes."""
        return Actor(self.actor)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url)

    @cached_property
    def ledger(self) -> Ledger:
        check_schema(self.engine)
        return Ledger(self.engine, self.settings)

    def close(self) -> None:
        """Give the database its connections back when the command ends (the CLI may run
        many commands in one process, as the tests and the demo do)."""
        if "engine" in self.__dict__:
            self.engine.dispose()


def runtime_of(ctx: typer.Context) -> Runtime:
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
    limits.ledger_year(moment.year, what)
    if moment.tzinfo is None:
        moment = BusinessCalendar(timezone).at(moment.date(), moment.time())
    return moment


def emit(as_json: bool, document: Any, human: str) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2) if as_json else human)


def emit_each(documents: Iterable[Any]) -> None:
    """A JSON array written element by element as it comes, byte for byte what `emit` would
    print for the whole list, so a long list never sits in memory."""
    first = True
    for document in documents:
        typer.echo(("[\n" if first else ",\n")
                   + textwrap.indent(json.dumps(document, ensure_ascii=False, indent=2), "  "),
                   nl=False)
        first = False
    typer.echo("[]" if first else "\n]")


def table(rows: list[list[str]], headers: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
