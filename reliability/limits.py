"""The bounds on every input, in one place: text lengths, control characters, ids, dates.

Pure: no I/O. The service layer, the deadline resolver, the CLI, the web forms, the API and
Slack all call these, so a bad value is refused with the same words wherever it comes in,
and before it reaches a database (PostgreSQL refuses a NUL byte that SQLite would store).
docs/limits.md is the table a person reads; tests check it lists every field here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from reliability.errors import UserError

# Ids beyond PostgreSQL's integer exist nowhere; refusing them early keeps drivers happy.
MAX_ID = 2**31 - 1
DEFAULT_HORIZON_YEARS = 5


@dataclass(frozen=True)
class TextLimit:
    maximum: int
    multiline: bool = False


# Field (as a person calls it) -> its bounds. Multiline fields may hold line breaks and tabs.
TEXT: dict[str, TextLimit] = {
    "client name": TextLimit(200),
    "contact name": TextLimit(200),
    "greeting": TextLimit(200),
    "member name": TextLimit(200),
    "email address": TextLimit(320),
    "Slack id": TextLimit(64),
    "timezone": TextLimit(64),
    "country": TextLimit(64),
    "promise title": TextLimit(500),
    "promise text": TextLimit(1000),
    "deadline text": TextLimit(1000),
    "request summary": TextLimit(480),
    "reason": TextLimit(1000),
    "check-in note": TextLimit(2000),
    "waiting for": TextLimit(2000),
    "reason for the client": TextLimit(1000),
    "mistake summary": TextLimit(2000),
    "prevention step": TextLimit(2000),
    "category": TextLimit(64),
    "rating comment": TextLimit(2000),
    "message text": TextLimit(20000, multiline=True),
    "search text": TextLimit(200),
    "webhook URL": TextLimit(320),
    "webhook description": TextLimit(200),
    "token name": TextLimit(100),
    "idempotency key": TextLimit(255),
}

# A mail message read by the inbox, headers and attachments included: client mail with a
# promise in it is far smaller; a larger one is skipped, not read.
MAX_MAIL_BYTES = 10 * 1024 * 1024

LINE_BREAKS = frozenset("\n\r\t")


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first control character in `value` (NUL, escapes, C1 codes), if any; line breaks
    and tabs are allowed where `multiline`."""
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in LINE_BREAKS):
            return char
    return None


# Invisible format characters that change how text displays or compares: the bidi
# controls and marks, and zero-width spaces. U+200C/U+200D (joiners) stay: Persian, Indic
# scripts and emoji sequences need them.
INVISIBLE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                      "\u200e\u200f\u200b\u2060\ufeff")


def _stray_byte(value: str) -> str | None:
    """A lone surrogate: how Python carries a byte of a non-UTF-8 argument or file name."""
    return next((char for char in value if unicodedata.category(char) == "Cs"), None)


def describe(char: str) -> str:
    """U+0000 (NUL), U+001B (ESC), U+202E (RIGHT-TO-LEFT OVERRIDE): control characters
    have no unicodedata name, so the usual ones are named here."""
    names = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL", "\n": "line break", "\r": "CR",
             "\t": "tab"}
    name = names.get(char) or unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def text(value: str, field: str, key: str | None = None) -> str:
    """`value` unchanged if it fits the field's bounds; otherwise one UserError saying what
    was wrong and what would work, naming the input `key` it came in by."""
    limit = TEXT[field]
    if (char := control_character(value, multiline=limit.multiline)) is not None:
        position = value.index(char) + 1
        allowed = " (line breaks and tabs are fine)" if limit.multiline else ""
        raise UserError(f"the {field} contains a control character, {describe(char)}, at "
                        f"character {position}", field=key,
                        hint=f"remove it and send plain text{allowed}")
    if not limit.multiline and (char := next((c for c in value if c in INVISIBLE), None)):
        raise UserError(f"the {field} contains an invisible character, {describe(char)}, at "
                        f"character {value.index(char) + 1}", field=key,
                        hint="remove it and send plain text")
    if (char := _stray_byte(value)) is not None:
        raise UserError(f"the {field} is not UTF-8 text (a stray byte at character "
                        f"{value.index(char) + 1})", field=key,
                        hint="type it again, or save the file as UTF-8")
    if len(value) > limit.maximum:
        raise UserError(f"the {field} is {len(value):,} characters long", field=key,
                        hint=f"keep it to {limit.maximum:,} at most")
    return value


def name_key(name: str) -> str:
    """How names compare: NFKC case-folded, so "Ａcme" (full-width) and "ACME" are "acme".
    Homoglyphs across scripts (a Cyrillic А) stay distinct: docs/limits.md."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name.strip()).casefold())


def optional_text(value: str | None, field: str, key: str | None = None) -> str | None:
    return None if value is None else text(value, field, key)


def identifier(value: int, what: str, key: str | None = None) -> int:
    """An id that can exist: 1 to 2,147,483,647 (PostgreSQL's integer)."""
    if isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise UserError(f"there is no {what} #{value}", field=key,
                        hint=f"ids are whole numbers from 1 to {MAX_ID:,}")
    return value


FIRST_YEAR, LAST_YEAR = 1970, 2999


def ledger_year(year: int, what: str, key: str | None = None) -> int:
    """A year a ledger can reason about: nothing is recorded before 1970, and a year near the
    calendar's ends would overflow the arithmetic over business days and weeks."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise UserError(f"the {what} falls in {year}", field=key,
                        hint=f"give a date between {FIRST_YEAR} and {LAST_YEAR}, "
                        "e.g. 2026-11-01T00:00:00Z")
    return year


def horizon(now: datetime, years: int) -> datetime:
    """The latest moment a due or proposed date may have: `years` ahead of `now`."""
    try:
        return now.replace(year=now.year + years)
    except ValueError:  # 29 February
        return now.replace(year=now.year + years, day=28)


def within_horizon(moment: datetime, now: datetime, years: int, what: str = "due date",
                   key: str | None = None) -> datetime:
    """Refuse a date further ahead than the horizon; the past is refused where "now" is known
    (the resolver and the ledger), as "is in the past"."""
    latest = horizon(now, years).astimezone(moment.tzinfo)
    if moment > latest:
        raise UserError(f"the {what} {_day(moment)} is more than {years} years ahead",
                        field=key, hint=f"give a date up to {_day(latest)} (the horizon is "
                        "[policy] due_horizon_years)")
    return moment


def _day(moment: datetime) -> str:
    return f"{moment:%a %d %b %Y}"
