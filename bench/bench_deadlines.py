"""Accuracy and latency of the deadline resolver, next to plain dateparser, on the test corpus.

Run: .venv/bin/python bench/bench_deadlines.py   (prints a markdown table)

Plain dateparser is used as a new user would: dateparser's own language detection,
PREFER_DATES_FROM=future, RELATIVE_BASE=now, TIMEZONE/RETURN_AS_TIMEZONE_AWARE, and 17:00 put
on a result that carries no time of its own. A phrase expected to be refused counts as right
for dateparser when it returns nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import dateparser  # noqa: E402
from deadline_corpus import CONTEXTS, CORPUS, Case  # noqa: E402

from reliability.calendar import BusinessCalendar  # noqa: E402
from reliability.deadlines import DeadlineError, resolve, warm  # noqa: E402

ROUNDS = 20
FRESH_PROCESSES = 5
HOUR_WORDS = ("hour", "hr", "timm", "小时", "钟头")

FIRST_CALL = """
import time
started = time.perf_counter()
from datetime import datetime
from reliability.calendar import BusinessCalendar
from reliability.deadlines import resolve
imported = time.perf_counter()
calendar = BusinessCalendar(timezone="America/New_York", country="US")
now = datetime(2026, 11, 23, 9, 30, tzinfo=calendar.tz)
resolve("Q3 report for Acme by Friday", now=now, calendar=calendar)
done = time.perf_counter()
print((done - started) * 1000, (done - imported) * 1000)
"""


def setting(case: Case) -> tuple[BusinessCalendar, datetime]:
    context = CONTEXTS[case.context]
    calendar = BusinessCalendar(timezone=context.timezone, country=context.country)
    return calendar, datetime.fromisoformat(context.now).replace(tzinfo=calendar.tz)


def expected(case: Case, calendar: BusinessCalendar) -> datetime | None:
    if case.expect == "!":
        return None
    text = case.expect.lstrip("~")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=calendar.tz)


def ours(case: Case) -> tuple[datetime | None, bool]:
    calendar, now = setting(case)
    try:
        resolution = resolve(case.text, now=now, calendar=calendar, locale=case.locale)
    except DeadlineError:
        return None, False
    return resolution.due_at, resolution.ambiguous


def plain_dateparser(case: Case) -> datetime | None:
    calendar, now = setting(case)
    base = now.replace(tzinfo=None)
    found = dateparser.parse(case.text, settings={
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": base,
        "TIMEZONE": calendar.timezone,
        "RETURN_AS_TIMEZONE_AWARE": True,
    })  # fmt: skip
    if found is None:
        return None
    says_hours = any(word in case.text.lower() for word in HOUR_WORDS)
    if found.time() == clock() or (found.time() == base.time() and not says_hours):
        found = found.replace(hour=17, minute=0, second=0, microsecond=0)
    return found


def accuracy() -> dict[str, tuple[int, int]]:
    """Right answers per reader: the due moment, or a refusal where one is expected."""
    right = {"resolver": 0, "resolver_strict": 0, "dateparser": 0}
    for case in CORPUS:
        calendar, _ = setting(case)
        want = expected(case, calendar)
        got, ambiguous = ours(case)
        if got == want:
            right["resolver"] += 1
            right["resolver_strict"] += ambiguous == case.expect.startswith("~")
        right["dateparser"] += plain_dateparser(case) == want
    return {name: (count, len(CORPUS)) for name, count in right.items()}


def latencies(call: Callable[[Case], object]) -> list[float]:
    timings = []
    for _ in range(ROUNDS):
        for case in CORPUS:
            started = time.perf_counter()
            call(case)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def first_calls() -> tuple[float, float]:
    """Median over fresh processes of (import + first call, first call alone), in ms."""
    runs = []
    for _ in range(FRESH_PROCESSES):
        out = subprocess.run(
            [sys.executable, "-c", FIRST_CALL], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout.split()  # fmt: skip
        runs.append((float(out[0]), float(out[1])))
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    warm()
    scores = accuracy()
    ours_ms = latencies(ours)
    theirs_ms = latencies(plain_dateparser)
    with_import, call_only = first_calls()
    total = len(CORPUS)
    languages = {"en": 0, "sv": 0, "zh": 0}
    for case in CORPUS:
        calendar, now = setting(case)
        try:
            languages[resolve(case.text, now=now, calendar=calendar).locale] += 1
        except DeadlineError:
            continue
    print(f"Corpus: {total} phrases ({sum(c.expect == '!' for c in CORPUS)} to be refused); "
          f"resolved ones by language: {languages}\n")  # fmt: skip
    print("| measure | resolver | plain dateparser | goal |")
    print("|---|---|---|---|")

    def share(name: str) -> str:
        right, of = scores[name]
        return f"{right}/{of} ({100 * right / of:.1f}%)"

    print(f"| accuracy (due moment or refusal) | {share('resolver')} | {share('dateparser')} | |")
    print(f"| accuracy incl. ambiguity flag | {share('resolver_strict')} | n/a | |")
    print(f"| p50 per phrase, warm | {percentile(ours_ms, 0.5):.3f} ms | "
          f"{percentile(theirs_ms, 0.5):.3f} ms | |")  # fmt: skip
    print(f"| p99 per phrase, warm | {percentile(ours_ms, 0.99):.3f} ms | "
          f"{percentile(theirs_ms, 0.99):.3f} ms | <= 5 ms |")  # fmt: skip
    print(f"| first call, fresh process (call only) | {call_only:.1f} ms | | <= 300 ms |")
    print(f"| first call, fresh process (incl. imports) | {with_import:.1f} ms | | |")


if __name__ == "__main__":
    main()
