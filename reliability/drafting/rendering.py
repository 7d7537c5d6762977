"""Render the messages a team sends: pure, from a template and a context, in the client's language.

Templates live in `templates/<kind>/<locale>/` as `subject.txt.j2`, `body.txt.j2`,
`body.html.j2` and `blocks.json.j2`. A team may override any of them by putting a file
at the same relative path in its own folder; overrides run in a sandbox because they are
written by people who are not the product's developers. Every failure, whether a syntax
error, a missing variable, a blocked attribute or invalid Slack JSON, comes back as a
TemplateError that names the file and line to fix, never as a half-rendered message.
"""

from __future__ import annotations

import functools
import json
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_datetime, get_timezone_location
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
    pass_environment,
)
from jinja2.filters import do_truncate
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reliability.calendar import CalendarError, zone
from reliability.drafting import samples
from reliability.drafting.causes import Cause, cause_of, lower_first
from reliability.drafting.contexts import KINDS, LOCALES, STAFF_KINDS, check_names
from reliability.vocabulary import DeliveryChannel, Locale

PARTS: dict[str, str] = {
    "subject": "subject.txt.j2",
    "text": "body.txt.j2",
    "html": "body.html.j2",
    "blocks": "blocks.json.j2",
}
# What each channel sends of a message; the other parts are not rendered for it.
CHANNEL_PARTS: dict[str, frozenset[str]] = {
    DeliveryChannel.email: frozenset({"subject", "text", "html"}),
    DeliveryChannel.slack: frozenset({"subject", "text", "blocks"}),
}
BUILTIN_DIR = Path(__file__).resolve().parents[1] / "templates"

SLACK_SECTION_LIMIT = 3000
SLACK_BLOCK_LIMIT = 50

# Each locale's own way of writing a day and a time (see docs/templates.md, "Style").
_DATE_PATTERNS = {"en": "EEEE, MMMM d", "sv": "EEEE d MMMM", "zh": "M月d日（E）"}
_DATE_WITH_YEAR_PATTERNS = {"en": "EEEE, MMMM d, y", "sv": "EEEE d MMMM y", "zh": "y年M月d日（E）"}
# English sets the time first, as a deadline is said: "by 5:00 PM on Tuesday, November 24".
_DATETIME_JOINS = {"en": "{time} on {date}", "sv": "{date} kl. {time}", "zh": "{date}{time}"}
_TIME_PATTERNS = {"en": "h:mm a", "sv": "HH.mm", "zh": "HH:mm"}
# A moment at midnight or 23:59 is the end of a day, not a clock time: English says so, and
# Swedish and Chinese give the date alone ("senast måndag 23 november", "11月23日（周一）").
_END_OF_DAY = {"en": "end of day on {date}", "sv": "{date}", "zh": "{date}"}
# How each locale names a zone that is not the reader's own; others fall back to Babel's
# "Sweden Time" / "Sverigetid" / "瑞典时间" form.
_ZONE_NAMES: dict[str, dict[str, str]] = {
    "en": {"America/New_York": "ET", "America/Chicago": "CT", "America/Denver": "MT",
           "America/Los_Angeles": "PT", "Europe/London": "UK time",
           "Europe/Stockholm": "Swedish time", "Asia/Shanghai": "Beijing time",
           "UTC": "UTC"},
    "sv": {"Europe/Stockholm": "svensk tid", "Europe/London": "brittisk tid",
           "America/New_York": "New York-tid", "Asia/Shanghai": "kinesisk tid", "UTC": "UTC"},
    "zh": {"Asia/Shanghai": "北京时间", "Asia/Hong_Kong": "香港时间", "Asia/Taipei": "台北时间",
           "Europe/Stockholm": "瑞典时间", "Europe/London": "英国时间",
           "America/New_York": "美国东部时间", "America/Los_Angeles": "美国西部时间",
           "UTC": "协调世界时"},
}
# Quotation marks around a title inserted into running text, per locale.
QUOTES: dict[str, tuple[str, str]] = {"en": ("“", "”"), "sv": ("”", "”"), "zh": ("“", "”")}
# Quotation marks inside a quoted title: the locale's secondary pair.
INNER_QUOTES: dict[str, tuple[str, str]] = {"en": ("‘", "’"), "sv": ("’", "’"),
                                            "zh": ("‘", "’")}
