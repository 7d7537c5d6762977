"""What a manager and an admin wait for as history grows: every page, API list, report and feed.

    python bench/bench_reads.py [--sizes 10000 200000 1000000] [--backends sqlite postgresql]
                                [--repeat 5] [--only reliability /api/metrics ...]
                                [--keep DIR] [--full] [--interleave]

A size is the promises stored: always the same 10,000 recent ones (made in the last 60 days,
with renegotiations, delay notices and check-ins; the same rows at every size), plus old
finished ones up to the size. The old ones are made 400 to 1,100 days ago, so each was made,
fell due, was renegotiated and was finished before the widest window any read shows: the
client page's 365 days (client trust's range and trend reach 180, the digest two months,
`/reliability` twelve weeks, `/api/metrics` and `report` four weeks, the calendar feeds 30
days back, a mistake's repeats 180 days). That is issue 16's control: every figure shows what
it showed at 10,000, so a read that grows with the old promises costs the history, not what it
shows. The benchmark proves it: for the reads that show figures (`client trust`, `report`,
`/api/metrics`, `/api/digest`, `digest`, `/reliability` and the client page's figures) it
compares what each returned at every size with the smallest size's, timings and tokens set
aside, and prints "same content: yes" or "no" with the first difference. Client trust's
all-time fields (`promises_ever`, `first_promise_at`) count every promise ever made, so they
are set aside too and the benchmark says so. The lists sorted soonest due first over every
status (`/api/promises`, a client's promises) show the oldest promises first, so their rows
differ by design and are not compared.

With --interleave, each read is timed at every size in turn, round after round, so a change
in the load of a shared machine falls on every size alike (the export is left out: it writes
the whole ledger, its memory is bench_export.py's).

With --full, every size is a busy team's real history instead: all its promises made over the
last two years (730 days), recent work growing with the size (about 1,400 promises made a day
at 1,000,000, those not yet due still open), so each page's p95 at its default page size is
timed against a full ledger. PostgreSQL is reached at $RELIABILITY_TEST_POSTGRES_URL (default: the
local test server); the benchmark creates and drops its own databases there. For each read it
prints the median and p95 of --repeat timed runs, the bytes returned, the peak of Python
allocations (tracemalloc, in a first run that also warms up) and the median's ratio to the
smallest size's. While the reads run, a writer thread commits a small write every half second
on its own connection (as the server's scan and digest jobs do): the benchmark reports how
long a write waited at most and whether "database is locked" appeared in any log record or
write. With --keep, the SQLite files stay in DIR (and the PostgreSQL databases are
named by their size and kept) and a later run with the same --keep reads them again instead
of building them: one build serves a before and an after run (the schema is upgraded first).
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import random
import re
import statistics
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from reliability import tallies
from reliability.cli import app as cli_app
from reliability.commands.server import settle_the_heap
from reliability.config import Settings
from reliability.db import insert_rows, make_engine, upgrade
from reliability.ledger import Ledger
from reliability.members import calendar_token, issue_personal_token
from reliability.models import CheckIn, Client, DueChange, Member, Notice, Promise
from reliability.web.app import create_app

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
RECENT = 10_000
CLIENTS = 40
MANAGERS = 20
MEMBERS = 200  # the admin, 20 managers and their reports
CHUNK = 20_000
# Old promises are made this many days ago: after at most 27 days to their due (20, and 7 more
# if renegotiated) and 40 hours late, all of it is over more than 365 days ago (the client
# page's window, the widest any read shows).
OLD_DAYS = (400, 1_100)
FULL_DAYS = 730  # --full: a busy team's two years
ADMIN, MANAGER = "m0@example.com", "m1@example.com"


def seed(engine: sa.Engine, stored: int, *, full: bool = False) -> None:
    """The members, clients and `stored` promises, inserted in bulk (db.insert_rows). One seed
    for every size, so the first 10,000 (the recent ones) are the same rows at every size."""
    rng = random.Random(16)
    old = NOW - timedelta(days=900)
    with Session(engine) as session:
        insert_rows(session, Client, [
            {"id": i + 1, "name": f"Client {i}", "name_key": f"client {i}",
             "email": f"c{i}@example.com", "locale": "en", "timezone": "America/New_York",
             "country": "US", "channel": "email", "auto_send": False,
             "confirm_promises": False, "created_at": old} for i in range(CLIENTS)])
        insert_rows(session, Member, [
            {"id": i + 1, "email": f"m{i}@example.com", "name": f"Member {i}",
             "timezone": "America/New_York", "digest_channel": "email", "created_at": old,
             "role": "admin" if i == 0 else "manager" if i <= MANAGERS else "member",
             "manager_id": None if i <= MANAGERS else i % MANAGERS + 2}
            for i in range(MEMBERS)])
        session.commit()
    for first in range(0, stored, CHUNK):
        with Session(engine) as session:
            _chunk(session, rng, range(first, min(first + CHUNK, stored)), full=full)
            session.commit()


def _chunk(session: Session, rng: random.Random, indexes: range, *, full: bool) -> None:
    promises, changes, notices, checkins = [], [], [], []
    for index in indexes:
        recent = full or index < RECENT
        days = (rng.randint(0, FULL_DAYS) if full else rng.randint(0, 60) if recent
                else rng.randint(*OLD_DAYS))
        made = NOW - timedelta(days=days, hours=rng.randint(0, 23))
        due = made + timedelta(days=rng.randint(1, 20), hours=8)
        original = due
        done = None
        if due < NOW or not recent:
            done = due + timedelta(hours=rng.randint(-60, 40))
        done = done if done is None or done <= NOW else None
        if rng.random() < 0.1:  # renegotiated, told the client half the time
            changed = made + (due - made) / 2
            told = rng.random() < 0.5
            due = due + timedelta(days=rng.randint(1, 7))
            changes.append({"promise_id": index + 1, "old_due_at": original, "new_due_at": due,
                            "reason": "scope grew", "changed_at": changed,
                            "client_told": told, "client_told_at": changed if told else None})
        if recent and rng.random() < 0.05:
            notices.append(_notice(index, "delay_notice", made + (original - made) / 2, due))
        if rng.random() < 0.1:
            asked = made + timedelta(days=1)
            notices.append(_notice(index, "checkin_request", asked, None))
            if rng.random() < 0.7:
                checkins.append({"promise_id": index + 1, "at": asked + timedelta(hours=3),
                                 "status": "on_track"})
        promises.append({
            "id": index + 1, "title": f"Deliverable {index}", "client_id": index % CLIENTS + 1,
            "owner_id": rng.randrange(MEMBERS) + 1, "made_at": made, "due_at": due,
            "original_due_at": original, "status": "done" if done else "open",
            "done_at": done, "source": "api", "internal": False, "level": "on_track",
            "next_check_at": None if done else NOW + timedelta(days=1)})
    insert_rows(session, Promise, promises)
    insert_rows(session, DueChange, changes)
    insert_rows(session, Notice, notices)
    insert_rows(session, CheckIn, checkins)


def _notice(index: int, kind: str, at: datetime, proposed: datetime | None) -> dict[str, object]:
    return {"kind": kind, "idempotency_key": f"{kind}:{index + 1}", "promise_id": index + 1,
            "client_id": index % CLIENTS + 1, "channel": "email",
            "recipient": "client@example.com", "locale": "en", "subject": "About your delivery",
            "text": "A note.", "context": {}, "status": "sent", "created_by": "bench",
            "created_at": at, "sent_at": at, "proposed_due_at": proposed}


@dataclass
class Timing:
    read: str
    viewer: str
    stored: int
    runs: list[float]
    size: int
    peak: int
    shown: str | None  # what a figure read showed, normalised (see `Shown`)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def p95(self) -> float:
        ordered = sorted(self.runs)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]


LOCKED = "database is locked"


class LockWatch(logging.Handler):
    """A writer committing beside the reads, and every log record that says the database
    was locked: reads that held SQLite's write lock would keep the writer waiting."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        self.engine, self.stop = engine, threading.Event()
        self.writes, self.locked, self.longest = 0, 0, 0.0
        self.thread = threading.Thread(target=self.write, daemon=True)

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info)
                                      if record.exc_info else "")
        if LOCKED in text:
            self.locked += 1

    def write(self) -> None:
        with self.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_writer (at TEXT)")
        while not self.stop.wait(0.5):
            started = time.perf_counter()
            try:
                with self.engine.begin() as connection:
                    connection.execute(sa.text("INSERT INTO bench_writer (at) VALUES (:at)"),
                                       {"at": datetime.now(UTC).isoformat()})
                self.writes += 1
            except sa.exc.OperationalError as error:
                self.locked += LOCKED in str(error)
            self.longest = max(self.longest, time.perf_counter() - started)

    def __enter__(self) -> LockWatch:
        logging.getLogger().addHandler(self)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        logging.getLogger().removeHandler(self)

    def summary(self) -> str:
        return (f"writer: {self.writes} writes, longest wait {self.longest:.2f} s; "
                f"'{LOCKED}': {'yes, ' + str(self.locked) + ' times' if self.locked else 'no'}")


