"""Risk reasons in the reader's words: one function turns a reason's code and facts into a
sentence in English, Swedish or Chinese.

`reliability.risk` says *why* as data ({"code": "little_history", "owner": "Erik", "count": 0,
"slip_rate": 0.25}); the database stores that data; every place a person reads a reason
(digest, escalation, board, promise page, API, Slack, CLI) renders it here, in the reader's
language and timezone, at the last moment. Sentences carry no closing full stop, so a list
joins them with "; " or "；" without a glitch. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent

from reliability.calendar import zone
from reliability.vocabulary import CheckInStatus

Reason = Mapping[str, Any]

# Small numbers in words, the way a manager would say "one promise in four".
_NUMBER_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    "sv": ("inga", "ett", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio"),
    "zh": ("零", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十"),
}
_STATUS: dict[str, dict[str, str]] = {
    "en": {CheckInStatus.at_risk: "at risk", CheckInStatus.blocked: "blocked",
           CheckInStatus.on_track: "on track"},
    "sv": {CheckInStatus.at_risk: "ligger i riskzonen", CheckInStatus.blocked: "har fastnat",
           CheckInStatus.on_track: "går enligt plan"},
    "zh": {CheckInStatus.at_risk: "有延误风险", CheckInStatus.blocked: "受阻",
           CheckInStatus.on_track: "进展正常"},
}
_NEAR_DAYS = 6


class _Words:
    """The pieces every locale's sentences are built from: days, times, counts, spans."""

    def __init__(self, locale: str, timezone: str, now: datetime) -> None:
        self.locale = locale
        self.zone = zone(timezone)
        self.now = now.astimezone(self.zone)

    def number(self, value: int) -> str:
        words = _NUMBER_WORDS[self.locale]
        return words[value] if 0 <= value < len(words) else str(value)

    def percent(self, value: int) -> str:
        return format_percent(value / 100, locale=self.locale)

    def day(self, iso: str) -> str:
        """'on Wednesday' within a week of now (as people say it), else the date. Chinese
        names two days either side (前天 … 后天) and otherwise the date with its weekday,
        11月13日（周五）: a bare 周五, or 上周五 / 本周六, leaves the reader counting weeks."""
        local = datetime.fromisoformat(iso).astimezone(self.zone)
        delta = (local.date() - self.now.date()).days
        if self.locale == "zh" and abs(delta) <= 2:
            return ("前天", "昨天", "今天", "明天", "后天")[delta + 2]
        if -1 <= delta <= 1:
            return {"en": ("yesterday", "today", "tomorrow"),
                    "sv": ("i går", "i dag", "i morgon")}[self.locale][delta + 1]
        weekday = format_datetime(local, "EEEE", tzinfo=self.zone, locale=self.locale)
        if abs(delta) <= _NEAR_DAYS and self.locale != "zh":
            if self.locale == "en":
                return f"on {weekday}"
            return f"i {weekday}s" if delta < 0 else f"på {weekday}"
        pattern = {"en": "EEEE, MMMM d", "sv": "EEEE d MMMM", "zh": "M月d日（E）"}[self.locale]
        text = format_datetime(local, pattern, tzinfo=self.zone, locale=self.locale)
        if self.locale == "en":
            return f"on {text}"
        return f"den {text.split(' ', 1)[1]}" if self.locale == "sv" else text

    def when(self, iso: str) -> str:
        """A day and a time of day: 'on Tuesday at 9:00 AM', 'i tisdags kl. 09.00'."""
        local = datetime.fromisoformat(iso).astimezone(self.zone)
        day = self.day(iso)
        if self.locale == "en":
            if (local.hour, local.minute) == (12, 0):
                return f"{day} at noon"
            return f"{day} at {format_datetime(local, 'h:mm a', tzinfo=self.zone, locale='en')}"
        if self.locale == "sv":
            return f"{day} kl. {local:%H.%M}"
        return f"{day}{local:%H:%M}"

    def span(self, hours: float, per_day: float) -> str:
        """How late, in business hours or days: 'under a business hour', '1.5 business days'."""
        if hours < 1:
            return {"en": "under a business hour", "sv": "mindre än en arbetstimme",
                    "zh": "不到1个工作小时"}[self.locale]
        if hours < per_day:
            whole = round(hours)
            return {"en": f"{whole} business hour" + ("" if whole == 1 else "s"),
                    "sv": f"{whole} arbetstimm" + ("e" if whole == 1 else "ar"),
                    "zh": f"{whole}个工作小时"}[self.locale]
        days = round(hours / per_day, 1)
        text = format_decimal(days, format="#,##0.#", locale=self.locale)
        one = text == "1"
        return {"en": f"{text} business day" + ("" if one else "s"),
                "sv": f"{text} arbetsdag" + ("" if one else "ar"),
                "zh": f"{text}个工作日"}[self.locale]


