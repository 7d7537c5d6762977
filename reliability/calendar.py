"""Business calendars: when a client's working day ends, which days count, when to give notice.

Pure functions of plain data. Everything a deadline, a risk assessment or a notice
needs to know about "business days" is answered here, in the client's own timezone
and with the client's own public holidays.
"""

from __future__ import annotations

import bisect
import functools
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import holidays

WEEKEND = frozenset({5, 6})
ONE_DAY = timedelta(days=1)
MAX_SEARCH_DAYS = 3660  # ten years without a business day means a misconfigured calendar
SPANS_KEPT = 4096  # pairs of clock times whose open hours a calendar remembers


class CalendarError(ValueError):
    """A timezone, country or closure that a calendar cannot be built from."""


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called `name`, or a CalendarError that says what would work."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            f"unknown timezone {name!r}: use an IANA name such as "
            "'America/New_York', 'Europe/Stockholm' or 'Asia/Shanghai'"
        ) from None


@functools.cache
def supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def check_country(code: str) -> str:
    """Normalise an ISO 3166 code ("us", "US", "US-CA") or raise a CalendarError."""
    country, _, subdivision = code.strip().upper().partition("-")
    if country not in supported_countries():
        raise CalendarError(
            f"unknown country {code!r}: use an ISO 3166 code such as 'US', 'SE', 'GB' or 'CN'"
        )
    if subdivision:
        known = holidays.list_supported_countries()[country]
        if subdivision not in known:
            raise CalendarError(
                f"unknown subdivision {subdivision!r} of {country}: "
                f"known ones are {', '.join(known[:8])}…"
            )
        return f"{country}-{subdivision}"
    return country


