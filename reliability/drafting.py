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
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from babel.dates import format_datetime, get_timezone_location
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reliability.calendar import CalendarError, zone

KINDS: tuple[str, ...] = (
    "delay_notice",
    "mistake_remediation",
    "promise_confirmation",
    "request_acknowledgement",
    "checkin_request",
    "escalation",
    "digest",
)
LOCALES: tuple[str, ...] = ("en", "zh", "sv")
PARTS: dict[str, str] = {
    "subject": "subject.txt.j2",
    "text": "body.txt.j2",
    "html": "body.html.j2",
    "blocks": "blocks.json.j2",
}
# What each channel sends of a message; the other parts are not rendered for it.
CHANNEL_PARTS: dict[str, frozenset[str]] = {
    "email": frozenset({"subject", "text", "html"}),
    "slack": frozenset({"subject", "text", "blocks"}),
}
BUILTIN_DIR = Path(__file__).resolve().parent / "templates"

# Slack buttons a check-in request carries: action_id is f"checkin_{status}", value the promise id.
CHECKIN_STATUSES: tuple[str, ...] = ("on_track", "at_risk", "blocked", "done")
# How a credit reaches the client, and what it is for (CreditView.method and .basis).
CREDIT_METHODS: tuple[str, ...] = ("credit_note", "refund", "reissued_invoice")
CREDIT_BASES: tuple[str, ...] = ("overcharge", "goodwill")
SLACK_SECTION_LIMIT = 3000

# Each locale's own way of writing a day and a time (see docs/templates.md, "Style").
_DATE_PATTERNS = {"en": "EEEE, MMMM d", "sv": "EEEE d MMMM", "zh": "M月d日（E）"}
_DATE_WITH_YEAR_PATTERNS = {"en": "EEEE, MMMM d, y", "sv": "EEEE d MMMM y", "zh": "y年M月d日（E）"}
_DATETIME_JOINS = {"en": "{date}, {time}", "sv": "{date} kl. {time}", "zh": "{date}{time}"}
_TIME_PATTERNS = {"en": "h:mm a", "sv": "HH.mm", "zh": "HH:mm"}
_ZONE_JOINS = {"en": "{moment} {zone}", "sv": "{moment} {zone}", "zh": "{moment}（{zone}）"}
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
_QUOTE_CHARS = "\"'“”‘’«»《》「」"
_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？", "…")
_FULL_STOP = {"en": ".", "sv": ".", "zh": "。"}


# --- The context each kind receives -------------------------------------------------------
# Every kind gets BaseContext. Datetimes are timezone-aware; the `date` and `datetime`
# filters show them in `timezone`, the recipient's zone. `str | None` keys are always
# present; None means "leave that part out".


class BaseContext(TypedDict):
    timezone: str  # the recipient's IANA zone, e.g. "Europe/Stockholm"
    now: datetime  # when the draft is made; dates in another year than this one show the year
    # How the reader is greeted: a first name or a title form ("Dana", "Dr Reed", "王经理").
    # None for a client with no contact: the letter opens with the locale's neutral greeting.
    recipient_name: str | None
    sender_name: str  # who signs: the promise's owner for clients, the product for staff
    team_name: str  # the team's own name, second line of the signature


class PromiseItem(TypedDict):
    id: str
    title: str
    client_name: str
    owner_name: str
    due_at: datetime
    url: str  # the promise's page in the web app (staff messages only)


class DelayNoticeContext(BaseContext):
    promise: PromiseItem
    # Why, in the client's language and written for the client: sentences, or a few words
    # naming the cause ("illness"). None: the letter says only what is known.
    reason: str | None
    new_due_at: datetime
    interim: str | None  # full sentence(s): what the client gets meanwhile
    progress: float | None  # share done at the latest check-in, 0 to 1
    # What the client still has to send ("the October returns data"): the letter asks for
    # it and makes the new date depend on it.
    waiting_for: str | None