# What a figure read shows, as text to compare between sizes; None for the other reads.
Shown = Callable[[bytes], str] | None
# Keys whose values change from run to run (tokens, timings), whatever the history.
VOLATILE = frozenset({"token", "csrf", "generated_at", "elapsed", "took"})
# Client trust's counts of every promise ever made: the old promises add to them by definition.
ALL_TIME = frozenset({"promises_ever", "first_promise_at"})


def as_json(*, aside: frozenset[str] = frozenset()) -> Shown:
    """A JSON document with the volatile keys and `aside` left out, keys sorted."""
    def drop(value: object) -> object:
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if k not in VOLATILE | aside}
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value
    return lambda body: json.dumps(drop(json.loads(body)), sort_keys=True, indent=1)


def as_html(start: str | None = None, end: str | None = None) -> Shown:
    """The page's text between `start` and `end` (the whole page without them), hidden
    inputs (the CSRF token) and nonces left out."""
    def shown(body: bytes) -> str:
        text = body.decode()
        if start is not None and end is not None:
            text = text[text.index(start):text.index(end)]
        text = re.sub(r'<input type="hidden"[^>]*>', "", text)
        return re.sub(r'nonce="[^"]*"', "", text)
    return shown


# The pages and API calls that show figures, and the part of each that shows them.
FIGURES: dict[str, Shown] = {
    "/reliability": as_html(), "/api/metrics": as_json(), "/api/digest": as_json(),
    "/clients/1": as_html("<h2>Trust, last 12 months</h2>", '<div class="two">')}