def _possessive_en(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _possessive_sv(name: str) -> str:
    return name if name.endswith(("s", "x", "z")) else f"{name}s"


def _one_in(rate: float) -> int | None:
    """4 for a rate near one in four; None when no small 'one in N' says it honestly."""
    if rate <= 0 or rate > 0.5:
        return None
    n = round(1 / rate)
    return n if 2 <= n <= 10 and abs(1 / n - rate) < 0.05 else None


# -- English --------------------------------------------------------------------------------


def _en(reason: Reason, w: _Words) -> str:
    code, owner = reason["code"], reason.get("owner", "")
    if code == "reported_done":
        return f"{owner} reported it done {w.when(reason['at'])}"
    if code == "past_due":
        return f"Past due since {w.when(reason['due_at']).removeprefix('on ')}, not reported done"
    if code == "reported_status":
        text = f"{owner} reported it {_STATUS['en'][reason['status']]} {w.day(reason['at'])}"
        if reason.get("days_ago"):
            text += f" ({w.number(reason['days_ago'])} business days ago)"
        return text + (f": “{_bare(reason['note'])}”" if reason.get("note") else "")
    if code == "no_answer":
        return f"No answer yet to the check-in request sent {w.when(reason['asked_at'])}"
    if code == "progress":
        return (f"{w.percent(reason['done'])} done with {w.percent(reason['time_left'])} of the "
                f"time left (reported {w.when(reason['at'])})")
    if code == "track_record":
        whose = "the team's" if reason["whose"] == "team" else _possessive_en(owner)
        track = _track_en(reason, whose, w)
        if reason.get("newcomer"):
            return f"{owner} has little history yet; {track[0].lower()}{track[1:]}"
        return track
    if code == "little_history_team":
        return (f"{owner} has {_count_en(reason['count'], w)} on record, too few to judge, "
                "so we go by the team's record")
    if code == "little_history":
        team = ", nor has the team" if reason["count"] == 0 else ", and the team too few"
        return (f"{_history_en(owner, reason['count'], w)}{team}; "
                f"{_assume_en(reason['slip_rate'], w)}")
    if code == "rough_guess":
        return f"Neither {owner} nor the team has a track record yet, so this is a rough guess"
    if code == "crowded":
        by = w.day(reason["by"]).removeprefix("on ")
        more = ", more than usual" if reason.get("unusual") else ""
        noun = "promise" if reason["others"] == 1 else "promises"
        due = "due today" if by == "today" else f"due by {by}"
        return f"{owner} has {w.number(reason['others'])} other {noun} {due}{more}"
    if code == "short_window":
        return (f"Little time to warn the client: promised {w.day(reason['made_at'])} "
                f"for {w.day(reason['due_at']).removeprefix('on ')}")
    if code == "moved":
        return f"The due date has already moved once; it was first due {w.day(reason['from'])}"
    return ""


def _count_en(count: int, w: _Words) -> str:
    return "one finished promise" if count == 1 else f"{w.number(count)} finished promises"


def _history_en(owner: str, count: int, w: _Words) -> str:
    if count == 0:
        return f"{owner} has no track record yet"
    return f"{owner} has only {_count_en(count, w)} on record"


def _assume_en(rate: float, w: _Words) -> str:
    n = _one_in(rate)
    if n is not None:
        return f"we assume one promise in {w.number(n)} slips"
    return f"we assume {format_percent(rate, locale='en')} of promises slip"


def _track_en(reason: Reason, whose: str, w: _Words) -> str:
    size, late = reason["count"], reason["late"]
    if size == 1:
        text = f"{whose[0].upper()}{whose[1:]} only recorded promise was " + (
            "late" if late else "on time")
    elif late == 0:
        return f"All of {whose} last {w.number(size)} promises were on time"
    else:
        verb = "was" if late == 1 else "were"
        text = (f"{w.number(late).capitalize()} of {whose} last {w.number(size)} promises "
                f"{verb} late")
    if reason.get("broken"):
        text += f" ({w.number(reason['broken'])} never delivered)"
    if reason.get("median_late_hours") is not None:
        by = ", by " if late == 1 else ", typically by "
        text += by + w.span(reason["median_late_hours"], reason["hours_per_day"])
    return text


# -- Swedish --------------------------------------------------------------------------------


def _sv(reason: Reason, w: _Words) -> str:
    code, owner = reason["code"], reason.get("owner", "")
    if code == "reported_done":
        return f"{owner} rapporterade det som klart {w.when(reason['at'])}"
    if code == "past_due":
        return f"Skulle ha levererats {w.when(reason['due_at'])} och är inte rapporterat klart"
    if code == "reported_status":
        text = f"{owner} sa {w.day(reason['at'])} att det {_STATUS['sv'][reason['status']]}"
        if reason.get("days_ago"):
            text += f" (för {w.number(reason['days_ago'])} arbetsdagar sedan)"
        return text + (f": ”{_bare(reason['note'])}”" if reason.get("note") else "")
    if code == "no_answer":
        return f"Inget svar ännu på avstämningen som skickades {w.when(reason['asked_at'])}"
    if code == "progress":
        return (f"{w.percent(reason['done'])} klart med {w.percent(reason['time_left'])} av "
                f"tiden kvar (rapporterat {w.when(reason['at'])})")
    if code == "track_record":
        whose = "teamets" if reason["whose"] == "team" else _possessive_sv(owner)
        track = _track_sv(reason, whose, w)
        if reason.get("newcomer"):
            return f"{owner} har kort historik ännu; {track[0].lower()}{track[1:]}"
        return track
    if code == "little_history_team":
        return (f"{owner} har {_count_sv(reason['count'], w)} i historiken, för lite för att "
                "bedöma, så vi utgår från teamets historik")
    if code == "little_history":
        team = (", och inte teamet heller" if reason["count"] == 0
                else ", och teamet har också för få")
        return (f"{_history_sv(owner, reason['count'], w)}{team}; "
                f"{_assume_sv(reason['slip_rate'], w)}")
    if code == "rough_guess":
        return (f"Varken {owner} eller teamet har någon historik ännu, så det här är en grov "
                "uppskattning")
    if code == "crowded":
        more = ", fler än vanligt" if reason.get("unusual") else ""
        noun = "annat löfte" if reason["others"] == 1 else "andra löften"
        return (f"{owner} har {w.number(reason['others'])} {noun} att leverera senast "
                f"{_sv_bare_day(w.day(reason['by']))}{more}")
    if code == "short_window":
        return (f"Kort tid att förvarna kunden: lovat {w.day(reason['made_at'])} med "
                f"leverans {w.day(reason['due_at'])}")
    if code == "moved":
        return f"Leveransdatumet har redan flyttats en gång, ursprungligen {w.day(reason['from'])}"
    return ""


def _sv_bare_day(day: str) -> str:
    """'på fredag' / 'i fredags' after a preposition of its own: 'fredag'."""
    for prefix in ("på ", "i "):
        if day.startswith(prefix) and day not in ("i går", "i dag", "i morgon"):
            bare = day.removeprefix(prefix)
            return bare[:-1] if prefix == "i " and bare.endswith("s") else bare
    return day


def _count_sv(count: int, w: _Words) -> str:
    return "ett avslutat löfte" if count == 1 else f"{w.number(count)} avslutade löften"


def _history_sv(owner: str, count: int, w: _Words) -> str:
    if count == 0:
        return f"{owner} har ingen historik ännu"
    return f"{owner} har bara {_count_sv(count, w)} i historiken"


def _assume_sv(rate: float, w: _Words) -> str:
    n = _one_in(rate)
    if n is not None:
        return f"vi räknar med att ett löfte av {w.number(n)} blir försenat"
    return f"vi räknar med att {format_percent(rate, locale='sv')} av löftena blir försenade"


def _track_sv(reason: Reason, whose: str, w: _Words) -> str:
    size, late = reason["count"], reason["late"]
    if size == 1:
        if late and reason.get("median_late_hours") is not None:
            span = w.span(reason["median_late_hours"], reason["hours_per_day"])
            return f"{whose[0].upper()}{whose[1:]} enda registrerade löfte blev {span} försenat"
        text = f"{whose[0].upper()}{whose[1:]} enda registrerade löfte " + (
            "blev försenat" if late else "hölls i tid")
    elif late == 0:
        return f"Alla {whose} senaste {w.number(size)} löften hölls i tid"
    else:
        verb = "blev försenat" if late == 1 else "blev försenade"
        text = f"{w.number(late).capitalize()} av {whose} senaste {w.number(size)} löften {verb}"
    if reason.get("broken"):
        text += f" ({w.number(reason['broken'])} levererades aldrig)"
    if reason.get("median_late_hours") is not None:
        by = ", med " if late == 1 else ", oftast med "
        text += by + w.span(reason["median_late_hours"], reason["hours_per_day"])
    return text


# -- Chinese --------------------------------------------------------------------------------


def _zh(reason: Reason, w: _Words) -> str:
    code, owner = reason["code"], reason.get("owner", "")
    if code == "reported_done":
        return f"{owner}已于{w.when(reason['at'])}报告完成"
    if code == "past_due":
        return f"已于{w.when(reason['due_at'])}截止，尚未报告完成"
    if code == "reported_status":
        text = f"{owner}{_zh_on(w.day(reason['at']))}报告{_STATUS['zh'][reason['status']]}"
        if reason.get("days_ago"):
            text += f"（{reason['days_ago']}个工作日前）"
        return text + (f"：“{_bare(reason['note'])}”" if reason.get("note") else "")
    if code == "no_answer":
        return f"{w.when(reason['asked_at'])}发出的进度询问尚未回复"
    if code == "progress":
        # The report's moment leads, so its weekday's brackets never sit inside others.
        return (f"{w.when(reason['at'])}报告已完成{reason['done']}%，"
                f"当时还剩{reason['time_left']}%的时间")
    if code == "track_record":
        whose = "团队" if reason["whose"] == "team" else owner
        track = _track_zh(reason, whose, w)
        return f"{owner}的记录还很少；{track}" if reason.get("newcomer") else track
    if code == "little_history_team":
        return f"{owner}只有{reason['count']}项已完成的承诺，记录太少，因此参考团队的记录"
    if code == "little_history":
        history = ("还没有记录" if reason["count"] == 0
                   else f"只有{reason['count']}项已完成的承诺")
        return f"{owner}{history}，团队的记录也不足；{_assume_zh(reason['slip_rate'], w)}"
    if code == "rough_guess":
        return f"{owner}和团队都还没有记录，这只是粗略估计"
    if code == "crowded":
        more = "，比平时多" if reason.get("unusual") else ""
        by, others = w.day(reason["by"]), reason["others"]
        when = "今天" if by == "今天" else f"{'在' if by[:1].isdigit() else ''}{by}前"
        return f"{owner}{when}还有另外{others}项承诺要交付{more}"
    if code == "short_window":
        return (f"提醒客户的时间很紧：{w.day(reason['made_at'])}做出承诺，"
                f"{w.day(reason['due_at'])}截止")
    if code == "moved":
        return f"截止日期已经改过一次，原定{w.day(reason['from'])}"
    return ""


def _zh_on(day: str) -> str:
    """'于11月13日（周五）' before a verb; a relative day (今天, 前天) stands alone."""
    return f"于{day}" if day[:1].isdigit() else day


def _assume_zh(rate: float, w: _Words) -> str:
    n = _one_in(rate)
    if n is not None:
        return f"我们假设每{w.number(n)}项承诺中有一项会延误"
    return f"我们假设{round(100 * rate)}%的承诺会延误"


def _track_zh(reason: Reason, whose: str, w: _Words) -> str:
    size, late = reason["count"], reason["late"]
    if size == 1:
        if late and reason.get("median_late_hours") is not None:
            return (f"{whose}唯一一项有记录的承诺晚了"
                    + w.span(reason["median_late_hours"], reason["hours_per_day"]))
        text = f"{whose}唯一一项有记录的承诺" + ("延误了" if late else "按时完成")
    elif late == 0:
        return f"{whose}最近{size}项承诺全部按时完成"
    else:
        text = f"{whose}最近{size}项承诺中有{late}项延误"
    if reason.get("broken"):
        text += f"（{reason['broken']}项未交付）"
    if reason.get("median_late_hours") is not None:
        by = "，晚了" if late == 1 else "，通常晚"
        text += by + w.span(reason["median_late_hours"], reason["hours_per_day"])
    return text


def _bare(note: str) -> str:
    """A person's note quoted inside a sentence: one line, no closing full stop."""
    return " ".join(str(note).split()).rstrip(".。;；")


_WRITERS: dict[str, Callable[[Reason, _Words], str]] = {"en": _en, "sv": _sv, "zh": _zh}


def moment_words(moment: datetime, locale: str, *, timezone: str, now: datetime) -> str:
    """A moment as the reader says it, the same way reasons do: 'today at 9:40 AM',
    'i tisdags kl. 09.00', '今天09:40'."""
    return _Words(locale if locale in _WRITERS else "en", timezone, now).when(moment.isoformat())


def reason_text(reason: Reason, locale: str, *, timezone: str, now: datetime) -> str:
    """One reason as a sentence without a closing full stop, in `locale` and the reader's
    `timezone`; days within a week of `now` are named by weekday."""
    return _WRITERS.get(locale, _en)(reason, _Words(locale if locale in _WRITERS else "en",
                                                    timezone, now))


def reason_texts(reasons: Iterable[Reason] | None, locale: str, *, timezone: str,
                 now: datetime) -> list[str]:
    """Every reason that has words in this version; unknown codes are left out."""
    texts = (reason_text(reason, locale, timezone=timezone, now=now)
             for reason in reasons or () if isinstance(reason, Mapping))
    return [text for text in texts if text]
