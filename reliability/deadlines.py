"""Deadline language → a due moment: "Q3 report for Acme by Friday" → Fri 17:00 client time.

Pure: every function takes `now` and a `BusinessCalendar`. The words are recognised in
`reliability.deadline_grammar`; this module places them on the calendar, applies the
conventions in docs/deadlines.md, and refuses to guess when the words do not say enough.
dateparser is used only for explicit dates in unusual written forms the grammar does not
cover ("4-Dec", "Dec. 4 '26"), with its language restricted; dates in digits (11/12) are
read here, in the order the calendar's country writes them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reliability import limits
from reliability.calendar import BusinessCalendar
from reliability.deadline_grammar import (
    EN_WEEKDAYS,
    LOCALES,
    Day,
    Piece,
    detect_locale,
    find_pieces,
    rules,
)
from reliability.errors import UserError

EXAMPLES = {
    "en": ("'by Friday'", "'in 3 business days'", "'Dec 5 at 3pm'"),
    "sv": ("'senast fredag'", "'om 3 arbetsdagar'", "'den 5 december kl 14'"),
    "zh": ("'周五前'", "'3个工作日内'", "'12月5日下午3点'"),
}
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FULL_WEEKDAYS = tuple(name for name in EN_WEEKDAYS if len(name) > 5)
# Rules whose day is computed from business days can never land on a closed day.
ON_BUSINESS_DAYS = frozenset({"business", "end_of_week", "end_of_month", "end_of_quarter",
                              "end_of_year"})  # fmt: skip
CONNECTORS = re.compile(r"^[\s,;:@\-–—]*(?:(?:at|on|by|kl\.?|klockan|den|的|在|,)[\s,]*)*$",
                        re.IGNORECASE)  # fmt: skip
CLIENT_PREPOSITIONS = r"(?:for|to|till|åt|för|with|给|为|帮|替)"
NUMERIC = re.compile(r"(?P<a>\d{1,2})[/.](?P<b>\d{1,2})(?:[/.](?P<y>\d{4}|\d{2}))?")
# How a country writes a short numeric date; anywhere else 11/12 could be either.
MONTH_FIRST = frozenset({"US", "PH", "CN", "TW", "JP", "KR"})
DAY_FIRST = frozenset({
    "SE", "NO", "DK", "FI", "IS", "GB", "IE", "DE", "AT", "CH", "NL", "BE", "LU", "FR", "ES",
    "PT", "IT", "PL", "CZ", "SK", "HU", "RO", "BG", "GR", "HR", "SI", "EE", "LV", "LT", "RU",
    "UA", "TR", "IL", "AU", "NZ", "IN", "SG", "MY", "HK", "ZA", "BR", "AR", "MX", "CL", "CO",
})  # fmt: skip


class DeadlineError(ValueError):
    """str(err) is one clear message for a person: what was understood and 2-3 example phrases
    that work."""


@dataclass(frozen=True)
class Resolution:
    due_at: datetime
    matched: str
    span: tuple[int, int]
    title: str
    client: str | None
    client_hint: str | None
    ambiguous: bool
    alternatives: tuple[datetime, ...]
    echo: str
    locale: str

    def to_json(self) -> dict[str, Any]:
        return {
            "due_at": self.due_at.isoformat(),
            "matched": self.matched,
            "title": self.title,
            "client": self.client,
            "ambiguous": self.ambiguous,
            "alternatives": [moment.isoformat() for moment in self.alternatives],
            "echo": self.echo,
        }


def resolve(
    text: str,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    locale: str | None = None,
    client_names: Sequence[str] = (),
) -> Resolution:
    """Find the deadline in a sentence and place it on the client's calendar."""
    try:
        limits.text(text, "deadline text")
    except UserError as exc:
        raise DeadlineError(str(exc)) from None
    language = _language(text, locale)
    pieces = find_pieces(text, language)
    if not pieces and locale is not None and detect_locale(text) != language:
        # the hint is often the client's language while the owner typed in their own
        language = detect_locale(text)
        pieces = find_pieces(text, language)
    try:
        due, alternatives, note = _due(text, pieces, now, calendar, language)
    except OverflowError:
        raise DeadlineError(f"'{text.strip()}' is further ahead than any calendar goes. Try "
                            f"{_examples(language)}.") from None
    spans = [(p.start, p.end) for p in pieces]
    start, end = spans[0][0], spans[-1][1]
    rest = _remove(text, spans, language)
    client, rest = _known_client(rest, client_names)
    return Resolution(
        due_at=due,
        matched=text[start:end],
        span=(start, end),
        title=_tidy(rest),
        client=client,
        client_hint=None if client else _client_hint(rest),
        ambiguous=bool(alternatives),
        alternatives=alternatives,
        echo=echo(due, calendar, now) + note,
        locale=language,
    )