# Marks people put around words in a title; apostrophes are left alone, as they are usually
# part of a word ("the Smiths' report", "'90s").
_DOUBLE_MARKS = "\"“”„«»「」『』"
_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？", "…")
_FULL_STOP = {"en": ".", "sv": ".", "zh": "。"}



# --- Errors and results -------------------------------------------------------------------


class TemplateError(ValueError):
    """A template that cannot produce a message; str() says which file and line to fix."""

    def __init__(self, message: str, path: str, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None
    blocks: list[dict[str, Any]] | None


# --- Filters ------------------------------------------------------------------------------


class _Plain(str):
    """Text for Slack fields that are not mrkdwn (URLs, plain_text): JSON-escaped only."""


def mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")


def slack_text(text: str) -> str:
    """A Slack message's top-level `text`, escaped as blocks are, so no `<!channel>`, `<@U…>`
    or `<url|label>` in it can notify or link; text a block already escaped stays as it is."""
    return _BARE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def _locale(ctx: Context) -> str:
    return str(ctx.get("locale", Locale.en))


def _local(ctx: Context, moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: contexts carry aware datetimes")
    name = ctx.get("timezone")
    if not isinstance(name, str):
        raise ValueError("the context has no 'timezone' to show dates in")
    return moment.astimezone(zone(name))


def _day_of(moment: datetime) -> date:
    """The day a local moment belongs to: midnight closes the day before."""
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.date() - timedelta(days=1)
    return moment.date()


def _is_end_of_day(local: datetime) -> bool:
    return (local.hour, local.minute) in ((0, 0), (23, 59)) and (
        local.hour == 23 or (local.second, local.microsecond) == (0, 0))


def _date_text(ctx: Context, moment: date) -> str:
    day = _day_of(_local(ctx, moment)) if isinstance(moment, datetime) else moment
    now = ctx.get("now")
    this_year = _local(ctx, now).year if isinstance(now, datetime) else day.year
    patterns = _DATE_PATTERNS if day.year == this_year else _DATE_WITH_YEAR_PATTERNS
    return _babel(datetime.combine(day, datetime.min.time()), patterns[_locale(ctx)],
                  _locale(ctx))


@functools.lru_cache(maxsize=4096)
def _babel(moment: datetime, pattern: str, locale: str) -> str:
    """Babel's formatting, remembered: a scan renders the same few due dates many times."""
    return format_datetime(moment, pattern, locale=locale)


@pass_context
def _date_filter(ctx: Context, moment: date | None) -> str:
    """Weekday, day and month in the recipient's zone: 'Friday, November 20'."""
    if not isinstance(moment, date):
        raise ValueError(f"the date filter needs a date or datetime, got {moment!r}")
    return _date_text(ctx, moment)


def zone_label(zone_name: str, locale: str) -> str:
    """A zone as the locale names it when it is not the reader's own: ET, svensk tid, 北京时间."""
    known = _ZONE_NAMES.get(locale, {}).get(zone_name)
    return known or get_timezone_location(zone(zone_name), locale=locale)


@pass_context
def _datetime_filter(ctx: Context, moment: datetime | None, in_zone: str | None = None) -> str:
    """Date and time in the reader's zone. A client reading their own clock sees no zone
    label; a team member sees the zone named beside every time, and a moment in another
    zone is always labelled, so nobody has to guess whose 5 PM it is."""
    if not isinstance(moment, datetime):
        raise ValueError(f"the datetime filter needs a datetime, got {moment!r}")
    locale = _locale(ctx)
    own = str(ctx.get("timezone"))
    shown_zone = in_zone or own
    local = moment.astimezone(zone(shown_zone))
    label = (zone_label(shown_zone, locale)
             if shown_zone != own or ctx.get("kind") in STAFF_KINDS else None)
    # Babel gets the wall-clock time: aware datetimes of one instant are equal, so the cache
    # would hand one zone's time to another.
    end_of_day = _is_end_of_day(local)
    day = _date_text(ctx, _day_of(local) if end_of_day else local.date())
    if end_of_day:
        text = _END_OF_DAY[locale].format(date=day)
        if label is None:
            return text
        if locale == "zh" and text.endswith("）"):
            return f"{text[:-1]}，{label}）"
        if locale == "en":
            return f"end of day {label} on {day}"
        return f"{text} {label}"
    clock = _clock_text(local, locale)
    if label is not None and locale == "en":
        clock = f"{clock} {label}"
    text = _DATETIME_JOINS[locale].format(date=day, time=clock)
    if label is None or locale == "en":
        return text
    return f"{text}（{label}）" if locale == "zh" else f"{text} {label}"


def _clock_text(local: datetime, locale: str) -> str:
    """A time of day the locale's way; English says "noon" rather than "12:00 PM"."""
    if locale == "en" and (local.hour, local.minute) == (12, 0):
        return "noon"
    return _babel(local.replace(tzinfo=None), _TIME_PATTERNS[locale], locale)


def money_text(amount: Decimal | float | int, currency: str, locale: str) -> str:
    """An amount in its currency, written the locale's way: the one formatter the letters and
    the web share, so a credit reads the same wherever the owner and the client see it."""
    value = Decimal(str(amount))
    code = currency.upper()
    # Swedish invoices write a foreign amount with its code ("200 USD"), not Babel's "US$".
    pattern = "#,##0.00\u00a0¤¤" if locale == "sv" and code != "SEK" else None
    text = format_currency(value, code, format=pattern, locale=locale)
    if locale == "sv" and value == value.to_integral_value():
        # Swedish writes a whole amount without öre: "1 250 kr", not "1 250,00 kr".
        text = text.replace(",00\u00a0", "\u00a0")
    # Babel glues an ISO code to the digits in some locales ("SEK1,250.00").
    return re.sub(r"^([A-Z]{3})(?=\d)", "\\1\u00a0", text)


@pass_context
def _money_filter(ctx: Context, amount: Decimal | float | int | None, currency: str) -> str:
    if amount is None:
        raise ValueError("the money filter got no amount")
    return money_text(amount, currency, _locale(ctx))


@pass_environment
def _shorten_filter(env: Environment, text: str, limit: int) -> str:
    """Jinja's `truncate` for a subject line, ending in "…" without the comma or colon it
    cut after ("depå…", not "depå,…")."""
    cut = do_truncate(env, text, limit, end="")
    return text if cut == text else cut.rstrip(" ,;:-–—、，；：") + "…"


def _without_full_stop(text: str) -> str:
    """A title's closing full stop dropped, so the sentence around it can end its own way
    ("Acme Inc." too: a stop inside the quotes would double the sentence's); an ellipsis
    stays."""
    if text.endswith("。") or (text.endswith(".") and not text.endswith("..")):
        return text[:-1]
    return text


def _is_opening(text: str, index: int) -> bool:
    return index == 0 or text[index - 1] in " (（[【/-–—"


def quote_title(title: str, locale: str) -> str:
    """A title as the locale sets it in running text, whatever marks it already carries.

    A title wrapped in quotation marks (“…”, "…", «…», 「…」) loses that pair and gets the
    locale's; a lone mark at either end, left from a half-typed pair, goes too. Marks inside
    become the locale's inner quotes, each kept (an unpaired one included) and turned the
    way its position says. A title already in book-title marks, 《…》, keeps them and gets no
    second pair; one with only an opening or only a closing 《 》 gets the missing half."""
    core = _without_full_stop(" ".join(str(title).split()))
    if not core:
        raise ValueError("the quoted filter got an empty title")
    books = core.count("《"), core.count("》")
    if books in ((1, 1), (1, 0), (0, 1)) and (core[0] == "《" or core[-1] == "》") and (
            books != (1, 1) or (core[0] == "《" and core[-1] == "》")):
        return f"《{core.strip('《》')}》"
    marks = [i for i, char in enumerate(core) if char in _DOUBLE_MARKS]
    wrapped = (len(marks) >= 2 and marks[0] == 0 and marks[-1] == len(core) - 1
               and len(marks) % 2 == 0)
    lone_at_end = len(marks) == 1 and marks[0] in (0, len(core) - 1)
    if wrapped:
        core = core[1:-1].strip()
    elif lone_at_end:
        core = core.strip(_DOUBLE_MARKS).strip()
    inner_open, inner_close = INNER_QUOTES[locale]
    core = "".join(
        (inner_open if _is_opening(core, i) else inner_close) if char in _DOUBLE_MARKS
        else char for i, char in enumerate(core))
    opening, closing = QUOTES[locale]
    return f"{opening}{core}{closing}"


@pass_context
def _quoted_filter(ctx: Context, title: str) -> str:
    """A title inside the locale's quotation marks, without a full stop of its own, so it
    reads as a name wherever it falls in a sentence (see `quote_title`)."""
    return quote_title(title, _locale(ctx))


@pass_context
def _sentence_filter(ctx: Context, text: str) -> str:
    """Text a person wrote, made to stand as sentences: a capital first letter where the
    script has one, and closing punctuation if it had none."""
    words = " ".join(str(text).split())
    if not words:
        raise ValueError("the sentence filter got empty text")
    words = words[0].upper() + words[1:]
    return words if words.endswith(_SENTENCE_ENDS) else words + _FULL_STOP[_locale(ctx)]


def _clause_filter(text: str) -> str:
    """A fragment to set inside a sentence: trimmed, no closing full stop, and the capital of
    an ordinary first word dropped ("Illness" becomes "illness"; "IT" stays)."""
    return lower_first(" ".join(str(text).split()).rstrip(".。"))


@pass_context
def _cause_filter(ctx: Context, text: str) -> Cause:
    """A client-facing reason's shape and words (`drafting.causes`): the letter words a
    sentence, an activity and a cause each its own way."""
    return cause_of(text, _locale(ctx))


@pass_context
def _is_fragment(ctx: Context, text: object) -> bool:
    """Words that are not a sentence of their own: a cause named or an activity."""
    return bool(str(text or "").strip()) and cause_of(str(text), _locale(ctx)).shape != "sentence"


@pass_context
def _list_filter(ctx: Context, items: list[str]) -> str:
    """'a, b and c' the locale's way."""
    return format_list([str(item) for item in items], locale=_locale(ctx))


@pass_context
def _percent_filter(ctx: Context, share: float | None) -> str:
    if share is None:
        raise ValueError("the percent filter got no value; guard it with {% if %}")
    return format_percent(share, locale=_locale(ctx))


@pass_context
def _number_filter(ctx: Context, value: float | int | None) -> str:
    if value is None:
        raise ValueError("the number filter got no value; guard it with {% if %}")
    return format_decimal(value, format="#,##0.#", locale=_locale(ctx))


def _plain_filter(value: object) -> _Plain:
    return _Plain(value)


@pass_context
def _finalize(ctx: Context, value: object) -> object:
    """Refuse to print None, and make every value printed into Slack JSON safe there."""
    if value is None:
        raise ValueError("printed a None value; wrap optional variables in {% if %}")
    if ctx.name and ctx.name.endswith(".json.j2"):
        text = str(value) if isinstance(value, _Plain) else mrkdwn(str(value))
        return json.dumps(text, ensure_ascii=False)[1:-1]
    return value


def _is_html(name: str | None) -> bool:
    return bool(name and name.endswith(".html.j2"))


# --- Environment --------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _environment(overrides: Path | None) -> ImmutableSandboxedEnvironment:
    """One sandboxed environment per overrides folder; compiled templates stay cached in it."""
    loaders = [FileSystemLoader(BUILTIN_DIR, encoding="utf-8")]
    if overrides is not None:
        loaders.insert(0, FileSystemLoader(overrides, encoding="utf-8"))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=_is_html,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=1000,
    )
    filters: dict[str, Callable[..., Any]] = {
        "date": _date_filter,
        "datetime": _datetime_filter,
        "money": _money_filter,
        "percent": _percent_filter,
        "number": _number_filter,
        "plain": _plain_filter,
        "quoted": _quoted_filter,
        "sentence": _sentence_filter,
        "clause": _clause_filter,
        "cause": _cause_filter,
        "list": _list_filter,
        "shorten": _shorten_filter,
    }
    env.filters.update(filters)
    env.tests["fragment"] = _is_fragment
    return env


def _folder(overrides: Path | None) -> Path | None:
    return None if overrides is None else Path(overrides).resolve()


def _template_name(kind: str, locale: str, part: str) -> str:
    return f"{kind}/{locale}/{PARTS[part]}"


def template_files(kind: str, locale: str, overrides: Path | None = None) -> dict[str, Path]:
    """Which file each part of a message comes from: the team's override, else the built-in."""
    check_names(kind, locale)
    folder = _folder(overrides)
    found: dict[str, Path] = {}
    for part in PARTS:
        relative = _template_name(kind, locale, part)
        if folder is not None and (folder / relative).is_file():
            found[part] = folder / relative
        elif (BUILTIN_DIR / relative).is_file():
            found[part] = BUILTIN_DIR / relative
    return found


def choose_locale(tag: str | None) -> str:
    """Map a client's language tag ("sv-SE", "zh_Hans_CN", "en-GB") to a locale we write in."""
    language = re.split(r"[-_]", (tag or "").strip().lower(), maxsplit=1)[0]
    return language if language in LOCALES else Locale.en


# --- Rendering ----------------------------------------------------------------------------


def _where(exc: BaseException, fallback: str) -> tuple[str, int | None]:
    """The innermost template frame of a rendering error: Jinja rewrites tracebacks to them."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.filename or exc.name or fallback, exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return frame.filename, frame.lineno
    return fallback, None


def _render_part(
    kind: str, locale: str, part: str, context: Mapping[str, Any], overrides: Path | None
) -> str | None:
    name = _template_name(kind, locale, part)
    env = _environment(overrides)
    try:
        template = env.get_template(name)
    except TemplateNotFound as exc:
        if part == "blocks" and exc.name == name:
            return None
        raise TemplateError(f"template {exc.name} does not exist", name) from None
    except TemplateSyntaxError as exc:
        path, line = _where(exc, name)
        raise TemplateError(f"syntax error: {exc.message}", path, line) from None
    fallback = template.filename or name
    try:
        return template.render(context)
    except TemplateSyntaxError as exc:
        path, line = _where(exc, fallback)
        raise TemplateError(f"syntax error: {exc.message}", path, line) from None
    except TemplateNotFound as exc:
        path, line = _where(exc, fallback)
        raise TemplateError(f"template {exc.name} does not exist", path, line) from None
    except Exception as exc:
        path, line = _where(exc, fallback)
        raise TemplateError(f"{type(exc).__name__}: {exc}", path, line) from None


# What a subject folds into one space: line breaks and runs of spaces, never the no-break
# space that holds "8 153" together in Swedish.
_LINE_SPACE = re.compile(r"[ \t\n\r\f\v]+")


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _parse_blocks(rendered: str, path: str) -> list[dict[str, Any]]:
    try:
        blocks = json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise TemplateError(
            f"rendered blocks are not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno} of the output)",
            path,
            exc.lineno,
        ) from None
    if not isinstance(blocks, list) or not all(
        isinstance(block, dict) and "type" in block for block in blocks
    ):
        raise TemplateError("blocks must be a JSON list of objects that each have a 'type'", path)
    if len(blocks) > SLACK_BLOCK_LIMIT:
        raise TemplateError(f"{len(blocks)} blocks; Slack accepts at most {SLACK_BLOCK_LIMIT}",
                            path)
    split = [part for block in blocks for part in _split_section(block)]
    if len(split) <= SLACK_BLOCK_LIMIT:
        return split
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            text["text"] = _fit_section(text["text"])
    return blocks


def _split_section(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Slack rejects a section over 3,000 characters: a long one goes on in sections of its
    own, split between lines (before a bullet where it can), so a busy digest keeps every
    item it lists and the line that says how many more, as its email does."""
    text = block.get("text")
    if block.get("type") != "section" or not isinstance(text, dict) or not isinstance(
            text.get("text"), str) or len(text["text"]) <= SLACK_SECTION_LIMIT:
        return [block]
    rest = text["text"]
    parts: list[str] = []
    while len(rest) > SLACK_SECTION_LIMIT:
        cut = rest.rfind("\n•", 0, SLACK_SECTION_LIMIT)
        if cut <= 0:
            cut = rest.rfind("\n", 0, SLACK_SECTION_LIMIT)
        if cut <= 0:
            break
        parts.append(rest[:cut])
        rest = rest[cut + 1:]
    parts.append(_fit_section(rest))
    first = {**block, "text": {**text, "text": parts[0]}}
    return [first, *({"type": "section", "text": {"type": text.get("type", "mrkdwn"),
                                                  "text": part}} for part in parts[1:])]


def _fit_section(text: str) -> str:
    """A section cut to what Slack accepts, losing its last lines: for a message that would
    otherwise need more than Slack's 50 blocks, or a line too long to split."""
    if len(text) <= SLACK_SECTION_LIMIT:
        return text
    cut = text.rfind("\n", 0, SLACK_SECTION_LIMIT - 2)
    return text[: cut if cut > 0 else SLACK_SECTION_LIMIT - 2] + "\n…"


def render(
    kind: str,
    locale: str,
    context: Mapping[str, Any],
    *,
    overrides: Path | None = None,
    channel: str | None = None,
) -> RenderedMessage:
    """The message of `kind` in `locale`, or a TemplateError naming the file and line at fault.

    For a `channel`, only the parts it sends: an email has no Slack blocks, a Slack message
    no HTML body. Without one, or for another channel, every part (previews, the check)."""
    check_names(kind, locale)
    wanted = CHANNEL_PARTS.get(channel or "", PARTS.keys())
    folder = _folder(overrides)
    if not isinstance(context.get("timezone"), str):
        raise TemplateError("the context has no 'timezone' name", f"{kind}/{locale}")
    try:
        zone(context["timezone"])
    except CalendarError as exc:
        raise TemplateError(str(exc), f"{kind}/{locale}") from None
    full = {**context, "locale": locale, "kind": kind}
    subject = _render_part(kind, locale, "subject", full, folder) or ""
    text = _render_part(kind, locale, "text", full, folder) or ""
    html = _render_part(kind, locale, "html", full, folder) if "html" in wanted else None
    rendered_blocks = (_render_part(kind, locale, "blocks", full, folder)
                       if "blocks" in wanted else None)
    blocks = None
    if rendered_blocks is not None:
        name = _template_name(kind, locale, "blocks")
        path = _environment(folder).get_template(name).filename or name
        blocks = _parse_blocks(rendered_blocks, path)
    return RenderedMessage(
        subject=_LINE_SPACE.sub(" ", subject).strip(" "),
        text=_tidy_text(text),
        html=html.strip() + "\n" if html is not None else None,
        blocks=blocks,
    )


def check(overrides: Path | None = None) -> list[TemplateError]:
    """Every problem in the templates: each kind, locale and sample variant is rendered."""
    folder = _folder(overrides)
    problems: dict[str, TemplateError] = {}
    if folder is not None:
        for stray in _stray_files(folder):
            problems[str(stray)] = TemplateError(
                "not a template this product renders (check the kind, locale and file name)",
                str(stray),
            )
    for kind in KINDS:
        for locale in LOCALES:
            for context in samples.variants(kind, locale):
                try:
                    render(kind, locale, context, overrides=folder)
                except TemplateError as exc:
                    problems.setdefault(str(exc), exc)
    return list(problems.values())


def _stray_files(folder: Path) -> list[Path]:
    expected = {
        Path(kind, locale, file) for kind in KINDS for locale in LOCALES for file in PARTS.values()
    }
    return sorted(
        path
        for path in folder.rglob("*.j2")
        if path.relative_to(folder) not in expected
        and not path.relative_to(folder).parts[0].startswith("_")
    )
