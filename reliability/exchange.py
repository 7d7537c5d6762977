"""Export everything a team needs to leave, and import it into an empty database.

Two formats, both streamed a batch of rows at a time, so memory stays flat whatever the
database holds:

- JSON Lines (one file, or stdout): a header line, then one line per row,
  `{"table": "promise", "row": {...}}`, tables parents first. Lossless: `import` restores it.
- CSV (a folder, or a .zip): one `<table>.csv` per table and a `manifest.json` written last.
  Made for spreadsheets: a text cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage
  return or `'` gets a leading `'`, so no cell runs as a formula (OWASP); `import` takes the
  `'` off again. An empty cell is NULL (an empty text where a column cannot be NULL).

Moments are ISO 8601 in UTC; list and object columns are JSON arrays and objects. Secrets
never leave: every table is named in EXPORTED with the columns withheld from it, in EXCLUDED
with the reason, or in DERIVED (worked out from the others again on import); a table named
in none is refused rather than guessed at.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from reliability import rollups
from reliability.config import Settings
from reliability.db import READ_ONLY, head_revision, insert_rows, on_postgresql
from reliability.errors import UserError
from reliability.models import NoticeKind, UTCDateTime

FORMAT = "reliability-export"
VERSION = 1
BATCH = 1000
MANIFEST = "manifest.json"

# Each table that leaves, with the columns that never do. Add a new table here (or to
# EXCLUDED): the export refuses to run while a table is in neither.
EXPORTED: dict[str, frozenset[str]] = {
    "client": frozenset(),
    # The personal token's hash signs a member in; the calendar token opens their feed; the
    # session generation is sign-in state that starts afresh in the new installation.
    "member": frozenset({"token_hash", "calendar_token", "session_generation"}),
    "promise": frozenset(),
    "checkin": frozenset(),
    "due_change": frozenset(),
    "event": frozenset(),
    "assessment": frozenset(),
    "notice": frozenset(),
    "notice_attempt": frozenset(),
    "mistake": frozenset(),
    "rating": frozenset(),
    # A webhook's signing secret signs as us; after an import each endpoint needs a new one
    # (`reliability webhook rotate-secret`), and sends nothing until it has it.
    "webhook_endpoint": frozenset({"secret"}),
    # A mailed offer's link token is a single-use secret; an open offer's sentence is kept
    # only while it waits for an answer, not in a lasting copy.
    "suggestion": frozenset({"token_hash", "sentence"}),
    "watched_channel": frozenset(),
}
# Tables that hold only secrets or sign-in state, and why they stay behind.
EXCLUDED: dict[str, str] = {
    "sign_in_link": "sign-in links are single-use secrets, useless outside this installation",
    "sign_in_request": "rate-limit counts for sign-in requests, kept only for an hour",
    "ended_session": "signed-out browser sessions: sign-in state, not team data",
    "service_token": "integration credentials of this installation: make new ones after an "
                     "import",
    "idempotency_key": "answers to repeated API requests, kept for a day",
    "processed_mail": "which messages this installation's inbox has read (Message-IDs, no "
                      "words); the mailbox's own $Reliability marks go with the mailbox",
}
# Tables worked out from the others, counted again by the import (`rollups.recount`).
DERIVED: dict[str, str] = {
    "tally": "the figures summed per owner, client and day",
    "tally_day": "what of each day's tally is final",
    "tally_state": "whether the tally holds every day (an empty database's does)",
}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


class ExportPolicyError(RuntimeError):
    """A table has no decision in EXPORTED or EXCLUDED: a programming error, not a user's."""


@dataclass(frozen=True)
class Counts:
    """Rows written or read, per table, in the order the tables went."""

    tables: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.tables.values())

    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.tables.items())


def exported_tables() -> list[sa.Table]:
    """The tables that leave, parents before the tables that refer to them."""
    undecided = sorted(set(SQLModel.metadata.tables) - EXPORTED.keys() - EXCLUDED.keys()
                       - DERIVED.keys())
    if undecided:
        raise ExportPolicyError(
            f"no export decision for table(s) {', '.join(undecided)}: name each in "
            "exchange.EXPORTED (with its secret columns), exchange.EXCLUDED or exchange.DERIVED")
    return [table for table in SQLModel.metadata.sorted_tables if table.name in EXPORTED]