def resolve_due(
    text: str, *, now: datetime, calendar: BusinessCalendar, locale: str | None = None
) -> datetime:
    """For a --due option: the phrase must be all deadline (ISO 8601 like
    2026-11-27T17:00-05:00 accepted too; an ISO datetime with offset keeps its instant,
    converted to calendar.tz); raises DeadlineError."""
    resolution = resolve(text, now=now, calendar=calendar, locale=locale)
    if resolution.title:
        raise DeadlineError(
            f"'{resolution.title}' is not part of a deadline (understood '{resolution.matched}' "
            f"as {resolution.echo}). Give only the deadline, e.g. "
            f"{_examples(resolution.locale)}."
        )
    return resolution.due_at


def warm() -> None:
    """Compile every rule and load dateparser now, so a server's first request is fast."""
    for language in LOCALES:
        rules(language)
    _dateparser("MDY", "en", date(2000, 1, 1)).get_date_data("5-Dec")


def echo(moment: datetime, calendar: BusinessCalendar, now: datetime | None = None) -> str:
    """'Fri 27 Nov, 17:00 (America/New_York)'; the year only when it is not this year's."""
    local = calendar.local(moment)
    year = "" if now is None or calendar.local(now).year == local.year else f" {local.year}"
    return (
        f"{WEEKDAY_NAMES[local.weekday()]} {local.day} {MONTH_NAMES[local.month - 1]}{year}, "
        f"{local:%H:%M} ({calendar.timezone})"
    )


# -- placing the words on the calendar ----------------------------------------------------


def _language(text: str, locale: str | None) -> str:
    if locale is None:
        return detect_locale(text)
    short = locale.lower().replace("_", "-").split("-")[0]
    if short not in LOCALES:
        raise DeadlineError(f"unknown language {locale!r}: use one of {', '.join(LOCALES)}")
    return short


def _due(
    text: str, pieces: list[Piece], now: datetime, calendar: BusinessCalendar, language: str
) -> tuple[datetime, tuple[datetime, ...], str]:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    pieces = [p for p in pieces if p.kind != "emphasis"]
    for piece in pieces:
        if piece.kind == "error":
            raise DeadlineError(f"{piece.error}. Try {_examples(language)}.")
    if not pieces:
        raise DeadlineError(
            f"I found no deadline in '{text.strip()}'. Try {_examples(language)}."
        )
    days = [p for p in pieces if p.kind == "day"]
    times = [p for p in pieces if p.kind == "time"]
    moments = [p for p in pieces if p.kind == "moment"]
    if len(days) > 1 or len(times) > 1 or (moments and len(pieces) > 1) or (
        days and days[0].clock and times
    ):
        words = " and ".join(f"'{text[p.start:p.end].strip()}'" for p in pieces)
        first = text[pieces[0].start:pieces[0].end].strip()
        raise DeadlineError(
            f"I found more than one deadline: {words}. Keep just one, e.g. '{first}'."
        )
    if days and times and not CONNECTORS.match(_between(text, days[0], times[0])):
        words = f"'{text[days[0].start:days[0].end]}' and '{text[times[0].start:times[0].end]}'"
        raise DeadlineError(f"Put the day and the time together ({words}), e.g. 'Friday 3pm'.")
    local_now = calendar.local(now)
    if moments:
        moment = moments[0]
        if moment.instant is not None:
            due = calendar.local(moment.instant)
        else:
            # add real hours: wall-clock arithmetic would be an hour off across a DST change
            due = calendar.local(now.astimezone(UTC) + timedelta(hours=moment.hours))
            due = due.replace(second=0, microsecond=0)
        return _checked(due, (), "", now, calendar, text, pieces)
    clock, other_clock = _clock(times[0] if times else None, calendar)
    if days:
        day_piece = days[0]
        clock = day_piece.clock or clock
        day, nearer = _place(day_piece.day, clock, local_now, calendar, text, day_piece)
        rule = day_piece.day.rule if day_piece.day else ""
    else:
        day, nearer, rule = local_now.date(), [], "time"
        if not times[0].end_of_day and calendar.at(day, clock) <= now:
            day += timedelta(days=1)
    alternatives = [calendar.at(d, clock) for d in nearer]
    if other_clock is not None:
        alternatives.append(calendar.at(day, other_clock))
    note = ""
    if rule not in ON_BUSINESS_DAYS and not calendar.is_business_day(day):
        note = f" - {_closed_reason(day, calendar)}, not a business day"
        alternatives += [
            calendar.at(calendar.previous_business_day(day), clock),
            calendar.at(calendar.next_business_day(day), clock),
        ]
    return _checked(calendar.at(day, clock), alternatives, note, now, calendar, text, pieces)


