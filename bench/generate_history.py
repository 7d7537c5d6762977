"""Write a realistic synthetic promise history as the backtest's CSV.

The world it simulates, so the backtest has something honest to find:
- owners differ persistently: each has their own typical ratio of actual to planned time
  (most plan with slack, about one in five is habitually late) and their own spread, drifting
  slowly over the months;
- work takes business hours in the client's calendar (New York, Stockholm or Shanghai, with
  their weekends and public holidays), so a Friday promise runs into the weekend;
- busy owners run later: every other open promise stretches the work a little;
- now and then something outside anyone's control happens (a client's data arrives late);
- people leave and are replaced by newcomers with their own habits and no record (about a
  quarter of a team in a year, a common agency turnover);
- a few promises are never delivered, and some rows carry effort estimates and actuals;
- about half the owners juggle several things at once: the hours they log match their
  estimate whatever the calendar did, so for them effort says nothing about a date's slip.

Usage: .venv/bin/python bench/generate_history.py --rows 100000 --out history.csv
       [--owners N] [--seed 7] [--bad 25]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import TextIO

from reliability.calendar import BusinessCalendar

CALENDARS = (
    BusinessCalendar("America/New_York", "US"),
    BusinessCalendar("Europe/Stockholm", "SE"),
    BusinessCalendar("Asia/Shanghai", "CN"),
)
COLUMNS = ["id", "owner", "client", "made_at", "due_at", "done_at", "estimate_hours",
           "actual_hours", "country", "timezone"]
TRUTH = "true_p_late"  # not written to the CSV: bench_oracle.py scores it
PLANNED_DAYS = (1, 2, 3, 5, 8, 10, 15)
PLANNED_WEIGHTS = (10, 15, 15, 25, 15, 10, 10)
LOAD_STRETCH = 0.03  # each other open promise adds 3% to the time a job takes
SHOCK_CHANCE, SHOCK = 0.05, 1.8  # something outside the owner's control
BROKEN_CHANCE = 0.4  # of jobs taking over three times the plan, this many are dropped
EFFORT_SHARE = 0.3  # rows that carry estimate and actual hours
PROMISES_PER_DAY = 0.5  # per owner and business day, on average
TURNOVER = 0.25 / 250  # chance per owner and business day of leaving (a quarter a year)
MULTITASKING_SHARE = 0.5  # owners whose logged hours do not follow their calendar slips


class Owner:
    """A person with a persistent habit: their typical overrun and how much it varies."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.home = math.log(0.75) + rng.gauss(0, 0.35)
        self.level = self.home
        self.spread = rng.uniform(0.25, 0.6)
        self.multitasking = rng.random() < MULTITASKING_SHARE
        self.open: list[datetime] = []  # done moments of promises still in flight

    def drift(self, rng: random.Random) -> None:
        """People change slowly, and tend back to their habit."""
        self.level += 0.05 * (self.home - self.level) + rng.gauss(0, 0.03)

    def busy(self, moment: datetime) -> int:
        self.open = [done for done in self.open if done > moment]
        return len(self.open)


def _iso(moment: datetime, calendar: BusinessCalendar) -> str:
    return calendar.local(moment).isoformat(timespec="minutes")