class MistakeView(TypedDict):
    about: str | None  # the deliverable it concerns, for the subject line
    summary: str  # what went wrong, one or two sentences
    # True: someone said it is corrected. False: it will be, by fix_due_at. None: nobody
    # has said either, so the letter claims neither.
    fixed: bool | None
    fix_due_at: datetime | None  # set when fixed is False
    prevention: str  # what the team does from now on so it does not happen again


class CreditView(TypedDict):
    amount: Decimal
    currency: str  # ISO 4217, e.g. "SEK"
    method: str | None  # "credit_note", "refund" or "reissued_invoice"; None: not decided
    basis: str | None  # "overcharge" (money back) or "goodwill" (on top); None: not said


class MistakeRemediationContext(BaseContext):
    mistake: MistakeView
    credit: CreditView | None  # only an approved credit


class PromiseConfirmationContext(BaseContext):
    promise: PromiseItem
    details: str | None  # what exactly is included, if worth restating


class RequestView(TypedDict):
    summary: str
    received_at: datetime


class RequestAcknowledgementContext(BaseContext):
    request: RequestView
    reply_by: datetime


class CheckinRequestContext(BaseContext):
    promise: PromiseItem
    checkin_url: str


class RiskEscalation(TypedDict):
    promise: PromiseItem
    p_late: float
    reasons: list[str]
    notice_by: datetime
    draft_url: str  # the delay notice awaiting approval


class RepeatedMistake(TypedDict):
    summary: str
    client_name: str
    owner_name: str
    occurrences: int
    first_at: datetime
    url: str


class EscalationContext(BaseContext):
    risk: RiskEscalation | None  # exactly one of risk and mistake is set
    mistake: RepeatedMistake | None


class DraftItem(TypedDict):
    kind: str  # one of KINDS
    subject: str
    client_name: str
    send_by: datetime | None
    url: str


class EscalationItem(TypedDict):
    summary: str
    url: str


class DeadDeliveryItem(TypedDict):
    subject: str
    recipient: str
    channel: str  # "email" or "slack"
    error: str
    url: str


class Decisions(TypedDict):
    drafts: list[DraftItem]
    escalations: list[EscalationItem]
    dead_deliveries: list[DeadDeliveryItem]


class RiskItem(TypedDict):
    promise: PromiseItem
    p_late: float
    reasons: list[str]
    overdue: bool


class CheckinItem(TypedDict):
    promise: PromiseItem
    asked_at: datetime


class UnassessedItem(TypedDict):
    promise: PromiseItem
    reason: str  # an AssessError code: date_out_of_range, unknown_calendar or unexpected


class MistakeItem(TypedDict):
    summary: str
    client_name: str
    owner_name: str
    occurred_at: datetime
    repeat: bool


class MonthStats(TypedDict):
    promises_due: int
    on_time_rate: float | None  # None when nothing was due
    proactive_notice_rate: float | None  # of late promises, the share with notice before due
    median_notice_lead_days: float | None  # business days between notice and original due


class ReliabilityView(TypedDict):
    this_month: MonthStats
    last_month: MonthStats


class DigestContext(BaseContext):
    all_clear: bool  # nothing needs attention: render a single all-clear line
    decisions: Decisions
    at_risk: list[RiskItem]  # at-risk and overdue promises, worst first
    due_soon: list[PromiseItem]  # due in the next 5 business days
    unanswered_checkins: list[CheckinItem]
    unassessed: list[UnassessedItem]  # open promises the scan could not assess, and why
    mistakes: list[MistakeItem]  # this week
    reliability: ReliabilityView | None


CONTEXTS: dict[str, type] = {
    "delay_notice": DelayNoticeContext,
    "mistake_remediation": MistakeRemediationContext,
    "promise_confirmation": PromiseConfirmationContext,
    "request_acknowledgement": RequestAcknowledgementContext,
    "checkin_request": CheckinRequestContext,
    "escalation": EscalationContext,
    "digest": DigestContext,
}


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
    return str(ctx.get("locale", "en"))


