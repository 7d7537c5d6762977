"""The words people use for deadlines in English, Swedish and Chinese, as recognisers.

This module only finds deadline words and says what they mean (a `Piece`); turning a
piece into a moment needs `now` and a calendar, and lives in `reliability.deadlines`.
Pure: regular expressions over the text, no clock, no I/O.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time

LOCALES = ("en", "sv", "zh")

EN_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
SV_WEEKDAYS = {
    "måndag": 0, "tisdag": 1, "onsdag": 2, "torsdag": 3, "fredag": 4, "lördag": 5, "söndag": 6,
}  # fmt: skip
# Short forms Swedes write beside a date ("fre 11/12", "tors 10 dec"); alone they are words.
SV_SHORT_WEEKDAYS = {"mån": 0, "tis": 1, "ons": 2, "tors": 3, "tor": 3, "fre": 4, "lör": 5,
                     "sön": 6}  # fmt: skip
ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}

EN_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
SV_MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "mars": 3, "mar": 3, "april": 4,
    "apr": 4, "maj": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augusti": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "oktober": 10, "okt": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip
SV_NUMBERS = {
    "en": 1, "ett": 1, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7,
    "åtta": 8, "nio": 9, "tio": 10, "elva": 11, "tolv": 12, "fjorton": 14, "femton": 15,
    "tjugo": 20, "trettio": 30,
}  # fmt: skip
ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}  # fmt: skip

# Words people mistype into something that is no deadline at all; checked by similarity.
# Only long names: short ones sit too close to ordinary words ("march"/"match").
SPELLING = {
    "en": tuple(w for w in (*EN_WEEKDAYS, *EN_MONTHS, "tomorrow") if len(w) >= 6),
    "sv": tuple(w for w in (*SV_WEEKDAYS, *SV_MONTHS, "imorgon") if len(w) >= 6),
    "zh": (),
}
SPELLING["latin"] = (*SPELLING["en"], *SPELLING["sv"])
KNOWN_WORDS = frozenset(
    {f"{day}{end}" for day in EN_WEEKDAYS if len(day) > 5 for end in ("s", "'s")}
    | {f"{day}{end}" for day in SV_WEEKDAYS for end in ("en", "s", "ar", "arna")}
)


@dataclass(frozen=True)
class Day:
    """A day named in words, before it is placed on a calendar.

    rule: weekday | this_weekday | next_weekday | week_weekday | offset | business |
          end_of_week | end_of_month | end_of_quarter | end_of_year | date | day_of_month |
          numeric_date | today
    """

    rule: str
    n: int = 0
    weekday: int = -1
    week: int = -1  # the week named with a date, "下周五（12月4日）": 0 this week, 1 the next
    year: int | None = None
    month: int = 0
    day: int = 0
    numeric: str = ""


@dataclass(frozen=True)
class Piece:
    """One run of deadline words found in the text, and what they say."""

    kind: str  # day | time | moment | error | emphasis ("at the latest": read, means nothing)
    start: int
    end: int
    day: Day | None = None
    clock: time | None = None
    other_clock: time | None = None  # the other reading of a bare hour like "3点" or "kl 5"
    end_of_day: bool = False  # EOD / COB: the calendar's closing time, today only when alone
    start_of_day: bool = False  # "tomorrow morning": the calendar's opening time
    hours: float = 0.0
    instant: datetime | None = None
    error: str = ""

    @property
    def length(self) -> int:
        return self.end - self.start


Builder = Callable[[re.Match[str]], Piece | None]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    build: Builder


def _alt(words: object) -> str:
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))


def en_number(word: str) -> int:
    word = word.lower()
    return int(word) if word.lstrip("-").isdigit() else EN_NUMBERS[word]


def sv_number(word: str) -> int:
    word = word.lower()
    return int(word) if word.lstrip("-").isdigit() else SV_NUMBERS[word]


def zh_number(text: str) -> int:
    """Chinese numerals up to 99 ("两", "十二", "二十五") or digits."""
    if text.lstrip("-").isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        return ZH_DIGITS.get(tens, 1) * 10 + (ZH_DIGITS[units] if units else 0)
    return ZH_DIGITS[text]


def _span(m: re.Match[str]) -> tuple[int, int]:
    return m.start(), m.end()


def _day(rule: str, **fields: int | str | None) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        return Piece("day", *_span(m), day=Day(rule, **fields))  # type: ignore[arg-type]

    return build


def _error(message: str) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        return Piece("error", *_span(m), error=message.format(m.group(0).strip()))

    return build


def _count(parse: Callable[[str], int], unit: str) -> Builder:
    """'in N days' and friends; a negative count is an error, never a date in the past."""

    def build(m: re.Match[str]) -> Piece:
        n = parse(m.group("n"))
        if n < 0:
            return Piece("error", *_span(m), error=f"'{m.group(0).strip()}' counts backwards")
        if unit == "hours":
            return Piece("moment", *_span(m), hours=float(n))
        days = {"days": ("offset", n), "weeks": ("offset", 7 * n), "business": ("business", n)}
        rule, count = days[unit]
        return Piece("day", *_span(m), day=Day(rule, n=count))

    return build


def _weekday(lookup: Callable[[str], int], rule: str, n: int = 0) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        return Piece("day", *_span(m), day=Day(rule, weekday=lookup(m.group("wd")), n=n))

    return build


EN_ANY_WEEKDAYS = {**EN_WEEKDAYS, "sat": 5, "sun": 6}  # "sat", "sun" only where a day is meant
SV_ANY_WEEKDAYS = {**SV_WEEKDAYS, **SV_SHORT_WEEKDAYS}


def _en_weekday(word: str) -> int:
    return EN_ANY_WEEKDAYS[word.lower().rstrip(".")]


def _sv_weekday(word: str) -> int:
    word = word.lower().rstrip(".")
    return SV_ANY_WEEKDAYS[word[:-2] if word.endswith("en") else word]


def _named_weekday(m: re.Match[str], lookup: Callable[[str], int] | None) -> int:
    """The weekday written next to a date ("Friday 11th", "Dec 11 (Fri)", "周五"), else -1."""
    named = m.groupdict().get("wd") or m.groupdict().get("wd2")
    return lookup(named) if named and lookup else -1


def _named_date(months: dict[str, int], weekday: Callable[[str], int] | None) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        year = m.group("y")
        return Piece(
            "day", *_span(m),
            day=Day(
                "date",
                year=int(year) if year else None,
                month=months[m.group("mon").lower().rstrip(".")],
                day=int(m.group("d")),
                weekday=_named_weekday(m, weekday),
            ),
        )  # fmt: skip

    return build


def _clock(hour: int, minute: int, meridiem: str | None) -> tuple[time, time | None] | None:
    """A clock reading; a bare hour from 1 to 12 keeps its other (12 hours later) reading."""
    if meridiem:
        if not 1 <= hour <= 12 or minute > 59:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
        return time(hour, minute), None
    if hour > 23 or minute > 59:
        return None
    other = time(hour + 12, minute) if 1 <= hour <= 11 else None
    return time(hour, minute), other


def _time(meridiem_of: Callable[[re.Match[str]], str | None], bare: bool) -> Builder:
    def build(m: re.Match[str]) -> Piece | None:
        hour = m.group("h")
        minute = m.groupdict().get("min") or "0"
        minutes = 30 if minute == "半" else zh_number(minute)
        reading = _clock(zh_number(hour), minutes, meridiem_of(m))
        if reading is None:
            return Piece("error", *_span(m), error=f"'{m.group(0).strip()}' is not a time of day")
        clock, other = reading
        return Piece("time", *_span(m), clock=clock, other_clock=other if bare else None)

    return build


def _en_meridiem(m: re.Match[str]) -> str | None:
    ampm = (m.groupdict().get("ampm") or "").lower().replace(".", "")
    return ampm or None


ZH_PERIODS = {"上午": "am", "早上": "am", "早晨": "am", "凌晨": "am", "中午": "noon",
              "下午": "pm", "晚上": "pm", "傍晚": "pm"}  # fmt: skip


def _zh_meridiem(m: re.Match[str]) -> str | None:
    period = ZH_PERIODS.get(m.group("period") or "")
    if period == "noon":  # 中午12点 / 中午1点
        return "pm" if int(zh_number(m.group("h"))) <= 12 else None
    return period


def _zh_time(m: re.Match[str]) -> Piece | None:
    return _time(_zh_meridiem, bare=not m.group("period"))(m)


def _fixed_time(clock: time) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        return Piece("time", *_span(m), clock=clock)

    return build


def _end_of_day(m: re.Match[str]) -> Piece:
    return Piece("time", *_span(m), end_of_day=True)


def _start_of_day(m: re.Match[str]) -> Piece:
    return Piece("time", *_span(m), start_of_day=True)


def _iso(m: re.Match[str]) -> Piece:
    year, month, day = int(m.group("y")), int(m.group("m")), int(m.group("d"))
    if m.groupdict().get("h") is None:
        return Piece("day", *_span(m), day=Day("date", year=year, month=month, day=day))
    try:
        instant = datetime.fromisoformat(m.group(0).strip())
    except ValueError:
        return Piece("error", *_span(m), error=f"'{m.group(0).strip()}' is not a real date")
    if instant.tzinfo is None:
        return Piece("day", *_span(m), day=Day("date", year=year, month=month, day=day),
                     clock=instant.time())  # fmt: skip
    return Piece("moment", *_span(m), instant=instant)


def _numeric(lookup: Callable[[str], int]) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        weekday = _named_weekday(m, lookup)
        return Piece("day", *_span(m),
                     day=Day("numeric_date", numeric=m.group("num"), weekday=weekday))  # fmt: skip

    return build


def _day_of_month(rule: str, n: int = 0, lookup: Callable[[str], int] = _en_weekday) -> Builder:
    def build(m: re.Match[str]) -> Piece:
        weekday = _named_weekday(m, lookup)
        return Piece("day", *_span(m),
                     day=Day(rule, n=n, day=zh_number(m.group("d")), weekday=weekday))  # fmt: skip

    return build


def _zh_date(m: re.Match[str]) -> Piece:
    year, week = m.group("y"), m.groupdict().get("rel")
    return Piece("day", *_span(m), day=Day(
        "date", year=int(year) if year else None,
        month=zh_number(m.group("mon")), day=zh_number(m.group("d")),
        weekday=_named_weekday(m, ZH_WEEKDAYS.__getitem__),
        week=-1 if week is None else int(week.startswith("下")),
    ))  # fmt: skip


# -- the rules ---------------------------------------------------------------------------

B, E = r"(?<![\w])", r"(?![\w])"  # word edges for Latin-script languages
# edges of dates and times in digits, which Chinese writes against its words: 明天15:00前
BD, ED = r"(?<![^\W\u4e00-\u9fff])", r"(?![^\W\u4e00-\u9fff])"
EN_BY = r"(?:(?:due\s+)?(?:by|before|on|until|till|due|no\s+later\s+than)\s+(?:the\s+)?)?"
EN_WD = rf"(?P<wd>{_alt(EN_WEEKDAYS)})\.?"
EN_WD_ANY = rf"(?P<wd>{_alt(EN_ANY_WEEKDAYS)})\.?"
EN_MON = rf"(?P<mon>{_alt(EN_MONTHS)})\.?"
EN_N = rf"(?P<n>-?\d+|{_alt(EN_NUMBERS)})"
EN_ORD = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
EN_YEAR = r"(?:,?\s+(?P<y>\d{4}))?"
# a weekday written after a date: "Dec 11 (Fri)", "11 December, Friday"
EN_WD_AFTER = rf"(?:\s*[(,]\s*(?P<wd2>{_alt(EN_ANY_WEEKDAYS)})\.?\s*\)?)?"
EN_IN = r"(?:in|within|inside\s+of|in\s+the\s+next)"
SV_BY = r"(?:(?:senast|på|till|innan|före|fram\s+till|inom)\s+)?"
SV_WD = rf"(?P<wd>{_alt(SV_WEEKDAYS)})(?:en)?"
SV_WD_DATE = rf"(?P<wd>{_alt(SV_ANY_WEEKDAYS)})(?:en|\.)?"
SV_MON = rf"(?P<mon>{_alt(SV_MONTHS)})\.?"
SV_N = rf"(?P<n>-?\d+|{_alt(SV_NUMBERS)})"
ZH_BY = r"(?:在|于|截止到?|截至|到|最晚|最迟)?"
ZH_BEFORE = r"(?:之前|以前|前|为止|之内|以内|内)?"
ZH_N = r"(?P<n>-?\d+|[零一二两三四五六七八九十]+)"
ZH_WD = r"(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])"
ZH_WEEK = r"(?:周|星期|个星期|礼拜|个礼拜)"
ZH_NUM = r"\d{1,2}|[一二两三四五六七八九十]{1,3}"
ZH_DATE = rf"(?:(?P<y>\d{{4}})年)?(?P<mon>{ZH_NUM})月(?P<d>{ZH_NUM})(?:日|号|號)"
ZH_DOM = rf"(?<![月\d])(?P<d>{ZH_NUM})(?:号|號)"
# a weekday beside a date, before or after it, in brackets or not: 12月11日（周五）, 周五12月11日
ZH_OPEN, ZH_CLOSE = r"\s*[,，、（(]?\s*", r"\s*[）)]?"
ZH_REL_WD = rf"(?P<rel>这个?|本|下个?)?{ZH_WD}"

MONTH_WORD = rf"(?:{_alt({**EN_MONTHS, **SV_MONTHS})})\.?"
YEAR_TAIL = r"(?:[\s,.-]+\d{4}|\s*'\d{2})?"
PAST = "'{}' is in the past"
VAGUE = "'{}' names no date"
MIDNIGHT = "'{}' could be the start or the end of the day"

UNIVERSAL: list[tuple[str, Builder]] = [
    (rf"{BD}(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})"
     r"(?:[T ](?P<h>\d{1,2}):\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?" + ED, _iso),
    (rf"{BD}(?P<y>\d{{4}})[/.](?P<m>\d{{1,2}})[/.](?P<d>\d{{1,2}}){ED}", _iso),
    (rf"{BD}(?:{EN_WD_ANY},?\s+)?(?P<num>\d{{1,2}}[/.]\d{{1,2}}(?:[/.]\d{{2,4}})?){ED}",
     _numeric(_en_weekday)),
    (rf"{B}(?P<num>(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of|\s*-)?\s*{MONTH_WORD}"
     rf"{YEAR_TAIL}|{MONTH_WORD}(?:\s+the)?[\s,.-]+\d{{1,2}}(?:st|nd|rd|th)?{YEAR_TAIL}){E}",
     _numeric(_en_weekday)),
    (rf"{BD}(?:at\s+|by\s+|kl\.?\s*)?(?P<h>\d{{1,2}}):(?P<min>\d{{2}}){ED}",
     _time(lambda m: None, bare=False)),
    (rf"{B}(?:by\s+|before\s+)?(?:eod|cob|eob){E}", _end_of_day),
    (rf"{B}(?:by\s+)?eow{E}", _day("end_of_week")),
    (rf"{B}(?:by\s+)?eom{E}", _day("end_of_month")),
    (rf"{B}(?:by\s+)?eoq{E}", _day("end_of_quarter")),
    (rf"{B}(?:by\s+)?eoy{E}", _day("end_of_year")),
    (rf"{B}asap{E}", _error(VAGUE)),
]

ENGLISH: list[tuple[str, Builder]] = [
    (rf"{B}{EN_BY}(?:this\s+coming\s+|coming\s+){EN_WD_ANY}{E}", _weekday(_en_weekday, "weekday")),
    (rf"{B}{EN_BY}{EN_WD}{E}", _weekday(_en_weekday, "weekday")),
    (rf"{B}(?:by|before|on|until|till)\s+{EN_WD_ANY}{E}", _weekday(_en_weekday, "weekday")),
    (rf"{B}{EN_BY}this\s+{EN_WD_ANY}{E}", _weekday(_en_weekday, "this_weekday")),
    (rf"{B}{EN_BY}{EN_WD_ANY}\s+(?:of\s+)?this\s+week{E}", _weekday(_en_weekday, "this_weekday")),
    (rf"{B}{EN_BY}next\s+{EN_WD_ANY}{E}", _weekday(_en_weekday, "next_weekday")),
    (rf"{B}{EN_BY}{EN_WD_ANY}\s+(?:of\s+)?next\s+week{E}",
     _weekday(_en_weekday, "week_weekday", 1)),
    (rf"{B}{EN_BY}next\s+week\s+{EN_WD_ANY}{E}", _weekday(_en_weekday, "week_weekday", 1)),
    (rf"{B}{EN_BY}(?:last|past|previous)\s+(?:{EN_WD_ANY}|week|month|quarter|year){E}",
     _error(PAST)),
    (rf"{B}(?:yesterday|\S+\s+(?:days?|weeks?|hours?)\s+ago){E}", _error(PAST)),
    (rf"{B}{EN_BY}today{E}", _day("today")),
    (rf"{B}{EN_BY}(?:tomorrow|tmrw|tmr){E}", _day("offset", n=1)),
    (rf"{B}{EN_BY}(?:the\s+)?day\s+after\s+tomorrow{E}", _day("offset", n=2)),
    (rf"{B}{EN_BY}(?:the\s+)?(?:end\s+of\s+(?:the\s+)?(?:business\s+|working\s+)?day|"
     rf"(?:close|end)\s+of\s+(?:business|play)|eop){E}", _end_of_day),
    # only beside a day or alone: "the first thing to fix" is a title
    (rf"{B}(?:by\s+)?first\s+thing(?:\s+in\s+the\s+morning)?(?=\s*(?:$|[,.;:!?)]|"
     rf"(?:on|tomorrow|today|next|this|{_alt(EN_ANY_WEEKDAYS)})\b))",
     _start_of_day),
    (rf"{B}{EN_BY}(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?:work\s*)?week|this\s+week)"
     + E, _day("end_of_week")),
    (rf"{B}{EN_BY}(?:the\s+)?end\s+of\s+next\s+week{E}", _day("end_of_week", n=1)),
    (rf"{B}{EN_BY}(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month|this\s+month){E}",
     _day("end_of_month")),
    (rf"{B}{EN_BY}(?:the\s+)?end\s+of\s+next\s+month{E}", _day("end_of_month", n=1)),
    (rf"{B}{EN_BY}(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?quarter|this\s+quarter){E}",
     _day("end_of_quarter")),
    (rf"{B}{EN_BY}(?:the\s+)?end\s+of\s+next\s+quarter{E}", _day("end_of_quarter", n=1)),
    (rf"{B}{EN_BY}(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?year{E}", _day("end_of_year")),
    (rf"{B}{EN_IN}\s+{EN_N}\s+(?:business|working|work)\s+days?{E}", _count(en_number, "business")),
    (rf"{B}{EN_N}\s+(?:business|working|work)\s+days?\s+from\s+(?:now|today){E}",
     _count(en_number, "business")),
    (rf"{B}{EN_BY}(?:the\s+)?next\s+(?:business|working|work)\s+day{E}", _day("business", n=1)),
    (rf"{B}{EN_IN}\s+{EN_N}\s+days?{E}", _count(en_number, "days")),
    (rf"{B}{EN_N}\s+days?\s+from\s+(?:now|today){E}", _count(en_number, "days")),
    (rf"{B}{EN_IN}\s+{EN_N}\s+(?:weeks?|wks?){E}", _count(en_number, "weeks")),
    (rf"{B}{EN_N}\s+weeks?\s+from\s+(?:now|today){E}", _count(en_number, "weeks")),
    (rf"{B}{EN_IN}\s+(?:a|one)\s+fortnight{E}", _day("offset", n=14)),
    (rf"{B}{EN_IN}\s+{EN_N}\s+(?:hours?|hrs?){E}", _count(en_number, "hours")),
    (rf"{B}{EN_BY}(?:{EN_WD_ANY},?\s+(?:the\s+)?|the\s+)(?P<d>\d{{1,2}})(?:st|nd|rd|th){E}",
     _day_of_month("day_of_month", -1)),
    (rf"{B}(?:by|before|on|until|till)\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th){E}",
     _day_of_month("day_of_month", -1)),
    (rf"{B}(?:(?:by|before|in)\s+)?(?:the\s+)?morning{E}", _start_of_day),
    (rf"{B}{EN_BY}(?:{EN_WD_ANY}\s*,?\s+)?{EN_MON}\s+(?:the\s+)?{EN_ORD}{EN_YEAR}{EN_WD_AFTER}"
     rf"{E}", _named_date(EN_MONTHS, _en_weekday)),
    (rf"{B}{EN_BY}(?:{EN_WD_ANY}\s*,?\s+)?(?:the\s+)?{EN_ORD}\s+(?:of\s+)?{EN_MON}{EN_YEAR}"
     rf"{EN_WD_AFTER}{E}", _named_date(EN_MONTHS, _en_weekday)),
    (rf"{B}(?:at\s+|by\s+|before\s+)?(?P<h>\d{{1,2}})(?::(?P<min>\d{{2}}))?\s*"
     rf"(?P<ampm>[ap]\.?m\.?){E}", _time(_en_meridiem, bare=False)),
    (rf"{B}(?:at\s+|by\s+|before\s+)?(?P<h>\d{{1,2}})\s+o'?clock{E}",
     _time(lambda m: None, bare=True)),
    (rf"{B}at\s+(?P<h>\d{{1,2}}){E}(?!\s*(?:%|(?!on\b|today\b|tomorrow\b)[a-z]))",
     _time(lambda m: None, bare=True)),
    (rf"{B}(?:at\s+|by\s+|before\s+)?(?:12\s+)?(?:noon|midday|lunchtime){E}",
     _fixed_time(time(12))),
    (rf"{B}(?:soon|later|sometime|some\s+time|whenever|shortly|eventually|at\s+some\s+point|"
     r"as\s+soon\s+as\s+possible|next\s+week|next\s+month|a\s+couple\s+of\s+days|"
     rf"in\s+a\s+few\s+days|in\s+a\s+while){E}", _error(VAGUE)),
    (rf"{B}(?:(?:by|at|before)\s+)?midnight{E}",
     _error(MIDNIGHT + " (say e.g. 'Friday 11:59pm' or 'EOD')")),
    (rf"{B}(?:tonight|this\s+(?:afternoon|evening)){E}",
     _error("'{}' names no hour (say e.g. 'today 6pm' or 'EOD')")),
]

SWEDISH: list[tuple[str, Builder]] = [
    (rf"{B}{SV_BY}(?:i\s+|nu\s+på\s+)?{SV_WD}{E}", _weekday(_sv_weekday, "weekday")),
    (rf"{B}{SV_BY}(?:den\s+här|denna|nu\s+på)\s+{SV_WD}{E}", _weekday(_sv_weekday, "this_weekday")),
    (rf"{B}{SV_BY}{SV_WD}\s+(?:den\s+här|denna)\s+veckan?{E}",
     _weekday(_sv_weekday, "this_weekday")),
    (rf"{B}{SV_BY}nästa\s+{SV_WD}{E}", _weekday(_sv_weekday, "next_weekday")),
    (rf"{B}{SV_BY}{SV_WD}\s+nästa\s+vecka{E}", _weekday(_sv_weekday, "week_weekday", 1)),
    (rf"{B}(?:i\s+(?:{_alt(SV_WEEKDAYS)})s|förra\s+(?:{SV_WD}|veckan|månaden)|igår|i\s+går|"
     rf"i\s+förrgår|\S+\s+(?:dagar|veckor|timmar)\s+sedan){E}", _error(PAST)),
    (rf"{B}{SV_BY}(?:idag|i\s+dag){E}", _day("today")),
    (rf"{B}{SV_BY}(?:imorgon|i\s+morgon|imorn|i\s+morn){E}", _day("offset", n=1)),
    (rf"{B}{SV_BY}(?:i\s+)?övermorgon{E}", _day("offset", n=2)),
    (rf"{B}{SV_BY}(?:i\s+|vid\s+)?(?:slutet\s+av\s+dagen|dagens\s+slut|arbetsdagens\s+slut)"
     + E, _end_of_day),
    (rf"{B}{SV_BY}(?:(?:i\s+|vid\s+)?slutet\s+av\s+(?:den\s+här\s+|denna\s+)?veckan|"
     rf"veckans\s+slut|(?:under\s+|i\s+)?(?:den\s+här|denna)\s+veckan?|i\s+veckan){E}",
     _day("end_of_week")),
    (rf"{B}{SV_BY}(?:i\s+|vid\s+)?slutet\s+av\s+nästa\s+vecka{E}", _day("end_of_week", n=1)),
    (rf"{B}{SV_BY}(?:(?:i\s+|vid\s+)?slutet\s+av\s+(?:den\s+här\s+|denna\s+)?månaden|"
     rf"månadens\s+slut|månadsskiftet|(?:i\s+|under\s+)?(?:den\s+här|denna)\s+månaden?){E}",
     _day("end_of_month")),
    (rf"{B}{SV_BY}(?:i\s+|vid\s+)?slutet\s+av\s+nästa\s+månad{E}", _day("end_of_month", n=1)),
    (rf"{B}{SV_BY}(?:i\s+|vid\s+)?slutet\s+av\s+nästa\s+kvartal{E}",
     _day("end_of_quarter", n=1)),
    (rf"{B}{SV_BY}(?:(?:i\s+|vid\s+)?slutet\s+av\s+(?:det\s+här\s+)?kvartalet|kvartalets\s+slut)"
     + E, _day("end_of_quarter")),
    (rf"{B}{SV_BY}(?:(?:i\s+|vid\s+)?slutet\s+av\s+året|årets\s+slut){E}", _day("end_of_year")),
    (rf"{B}(?:om|inom)\s+{SV_N}\s+arbetsdag(?:ar)?{E}", _count(sv_number, "business")),
    (rf"{B}{SV_BY}nästa\s+arbetsdag{E}", _day("business", n=1)),
    (rf"{B}(?:om|inom)\s+{SV_N}\s+dag(?:ar)?{E}", _count(sv_number, "days")),
    (rf"{B}(?:om|inom)\s+{SV_N}\s+veck(?:a|or){E}", _count(sv_number, "weeks")),
    (rf"{B}(?:om|inom)\s+{SV_N}\s+timm(?:e|ar){E}", _count(sv_number, "hours")),
    (rf"{B}{SV_BY}(?:{SV_WD_DATE}\s*,?\s+)?(?:den\s+)?(?P<d>\d{{1,2}})(?::?[ae])?\s+{SV_MON}"
     rf"(?:\s+(?P<y>\d{{4}}))?{E}", _named_date(SV_MONTHS, _sv_weekday)),
    (rf"{B}{SV_BY}(?:{SV_WD_DATE}\s*,?\s+)?den\s+(?P<d>\d{{1,2}})(?::?[ae])?{E}(?![/.]\d)",
     _day_of_month("day_of_month", -1, _sv_weekday)),
    (rf"{B}{SV_BY}{SV_WD_DATE}\s*,?\s+(?P<d>\d{{1,2}}):?[ae]{E}",
     _day_of_month("day_of_month", -1, _sv_weekday)),
    (rf"{B}{SV_BY}(?:{SV_WD_DATE}\s*,?\s+)?(?:den\s+)?(?P<num>\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?){E}",
     _numeric(_sv_weekday)),
    (rf"{B}(?:på\s+)?(?:morgonen|morgon|bitti){E}", _start_of_day),
    (rf"{B}(?:(?:vid|till|före)\s+)?midnatt{E}",
     _error(MIDNIGHT + " (say e.g. 'fredag kl 23.59' or 'idag')")),
    (rf"{B}(?:ikväll|i\s+kväll|i\s+eftermiddag){E}",
     _error("'{}' names no hour (say e.g. 'idag kl 18' or 'idag')")),
    (rf"{B}(?:kl\.?|klockan)\s*(?P<h>\d{{1,2}})(?:[.:](?P<min>\d{{2}}))?{E}",
     _time(lambda m: None, bare=True)),
    (rf"{B}(?:till\s+|före\s+)?lunch{E}", _fixed_time(time(12))),
    (rf"{B}(?:snart|senare|någon\s+gång|så\s+(?:snart|fort)\s+som\s+möjligt|nästa\s+vecka|"
     rf"nästa\s+månad|om\s+ett\s+par\s+dagar|om\s+några\s+dagar){E}", _error(VAGUE)),
]

CHINESE: list[tuple[str, Builder]] = [
    (rf"{ZH_BY}{ZH_WD}{ZH_BEFORE}", _weekday(ZH_WEEKDAYS.__getitem__, "weekday")),
    (rf"{ZH_BY}(?:这|本|这个){ZH_WEEK}(?P<wd>[一二三四五六日天]){ZH_BEFORE}",
     _weekday(ZH_WEEKDAYS.__getitem__, "this_weekday")),
    (rf"{ZH_BY}下{ZH_WEEK}(?P<wd>[一二三四五六日天]){ZH_BEFORE}",
     _weekday(ZH_WEEKDAYS.__getitem__, "next_weekday")),
    (rf"{ZH_BY}下下{ZH_WEEK}(?P<wd>[一二三四五六日天]){ZH_BEFORE}",
     _weekday(ZH_WEEKDAYS.__getitem__, "week_weekday", 2)),
    (r"(?:周|星期|礼拜)[七八九十零]", _error("'{}' is not a day of the week")),
    (r"(?:上{1,2}(?:周|星期|个星期|礼拜|个礼拜)[一二三四五六日天]?|上个?月|昨天|昨日|前天|去年|"
     rf"(?:{ZH_NUM})(?:天|周|个星期|个?小时)前(?!.))", _error(PAST)),
    (rf"{ZH_BY}(?:今天|今日)(?:之内|以内|内|下班前|前)?", _day("today")),
    (rf"{ZH_BY}(?:明天|明日){ZH_BEFORE}", _day("offset", n=1)),
    (rf"{ZH_BY}后天{ZH_BEFORE}", _day("offset", n=2)),
    (rf"{ZH_BY}大后天{ZH_BEFORE}", _day("offset", n=3)),
    (r"(?:下班前|下班之前|收工前)", _end_of_day),
    (rf"{ZH_BY}(?:(?:本|这)(?:周|个?星期|个?礼拜)(?:内|之内|以内|前|末前)?|周末前|本周末之前)",
     _day("end_of_week")),
    (rf"{ZH_BY}下(?:周|个?星期|个?礼拜)(?:内|之内|以内|末前)", _day("end_of_week", n=1)),
    (rf"{ZH_BY}(?:本|这个?)?月(?:底|末)(?:前|之前)?|(?:本|这个?)月(?:内|之内)",
     _day("end_of_month")),
    (rf"{ZH_BY}下个?月(?:底|末|内|之内)(?:前|之前)?", _day("end_of_month", n=1)),
    (rf"{ZH_BY}下个?(?:季度|季)(?:末|底)(?:前|之前)?", _day("end_of_quarter", n=1)),
    (rf"{ZH_BY}(?:本|这个?)?(?:季度|季)(?:末|底)(?:前|之前)?|(?:本|这个?)季度(?:内|之内)",
     _day("end_of_quarter")),
    (rf"{ZH_BY}(?:今|本)?年(?:底|末)(?:前|之前)?", _day("end_of_year")),
    (rf"{ZH_N}个?工作日(?:内|之内|以内|后|之后|以后)", _count(zh_number, "business")),
    (rf"{ZH_BY}下一?个工作日{ZH_BEFORE}", _day("business", n=1)),
    (rf"{ZH_N}(?:天|日)(?:内|之内|以内|后|之后|以后)", _count(zh_number, "days")),
    (rf"{ZH_N}(?:周|个星期|个礼拜|星期)(?:内|之内|以内|后|之后|以后)", _count(zh_number, "weeks")),
    (rf"{ZH_N}个?(?:小时|钟头)(?:内|之内|以内|后|之后|以后)", _count(zh_number, "hours")),
    (rf"{ZH_BY}{ZH_DATE}{ZH_BEFORE}", _zh_date),
    (rf"{ZH_BY}{ZH_DATE}{ZH_OPEN}{ZH_REL_WD}{ZH_CLOSE}{ZH_BEFORE}", _zh_date),
    (rf"{ZH_BY}{ZH_REL_WD}{ZH_OPEN}{ZH_DATE}{ZH_CLOSE}{ZH_BEFORE}", _zh_date),
    (rf"{ZH_BY}{ZH_DATE}\s*[（(](?P<wd>[一二三四五六日天])[）)]{ZH_BEFORE}", _zh_date),
    (rf"{ZH_BY}{ZH_WD}\s*[,，（(]?\s*(?P<num>\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?)\s*[）)]?"
     rf"{ZH_BEFORE}", _numeric(ZH_WEEKDAYS.__getitem__)),
    (rf"{ZH_BY}{ZH_DOM}{ZH_OPEN}{ZH_WD}{ZH_CLOSE}{ZH_BEFORE}",
     _day_of_month("day_of_month", -1, ZH_WEEKDAYS.__getitem__)),
    (rf"{ZH_BY}{ZH_WD}{ZH_OPEN}{ZH_DOM}{ZH_CLOSE}{ZH_BEFORE}",
     _day_of_month("day_of_month", -1, ZH_WEEKDAYS.__getitem__)),
    (rf"{ZH_BY}下个?月(?P<d>{ZH_NUM})(?:日|号|號){ZH_BEFORE}", _day_of_month("day_of_month", 1)),
    (rf"{ZH_BY}(?:本|这个?)月(?P<d>{ZH_NUM})(?:日|号|號){ZH_BEFORE}",
     _day_of_month("day_of_month", 0)),
    (rf"{ZH_BY}{ZH_DOM}{ZH_BEFORE}", _day_of_month("day_of_month", -1)),
    (rf"{ZH_BY}(?P<period>上午|早上|早晨|凌晨|中午|下午|晚上|傍晚)?(?P<h>{ZH_NUM})[点點时]"
     rf"(?:(?P<min>半|\d{{1,2}}|[一二三四五六七八九十]{{1,3}})分?)?钟?{ZH_BEFORE}", _zh_time),
    (rf"{ZH_BY}(?P<period>上午|下午|晚上)(?P<h>\d{{1,2}}):(?P<min>\d{{2}}){ZH_BEFORE}", _zh_time),
    (r"中午(?:12点)?(?:之前|以前|前)?", _fixed_time(time(12))),
    (r"(?:一大早|一早|一上班|上班前|早上|早晨)", _start_of_day),
    (r"(?:午夜|半夜)(?:12点)?(?:之前|以前|前)?",
     _error(MIDNIGHT + " (say e.g. '周五晚上11点' or '今天下班前')")),
    (r"(?:今晚|今天晚上)", _error("'{}' names no hour (say e.g. '今天晚上8点' or '今天下班前')")),
    (r"(?:尽快|尽早|马上|稍后|以后|晚些时候|改天|过几天|过两天|回头|有空的?时候|"
     r"下(?:周|星期|个星期)(?![一二三四五六日天内末]|之内|以内)|"
     r"下个?月(?![底末内\d一二三四五六七八九十]))", _error(VAGUE)),
]


@functools.cache
def rules(locale: str) -> tuple[Rule, ...]:
    table = {"en": ENGLISH, "sv": SWEDISH, "zh": CHINESE + ENGLISH}[locale]
    return tuple(
        Rule(re.compile(pattern, re.IGNORECASE), build) for pattern, build in (*table, *UNIVERSAL)
    )


SV_MARKERS = frozenset(
    {"senast", "nästa", "idag", "dag", "imorgon", "morgon", "dagar", "veckor", "arbetsdagar", "kl",
     "klockan", "slutet", "månaden", "veckan", "snart", "igår", "övermorgon", "och", "förra",
     "om", "inom", "den", "här", "denna", "till", "åt", "för", "rapporten", "skicka", "maj",
     "januari", "februari", "mars", "juni", "juli", "augusti", "oktober", "timmar", "på"}
    | set(SV_WEEKDAYS) | {f"{day}{end}" for day in SV_WEEKDAYS for end in ("en", "s")}
    | set(SV_SHORT_WEEKDAYS)
)  # fmt: skip
EN_MARKERS = frozenset(
    {"by", "the", "for", "to", "on", "in", "at", "end", "of", "next", "this", "days", "weeks",
     "report", "send", "today", "tomorrow", "before", "due", "week", "month", "and", "within"}
    | set(EN_WEEKDAYS) | set(EN_MONTHS)
)  # fmt: skip
CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[^\W\d_]+(?:'[a-z]+)?", re.IGNORECASE)


def detect_locale(text: str) -> str:
    """zh if any Chinese character, sv if Swedish words outnumber English ones, else en."""
    if CJK.search(text):
        return "zh"
    words = [w.lower() for w in WORD.findall(text)]
    swedish = sum(w in SV_MARKERS for w in words) + 2 * bool(re.search(r"[åäö]", text, re.I))
    english = sum(w in EN_MARKERS and w not in SV_MONTHS for w in words)
    return "sv" if swedish > english else "en"


def find_pieces(text: str, locale: str) -> list[Piece]:
    """Every run of deadline words, longest first where they overlap, in text order."""
    found = [piece for rule in rules(locale) for piece in _matches(rule, text) if piece]
    found.sort(key=lambda p: (-p.length, p.start))
    chosen: list[Piece] = []
    for piece in found:
        if all(piece.end <= c.start or piece.start >= c.end for c in chosen):
            chosen.append(piece)
    chosen.extend(_misspellings(text, locale, chosen))
    chosen.extend(_strays(text, locale, chosen))
    return sorted(chosen, key=lambda p: p.start)


def _matches(rule: Rule, text: str) -> Iterator[Piece | None]:
    for m in rule.pattern.finditer(text):
        if m.end() > m.start():
            yield rule.build(m)


def _misspellings(text: str, locale: str, chosen: list[Piece]) -> Iterator[Piece]:
    """A word that looks like a weekday or month but is none: an error, never a guess."""
    for m in WORD.finditer(text):
        if any(c.start <= m.start() < c.end for c in chosen):
            continue
        word = m.group(0)
        near = near_miss(word.lower(), "zh" if locale == "zh" else "latin")
        # "Frida" is more likely a person than a Friday; "Fryday" and "fridy" are not, and
        # neither is a word right after a day number ("11 Dcember")
        after_number = re.search(r"\d(?:st|nd|rd|th|:e)?\s*$", text[: m.start()])
        if near and (word.islower() or len(word) >= len(near) or after_number):
            yield Piece(
                "error", m.start(), m.end(),
                error=f"'{m.group(0)}' is not a day or month I know (did you mean '{near}'?)",
            )  # fmt: skip


# Date and time words that can follow a deadline but say nothing the grammar can place:
# a part of the day, an ordinal or a day number, a bare number (a day or an hour?).
PART_OF_DAY = (r"afternoon|evening|night|(?:förmiddag|eftermiddag|kväll|natt)(?:en)?|[aefp]\.?m\.?|"
               r"上午|下午|晚上|傍晚|凌晨|夜里|晚")  # fmt: skip
# ordinals and clock times in words, which the grammar reads only in digits ("11th", "3:30")
ORDINAL_WORDS = (r"(?:(?:twenty|thirty)[-\s]?)?(?:first|second|third|fourth|fifth|sixth|seventh|"
                 r"eighth|ninth)|tenth|eleventh|twelfth|(?:thir|four|fif|six|seven|eigh|nine)teenth|"
                 r"twentieth|thirtieth|(?:tjugo|trettio)?(?:första|andra|tredje|fjärde|femte|"
                 r"sjätte|sjunde|åttonde|nionde)|tionde|elfte|tolfte|\w+tonde|tjugonde|trettionde")
NUMBER_WORDS = _alt({w for w, n in (*EN_NUMBERS.items(), *SV_NUMBERS.items())
                     if 2 <= n <= 12 and w not in ("a", "an", "en")})
CLOCK_WORDS = (r"(?:half\s+past|quarter\s+(?:past|to)|halv|kvart\s+(?:över|i))\s+[^\W_]+|"
               + NUMBER_WORDS)
ZONES = r"(?-i:[ECMP][SD]?T|GMT|UTC|BST|CES?T|IST|HKT|SGT|JST)|svensk\s+tid|北京时间|中国时间"
STRAY_AFTER = re.compile(
    r"[\s,;，、]*[(（]?\s*(?:(?:in\s+the|the|at|on|in|i|på|den|kl\.?|klockan|or|and|eller|och)"
    r"\s+|或者?|和)?"
    rf"(?:(?P<part>{PART_OF_DAY})(?![^\W\d_])|(?P<week>week|vecka|v\.?(?=\s*\d))(?![^\W\d_])|"
    rf"(?P<zone>{ZONES})(?![^\W\d_])|(?P<approx>前后|左右|上下|后|-?ish|noonish|or\s+so)"
    r"(?![^\W\d_])|(?P<emphasis>(?:(?:at\s+the\s+(?:very\s+)?)?latest|sharp|senast|"
    r"som\s+senast)(?![^\W\d_])|之前|以前|前|为止)|"
    rf"(?P<month>{_alt(set(EN_MONTHS) | set(SV_MONTHS) - {'may'})})\.?(?![^\W\d_])|"
    rf"(?P<weekday>{_alt(set(EN_ANY_WEEKDAYS) | set(SV_ANY_WEEKDAYS))})\.?(?![^\W\d_])|"
    r"(?P<day>\d{1,2}(?:st|nd|rd|th|:[ae]|日|号|號)|[一二三四五六七八九十]{1,3}[日号號])(?![^\W\d_])|"
    rf"(?P<ordinal>{ORDINAL_WORDS})(?=\s*(?:$|[,.;:!?)]|(?:of|at|kl|den)\b))|"
    rf"(?P<clock>{CLOCK_WORDS})(?![^\W\d_]|\s+(?!(?:for|to|till|åt|för)\b)[^\W\d_])|"
    r"(?P<number>\d{4}|\d{1,2})(?![\d/.:]|\s*(?!(?:for|to|till|åt|för|by|at|on|kl)\b)[^\W\d_]))",
    re.IGNORECASE,
)
STRAY_WEEK_EXAMPLES = {"en": "'Friday next week' or 'Dec 4'", "sv": "'fredag nästa vecka' or "
                       "'den 4 december'", "zh": "'下周五' or '12月4日'"}  # fmt: skip
STRAY_EXAMPLES = {
    "en": ("'Friday 3pm'", "'Friday 11 Dec' or 'Friday 11am'"),
    "sv": ("'fredag kl 15'", "'fredag den 11 december' or 'fredag kl 11'"),
    "zh": ("'周五下午3点'", "'12月11日（周五）' or '周五上午11点'"),
}


def _strays(text: str, locale: str, chosen: list[Piece]) -> Iterator[Piece]:
    """A date or time word right after a deadline that no rule read is an error, never
    dropped into the title: "Friday 11" (a day or an hour?), "Friday afternoon" (when?)."""
    for piece in [c for c in chosen if c.kind != "error"]:
        m = STRAY_AFTER.match(text, piece.end)
        if not m or any(c.start < m.end() and m.start() < c.end for c in chosen if c != piece):
            continue
        kind = m.lastgroup or "number"
        if kind == "emphasis":
            yield Piece("emphasis", m.start(kind), m.end())
            continue
        word, said = m.group(kind), text[piece.start:piece.end].strip()
        hour, date_or_hour = STRAY_EXAMPLES[locale]
        if kind == "part":
            error = f"'{word}' after '{said}' names no hour (give one, e.g. {hour})"
        elif kind == "week":
            error = (f"'{word}' after '{said}' is not a week I can place (name the day, e.g. "
                     f"{STRAY_WEEK_EXAMPLES[locale]})")  # fmt: skip
        elif kind == "clock":
            error = (f"'{word}' after '{said}' is a time I read only in digits (e.g. {hour})")
        elif kind == "zone":
            error = (f"'{word}' after '{said}': times are read in the client's own timezone, "
                     f"so leave the zone out (or give an exact time, e.g. 2026-12-11T17:00-05:00)")
        elif kind == "approx":
            error = (f"'{word}' after '{said}' makes it approximate (give the day itself, e.g. "
                     f"{STRAY_WEEK_EXAMPLES[locale]})")  # fmt: skip
        else:
            error = (f"'{word}' after '{said}' is neither a date nor a time I can read "
                     f"(say which, e.g. {date_or_hour})")  # fmt: skip
        yield Piece("error", m.start(kind), m.end(), error=error)


@functools.lru_cache(maxsize=4096)
def near_miss(word: str, locale: str) -> str | None:
    if len(word) < 5 or word in KNOWN_WORDS or word in SPELLING[locale]:
        return None
    close = difflib.get_close_matches(word, SPELLING[locale], n=1, cutoff=0.8)
    return close[0] if close else None
