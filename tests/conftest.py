"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL, and the CLI."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from scenarios import agency_with
from slack_harness import Swappable, serve
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from typer.testing import CliRunner

from reliability.cli import app
from reliability.config import Settings
from reliability.db import make_engine, upgrade
from reliability.ledger import Ledger

POSTGRES_ENV = "RELIABILITY_TEST_POSTGRES_URL"
SKIP_POSTGRES = (
    f"PostgreSQL tests are off: set {POSTGRES_ENV}="
    "postgresql+psycopg://postgres@127.0.0.1:5432/test to run them"
)


def pytest_report_header() -> str:
    if os.environ.get(POSTGRES_ENV):
        return f"PostgreSQL tests: on ({POSTGRES_ENV} is set)"
    return SKIP_POSTGRES


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated once; each test gets its own copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL back into the file
    return path


@contextmanager
def _throwaway_database(base: str, prefix: str) -> Iterator[str]:
    """A migrated database of its own on the PostgreSQL server at `base`, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away database on the real server, migrated once for the whole run."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(SKIP_POSTGRES)
    with _throwaway_database(base, "reliability_test") as url:
        yield url


def _empty_all(url: str) -> None:
    """Every table empty and every id counting from 1 again, as after TRUNCATE ... RESTART
    IDENTITY; DELETE is used because TRUNCATE makes new files for all 20 tables and their
    indexes (about 0.5 s a test, a third of the suite). The replica role turns off the
    triggers (the event log's append-only guard, the foreign keys) for this one cleaning
    transaction only, as TRUNCATE would pass them by."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in SQLModel.metadata.sorted_tables:
            connection.exec_driver_sql(f'DELETE FROM "{table.name}"')
        # an empty ledger's tally is complete (migration 0024): without its state row every
        # later test would count its figures from the rows and never keep the tally
        connection.exec_driver_sql(
            "INSERT INTO tally_state (id, counted_at) VALUES (1, CURRENT_TIMESTAMP)")
        connection.exec_driver_sql(
            "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), 1, false)"
            " FROM pg_sequences WHERE schemaname = current_schema()")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database: every ledger test runs on both backends."""
    if request.param == "sqlite":
        path = tmp_path / "reliability.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        yield url
        _empty_all(url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    built = Settings()
    built.database.url = database_url
    return built


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    built = make_engine(settings.database.url)
    yield built
    built.dispose()


@pytest.fixture
def ledger(engine: Engine, settings: Settings) -> Ledger:
    return Ledger(engine, settings)


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    """The ledger with Acme, Bob and Alice (see scenarios.py)."""
    return agency_with(ledger, "en")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """Run `reliability --db <test database> ARGS...` in-process, as Typer's runner does."""
    monkeypatch.chdir(tmp_path)
    for variable in [v for v in os.environ if v.startswith("RELIABILITY_")]:
        if variable != POSTGRES_ENV:
            monkeypatch.delenv(variable)
    runner = CliRunner()

    def run(*args: str, as_of: str | None = None) -> CliResult:
        root = ["--db", database_url] + (["--as-of", as_of] if as_of else [])
        result = runner.invoke(app, [*root, *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def fresh(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second database on the test's backend, migrated and empty (an import's target)."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "fresh.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with _throwaway_database(database_url, "reliability_fresh") as url:
        yield url


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Swappable, str]]:
    """The web app (Slack endpoint included) served on a port, one per test module; each
    test swaps in its own app."""
    target = Swappable()
    with serve(target) as url:
        yield target, url