def generate(rows: int, *, owners: int | None = None, seed: int = 7,
             start: date = date(2024, 1, 8)) -> Iterator[dict[str, str]]:
    """Rows in the order they were made, `rows` of them."""
    rng = random.Random(seed)
    count = owners or max(5, rows // 250)
    people = [Owner(f"owner{index:04d}@example.com", rng) for index in range(count)]
    hired = count
    clients = [(f"Client {index:03d}", CALENDARS[index % len(CALENDARS)])
               for index in range(max(3, count * 2))]
    days = math.ceil(rows / (count * PROMISES_PER_DAY))
    made = 0
    day = start
    home = CALENDARS[0]
    while made < rows:
        day = home.next_business_day(day, inclusive=True)
        for seat, owner in enumerate(people):
            if rng.random() < TURNOVER:
                owner = people[seat] = Owner(f"owner{hired:04d}@example.com", rng)
                hired += 1
            owner.drift(rng)
            for _ in range(_poisson(rng, PROMISES_PER_DAY)):
                if made == rows:
                    break
                made += 1
                yield _promise(made, owner, rng.choice(clients), day, rng)
        day += timedelta(days=1)
        if day > start + timedelta(days=days * 2):  # never loop forever on a tiny rate
            break


def _poisson(rng: random.Random, rate: float) -> int:
    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _promise(number: int, owner: Owner, client: tuple[str, BusinessCalendar], day: date,
             rng: random.Random) -> dict[str, str]:
    name, calendar = client
    day = calendar.next_business_day(day, inclusive=True)
    made_at = calendar.at(day, time(9 + rng.randrange(8), rng.choice((0, 15, 30, 45))))
    planned_days = rng.choices(PLANNED_DAYS, PLANNED_WEIGHTS)[0]
    due_day = calendar.add_business_days(day, planned_days)
    due_at = calendar.at(due_day, time(17) if rng.random() < 0.8 else time(12))
    planned = calendar.business_hours(made_at, due_at)
    stretch = 1 + LOAD_STRETCH * owner.busy(made_at)
    ratio = math.exp(rng.gauss(owner.level, owner.spread)) * stretch
    if rng.random() < SHOCK_CHANCE:
        ratio *= SHOCK
    done_at: datetime | None = calendar.add_business_hours(made_at, ratio * planned)
    if 0.85 < ratio <= 1.0:  # work expands to fill the time: delivered near the deadline
        done_at = due_at - timedelta(minutes=rng.randrange(5, 120))
    estimate = actual = ""
    if rng.random() < EFFORT_SHARE:
        effort = planned * rng.uniform(0.3, 0.8)
        estimate = f"{effort:.1f}"
        # A multitasker's job takes its hours; the calendar slips because other work
        # interleaves, which the hours do not show.
        spent = 1.0 if owner.multitasking else ratio
        actual = f"{effort * spent * math.exp(rng.gauss(0, 0.1)):.1f}"
    if ratio > 3 and rng.random() < BROKEN_CHANCE:
        done_at = None
    owner.open.append(done_at or due_at)
    return {
        "id": str(number), "owner": owner.name, "client": name,
        "made_at": _iso(made_at, calendar), "due_at": _iso(due_at, calendar),
        "done_at": _iso(done_at, calendar) if done_at else "",
        "estimate_hours": estimate, "actual_hours": actual,
        "country": calendar.country or "", "timezone": calendar.timezone,
        TRUTH: f"{true_p_late(owner, stretch):.6f}",
    }


def true_p_late(owner: Owner, stretch: float) -> float:
    """The chance this job runs late, from what only this world knows: the owner's habit
    and spread today and their load. A job is late when its ratio passes 1 (a dropped job
    has passed 3), with or without a shock: the best any forecast could say at capture."""
    normal = NormalDist(owner.level + math.log(stretch), owner.spread)
    return ((1 - SHOCK_CHANCE) * (1 - normal.cdf(0.0))
            + SHOCK_CHANCE * (1 - normal.cdf(-math.log(SHOCK))))


BAD_ROWS = (
    {"made_at": "last Tuesday"},
    {"due_at": "2023-01-01T09:00+00:00"},
    {"owner": ""},
    {"estimate_hours": "two", "actual_hours": "3"},
    {"done_at": "2023-01-01"},
    {"timezone": "Mars/Olympus_Mons"},
)


def write(out: TextIO, rows: int, *, owners: int | None = None, seed: int = 7,
          bad: int = 0) -> dict[str, float]:
    """The CSV, with `bad` unreadable rows scattered through it (each of a known kind); the
    true chance each row had of running late, by id."""
    rng = random.Random(seed + 1)
    spoil = set(rng.sample(range(1, rows + 1), min(bad, rows)))
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    truth = {}
    for index, row in enumerate(generate(rows, owners=owners, seed=seed), start=1):
        truth[row["id"]] = float(row[TRUTH])
        if index in spoil:
            row = {**row, **BAD_ROWS[index % len(BAD_ROWS)]}
        writer.writerow(row)
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--owners", type=int, default=None,
                        help="default: one per 250 rows (about two years of history)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bad", type=int, default=0, help="unreadable rows to scatter in")
    parser.add_argument("--out", type=Path, default=None, help="default: stdout")
    args = parser.parse_args()
    if args.out is None:
        write(sys.stdout, args.rows, owners=args.owners, seed=args.seed, bad=args.bad)
        return
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        write(handle, args.rows, owners=args.owners, seed=args.seed, bad=args.bad)


if __name__ == "__main__":
    main()
