"""Peak memory of `reliability export` on a SQLite database of --promises promises (default
100,000), each with an event and an assessment, in each format.

    python bench/bench_export.py [--promises 100000] [--keep DIR]

Each export runs in its own process; its peak resident set (ru_maxrss) is what is printed.
The database is built with whichever `reliability` is first on PYTHONPATH, so the same
script measures an older checkout too.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from bench_scan import NOW, seed

from reliability.db import make_engine, upgrade
from reliability.models import Assessment, Event

CHILD = """
import resource, runpy, sys
sys.argv = ["reliability", *sys.argv[1:]]
try:
    runpy.run_module("reliability", run_name="__main__")
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def build(url: str, promises: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    seed(engine, promises, random.Random(7), late_share=0.2)
    reasons = ["owner's on-time rate is 62% over 40 promises", "no check-in for 3 days"]
    for start in range(0, promises, 20_000):
        ids = range(start + 1, min(start + 20_000, promises) + 1)
        with engine.begin() as connection:
            connection.execute(sa.insert(Event.__table__), [  # type: ignore[attr-defined]
                {"at": NOW, "actor": "rule:scan", "kind": "promise.assessed", "promise_id": i,
                 "payload": {"from": "on_track", "to": "watch", "reasons": reasons}}
                for i in ids])
            connection.execute(sa.insert(Assessment.__table__), [  # type: ignore[attr-defined]
                {"promise_id": i, "at": NOW, "level": "watch", "p_late": 0.31,
                 "reasons": reasons, "notice_by": NOW + timedelta(days=2),
                 "next_action": "none", "forecast_done_at": NOW + timedelta(days=3),
                 "evidence": "owner"} for i in ids])
    engine.dispose()


def measure(url: str, args: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "--db", url, "export", *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - started, int(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--promises", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the database here and keep it")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="bench-export-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    build(url, options.promises)
    print(f"{options.promises} promises, events and assessments in {folder / 'bench.db'}")
    print("| format | seconds | peak RSS |\n|---|---|---|")
    for name, args in (("json", ["--out", str(folder / "export.jsonl")]),
                       ("csv", ["--format", "csv", "--out", str(folder / "export-csv")])):
        seconds, kilobytes = measure(url, args)
        print(f"| {name} | {seconds:.1f} | {kilobytes / 1024:.0f} MB |")


if __name__ == "__main__":
    main()
