"""Scan tick cost against table size: 1,000 promises due for a check among 10,000 or 1,000,000.

    python bench/bench_scan.py [--sizes 10000 1000000] [--backends sqlite postgresql]

PostgreSQL is reached at $RELIABILITY_TEST_POSTGRES_URL (default: the local test server);
the benchmark creates and drops its own database there. Prints a markdown table: tick time
(best of --repeat, default 5) with and without messages to draft, assessments per second, and
tick(largest) / tick(smallest).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from reliability.config import Settings
from reliability.db import make_engine, upgrade
from reliability.ledger import Ledger
from reliability.models import Assessment, Client, Event, Member, Notice, Promise
from reliability.scheduler import Jobs

DUE = 1000
NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
OWNERS = 200
CLIENTS = 40
CHUNK = 20_000


def seed(engine: sa.Engine, stored: int, rng: random.Random, late_share: float) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(Client.__table__), [  # type: ignore[attr-defined]
            {"id": i + 1, "name": f"Client {i}", "name_key": f"client {i}",
             "email": f"c{i}@example.com", "locale": "en", "timezone": "America/New_York",
             "country": "US", "channel": "email", "auto_send": False,
             "confirm_promises": False, "created_at": NOW - timedelta(days=900)}
            for i in range(CLIENTS)])
        connection.execute(sa.insert(Member.__table__), [  # type: ignore[attr-defined]
            {"id": i + 1, "email": f"m{i}@example.com", "name": f"Member {i}",
             "timezone": "America/New_York", "role": "member", "digest_channel": "email",
             "created_at": NOW - timedelta(days=900)}
            for i in range(OWNERS)])
    rows = []
    for index in range(stored):
        owner = rng.randrange(OWNERS) + 1
        if index < DUE:  # due for a check now, due this week or next
            made = NOW - timedelta(days=rng.randint(1, 6))
            due = NOW + timedelta(days=rng.randint(1, 9), hours=3)
            rows.append(_row(index, owner, made, due, "open", None, NOW - timedelta(minutes=1)))
        elif index % 10 < 7:  # finished history
            made = NOW - timedelta(days=rng.randint(10, 800))
            due = made + timedelta(days=rng.randint(2, 20))
            late = rng.random() < late_share
            done = due + timedelta(hours=rng.randint(1, 40) if late else -rng.randint(1, 60))
            rows.append(_row(index, owner, made, due, "done", done, None))
        else:  # open, nothing to look at until later
            made = NOW - timedelta(days=rng.randint(0, 30))
            due = NOW + timedelta(days=rng.randint(30, 700))
            rows.append(_row(index, owner, made, due, "open", None,
                             NOW + timedelta(days=rng.randint(1, 20))))
        if len(rows) == CHUNK:
            _insert(engine, rows)
            rows = []
    if rows:
        _insert(engine, rows)


def _row(index: int, owner: int, made: datetime, due: datetime, status: str,
         done: datetime | None, next_check: datetime | None) -> dict[str, object]:
    return {"id": index + 1, "title": f"Deliverable {index}", "client_id": index % CLIENTS + 1,
            "owner_id": owner, "made_at": made, "due_at": due, "original_due_at": due,
            "status": status, "done_at": done, "source": "api", "internal": False,
            "level": "on_track", "next_check_at": next_check}


def _insert(engine: sa.Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(Promise.__table__), rows)  # type: ignore[attr-defined]


def reset(engine: sa.Engine) -> None:
    """Put the 1,000 due promises back to 'due for a check' and forget what the tick made."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE event DISABLE TRIGGER event_append_only")
        else:
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS event_no_delete")
        for table in (Event, Assessment, Notice):
            connection.execute(sa.delete(table.__table__))  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE event ENABLE TRIGGER event_append_only")
        connection.execute(sa.update(Promise.__table__)  # type: ignore[attr-defined]
                           .where(Promise.__table__.c.id <= DUE)  # type: ignore[attr-defined]
                           .values(next_check_at=NOW - timedelta(minutes=1), level="on_track",
                                   p_late=None, risk_reasons=None))
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")