@functools.lru_cache(maxsize=256)
def _public_holidays(code: str, year: int) -> dict[date, str]:
    country, _, subdivision = code.partition("-")
    return dict(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


@functools.lru_cache(maxsize=1024)
def _closed_weekdays(country: str | None, closures: frozenset[date], weekend: frozenset[int],
                     first_year: int, last_year: int) -> tuple[date, ...]:
    """Holidays and closures that fall on working weekdays, sorted, for counting by bisection."""
    days = set(closures)
    if country is not None:
        for year in range(first_year, last_year + 1):
            days.update(_public_holidays(country, year))
    return tuple(sorted(day for day in days if day.weekday() not in weekend))


def _hours(start: time, end: time) -> float:
    """Hours from one wall-clock time to another on the same day."""
    seconds = ((end.hour - start.hour) * 3600 + (end.minute - start.minute) * 60
               + (end.second - start.second) + (end.microsecond - start.microsecond) / 1e6)
    return seconds / 3600


def parse_clock(value: str) -> time:
    """"17:00" → time(17, 0); the format every clock setting in the config uses."""
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise CalendarError(
            f"{value!r} is not a time of day: write it as HH:MM, e.g. '17:00'"
        ) from None


@dataclass(frozen=True)
class BusinessCalendar:
    """One client's (or member's) working week: timezone, weekends, holidays, opening hours."""

    timezone: str = "UTC"
    country: str | None = None
    start_of_day: time = time(9, 0)
    end_of_day: time = time(17, 0)
    closures: frozenset[date] = field(default_factory=frozenset)
    weekend: frozenset[int] = WEEKEND

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.country is not None:
            object.__setattr__(self, "country", check_country(self.country))
        if self.start_of_day >= self.end_of_day:
            raise CalendarError("the business day must start before it ends")

    @functools.cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zone(self.timezone)

    @functools.cached_property
    def hours_per_day(self) -> float:
        return _hours(self.start_of_day, self.end_of_day)

    # -- days ---------------------------------------------------------------------------

    def holiday(self, day: date) -> str | None:
        """The name of the public holiday or closure on `day`, if any."""
        if day in self.closures:
            return "closed"
        if self.country is None:
            return None
        return _public_holidays(self.country, day.year).get(day)

    def is_business_day(self, day: date) -> bool:
        try:
            return self._business_days[day]
        except KeyError:
            answer = day.weekday() not in self.weekend and self.holiday(day) is None
            self._business_days[day] = answer
            return answer

    @functools.cached_property
    def _business_days(self) -> dict[date, bool]:
        """Answers already worked out: a scan asks about the same few weeks thousands of times."""
        return {}

    @functools.cached_property
    def _open_weekdays(self) -> tuple[tuple[int, ...], ...]:
        """[first weekday][n]: how many of n consecutive days from that weekday are worked."""
        return tuple(
            tuple(sum((first + offset) % 7 not in self.weekend for offset in range(n))
                  for n in range(7))
            for first in range(7)
        )

    @functools.cached_property
    def _moments(self) -> dict[tuple[date, time, int], datetime]:
        """`at` answers already worked out, for the same reason."""
        return {}

    def next_business_day(self, day: date, *, inclusive: bool = False) -> date:
        return self._walk(day if inclusive else day + timedelta(days=1), 1)

    def previous_business_day(self, day: date, *, inclusive: bool = False) -> date:
        return self._walk(day if inclusive else day - timedelta(days=1), -1)

    def add_business_days(self, day: date, n: int) -> date:
        """`n` business days after `day` (before it when negative); `day` itself need not be one."""
        try:
            return self._shifted[(day, n)]
        except KeyError:
            step = 1 if n >= 0 else -1
            moved = day
            for _ in range(abs(n)):
                moved = self._walk(moved + timedelta(days=step), step)
            self._shifted[(day, n)] = moved
            return moved

    @functools.cached_property
    def _shifted(self) -> dict[tuple[date, int], date]:
        """`add_business_days` answers already worked out: every promise due on the same day
        has the same notice and check-in days, and forecasts step from the same today."""
        return {}

    def last_business_day_of_week(self, day: date) -> date:
        """The last business day of `day`'s ISO week (or the one before, if the week has none)."""
        sunday = day + timedelta(days=6 - day.weekday())
        return self.previous_business_day(sunday, inclusive=True)

    def last_business_day_of_month(self, day: date) -> date:
        first_of_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        return self.previous_business_day(first_of_next - timedelta(days=1), inclusive=True)

    def last_business_day_of_quarter(self, day: date) -> date:
        quarter_end_month = ((day.month - 1) // 3) * 3 + 3
        return self.last_business_day_of_month(date(day.year, quarter_end_month, 1))

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Business days after `start`'s local date up to and including `end`'s; negative if
        `end` comes first. Sending on Wednesday for a Friday due date gives 2."""
        return self._days_through(self.local(end).date()) - self._days_through(
            self.local(start).date())

    def business_days(self, start: date, end: date) -> list[date]:
        """The business days from `start` to `end`, both included."""
        return [
            start + timedelta(days=offset)
            for offset in range((end - start).days + 1)
            if self.is_business_day(start + timedelta(days=offset))
        ]

    def count_business_days(self, start: date, end: date) -> int:
        """How many business days from `start` to `end`, both included, without walking
        them one by one: the forecast counts these for every promise in every history."""
        if end < start:
            return 0
        weeks, rest = divmod((end - start).days + 1, 7)
        count = weeks * (7 - len(self.weekend)) + self._open_weekdays[start.weekday()][rest]
        closed = _closed_weekdays(self.country, self.closures, self.weekend, start.year, end.year)
        return count - (bisect.bisect_right(closed, end) - bisect.bisect_left(closed, start))

    def _days_before(self, day: date) -> int:
        """How many business days come before `day`, counted from the first day numbered
        (any origin would do: only differences mean anything). Worked out once a day: a
        replay counts the days between the same makings, dues and mornings over and over."""
        try:
            return self._numbers[day]
        except KeyError:
            origin = next(iter(self._numbers), day)
            number = self._numbers[day] = (
                self.count_business_days(origin, day - ONE_DAY) if day >= origin
                else -self.count_business_days(day, origin - ONE_DAY))
            return number

    def _days_through(self, day: date) -> int:
        """How many business days come before `day` or are `day`, from the same origin."""
        return self._days_before(day) + self.is_business_day(day)

    @functools.cached_property
    def _numbers(self) -> dict[date, int]:
        """`_days_before` answers; the first one is the origin's, 0."""
        return {}

    # -- moments ------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("a naive datetime has no place in a calendar; attach a timezone")
        return moment.astimezone(self.tz)

    def at(self, day: date, clock: time) -> datetime:
        """`day` at `clock` in this calendar's zone, as a real instant even across a DST gap."""
        key = (day, clock, clock.fold)  # times compare equal across a DST fold; moments don't
        try:
            return self._moments[key]
        except KeyError:
            wall = datetime.combine(day, clock, tzinfo=self.tz)
            moment = self._moments[key] = wall.astimezone(UTC).astimezone(self.tz)
            return moment

    def end_of(self, day: date) -> datetime:
        return self.at(day, self.end_of_day)

    def start_of(self, day: date) -> datetime:
        return self.at(day, self.start_of_day)

    def is_open(self, moment: datetime) -> bool:
        local = self.local(moment)
        return (
            self.is_business_day(local.date())
            and self.start_of_day <= local.time() < self.end_of_day
        )

    def next_business_morning(self, moment: datetime) -> datetime:
        """The next start of a business day strictly after `moment`."""
        local = self.local(moment)
        day = local.date()
        if self.is_business_day(day) and local.time() < self.start_of_day:
            return self.start_of(day)
        return self.start_of(self.next_business_day(day))

    def notice_by(self, due: datetime, lead_business_days: int) -> datetime:
        """The last moment to warn a client about a slip: `lead_business_days` business days
        before the due date, at the due time (no later than the end of that business day).
        For a Friday 17:00 promise and a lead of 2, Wednesday 17:00."""
        local_due = self.local(due)
        day = self.add_business_days(local_due.date(), -lead_business_days)
        return self.at(day, min(local_due.timetz().replace(tzinfo=None), self.end_of_day))

    def business_hours(self, start: datetime, end: datetime) -> float:
        """Open hours from `start` to `end` (negative if `end` comes first), on the wall
        clock: a business day is always its opening hours long, whatever DST does that night."""
        if end < start:
            return -self.business_hours(end, start)
        first, last = self.local(start), self.local(end)
        first_day, last_day = first.date(), last.date()
        if first_day == last_day:
            return self._open_hours(first_day, first.time(), last.time())
        middle = self._days_before(last_day) - self._days_through(first_day)
        return (self._open_hours(first_day, first.time(), self.end_of_day)
                + middle * self.hours_per_day
                + self._open_hours(last_day, self.start_of_day, last.time()))

    def _open_hours(self, day: date, low: time, high: time) -> float:
        if not self.is_business_day(day):
            return 0.0
        try:
            return self._spans[low, high]
        except KeyError:
            if len(self._spans) >= SPANS_KEPT:
                self._spans.clear()
            hours = self._spans[low, high] = max(
                _hours(max(low, self.start_of_day), min(high, self.end_of_day)), 0.0)
            return hours

    @functools.cached_property
    def _spans(self) -> dict[tuple[time, time], float]:
        """Open hours between two clock times of a business day, already worked out: the
        times of makings, dues and mornings recur, and `business_hours` asks about two of
        them each call."""
        return {}

    def add_business_hours(self, moment: datetime, hours: float) -> datetime:
        """Move `moment` by working hours (negative goes back), counting only open time.

        What is left after `moment`'s own day is spent in whole business days at once rather
        than hour by hour. Landing exactly on a day's end (going forward) or start (going
        back) stays on that day."""
        remaining = timedelta(hours=abs(hours))
        cursor = self.local(moment)
        day = cursor.date()
        if self.is_business_day(day):
            opens, closes = self.start_of(day), self.end_of(day)
            if hours >= 0 and cursor < closes:
                start = max(cursor, opens)
                if start + remaining <= closes:
                    return start + remaining
                remaining -= closes - start
            elif hours < 0 and cursor > opens:
                end = min(cursor, closes)
                if end - remaining >= opens:
                    return end - remaining
                remaining -= end - opens
        length = datetime.combine(day, self.end_of_day) - datetime.combine(day, self.start_of_day)
        whole, rest = divmod(remaining, length)
        if whole and not rest:
            whole, rest = whole - 1, length
        if hours >= 0:
            return self.start_of(self.add_business_days(self.next_business_day(day), whole)) + rest
        return self.end_of(self.add_business_days(self.previous_business_day(day), -whole)) - rest

    def _walk(self, day: date, step: int) -> date:
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_business_day(day):
                return day
            day += timedelta(days=step)
        raise CalendarError("no business day found within ten years: check the closures")


@functools.lru_cache(maxsize=256)
def shared_calendar(timezone: str, country: str | None, start_of_day: time, end_of_day: time,
                    closures: frozenset[date]) -> BusinessCalendar:
    """One calendar per set of settings for the life of the process, so that what it works
    out (business days, opening moments, measured history) is worked out once."""
    return BusinessCalendar(timezone, country, start_of_day, end_of_day, closures)