# What a run received: the body, or only its size in bytes (the export's file).
Received = bytes | int


def reads(url: str, ledger: Ledger) -> Iterator[tuple[str, str, Callable[[], Received], Shown]]:
    """(read, viewer, run, shown): each run returns what the reader received."""
    web = TestClient(create_app(ledger, clock=lambda: NOW))
    settle_the_heap()  # as `reliability serve` does once the app is built
    runner = CliRunner()

    def cli(*args: str) -> Callable[[], bytes]:
        def run() -> bytes:
            result = runner.invoke(cli_app, ["--db", url, "--as-of", NOW.isoformat(), *args])
            if result.exit_code != 0:
                raise SystemExit(f"{args}: {result.output}{result.exception!r}")
            return result.stdout.encode()
        return run

    for viewer, email in (("manager", MANAGER), ("admin", ADMIN)):
        token = issue_personal_token(ledger, email, now=NOW, actor="bench")
        headers = {"Authorization": f"Bearer {token}"}
        with Session(ledger.engine) as session:
            member_id = session.exec(sa.select(Member.id).where(Member.email == email)).one()[0]
            own = session.exec(sa.select(sa.func.min(Promise.id))
                               .where(Promise.owner_id == member_id)).one()[0]
        feed = calendar_token(ledger, member_id, now=NOW, actor="bench")

        def get(path: str, headers: dict[str, str] = headers) -> Callable[[], bytes]:
            def run() -> bytes:
                response = web.get(path, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                return response.content
            return run

        def second_page(path: str, headers: dict[str, str] = headers) -> str:
            """The address page 1's next link points at (read once, outside the timing)."""
            response = web.get(path, headers=headers)
            if response.status_code != 200 or not response.json()["next"]:
                raise SystemExit(f"{path}: no second page ({response.status_code})")
            return str(response.json()["next"])

        for path in ("/reliability", "/board", "/promises", "/promises?status=done",
                     f"/promises/{own}",
                     "/drafts", "/mistakes", "/clients", "/clients/1", "/api/metrics",
                     "/api/promises", "/api/promises?status=open",
                     "/api/promises?status=done&limit=500", "/api/at-risk", "/api/drafts",
                     "/api/drafts?status=sent", "/api/mistakes", "/api/clients/1/promises",
                     "/api/clients/1/ratings", f"/api/promises/{own}/events", "/api/digest",
                     f"/calendar/{feed}.ics", f"/calendar/{feed}/team.ics"):
            name = path.replace(feed, "<token>").replace(f"/promises/{own}", "/promises/<own>")
            yield name, viewer, get(path), FIGURES.get(path)
        for path in ("/api/promises", "/api/drafts?status=sent",
                     "/api/clients/1/promises?limit=5"):
            yield f"{path} (page 2)", viewer, get(second_page(path)), None
        yield "digest --json", viewer, cli("digest", "--manager", email, "--json"), as_json()
    yield "report --json", "admin", cli("report", "--json"), as_json()
    yield "report --by owner --json", "admin", cli("report", "--by", "owner", "--json"), \
        as_json()
    yield "client trust --json", "admin", cli("client", "trust", "--json"), \
        as_json(aside=ALL_TIME)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "export.jsonl"

        def export() -> Received:
            out.unlink(missing_ok=True)
            cli("export", "--out", str(out))()
            return out.stat().st_size
        yield "export", "admin", export, None


def prepared(url: str, stored: int, *, full: bool) -> Ledger:
    """The database at `url` upgraded, holding `stored` promises (built if empty)."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        seeded = session.exec(sa.select(sa.func.count()).select_from(Promise)).one()[0]
    if seeded not in (0, stored):
        raise SystemExit(f"{url} holds {seeded:,} promises, not 0 or {stored:,}")
    settings = Settings()
    settings.database.url = url
    ledger = Ledger(engine, settings)
    if not seeded:
        seed(engine, stored, full=full)
    if not seeded or not ledger.read(tallies.complete):
        # Rows inserted in bulk, or a database kept from before the tally (migration 0024):
        # what the figures keep beside the events is counted once.
        ledger.recount(now=NOW, actor="bench")
    if engine.dialect.name == "postgresql":
        # As autovacuum leaves a table after a bulk load: statistics, and the visibility
        # map an index-only scan needs.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:  # the build's log folded in now, so the writer's first commits do not pay for it
        raw = engine.raw_connection()  # outside any transaction, as a checkpoint must be
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return ledger


def measure(url: str, stored: int, repeat: int, only: list[str], *,
            full: bool) -> list[Timing]:
    ledger = prepared(url, stored, full=full)
    with LockWatch(make_engine(url)) as watch:
        timings = _time_reads(url, ledger, stored, repeat, only)
    print(f"  {watch.summary()}", flush=True)
    watch.engine.dispose()
    ledger.engine.dispose()
    return timings


def interleaved(urls: dict[int, str], repeat: int, only: list[str], *,
                full: bool) -> dict[int, list[Timing]]:
    """Each read timed at every size in turn, round after round (the export aside): on a
    shared machine a change of load then falls on every size alike, so the ratios hold."""
    ledgers = {stored: prepared(url, stored, full=full) for stored, url in urls.items()}
    readers = {stored: [(read, viewer, run, shown)
                        for read, viewer, run, shown in reads(urls[stored], ledger)
                        if read != "export" and (not only or any(p in read for p in only))]
               for stored, ledger in ledgers.items()}
    by_size: dict[int, list[Timing]] = {stored: [] for stored in urls}
    with ExitStack() as stack:
        watches = {stored: stack.enter_context(LockWatch(make_engine(url)))
                   for stored, url in urls.items()}
        for position in range(len(readers[min(urls)])):
            firsts = {}
            for stored in urls:
                tracemalloc.start()
                got = readers[stored][position][2]()
                firsts[stored] = (got, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            runs: dict[int, list[float]] = {stored: [] for stored in urls}
            for _ in range(repeat):
                for stored in urls:
                    started = time.perf_counter()
                    readers[stored][position][2]()
                    runs[stored].append(time.perf_counter() - started)
            for stored in urls:
                read, viewer, _, shown = readers[stored][position]
                got, peak = firsts[stored]
                by_size[stored].append(Timing(
                    read, viewer, stored, runs[stored],
                    len(got) if isinstance(got, bytes) else got, peak,
                    shown(got) if shown and isinstance(got, bytes) else None))
            print(f"  {read} ({viewer}): " + ", ".join(
                f"{statistics.median(runs[stored]):.3f} s at {stored:,}" for stored in urls),
                flush=True)
    for stored, watch in watches.items():
        print(f"  {stored:,}: {watch.summary()}", flush=True)
    return by_size


def _time_reads(url: str, ledger: Ledger, stored: int, repeat: int,
                only: list[str]) -> list[Timing]:
    timings = []
    for read, viewer, run, shown in reads(url, ledger):
        if only and not any(part in read for part in only):
            continue
        tracemalloc.start()
        got = run()  # warms up, and shows the memory the read needs
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        size = len(got) if isinstance(got, bytes) else got
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            runs.append(time.perf_counter() - started)
        timings.append(Timing(read, viewer, stored, runs, size, peak,
                              shown(got) if shown and isinstance(got, bytes) else None))
        print(f"  {read} ({viewer}, {stored:,}): {statistics.median(runs):.3f} s", flush=True)
    return timings


@contextmanager
def database(backend: str, folder: Path, stored: int, *, keep: bool,
             full: bool) -> Iterator[str]:
    layout = "full" if full else "control"  # named apart: a kept database is read as it was built
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'reads-{layout}-{stored}.db'}"
        return
    base = os.environ.get("RELIABILITY_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"bench_reads_{layout}_{stored}_" + ("keep" if keep else uuid.uuid4().hex[:6])
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}).first()
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def kept_or_temporary(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def same_content(backend: str, by_size: dict[int, list[Timing]]) -> None:
    """Whether each figure read showed at every size what it showed at the smallest: the
    control holds only if the old promises changed no figure."""
    smallest = {(t.read, t.viewer): t.shown for t in by_size[min(by_size)]}
    for stored, timings in sorted(by_size.items())[1:]:
        for t in timings:
            before = smallest.get((t.read, t.viewer))
            if t.shown is None or before is None:
                continue
            same = t.shown == before
            aside = " (all-time promises_ever, first_promise_at set aside)" \
                if t.read == "client trust --json" else ""
            print(f"{backend}, {t.read} ({t.viewer}), {stored:,} against {min(by_size):,}: "
                  f"same content: {'yes' if same else 'no'}{aside}")
            if not same:
                print("".join(list(difflib.unified_diff(
                    before.splitlines(keepends=True), t.shown.splitlines(keepends=True),
                    n=1))[:40]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[RECENT, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[],
                        help="time only the reads whose name contains one of these")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the databases (SQLite files in this folder) and reuse them")
    parser.add_argument("--interleave", action="store_true",
                        help="time each read at every size in turn (the export aside)")
    parser.add_argument("--full", action="store_true",
                        help="every size a busy team's two years, not 10,000 recent + old")
    args = parser.parse_args()
    if min(args.sizes) < RECENT:
        parser.error(f"every size holds the {RECENT:,} recent promises: give {RECENT} or more")
    rows = []
    for backend in args.backends:
        by_size: dict[int, list[Timing]] = {}
        with kept_or_temporary(args.keep) as folder, ExitStack() as stack:
            urls = {stored: stack.enter_context(database(
                backend, folder, stored, keep=args.keep is not None, full=args.full))
                for stored in sorted(args.sizes)}
            if args.interleave:
                print(f"{backend}, interleaved: {', '.join(f'{n:,}' for n in urls)} promises",
                      flush=True)
                by_size = interleaved(urls, args.repeat, args.only, full=args.full)
            for stored, url in urls.items() if not args.interleave else ():
                print(f"{backend}, {stored:,} promises", flush=True)
                by_size[stored] = measure(url, stored, args.repeat, args.only, full=args.full)
        if not args.full:
            same_content(backend, by_size)
        smallest = {(t.read, t.viewer): t.median for t in by_size[min(by_size)]}
        for stored, timings in by_size.items():
            for t in timings:
                base = smallest.get((t.read, t.viewer))
                ratio = f"{t.median / base:.1f}" if base else "–"
                rows.append(f"| {backend} | {t.read} | {t.viewer} | {stored:,} "
                            f"| {t.median:.3f} | {t.p95:.3f} | {t.size:,} "
                            f"| {t.peak / 2**20:.1f} | {ratio} |")
    print("\n| backend | read | viewer | promises stored | median (s) | p95 (s) | bytes "
          "| peak Python memory (MiB) | median / smallest size's |\n"
          "|---|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(sorted(rows, key=lambda row: row.split("|")[1:4])))


if __name__ == "__main__":
    main()