def recheck(engine: sa.Engine) -> None:
    """Make the same 1,000 due again, keeping what the last tick drafted: the everyday tick,
    which re-assesses and finds its messages already made."""
    with engine.begin() as connection:
        connection.execute(sa.update(Promise.__table__)  # type: ignore[attr-defined]
                           .where(Promise.__table__.c.id <= DUE)  # type: ignore[attr-defined]
                           .values(next_check_at=NOW - timedelta(minutes=1)))


@dataclass
class Store:
    """One seeded database and the ticks measured on it."""

    stored: int
    engine: sa.Engine
    ledger: Ledger
    jobs: Jobs
    drafting: list[float] = field(default_factory=list)
    steady: list[float] = field(default_factory=list)
    drafted: int = 0


def open_store(url: str, stored: int, late_share: float) -> Store:
    engine = make_engine(url)
    upgrade(engine)
    seed(engine, stored, random.Random(stored), late_share)
    settings = Settings()
    settings.database.url = url
    ledger = Ledger(engine, settings)
    return Store(stored, engine, ledger, Jobs(ledger, clock=lambda: NOW))


def tick_twice(store: Store) -> None:
    """A tick that drafts its messages, then a re-assessment tick that finds them made; each
    runs as the worker runs it, through its scan job."""
    reset(store.engine)
    started = time.perf_counter()
    report = store.jobs.scan()
    store.drafting.append(time.perf_counter() - started)
    assert report.assessed == DUE, report.assessed
    store.drafted = len(report.actions)
    recheck(store.engine)
    started = time.perf_counter()
    again = store.jobs.scan()
    store.steady.append(time.perf_counter() - started)
    assert again.assessed == DUE and not again.actions, again.actions[:3]


def measure(urls: dict[int, str], late_share: float, repeat: int) -> list[Store]:
    """Round after round, one tick pair per size in turn, so that a slow spell on a shared
    machine slows every size alike and the ratio stays honest; the fastest of each is kept."""
    stores = [open_store(url, stored, late_share) for stored, url in urls.items()]
    for _ in range(repeat):
        for store in stores:
            tick_twice(store)
    for store in stores:
        store.engine.dispose()
    return stores


def sqlite_url(folder: Path, stored: int) -> str:
    return f"sqlite:///{folder / f'bench-{stored}.db'}"


def postgres_database(stored: int) -> tuple[str, sa.Engine, str]:
    base = os.environ.get("RELIABILITY_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"reliability_bench_{stored}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.make_url(base).set(database=name).render_as_string(hide_password=False), admin, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--late-share", type=float, default=0.1,
                        help="share of past promises delivered late (drives how many drafts)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="ticks of each kind per size; the fastest is reported, since a "
                             "shared machine only ever adds time")
    args = parser.parse_args()
    print(f"late share in history: {args.late_share:.0%}\n")
    print("| backend | stored promises | due for a check | messages drafted | "
          "tick that drafts them (s) | re-assessment tick (s) | assessments/s | "
          "first tick on this database (s) |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    ratios: dict[str, float] = {}
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as folder:
            made: list[tuple[sa.Engine, str]] = []
            if backend == "sqlite":
                urls = {stored: sqlite_url(Path(folder), stored) for stored in args.sizes}
            else:
                urls = {}
                for stored in args.sizes:
                    urls[stored], admin, name = postgres_database(stored)
                    made.append((admin, name))
            try:
                stores = measure(urls, args.late_share, args.repeat)
            finally:
                for admin, name in made:
                    with admin.connect() as connection:
                        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        for store in stores:
            steady = min(store.steady)
            print(f"| {backend} | {store.stored:,} | {DUE:,} | {store.drafted:,} "
                  f"| {min(store.drafting):.3f} | {steady:.3f} | {DUE / steady:,.0f} "
                  f"| {store.drafting[0]:.3f} |", flush=True)
        largest = max(stores, key=lambda store: store.stored)
        smallest = min(stores, key=lambda store: store.stored)
        ratios[backend] = min(largest.drafting) / min(smallest.drafting)
    for backend, ratio in ratios.items():
        print(f"\n{backend}: tick({max(args.sizes):,}) / tick({min(args.sizes):,}) = {ratio:.2f}")
    print(f"\nmedian ratio {statistics.median(ratios.values()):.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