def exported_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [column for column in table.columns if column.name not in EXPORTED[table.name]]


# -- export -----------------------------------------------------------------------------


@contextmanager
def _snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """One read of the whole database as of one moment, so the tables agree."""
    options: dict[str, Any] = ({"isolation_level": "REPEATABLE READ"}
                               if engine.dialect.name == "postgresql" else {READ_ONLY: True})
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


def _rows(connection: sa.Connection, table: sa.Table) -> Iterator[dict[str, Any]]:
    """The table's exported columns, a batch at a time (a server-side cursor on PostgreSQL)."""
    columns = exported_columns(table)
    query = sa.select(*columns).order_by(*table.primary_key.columns)
    result = connection.execution_options(yield_per=BATCH).execute(query)
    names = [column.name for column in columns]
    for row in result:
        yield _without_links(table.name, dict(zip(names, row, strict=True)))


# A found promise put to its author carries single-use Log / Not a promise links, live for
# two weeks: the message leaves without its words (its kind, recipient and state stay).
LINK_WORDING = {"text": "[withheld: it held single-use links]", "html": None, "blocks": None,
                "context": {}}


def _without_links(table: str, row: dict[str, Any]) -> dict[str, Any]:
    if table == "notice" and row.get("kind") == NoticeKind.suggestion_offer:
        return {**row, **{name: value for name, value in LINK_WORDING.items() if name in row}}
    return row


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def write_json_lines(engine: Engine, out: IO[str]) -> Counts:
    """Every exported row as one JSON line, after a header naming the format and schema."""
    tables = exported_tables()
    counts: dict[str, int] = {}
    out.write(json.dumps({"format": FORMAT, "version": VERSION, "schema": head_revision(),
                          "tables": [table.name for table in tables]}) + "\n")
    with _snapshot(engine) as connection:
        for table in tables:
            counts[table.name] = 0
            for row in _rows(connection, table):
                out.write(json.dumps({"table": table.name,
                                      "row": {k: _plain(v) for k, v in row.items()}},
                                     ensure_ascii=False) + "\n")
                counts[table.name] += 1
    return Counts(counts)


def csv_cell(value: Any) -> str:
    """One value as a spreadsheet shows it, never as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def write_csv(engine: Engine, open_file: Callable[[str], IO[str]]) -> Counts:
    """One CSV per table through `open_file(name)`, then the manifest that makes it whole."""
    tables = exported_tables()
    manifest: dict[str, Any] = {"format": FORMAT, "version": VERSION, "schema": head_revision(),
                                "tables": []}
    counts: dict[str, int] = {}
    with _snapshot(engine) as connection:
        for table in tables:
            names = [column.name for column in exported_columns(table)]
            with open_file(f"{table.name}.csv") as handle:
                writer = csv.writer(handle)
                writer.writerow(names)
                count = 0
                for row in _rows(connection, table):
                    writer.writerow([csv_cell(row[name]) for name in names])
                    count += 1
            counts[table.name] = count
            manifest["tables"].append({"name": table.name, "file": f"{table.name}.csv",
                                       "columns": names, "rows": count})
    with open_file(MANIFEST) as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=2)
    return Counts(counts)


def export_to(engine: Engine, *, format: str, out: Path | None,
              stdout: IO[str]) -> Counts:
    """Write the export: JSON Lines to `out` or stdout; CSV to a new folder or .zip file.
    Files appear under their name only once complete: nothing half-written is left."""
    if format not in ("json", "csv"):
        raise UserError(f"unknown export format {format!r}: use json or csv")
    if format == "csv" and out is None:
        raise UserError("CSV export writes one file per table: give a folder or a .zip "
                        "with --out")
    if out is None:
        return write_json_lines(engine, stdout)
    folder = format == "csv" and out.suffix.lower() != ".zip"
    if out.exists() and not (folder and out.is_dir() and not any(out.iterdir())):
        raise UserError(f"{out} already exists: give a new path, so no export is overwritten")
    if not out.parent.is_dir():
        raise UserError(f"there is no folder {out.parent} to write {out.name} into")
    exported_tables()  # refuse an undecided table before anything is written
    if not folder:
        with _file_in_place(out) as binary:
            if format == "json":
                with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as text:
                    return write_json_lines(engine, text)
            with zipfile.ZipFile(binary, "w", zipfile.ZIP_DEFLATED) as archive:
                return write_csv(engine, lambda name: io.TextIOWrapper(
                    archive.open(name, "w"), encoding="utf-8", newline=""))
    with _folder_in_place(out) as folder:
        return write_csv(engine, lambda name: (folder / name).open(
            "w", encoding="utf-8", newline=""))


@contextmanager
def _file_in_place(path: Path) -> Iterator[IO[bytes]]:
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@contextmanager
def _folder_in_place(path: Path) -> Iterator[Path]:
    partial = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield partial
        if path.exists():
            path.rmdir()  # empty, checked above
        partial.rename(path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


# -- import -----------------------------------------------------------------------------


Reader = Callable[[sa.Column[Any], Any], Any]


def _json_value(column: sa.Column[Any], value: Any) -> Any:
    if value is not None and isinstance(column.type, UTCDateTime):
        return _moment(value)
    return value


def _csv_value(column: sa.Column[Any], text: Any) -> Any:
    if text == "":
        return None if column.nullable else ""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _moment(text)
    if isinstance(kind, sa.JSON):
        return json.loads(text)
    if isinstance(kind, sa.Boolean):
        if text not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return text == "true"
    if isinstance(kind, sa.Integer):
        return int(text)
    if isinstance(kind, sa.Float):
        return float(text)
    return text[1:] if text.startswith("'") else text  # the export's own escape


def _moment(text: str) -> datetime:
    """A moment with its offset, in UTC as it is stored."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} falls outside the years 1 to 9999 in UTC") from None