def _checked(
    due: datetime,
    alternatives: Sequence[datetime],
    note: str,
    now: datetime,
    calendar: BusinessCalendar,
    text: str,
    pieces: list[Piece],
) -> tuple[datetime, tuple[datetime, ...], str]:
    """Refuse a moment that is not ahead; keep only alternatives that are."""
    if due <= now:
        words = text[pieces[0].start:pieces[-1].end].strip()
        raise DeadlineError(
            f"'{words}' means {echo(due, calendar, now)}, which is in the past. "
            f"Try a later moment, e.g. 'tomorrow', 'next business day' or 'end of next week'."
        )
    kept = tuple(dict.fromkeys(a for a in alternatives if a > now and a != due))
    return due, kept, note


def _clock(piece: Piece | None, calendar: BusinessCalendar) -> tuple[time, time | None]:
    """The clock a time piece names; a bare hour ("kl 5", "3点") takes the reading that falls
    in business hours, and keeps the other as an alternative when both or neither do."""
    if piece is not None and piece.start_of_day:
        return calendar.start_of_day, None
    if piece is None or piece.end_of_day or piece.clock is None:
        return calendar.end_of_day, None
    if piece.other_clock is None:
        return piece.clock, None
    readings = (piece.clock, piece.other_clock)
    open_hours = [c for c in readings if calendar.start_of_day <= c <= calendar.end_of_day]
    if len(open_hours) == 1:
        return open_hours[0], None
    return piece.clock, piece.other_clock


def _place(
    day: Day | None,
    clock: time,
    now: datetime,
    calendar: BusinessCalendar,
    text: str,
    piece: Piece,
) -> tuple[date, list[date]]:
    """The calendar day a Day names, and a nearer day it could also mean."""
    assert day is not None
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    words = text[piece.start:piece.end].strip()
    match day.rule:
        case "today":
            return today, []
        case "offset":
            return today + timedelta(days=day.n), []
        case "business":
            return calendar.add_business_days(today, day.n), []
        case "weekday":
            return _coming(day.weekday, clock, now, calendar), []
        case "this_weekday":
            this = monday + timedelta(days=day.weekday)
            if this < today:
                name = FULL_WEEKDAYS[day.weekday].title()
                raise DeadlineError(
                    f"'{words}' was {echo(calendar.at(this, clock), calendar)}, earlier this "
                    f"week. Try 'next {name}', '{name} next week' or 'end of next week'."
                )
            return this, []
        case "next_weekday":
            following = monday + timedelta(days=7 + day.weekday)
            nearer = _coming(day.weekday, clock, now, calendar)
            return following, [nearer] if nearer != following else []
        case "week_weekday":
            return monday + timedelta(days=7 * day.n + day.weekday), []
        case "end_of_week":
            return calendar.last_business_day_of_week(today + timedelta(days=7 * day.n)), []
        case "end_of_month":
            return calendar.last_business_day_of_month(_add_months(today, day.n)), []
        case "end_of_quarter":
            return calendar.last_business_day_of_quarter(_add_months(today, 3 * day.n)), []
        case "end_of_year":
            return calendar.last_business_day_of_month(date(today.year, 12, 1)), []
        case "date":
            return _in_week(_named_date(day, today, words), day.week, monday, words), []
        case "day_of_month":
            found = _day_of_month(day, today, words)
            return _same_weekday(found, day.weekday, words, today), []
        case "numeric_date":
            return _numeric_date(day, today, calendar, words), []
    raise AssertionError(day.rule)