def _local(ctx: Context, moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: contexts carry aware datetimes")
    name = ctx.get("timezone")
    if not isinstance(name, str):
        raise ValueError("the context has no 'timezone' to show dates in")
    return moment.astimezone(zone(name))


def _date_text(ctx: Context, moment: date) -> str:
    day = _local(ctx, moment) if isinstance(moment, datetime) else moment
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
    """Date and time in the reader's zone, unlabelled; in another zone, labelled the way the
    locale names it, so nobody has to guess whose 5 PM it is."""
    if not isinstance(moment, datetime):
        raise ValueError(f"the datetime filter needs a datetime, got {moment!r}")
    locale = _locale(ctx)
    own = str(ctx.get("timezone"))
    shown_zone = in_zone or own
    local = moment.astimezone(zone(shown_zone)) if in_zone else _local(ctx, moment)
    # Babel gets the wall-clock time: aware datetimes of one instant are equal, so the cache
    # would hand one zone's time to another.
    text = _DATETIME_JOINS[locale].format(
        date=_date_text(ctx, local.date()),
        time=_babel(local.replace(tzinfo=None), _TIME_PATTERNS[locale], locale),
    )
    if shown_zone == own:
        return text
    return _ZONE_JOINS[locale].format(moment=text, zone=zone_label(shown_zone, locale))


def money_text(amount: Decimal | float | int, currency: str, locale: str) -> str:
    """An amount in its currency, written the locale's way: the one formatter the letters and
    the web share, so a credit reads the same wherever the owner and the client see it."""
    text = format_currency(Decimal(str(amount)), currency.upper(), locale=locale)
    # Babel glues an ISO code to the digits in some locales ("SEK1,250.00").
    return re.sub(r"^([A-Z]{3})(?=\d)", "\\1\u00a0", text)


@pass_context
def _money_filter(ctx: Context, amount: Decimal | float | int | None, currency: str) -> str:
    if amount is None:
        raise ValueError("the money filter got no amount")
    return money_text(amount, currency, _locale(ctx))


def _strip_title(text: str) -> str:
    core = " ".join(str(text).split()).strip(_QUOTE_CHARS + " ")
    return core[:-1] if core.endswith((".", "。")) and not core.endswith("..") else core


@pass_context
def _quoted_filter(ctx: Context, title: str) -> str:
    """A title inside the locale's quotation marks, without quotes or a full stop of its own,
    so it reads as a name wherever it falls in a sentence."""
    opening, closing = QUOTES[_locale(ctx)]
    return f"{opening}{_strip_title(title)}{closing}"


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
    words = " ".join(str(text).split()).rstrip(".。")
    first = words.split(" ", 1)[0]
    if re.fullmatch(r"[A-ZÅÄÖ][a-zåäöé]+", first):
        return words[0].lower() + words[1:]
    return words


def _is_fragment(text: object) -> bool:
    """A few words without closing punctuation: a cause named, not a sentence written."""
    words = " ".join(str(text or "").split())
    if not words or words.endswith(_SENTENCE_ENDS):
        return False
    return len(words.split()) <= 4 if " " in words else len(words) <= 12


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
        "list": _list_filter,
    }
    env.filters.update(filters)
    env.tests["fragment"] = _is_fragment
    return env


def _folder(overrides: Path | None) -> Path | None:
    return None if overrides is None else Path(overrides).resolve()


def _check_names(kind: str, locale: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}: choose from {', '.join(KINDS)}")
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}: choose from {', '.join(LOCALES)}")


def _template_name(kind: str, locale: str, part: str) -> str:
    return f"{kind}/{locale}/{PARTS[part]}"


def template_files(kind: str, locale: str, overrides: Path | None = None) -> dict[str, Path]:
    """Which file each part of a message comes from: the team's override, else the built-in."""
    _check_names(kind, locale)
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
    return language if language in LOCALES else "en"


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
    if len(blocks) > 50:
        raise TemplateError(f"{len(blocks)} blocks; Slack accepts at most 50", path)
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            text["text"] = _fit_section(text["text"])
    return blocks


