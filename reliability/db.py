"""Engines and schema upgrades for the embedded SQLite file or a PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session as ModelSession

MIGRATIONS = Path(__file__).parent / "migrations"
# A connection option: on SQLite, a transaction that only reads and takes no write lock.
READ_ONLY = "reliability_read_only"
T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be reached or is not at the schema this code expects."""


USABLE_URLS = "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/dbname"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs to never lose a write; a URL for
    another database, or for a driver that is not installed, is a DatabaseError."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseError(f"{url!r} is not a database URL: {USABLE_URLS}") from None
    try:
        return _engine(url, parsed, **kwargs)
    except (sa.exc.NoSuchModuleError, ImportError):
        shown = parsed.render_as_string(hide_password=True)
        raise DatabaseError(f"{shown!r} is not a database reliability works with: "
                            f"{USABLE_URLS}") from None


def _engine(url: str, parsed: sa.URL, **kwargs: Any) -> Engine:
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise sa.exc.NoSuchModuleError(parsed.get_backend_name())
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # Sessions speak UTC, whatever the server's default: timestamps arrive in the zone the
    # models hand back, with no conversion per value. Options already given (in the URL,
    # by the caller or in PGOPTIONS, which libpq ignores once options are passed) are kept.
    # JIT is off unless they turn it on: it compiled the ledger figures' statement for
    # 0.2-4 s where the statement itself runs in 0.1 s (bench/bench_reads.py, 10,000).
    connect_args = dict(kwargs.pop("connect_args", {}))
    given = (connect_args.get("options") or parsed.query.get("options")
             or os.environ.get("PGOPTIONS", ""))
    connect_args["options"] = f"-c jit=off {given} -c TimeZone=UTC".replace("  ", " ")
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def read_session(engine: Engine) -> ModelSession:
    """A session for work that only reads (figures, reports, pages). On SQLite it begins a
    deferred transaction: it reads one snapshot of the WAL however long it takes and never
    holds the write lock, so writers (which keep BEGIN IMMEDIATE) are not kept waiting."""
    return ModelSession(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def locked(session: Session, model: type[T], key: Any) -> T | None:
    """The row, read afresh and locked until the transaction ends, for a writer that reads
    what the row keeps (a count, the first moment, the due date), changes it and writes it
    back. Under PostgreSQL's READ COMMITTED two such writers would both read the value as
    it stood and the later commit would lose the other's change; locked, the second waits
    and reads what the first wrote. FOR NO KEY UPDATE: rows that only refer to it are not
    held up. SQLite has one writer at a time and no such clause. Read it before changing
    it: what the session held is read again."""
    return session.get(model, key, with_for_update={"key_share": True}, populate_existing=True)


def among(session: Session, column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """`column IN values` for a batch of ids or keys. On PostgreSQL it is one array parameter
    (`= ANY`), so the statement reads the same whatever the batch size and the driver and
    server reuse it, instead of parsing a fresh list of hundreds of placeholders each time
    (5-10 ms down to 1-2 ms a query for 500 ids)."""
    values = list(values)
    if on_postgresql(session):
        return column == sa.any_(sa.bindparam(None, values, type_=sa.ARRAY(column.type)))
    return column.in_(values)


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows that each name the same columns, in one go: PostgreSQL takes them
    through COPY (about half the time of a thousand INSERTs), SQLite as one batched
    statement on the table itself; neither goes through the ORM's per-row bookkeeping,
    which nothing here reads. A column left out gets its scalar default on both."""
    if not rows:
        return
    table: sa.Table = model.__table__
    session.flush()  # rows added to the session first must exist before these refer to them
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(sa.insert(table), rows)
        return
    # COPY fills in no Python-side defaults: name them, as an INSERT would.
    names = list(rows[0])
    defaults = {}
    for column in table.columns:
        if column.name not in names and column.default is not None:
            if not isinstance(column.default, ScalarElementColumnDefault):
                raise TypeError(f"insert_rows cannot compute {table.name}.{column.name}")
            defaults[column.name] = column.default.arg
    names += list(defaults)
    convert = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
               for name in names]
    quote = dialect.identifier_preparer
    statement = (f"COPY {quote.format_table(table)} "
                 f"({', '.join(quote.quote(name) for name in names)}) FROM STDIN")
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row[name] if name in row else defaults[name] for name in names]
                copy.write_row([value if process is None else process(value)
                                for value, process in zip(values, convert, strict=True)])
    except dialect.loaded_dbapi.Error as error:
        # The same exception classes (IntegrityError, ...) as any other statement raises.
        raise sa.exc.DBAPIError.instance(statement, None, error,
                                         dialect.loaded_dbapi.Error) from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level so that our explicit BEGIN below is the only one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    # Take the write lock at the start: two writers wait for each other instead of failing
    # half-way with "database is locked" on an upgrade from read to write. A long read (an
    # export) reads its WAL snapshot without holding writers off.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; safe to run any number of times."""
    with _opening():
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
        return current_revision(engine) or ""


@contextmanager
def _opening() -> Iterator[None]:
    """A server that cannot be reached, or a file that is not a database (SQLite opens any
    file and only fails on the first read), is a DatabaseError: one line, not a bug."""
    try:
        yield
    except sa.exc.DatabaseError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None


def current_revision(engine: Engine) -> str | None:
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def check_schema(engine: Engine) -> None:
    """Refuse to work on a database that `reliability init` has not brought up to date."""
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and not Path(database).exists():
        raise DatabaseError(f"there is no database at {database}: run `reliability init` first")
    with _opening():
        revision = current_revision(engine)
    if revision != head_revision():
        raise DatabaseError(
            "the database schema is not up to date "
            f"(at {revision or 'nothing'}, expected {head_revision()}): run `reliability init`"
        )