def _coming(weekday: int, clock: time, now: datetime, calendar: BusinessCalendar) -> date:
    """The next such weekday on or after today; today only while the moment is ahead."""
    today = now.date()
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    if day == today and calendar.at(day, clock) <= now:
        day += timedelta(days=7)
    return day


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _real_date(year: int, month: int, day: int, words: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DeadlineError(
            f"'{words}' is not a real date ({MONTH_NAMES[month - 1] if 1 <= month <= 12 else month}"
            f" has no day {day}). Try 'Dec 5', '2026-12-05' or 'end of month'."
        ) from None


def _named_date(day: Day, today: date, words: str) -> date:
    """Month and day; without a year, a date already past this year means next year's."""
    if not 1 <= day.month <= 12:
        raise DeadlineError(f"'{words}' is not a real date. Try 'Dec 5' or '2026-12-05'.")
    if day.year is not None:
        found = _real_date(day.year, day.month, day.day, words)
    else:
        found = _this_or_next_year(day.month, day.day, today, words)
    return _same_weekday(found, day.weekday, words, today)


def _in_week(found: date, week: int, monday: date, words: str) -> date:
    """"下周五（12月4日）" names the week too; a date outside it is refused, both named."""
    start = monday + timedelta(days=7 * week)
    if week < 0 or start <= found < start + timedelta(days=7):
        return found
    said = start + timedelta(days=found.weekday())
    raise DeadlineError(
        f"'{words}' names two different days: {_day_name(found, monday)} and, by the week, "
        f"{_day_name(said, monday)}. Say which, e.g. '{_day_name(found, monday)}' or "
        f"'{_day_name(said, monday)}'."
    )


def _same_weekday(found: date, weekday: int, words: str, today: date) -> date:
    """"Friday 11th" must name the same day twice; if not, both readings are named and
    neither is picked: the weekday nearest the date, and the date itself."""
    if weekday < 0 or found.weekday() == weekday:
        return found
    nearest = found + timedelta(days=(weekday - found.weekday() + 3) % 7 - 3)
    readings = [_day_name(nearest, today), _day_name(found, today)]
    raise DeadlineError(
        f"'{words}' names two different days: {found.day} {MONTH_NAMES[found.month - 1]} is a "
        f"{FULL_WEEKDAYS[found.weekday()].title()} ({readings[1]}), and the nearest "
        f"{FULL_WEEKDAYS[weekday].title()} is {readings[0]}. Say which, e.g. "
        f"'{readings[0]}' or '{readings[1]}'."
    )


def _day_name(day: date, today: date) -> str:
    """'Fri 11 Dec', with the year when it is not this year's."""
    year = "" if day.year == today.year else f" {day.year}"
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {MONTH_NAMES[day.month - 1]}{year}"


def _this_or_next_year(month: int, day: int, today: date, words: str) -> date:
    """A month and day without a year: this year's, or next year's once it has passed."""
    try:
        this_year = date(today.year, month, day)
    except ValueError:
        this_year = None
    if this_year is not None and this_year >= today:
        return this_year
    return _real_date(today.year + 1, month, day, words)


def _day_of_month(day: Day, today: date, words: str) -> date:
    """'5号' (the coming 5th), '本月5号' (this month's), '下个月5号' (next month's); the coming
    31st in November is 31 December, as a month without that day has none to come."""
    if day.n >= 0 or not 1 <= day.day <= 31:
        month = _add_months(today, max(day.n, 0))
        return _real_date(month.year, month.month, day.day, words)
    for ahead in range(3):
        month = _add_months(today, ahead)
        try:
            found = date(month.year, month.month, day.day)
        except ValueError:
            continue
        if found >= today:
            return found
    raise AssertionError(words)  # every two months in a row hold a 31st


def _numeric_date(day: Day, today: date, calendar: BusinessCalendar, words: str) -> date:
    """11/12 is read in the order the calendar's country writes it (month first in the US,
    day first in Sweden); where that order is unknown, a weekday beside it or a number
    above 12 must settle it, else both readings are named and neither is picked."""
    country = (calendar.country or "").split("-")[0]
    known = "MDY" if country in MONTH_FIRST else "DMY" if country in DAY_FIRST else None
    # both orders are tried: 15/1 and 12/31 have one reading, whoever wrote them
    orders = ("MDY", "DMY") if known == "MDY" else ("DMY", "MDY")
    readings = [d for d in (_numeric_reading(day.numeric, o, today, words) for o in orders) if d]
    if not readings:
        raise DeadlineError(f"'{words}' is not a real date. Try 'Dec 5', '2026-12-05' or "
                            "'in 3 business days'.")  # fmt: skip
    readings = list(dict.fromkeys(readings))[: 1 if known else 2]
    if len(readings) > 1 and day.weekday >= 0:
        readings = [d for d in readings if d.weekday() == day.weekday] or readings[:1]
    if len(readings) > 1:
        first, second = (_day_name(d, today) for d in readings)
        raise DeadlineError(
            f"'{words}' could be {first} or {second}: the order of day and month is not known "
            f"for this client's country ({calendar.country or 'none set'}). "
            f"Write the month as a word, e.g. '{first}' or '{second}'."
        )
    return _same_weekday(readings[0], day.weekday, words, today)


def _numeric_reading(numeric: str, order: str, today: date, words: str) -> date | None:
    """One reading of a date in digits (11/12, 11.12.2026) or of an unusual written form
    ("4-Dec", read by dateparser); None when that order gives no real date."""
    digits = NUMERIC.fullmatch(numeric)
    if digits is None:
        language = "sv" if re.search(r"[åäö]|maj|okt|mars|juni|juli|augusti", numeric,
                                     re.I) else "en"  # fmt: skip
        parsed = _dateparser(order, language, today).get_date_data(numeric).date_obj
        if parsed is None:
            return None
        if re.search(r"\d{4}|'\d{2}", numeric):
            return parsed.date()
        month, day, year = parsed.month, parsed.day, None
    else:
        first, second, year = int(digits["a"]), int(digits["b"]), digits["y"]
        month, day = (first, second) if order == "MDY" else (second, first)
    try:
        if year is None:
            return _this_or_next_year(month, day, today, words)
        return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    except (ValueError, DeadlineError):
        return None


@functools.lru_cache(maxsize=64)
def _dateparser(order: str, language: str, today: date) -> Any:
    import dateparser  # imported late: it costs ~100 ms, and most phrases never need it

    return dateparser.DateDataParser(
        languages=[language],
        settings={
            "DATE_ORDER": order,
            "RELATIVE_BASE": datetime.combine(today, time()),
            "REQUIRE_PARTS": ["day", "month"],
            "PARSERS": ["absolute-time"],
        },
    )


def _closed_reason(day: date, calendar: BusinessCalendar) -> str:
    holiday = calendar.holiday(day)
    if holiday and holiday != "closed":
        return f"{holiday} ({calendar.country})"
    return "a closure day" if holiday else FULL_WEEKDAYS[day.weekday()].title()


# -- what is left: title and client ---------------------------------------------------------


def _between(text: str, a: Piece, b: Piece) -> str:
    first, second = sorted((a, b), key=lambda p: p.start)
    return text[first.end:second.start]


def _remove(text: str, spans: list[tuple[int, int]], language: str) -> str:
    joiner = "" if language == "zh" else " "
    kept, cursor = [], 0
    for start, end in spans:
        kept.append(text[cursor:start])
        cursor = end
    kept.append(text[cursor:])
    return joiner.join(part.strip() for part in kept if part.strip())


def _known_client(text: str, client_names: Sequence[str]) -> tuple[str | None, str]:
    """The longest known client named in the text, and the text without it."""
    for name in sorted(client_names, key=len, reverse=True):
        pattern = re.compile(
            rf"(?:{CLIENT_PREPOSITIONS}\s*)?(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])",
            re.IGNORECASE,
        )
        found = pattern.search(text)
        if found:
            return name, text[: found.start()] + " " + text[found.end():]
    return None, text


def _client_hint(text: str) -> str | None:
    latin = re.search(
        rf"(?<![\w]){CLIENT_PREPOSITIONS}\s+((?:[A-Z0-9][\w&'.-]*)(?:\s+[A-Z][\w&'.-]*)*)", text
    )
    if latin:
        return latin.group(1).rstrip(".'")
    chinese = re.search(r"(?:给|为|帮|替)\s*([A-Za-z][A-Za-z0-9&.-]*|[\u4e00-\u9fff]{2,8}?)"
                        r"(?=\s|发|做|准备|提交|交|写|送|出|整理|完成|的|$)", text)  # fmt: skip
    return chinese.group(1) if chinese else None


def _tidy(text: str) -> str:
    """Collapse spaces and drop the connecting words left dangling at either end."""
    text = re.sub(r"\s+([?!.,;:])", r"\1", re.sub(r"\s+", " ", text)).strip()
    dangling = r"(?:by|on|at|due|before|until|till|senast|på|innan|före|kl|den|在|于|前|的)"
    text = re.sub(rf"^(?:{dangling}(?![\w])|[\s,;:\-–—.])+", "", text, flags=re.IGNORECASE)
    text = re.sub(rf"(?:(?<![\w]){dangling}|[\s,;:\-–—(，。、])+$", "", text, flags=re.IGNORECASE)
    # Chinese has no spaces: "给华信咨询的市场分析" without the client leaves "的市场分析".
    return re.sub(r"^[的在于给为]+", "", text).strip()


def _examples(language: str) -> str:
    first, second, third = EXAMPLES[language]
    return f"{first}, {second} or {third}"