def _fit_section(text: str) -> str:
    """Slack rejects a section over 3,000 characters; a long digest loses its last lines instead."""
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
    _check_names(kind, locale)
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
        subject=" ".join(subject.split()),
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
            for context in _samples(kind, locale):
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


def sample_context(kind: str, locale: str) -> dict[str, Any]:
    """Realistic data for previews and `check`: exactly the keys the kind's context declares."""
    _check_names(kind, locale)
    return _samples(kind, locale)[0]


# --- Sample data --------------------------------------------------------------------------
# One client per locale, in that client's zone and language. The promise is due on Friday
# 20 November 2026 and the draft is made on the Wednesday before, as the product intends.

_SAMPLE_ZONES = {"en": "America/New_York", "sv": "Europe/Stockholm", "zh": "Asia/Shanghai"}

_SAMPLE_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "recipient": "Dana",
        "owner": "Priya Raman",
        "owner_first": "Priya",
        "manager": "Marcus",
        "team": "Northwind Analytics",
        "client": "Acme Logistics",
        "title": "Q3 performance report",
        "other_title": "Warehouse KPI dashboard",
        "third_title": "Carrier contract review",
        "reason": 'The warehouse data export we rely on arrived two days late, and the “returns” '
        "figures in it still need checking before we build on them.",
        "interim": "You'll have the cleaned data set and a one-page summary of the early "
        "findings on Friday, as planned.",
        "mistake": "The October invoice listed 14 hours of analysis that belonged to another "
        "project, so you were overcharged.",
        "prevention": "Every invoice is now checked against the time log by a second person "
        "before it goes out.",
        "details": "Covers July to September, with a comparison against Q2 and our three "
        "recommendations for Q4.",
        "request": "Add the Boston depot to the weekly on-time delivery chart.",
        "reasons": [
            "Only 20% done with two business days left",
            "Check-in says blocked on client data",
            "Priya has been late on 3 of her last 8 promises",
        ],
        "escalation": "Q3 performance report: delay notice not approved, notice due today",
        "dead_error": "550 mailbox unavailable",
        "currency": "USD",
        "short_reason": "Illness",
        "waiting_for": "the October returns figures",
    },
    "sv": {
        "recipient": "Karin",
        "owner": "Erik Lindqvist",
        "owner_first": "Erik",
        "manager": "Sofia",
        "team": "Norrsken Analys",
        "client": "Nordvik Bygg AB",
        "title": "Kvartalsrapport Q3",
        "other_title": "Dashboard för lagernyckeltal",
        "third_title": "Genomgång av transportavtal",
        "reason": "Exporten från ert lagersystem kom två dagar sent, och "
        'siffrorna för ”returer” behöver kontrolleras innan vi bygger vidare på dem.',
        "interim": "Ni får det tvättade dataunderlaget och en sammanfattning på en sida av de "
        "första resultaten på fredag, som planerat.",
        "mistake": "Oktoberfakturan innehöll 14 timmars analysarbete som hörde till ett annat "
        "projekt, så ni fakturerades för mycket.",
        "prevention": "Varje faktura stäms nu av mot tidrapporten av en andra person innan den "
        "skickas.",
        "details": "Omfattar juli till september, med en jämförelse mot Q2 och våra tre "
        "rekommendationer inför Q4.",
        "request": "Lägg till depån i Göteborg i veckodiagrammet över leveransprecision.",
        "reasons": [
            "Bara 20 % klart med två arbetsdagar kvar",
            "Avstämningen säger att arbetet väntar på data från kunden",
            "Erik har varit sen med 3 av sina 8 senaste löften",
        ],
        "escalation": "Kvartalsrapport Q3: förseningsbeskedet är inte godkänt och ska ut i dag",
        "dead_error": "550 mailbox unavailable",
        "currency": "SEK",
        "short_reason": "sjukdom i teamet",
        "waiting_for": "oktobers returdata",
    },
    "zh": {
        "recipient": "王经理",
        "owner": "李明",
        "owner_first": "李明",
        "manager": "陈总",
        "team": "北辰数据咨询",
        "client": "华东物流有限公司",
        "title": "第三季度业绩报告",
        "other_title": "仓储关键指标看板",
        "third_title": "承运商合同审阅",
        "reason": "我们所依赖的仓储数据导出晚到了两天，其中“退货”部分的数据还需要核实，"
        "之后才能在此基础上继续分析。",
        "interim": "周五我们仍会按原计划先把清洗好的数据和一页纸的初步发现摘要发给您。",
        "mistake": "十月份的账单里误列了14个小时属于其他项目的分析工时，导致多收了贵方费用。",
        "prevention": "今后每张账单在寄出前，都会由第二位同事对照工时记录逐项核对。",
        "details": "涵盖七月至九月，包含与第二季度的对比，以及我们对第四季度的三条建议。",
        "request": "在每周准时交付率图表中加入上海浦东仓。",
        "reasons": [
            "距截止只剩两个工作日，完成度仅20%",
            "最近一次进度反馈显示正在等待客户数据",
            "李明最近 8 项承诺中有 3 项延误",
        ],
        "escalation": "第三季度业绩报告：延期通知尚未批准，今天必须发出",
        "dead_error": "550 mailbox unavailable",
        "currency": "CNY",
        "short_reason": "项目成员生病",
        "waiting_for": "十月份的退货数据",
    },
}


