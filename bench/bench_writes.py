"""What a command costs while the tally (reliability/tallies.py) is kept, at a busy team's million.

    python bench/bench_writes.py --keep DIR [--backends sqlite postgresql] [--repeat 20]

Each command a person runs through the ledger (log a promise, check in, move a due date,
complete, cancel) is timed on a copy of the full database `bench_reads.py --full --keep DIR`
built (a busy team's two years, about 1,400 promises made and due a day): the SQLite file in
DIR, or the PostgreSQL database `bench_reads_full_1000000_keep`, copied so the kept database
is never written. Each is timed with the tally switched off (its state row removed, as before
`recount`: the touched days are still locked, not counted) on one copy, then with the tally
kept on a fresh copy, so the difference is what counting the touched days again costs.
Prints a markdown table: median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from reliability.config import Settings
from reliability.db import make_engine
from reliability.ledger import Ledger
from reliability.models import Promise, TallyState

POSTGRES = os.environ.get("RELIABILITY_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEPT = "bench_reads_full_1000000_keep"
COPY = "bench_writes_copy"


@contextmanager
def copied(backend: str, folder: Path) -> Iterator[str]:
    """A writable copy of the kept full database, removed afterwards."""
    if backend == "sqlite":
        source = folder / "reads-full-1000000.db"
        if not source.exists():
            raise SystemExit(f"{source} is missing: run bench_reads.py --full --keep {folder}")
        target = folder / "writes-copy.db"
        shutil.copyfile(source, target)
        try:
            yield f"sqlite:///{target}"
        finally:
            target.unlink(missing_ok=True)
        return
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {COPY}")
        connection.exec_driver_sql(f"CREATE DATABASE {COPY} TEMPLATE {KEPT}")
    url = sa.make_url(POSTGRES).set(database=COPY).render_as_string(hide_password=False)
    copy = sa.create_engine(url)
    with copy.begin() as connection:  # the bench loaded its rows with their ids
        for table in ("promise", "event", "checkin", "due_change", "notice", "tally"):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
    copy.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {COPY} WITH (FORCE)")
        admin.dispose()


def commands(ledger: Ledger, repeat: int) -> dict[str, Callable[[int], None]]:
    """Each command on its own open promise (the i-th of those due a week or more ahead)."""
    with ledger.session() as session:
        now = session.exec(select(sa.func.max(Promise.made_at))).one()
        ids = list(session.exec(select(Promise.id).where(
            Promise.status == "open", Promise.due_at > now + timedelta(days=7))
            .order_by(Promise.id).limit(5 * repeat)).all())
    later = now + timedelta(days=30)

    def add(i: int) -> None:
        ledger.add_promise(title=f"Bench {i}", client_name=f"Client {i % 40}",
                           owner_email=f"m{21 + i % 150}@example.com",
                           due_at=now + timedelta(days=5), now=now, actor="bench")

    def check_in(i: int) -> None:
        ledger.check_in(ids[i] or 0, status="on_track", now=now, actor="bench")

    def move(i: int) -> None:
        ledger.move(ids[repeat + i] or 0, due_at=later, reason="bench", now=now, actor="bench")

    def complete(i: int) -> None:
        ledger.complete(ids[2 * repeat + i] or 0, now=now, actor="bench")

    def cancel(i: int) -> None:
        ledger.cancel(ids[3 * repeat + i] or 0, reason="bench", now=now, actor="bench")

    return {"promise add": add, "check in": check_in, "move": move, "complete": complete,
            "cancel": cancel}


def timed(url: str, repeat: int, *, tally: bool) -> dict[str, list[float]]:
    engine = make_engine(url)
    settings = Settings()
    settings.database.url = url
    ledger = Ledger(engine, settings)
    if not tally:
        with ledger.transaction() as session:
            session.execute(sa.delete(TallyState))
    runs: dict[str, list[float]] = {}
    for name, run in commands(ledger, repeat).items():
        run(0)  # warms up: statements compiled, calendars built
        runs[name] = []
        for i in range(1, repeat):
            started = time.perf_counter()
            run(i)
            runs[name].append(time.perf_counter() - started)
    engine.dispose()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, required=True,
                        help="the folder bench_reads.py --full --keep built")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    lines = []
    for backend in args.backends:
        with copied(backend, args.keep) as url:  # each on a copy as the benchmark left it
            plain = timed(url, args.repeat, tally=False)
        with copied(backend, args.keep) as url:
            kept = timed(url, args.repeat, tally=True)
        for name in kept:
            cells = []
            for runs in (kept[name], plain[name]):
                ordered = sorted(runs)
                p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
                cells.append(f"{statistics.median(runs) * 1000:.1f} / {p95 * 1000:.1f}")
            lines.append(f"| {backend} | {name} | {cells[0]} | {cells[1]} |")
    print("| backend | command | tally kept: median / p95 (ms) | tally off |\n|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