@dataclass
class _Source:
    """An export being read: its tables in order, each a stream of rows by column name."""

    tables: Iterator[tuple[str, Iterator[dict[str, Any]]]]
    reader: Reader


def _json_lines(handle: IO[str], where: str) -> _Source:
    _header(handle.readline(), where)

    def lines() -> Iterator[tuple[str, dict[str, Any]]]:
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                table, row = item["table"], item["row"]
            except (ValueError, KeyError, TypeError):
                table = row = None
            if not isinstance(table, str) or not isinstance(row, dict):
                raise UserError(f"{where}, line {number}: not a row of a reliability export")
            yield table, row

    grouped = ((name, (row for _, row in rows))
               for name, rows in itertools.groupby(lines(), key=lambda item: item[0]))
    return _Source(grouped, _json_value)


def _header(line: str, where: str) -> dict[str, Any]:
    try:
        header = json.loads(line) if line.strip() else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UserError(f"{where} is not a reliability export (made by `reliability export`)")
    if header.get("version") != VERSION:
        raise UserError(f"{where} is export format version {header.get('version')}; this "
                        f"version of reliability reads version {VERSION}")
    return header


def _csv_tables(open_file: Callable[[str], IO[str]], where: str) -> _Source:
    try:
        with open_file(MANIFEST) as handle:
            manifest = _header(handle.read(), where)
    except (FileNotFoundError, KeyError):
        raise UserError(f"{where} has no {MANIFEST}: it is not a complete CSV export") from None

    def tables() -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
        for entry in manifest.get("tables", []):
            yield entry["name"], _csv_rows(open_file, entry["file"], where)

    return _Source(tables(), _csv_value)


def _csv_rows(open_file: Callable[[str], IO[str]], name: str,
              where: str) -> Iterator[dict[str, Any]]:
    try:
        handle = open_file(name)
    except (FileNotFoundError, KeyError):
        raise UserError(f"{where} has no {name}, which its manifest lists") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for number, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                raise UserError(f"{where}/{name}, line {number}: {len(cells)} cells for "
                                f"{len(header)} columns")
            yield dict(zip(header, cells, strict=True))


@contextmanager
def _open_export(path: Path) -> Iterator[_Source]:
    where = str(path)
    if path.is_dir():
        yield _csv_tables(lambda name: (path / name).open(encoding="utf-8", newline=""), where)
    elif not path.exists():
        raise UserError(f"there is no export at {path}")
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield _csv_tables(lambda name: io.TextIOWrapper(
                archive.open(name), encoding="utf-8", newline=""), where)
    else:
        with path.open(encoding="utf-8") as handle:
            yield _json_lines(handle, where)