def _samples(kind: str, locale: str) -> list[dict[str, Any]]:
    """The sample context of `kind` first, then variants that take the other branches."""
    words = _SAMPLE_TEXT[locale]
    tz = zone(_SAMPLE_ZONES[locale])

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=tz)

    def promise(number: int, title: str, day: int) -> PromiseItem:
        return PromiseItem(
            id=str(number),
            title=title,
            client_name=words["client"],
            owner_name=words["owner"],
            due_at=at(day, 17),
            url=f"https://reliability.example.com/promises/{number}",
        )

    staff = kind in ("checkin_request", "escalation", "digest")
    base: dict[str, Any] = {
        "timezone": _SAMPLE_ZONES[locale],
        "now": at(18, 10),
        "recipient_name": {
            "checkin_request": words["owner_first"],
            "escalation": words["manager"],
            "digest": words["manager"],
        }.get(kind, words["recipient"]),
        "sender_name": "Reliability" if staff else words["owner"],
        "team_name": words["team"],
    }
    report = promise(42, words["title"], 20)
    if kind == "delay_notice":
        full = {
            **base,
            "promise": report,
            "reason": words["reason"],
            "new_due_at": at(24, 17),
            "interim": words["interim"],
            "progress": 0.6,
            "waiting_for": None,
        }
        known_only = {**full, "reason": None, "interim": None, "recipient_name": None}
        return [
            full,
            {**full, "interim": None, "waiting_for": words["waiting_for"]},
            {**full, "reason": words["short_reason"]},
            known_only,
            {**known_only, "progress": None},
        ]
    if kind == "mistake_remediation":
        fixed = MistakeView(
            about=words["title"], summary=words["mistake"], fixed=True, fix_due_at=None,
            prevention=words["prevention"],
        )
        credit = CreditView(amount=Decimal("1250.00"), currency=words["currency"],
                            method="credit_note", basis="overcharge")
        full = {**base, "mistake": fixed, "credit": credit}
        pending = MistakeView(
            about=None,
            summary=words["mistake"],
            fixed=False,
            fix_due_at=at(20, 12),
            prevention=words["prevention"],
        )
        unknown = MistakeView(**{**pending, "fixed": None, "fix_due_at": None})
        variants = [full, {**full, "mistake": pending, "credit": None},
                    {**full, "mistake": unknown, "credit": None, "recipient_name": None}]
        for method in (*CREDIT_METHODS, None):
            for basis in (*CREDIT_BASES, None):
                variants.append({**full, "mistake": pending,
                                 "credit": {**credit, "method": method, "basis": basis}})
        return variants
    if kind == "promise_confirmation":
        full = {**base, "promise": report, "details": words["details"]}
        return [full, {**full, "details": None}]
    if kind == "request_acknowledgement":
        request = RequestView(summary=words["request"], received_at=at(18, 9, 12))
        return [{**base, "request": request, "reply_by": at(19, 12)}]
    if kind == "checkin_request":
        return [
            {
                **base,
                "promise": report,
                "checkin_url": "https://reliability.example.com/checkins/42",
            }
        ]
    if kind == "escalation":
        risk = RiskEscalation(
            promise=report,
            p_late=0.72,
            reasons=words["reasons"],
            notice_by=at(18, 17),
            draft_url="https://reliability.example.com/drafts/7",
        )
        repeated = RepeatedMistake(
            summary=words["mistake"],
            client_name=words["client"],
            owner_name=words["owner"],
            occurrences=3,
            first_at=datetime(2026, 6, 2, 11, tzinfo=tz),
            url="https://reliability.example.com/mistakes/12",
        )
        return [
            {**base, "risk": risk, "mistake": None},
            {**base, "risk": None, "mistake": repeated},
        ]
    return _digest_samples(base, words, report, promise, at)


def _digest_samples(
    base: dict[str, Any],
    words: Mapping[str, Any],
    report: PromiseItem,
    promise: Callable[[int, str, int], PromiseItem],
    at: Callable[..., datetime],
) -> list[dict[str, Any]]:
    dashboard = promise(43, words["other_title"], 17)
    contracts = promise(44, words["third_title"], 24)
    full: dict[str, Any] = {
        **base,
        "all_clear": False,
        "decisions": Decisions(
            drafts=[
                DraftItem(
                    kind="delay_notice",
                    subject=words["title"],
                    client_name=words["client"],
                    send_by=at(18, 17),
                    url="https://reliability.example.com/drafts/7",
                )
            ],
            escalations=[
                EscalationItem(
                    summary=words["escalation"], url="https://reliability.example.com/promises/42"
                )
            ],
            dead_deliveries=[
                DeadDeliveryItem(
                    subject=words["other_title"],
                    recipient="ops@acme.example",
                    channel="email",
                    error=words["dead_error"],
                    url="https://reliability.example.com/outbox/91",
                )
            ],
        ),
        "at_risk": [
            RiskItem(promise=report, p_late=0.72, reasons=words["reasons"][:2], overdue=False),
            RiskItem(promise=dashboard, p_late=1.0, reasons=words["reasons"][2:], overdue=True),
        ],
        "due_soon": [report, contracts],
        "unanswered_checkins": [CheckinItem(promise=contracts, asked_at=at(16, 9))],
        "unassessed": [UnassessedItem(promise=dashboard, reason="date_out_of_range")],
        "mistakes": [
            MistakeItem(
                summary=words["mistake"],
                client_name=words["client"],
                owner_name=words["owner"],
                occurred_at=at(17, 14),
                repeat=True,
            ),
        ],
        "reliability": ReliabilityView(
            this_month=MonthStats(
                promises_due=23,
                on_time_rate=0.913,
                proactive_notice_rate=0.5,
                median_notice_lead_days=2.0,
            ),
            last_month=MonthStats(
                promises_due=20,
                on_time_rate=0.85,
                proactive_notice_rate=0.333,
                median_notice_lead_days=1.5,
            ),
        ),
    }
    empty = Decisions(drafts=[], escalations=[], dead_deliveries=[])
    first_month = ReliabilityView(
        this_month=MonthStats(
            promises_due=4,
            on_time_rate=1.0,
            proactive_notice_rate=None,
            median_notice_lead_days=None,
        ),
        last_month=MonthStats(
            promises_due=0,
            on_time_rate=None,
            proactive_notice_rate=None,
            median_notice_lead_days=None,
        ),
    )
    quiet = {
        **full,
        "decisions": empty,
        "at_risk": [],
        "due_soon": [],
        "unanswered_checkins": [],
        "unassessed": [],
        "mistakes": [],
        "reliability": first_month,
    }
    return [full, quiet, {**quiet, "all_clear": True, "reliability": None}]