def import_from(engine: Engine, settings: Settings, path: Path, *, now: datetime) -> Counts:
    """Restore an export into an empty database, ids kept, in one transaction: on any
    problem nothing is written. What the figures keep beside the events is worked out again
    from the rows restored (`rollups.recount`), in the same transaction and recording
    nothing: an export made before they were kept (migration 0022) holds none of them, and
    one written by hand or from a database loaded by other means may hold them wrong."""
    try:
        return _import(engine, settings, path, now=now)
    except (UnicodeDecodeError, csv.Error, zipfile.BadZipFile) as error:
        raise UserError(f"{path} is not a readable reliability export: {error}") from None


def _import(engine: Engine, settings: Settings, path: Path, *, now: datetime) -> Counts:
    counts: dict[str, int] = {}
    with _open_export(path) as source, Session(engine) as session, session.begin():
        _refuse_data(session)
        models = {mapper.class_.__table__.name: mapper.class_
                  for mapper in SQLModel._sa_registry.mappers}  # type: ignore[attr-defined]
        for name, rows in source.tables:
            if name not in EXPORTED or name in counts:
                raise UserError(f"{path}: table {name!r} is not one an export holds "
                                "(or comes twice)")
            counts[name] = _import_table(session, models[name], rows, source.reader,
                                         f"{path}: {name}")
        rollups.recount(session, settings, now=now)
        if on_postgresql(session):
            _reset_sequences(session, [models[name].__table__ for name in counts])
    return Counts(counts)


def _refuse_data(session: Session) -> None:
    held = [table.name for table in SQLModel.metadata.sorted_tables
            if table.name not in DERIVED
            and session.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()]
    if held:
        raise UserError(
            f"the database already holds data ({', '.join(held)}): import only into an empty "
            "database, made with `reliability init` on a new file or PostgreSQL database")


def _import_table(session: Session, model: Any, rows: Iterable[dict[str, Any]],
                  read: Reader, where: str) -> int:
    """Insert a table's rows a batch at a time. A column that refers to its own table
    (a member's manager) is filled in afterwards, once every row it may point to exists."""
    table: sa.Table = model.__table__
    self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    later: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    count = 0
    for number, raw in enumerate(rows, start=1):
        batch.append(_row(table, raw, read, f"{where}, row {number}"))
        for name in self_refs:
            if batch[-1].get(name) is not None:
                later.append({"_id": batch[-1]["id"], "_value": batch[-1][name], "_col": name})
                batch[-1][name] = None
        if len(batch) == BATCH:
            count += _insert(session, model, batch, where)
            batch = []
    count += _insert(session, model, batch, where)
    for name in self_refs:
        pairs = [{"_id": item["_id"], "_value": item["_value"]}
                 for item in later if item["_col"] == name]
        if pairs:
            session.connection().execute(
                sa.update(table).where(table.c.id == sa.bindparam("_id"))
                .values({name: sa.bindparam("_value")}), pairs)
    return count


def _row(table: sa.Table, raw: dict[str, Any], read: Reader, where: str) -> dict[str, Any]:
    unknown = sorted((set(raw) - set(table.columns.keys())) | (set(raw) & EXPORTED[table.name]))
    if unknown:
        raise UserError(f"{where}: unknown column(s) {', '.join(unknown)}")
    row = {}
    for column in exported_columns(table):
        if column.name not in raw:
            continue  # an export from before the column existed: its default applies
        try:
            row[column.name] = read(column, raw[column.name])
        except (ValueError, TypeError) as error:
            raise UserError(f"{where}, column {column.name}: {error}") from None
    return row


def _insert(session: Session, model: Any, batch: list[dict[str, Any]], where: str) -> int:
    try:
        insert_rows(session, model, batch)
    except (sa.exc.IntegrityError, sa.exc.DataError) as error:
        detail = str(error.orig).strip().splitlines()[0]
        raise UserError(f"{where}: the export does not fit this database: {detail}") from None
    return len(batch)


def _reset_sequences(session: Session, tables: list[sa.Table]) -> None:
    """The next id PostgreSQL hands out follows the highest one imported (a table keyed
    by something else, a watched channel by its Slack id, has no sequence)."""
    quote = session.get_bind().dialect.identifier_preparer
    for table in (table for table in tables if "id" in table.columns):
        session.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {quote.format_table(table)}"),
            {"table": table.name})
