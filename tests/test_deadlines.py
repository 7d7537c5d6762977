"""The deadline resolver, as the person capturing a promise sees it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from deadline_corpus import CONTEXTS, CORPUS, Case
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from reliability.calendar import BusinessCalendar
from reliability.deadline_grammar import EN_MONTHS, EN_WEEKDAYS, SV_MONTHS, SV_WEEKDAYS
from reliability.deadlines import DeadlineError, Resolution, resolve, resolve_due, warm

# words a title may lose: the particles that tie a deadline or a client to the sentence
CONNECTIVES = frozenset({"by", "on", "at", "due", "before", "until", "till", "senast", "på",
                         "innan", "före", "kl", "den", "在", "于", "前", "的", "给"})  # fmt: skip
DATE_WORDS = frozenset({*EN_WEEKDAYS, *SV_WEEKDAYS, *EN_MONTHS, *SV_MONTHS, "afternoon",
                        "evening", "morning", "tonight", "eftermiddag", "kväll", "tomorrow",
                        "imorgon", "today", "idag"})  # fmt: skip
NEW_YORK = BusinessCalendar(timezone="America/New_York", country="US")
STOCKHOLM = BusinessCalendar(timezone="Europe/Stockholm", country="SE")
SHANGHAI = BusinessCalendar(timezone="Asia/Shanghai", country="CN")


def at(calendar: BusinessCalendar, wall: str) -> datetime:
    return datetime.fromisoformat(wall).replace(tzinfo=calendar.tz)


MONDAY = at(NEW_YORK, "2026-11-23 09:30")  # Thanksgiving week; Thu 26 Nov is a holiday


def ny(text: str, now: datetime = MONDAY, **options: object) -> Resolution:
    return resolve(text, now=now, calendar=NEW_YORK, **options)  # type: ignore[arg-type]


def wall(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M")


# -- the corpus ----------------------------------------------------------------------------


def _seen(case: Case, resolution: Resolution) -> str:
    if "T" in case.expect:
        shown = resolution.due_at.isoformat(timespec="minutes")
    else:
        shown = resolution.due_at.strftime("%Y-%m-%d %H:%M")
    return ("~" if resolution.ambiguous else "") + shown


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c.context}:{c.text}" for c in CORPUS])
def test_corpus_phrase_resolves_to_the_moment_a_colleague_would_read(case: Case) -> None:
    context = CONTEXTS[case.context]
    calendar = BusinessCalendar(timezone=context.timezone, country=context.country)
    now = at(calendar, context.now)
    if case.expect == "!":
        with pytest.raises(DeadlineError):
            resolve(case.text, now=now, calendar=calendar, locale=case.locale)
        return
    resolution = resolve(case.text, now=now, calendar=calendar, locale=case.locale)
    assert (_seen(case, resolution), resolution.title) == (case.expect, case.title)
    assert resolution.due_at.tzinfo is not None
    assert resolution.due_at.utcoffset() == calendar.local(resolution.due_at).utcoffset()
    assert resolution.due_at > now


def test_corpus_covers_at_least_400_phrases_in_three_languages() -> None:
    locales = {resolve_locale(case) for case in CORPUS if case.expect != "!"}
    assert len(CORPUS) >= 400
    assert locales == {"en", "sv", "zh"}


RESOLVED = [case for case in CORPUS if case.expect != "!"]
REFUSED = [case for case in CORPUS if case.expect == "!"]


def _resolve_case(case: Case) -> Resolution:
    context = CONTEXTS[case.context]
    calendar = BusinessCalendar(timezone=context.timezone, country=context.country)
    return resolve(case.text, now=at(calendar, context.now), calendar=calendar,
                   locale=case.locale)  # fmt: skip


@pytest.mark.parametrize("case", RESOLVED, ids=[f"{c.context}:{c.text}" for c in RESOLVED])
def test_no_word_of_a_resolved_phrase_is_ignored(case: Case) -> None:
    """Each word is read as deadline (inside `matched`) or kept in the title, never dropped;
    and what stays in the title holds no date or time word."""
    resolution = _resolve_case(case)
    for word in re.findall(r"[\u4e00-\u9fff]|[^\W_\u4e00-\u9fff]+", case.text):
        assert word in resolution.matched or word in resolution.title or word in CONNECTIVES, word
    assert not set(re.findall(r"[^\W\d_]+", resolution.title.lower())) & DATE_WORDS


@pytest.mark.parametrize("case", REFUSED, ids=[f"{c.context}:{c.text}" for c in REFUSED])
def test_every_refusal_says_what_would_work(case: Case) -> None:
    with pytest.raises(DeadlineError) as refused:
        _resolve_case(case)
    assert re.search(r"Try |e\.g\.|Say which", str(refused.value)), str(refused.value)


def resolve_locale(case: Case) -> str:
    context = CONTEXTS[case.context]
    calendar = BusinessCalendar(timezone=context.timezone, country=context.country)
    return resolve(case.text, now=at(calendar, context.now), calendar=calendar).locale


# -- the shape others rely on ----------------------------------------------------------------


def test_known_client_is_taken_out_of_the_title() -> None:
    resolution = ny("Q3 report for Acme by Friday", client_names=["Acme", "Globex"])
    assert (resolution.title, resolution.client, resolution.client_hint) == (
        "Q3 report", "Acme", None,
    )  # fmt: skip
    assert resolution.matched == "by Friday"
    assert "Q3 report for Acme by Friday"[slice(*resolution.span)] == "by Friday"


def test_unknown_client_stays_in_the_title_and_comes_back_as_a_hint() -> None:
    resolution = ny("Q3 report for Acme by Friday")
    assert (resolution.title, resolution.client, resolution.client_hint) == (
        "Q3 report for Acme", None, "Acme",
    )  # fmt: skip


def test_client_is_recognised_in_any_case_and_returned_in_its_canonical_spelling() -> None:
    assert ny("deck for ACME corp by Friday", client_names=["Acme Corp"]).client == "Acme Corp"


def test_chinese_promise_yields_client_and_title() -> None:
    resolution = resolve("周五前给Acme发Q3报告", now=at(SHANGHAI, "2026-11-23 09:30"),
                         calendar=SHANGHAI, client_names=["Acme"])  # fmt: skip
    assert (resolution.title, resolution.client, resolution.locale) == ("发Q3报告", "Acme", "zh")
    assert wall(resolution.due_at) == "Fri 2026-11-27 17:00"


def test_swedish_promise_yields_client_hint_after_at() -> None:
    resolution = resolve("skicka offerten åt Globex senast torsdag",
                         now=at(STOCKHOLM, "2026-11-23 09:30"), calendar=STOCKHOLM)  # fmt: skip
    assert (resolution.title, resolution.client_hint, resolution.locale) == (
        "skicka offerten åt Globex", "Globex", "sv",
    )  # fmt: skip


def test_to_json_carries_offsets_and_the_echo() -> None:
    payload = ny("report by next Friday").to_json()
    assert payload == {
        "due_at": "2026-12-04T17:00:00-05:00",
        "matched": "by next Friday",
        "title": "report",
        "client": None,
        "ambiguous": True,
        "alternatives": ["2026-11-27T17:00:00-05:00"],
        "echo": "Fri 4 Dec, 17:00 (America/New_York)",
    }


def test_echo_names_the_year_only_when_it_is_not_this_year() -> None:
    assert ny("Jan 15").echo == "Fri 15 Jan 2027, 17:00 (America/New_York)"


def test_locale_hint_wins_over_detection() -> None:
    assert ny("Friday", locale="en-US").locale == "en"
    with pytest.raises(DeadlineError, match="unknown language"):
        ny("Friday", locale="fr")


def test_english_words_are_understood_even_with_a_swedish_client_locale() -> None:
    resolution = ny("Q3 report by Friday", locale="sv")
    assert (wall(resolution.due_at), resolution.locale) == ("Fri 2026-11-27 17:00", "en")


def test_resolution_depends_on_now_not_on_the_wall_clock() -> None:
    with freeze_time("2031-06-01 12:00:00"):
        assert wall(ny("tomorrow").due_at) == "Tue 2026-11-24 17:00"


def test_warm_loads_everything_without_changing_results() -> None:
    warm()
    assert wall(ny("12/4").due_at) == "Fri 2026-12-04 17:00"


# -- resolve_due --------------------------------------------------------------------------------


def test_due_option_keeps_the_instant_of_an_iso_datetime_with_offset() -> None:
    due = resolve_due("2026-11-27T23:00+01:00", now=MONDAY, calendar=NEW_YORK)
    assert due.isoformat() == "2026-11-27T17:00:00-05:00"
    assert due.tzinfo == NEW_YORK.tz


def test_due_option_reads_a_naive_iso_datetime_in_the_client_timezone() -> None:
    due = resolve_due("2026-11-27T15:00", now=MONDAY, calendar=NEW_YORK)
    assert due.isoformat() == "2026-11-27T15:00:00-05:00"


def test_due_option_accepts_deadline_words() -> None:
    assert wall(resolve_due("next business day", now=MONDAY, calendar=NEW_YORK)) == (
        "Tue 2026-11-24 17:00"
    )


def test_due_option_refuses_words_that_are_not_a_deadline() -> None:
    with pytest.raises(DeadlineError, match="'Q3 report' is not part of a deadline"):
        resolve_due("Q3 report by Friday", now=MONDAY, calendar=NEW_YORK)


def test_due_option_refuses_an_iso_moment_in_the_past() -> None:
    with pytest.raises(DeadlineError, match="in the past"):
        resolve_due("2026-11-23T09:00-05:00", now=MONDAY, calendar=NEW_YORK)


# -- the conventions in docs/deadlines.md, one by one ------------------------------------------


def test_1_the_same_words_mean_the_clients_own_end_of_day() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    new_york = resolve("Friday", now=now, calendar=NEW_YORK).due_at
    shanghai = resolve("Friday", now=now, calendar=SHANGHAI).due_at
    assert (new_york.isoformat(), shanghai.isoformat()) == (
        "2026-11-27T17:00:00-05:00", "2026-11-27T17:00:00+08:00",
    )  # fmt: skip


def test_2_a_day_without_a_time_ends_when_the_clients_business_day_ends() -> None:
    late_team = BusinessCalendar(timezone="America/New_York", country="US", end_of_day=time(18))
    due = resolve("Friday", now=MONDAY, calendar=late_team).due_at
    assert wall(due) == "Fri 2026-11-27 18:00"


def test_3_a_bare_weekday_means_today_until_the_close_and_next_week_after_it() -> None:
    friday_morning = at(NEW_YORK, "2026-11-27 09:00")
    friday_evening = at(NEW_YORK, "2026-11-27 17:01")
    assert wall(ny("by Friday", friday_morning).due_at) == "Fri 2026-11-27 17:00"
    assert wall(ny("by Friday", friday_evening).due_at) == "Fri 2026-12-04 17:00"


def test_3_bare_weekdays_in_swedish_and_chinese() -> None:
    now = at(STOCKHOLM, "2026-11-23 09:30")
    for phrase in ("fredag", "på fredag", "senast fredag"):
        assert wall(resolve(phrase, now=now, calendar=STOCKHOLM).due_at) == "Fri 2026-11-27 17:00"
    now = at(SHANGHAI, "2026-11-23 09:30")
    for phrase in ("周五", "星期五", "礼拜五", "周五前"):
        assert wall(resolve(phrase, now=now, calendar=SHANGHAI).due_at) == "Fri 2026-11-27 17:00"


def test_4_this_weekday_that_has_passed_is_refused_with_a_way_forward() -> None:
    wednesday = at(NEW_YORK, "2026-11-25 10:00")
    with pytest.raises(DeadlineError) as refused:
        ny("this Monday", wednesday)
    assert "earlier this week" in str(refused.value)
    assert "next Monday" in str(refused.value)


def test_5_next_weekday_is_next_week_and_offers_the_nearer_day() -> None:
    resolution = ny("next Friday")
    assert wall(resolution.due_at) == "Fri 2026-12-04 17:00"
    assert resolution.ambiguous
    assert [wall(a) for a in resolution.alternatives] == ["Fri 2026-11-27 17:00"]


def test_6_today_tomorrow_and_the_day_after() -> None:
    assert wall(ny("EOD").due_at) == "Mon 2026-11-23 17:00"
    assert wall(ny("tomorrow").due_at) == "Tue 2026-11-24 17:00"
    assert wall(ny("day after tomorrow").due_at) == "Wed 2026-11-25 17:00"


def test_6_end_of_day_after_the_close_is_in_the_past() -> None:
    with pytest.raises(DeadlineError, match="in the past"):
        ny("COB", at(NEW_YORK, "2026-11-23 17:30"))


def test_7_end_of_week_stops_at_the_last_business_day_before_a_holiday() -> None:
    july = at(NEW_YORK, "2026-07-01 10:00")  # Fri 3 Jul 2026: Independence Day observed
    assert wall(ny("end of week", july).due_at) == "Thu 2026-07-02 17:00"
    assert wall(ny("end of next week", july).due_at) == "Fri 2026-07-10 17:00"


def test_8_end_of_month_and_quarter_are_business_days() -> None:
    january = at(NEW_YORK, "2026-01-05 10:00")  # 31 Jan 2026 is a Saturday
    assert wall(ny("end of month", january).due_at) == "Fri 2026-01-30 17:00"
    assert wall(ny("EOQ", january).due_at) == "Tue 2026-03-31 17:00"


def test_9_counted_days_weeks_and_hours_in_digits_or_words() -> None:
    assert wall(ny("in two days").due_at) == "Wed 2026-11-25 17:00"
    assert wall(ny("in 2 weeks").due_at) == "Mon 2026-12-07 17:00"
    assert wall(ny("in 3 hours").due_at) == "Mon 2026-11-23 12:30"
    now = at(STOCKHOLM, "2026-11-23 09:30")
    assert wall(resolve("om två dagar", now=now, calendar=STOCKHOLM).due_at) == (
        "Wed 2026-11-25 17:00"
    )


def test_10_business_days_skip_weekends_and_the_clients_holidays() -> None:
    assert wall(ny("in 3 business days").due_at) == "Fri 2026-11-27 17:00"
    stockholm = resolve("in 3 business days", now=at(STOCKHOLM, "2026-11-23 09:30"),
                        calendar=STOCKHOLM)  # fmt: skip
    assert wall(stockholm.due_at) == "Thu 2026-11-26 17:00"


def test_11_a_month_and_day_already_past_means_next_year() -> None:
    assert wall(ny("Nov 19").due_at) == "Fri 2027-11-19 17:00"


def test_11_a_full_date_in_the_past_is_refused() -> None:
    with pytest.raises(DeadlineError, match="in the past"):
        ny("Nov 19 2026")


def test_11_an_impossible_date_says_why() -> None:
    with pytest.raises(DeadlineError, match="not a real date"):
        ny("February 30")


def test_12_a_time_alone_is_today_while_ahead_and_tomorrow_after() -> None:
    assert wall(ny("3pm").due_at) == "Mon 2026-11-23 15:00"
    assert wall(ny("9am").due_at) == "Tue 2026-11-24 09:00"


def test_12_a_bare_hour_takes_the_business_hours_reading() -> None:
    now = at(SHANGHAI, "2026-11-23 09:30")
    assert wall(resolve("3点", now=now, calendar=SHANGHAI).due_at) == "Mon 2026-11-23 15:00"
    evening = resolve("周五8点", now=now, calendar=SHANGHAI)
    assert evening.ambiguous
    assert [wall(a) for a in evening.alternatives] == ["Fri 2026-11-27 20:00"]


def test_12_day_and_time_far_apart_are_refused() -> None:
    with pytest.raises(DeadlineError, match="together"):
        ny("Friday deck for the board at 3pm")


@pytest.mark.parametrize(
    "phrase", ["Fryday", "fradag", "yesterday", "last Friday", "igår", "昨天", "上周五", "soon",
               "ASAP", "later", "snart", "尽快", "February 30", "in -2 days"],
)  # fmt: skip
def test_13_never_guess(phrase: str) -> None:
    with pytest.raises(DeadlineError) as refused:
        ny(phrase)
    message = str(refused.value)
    assert "Try" in message
    assert message.count("'") >= 6  # what was understood, and example phrases


def test_13_a_typo_names_what_it_looks_like() -> None:
    with pytest.raises(DeadlineError, match="'Fryday' is not a day or month I know"):
        ny("report by Fryday")


def test_13_a_typo_next_to_a_real_time_is_not_ignored() -> None:
    with pytest.raises(DeadlineError, match="Fryday"):
        ny("Fryday 3pm")


def test_13_examples_come_in_the_language_of_the_promise() -> None:
    with pytest.raises(DeadlineError, match="senast fredag"):
        resolve("snart", now=MONDAY, calendar=STOCKHOLM)
    with pytest.raises(DeadlineError, match="周五前"):
        resolve("尽快", now=MONDAY, calendar=SHANGHAI)


def test_no_deadline_words_is_an_error() -> None:
    with pytest.raises(DeadlineError, match="no deadline"):
        ny("Q3 report for Acme")


def test_two_deadlines_are_an_error() -> None:
    with pytest.raises(DeadlineError, match="more than one deadline"):
        ny("Friday or Monday")


# -- a day that is not a business day -----------------------------------------------------------


def test_a_promise_landing_on_a_holiday_keeps_the_day_and_offers_both_neighbours() -> None:
    resolution = ny("in 3 days")  # Thanksgiving
    assert wall(resolution.due_at) == "Thu 2026-11-26 17:00"
    assert resolution.ambiguous
    assert [wall(a) for a in resolution.alternatives] == [
        "Wed 2026-11-25 17:00", "Fri 2026-11-27 17:00",
    ]  # fmt: skip
    assert resolution.echo.endswith("Thanksgiving Day (US), not a business day")


def test_a_promise_landing_on_a_weekend_says_so_in_the_echo() -> None:
    friday = at(NEW_YORK, "2026-11-27 10:00")
    resolution = ny("tomorrow", friday)
    assert resolution.echo == (
        "Sat 28 Nov, 17:00 (America/New_York) - Saturday, not a business day"
    )
    assert [wall(a) for a in resolution.alternatives] == [
        "Fri 2026-11-27 17:00", "Mon 2026-11-30 17:00",
    ]  # fmt: skip


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
    n=st.integers(min_value=1, max_value=30),
)
def test_business_day_counts_always_land_on_an_open_day_after_now(
    day: date, minutes: int, n: int
) -> None:
    now = NEW_YORK.at(day, time()) + timedelta(minutes=minutes)
    due = ny(f"in {n} business days", now).due_at
    assert NEW_YORK.is_business_day(due.date())
    assert NEW_YORK.business_days_between(now, due) == n


def test_a_chinese_title_loses_the_client_and_its_particle() -> None:
    shanghai = BusinessCalendar("Asia/Shanghai", "CN")
    found = resolve("给华信咨询的市场分析 周五前", now=datetime.fromisoformat(
        "2026-11-16T09:00+08:00"), calendar=shanghai, client_names=["华信咨询"])
    assert (found.title, found.client) == ("市场分析", "华信咨询")


# -- never a silent misreading (issue 18) ------------------------------------------------------

FRIDAY_ELEVENTH = "Fri 2026-12-11 17:00"


def capture(text: str, calendar: BusinessCalendar = NEW_YORK) -> Resolution:
    now = at(calendar, "2026-11-23 09:30")
    return resolve(text, now=now, calendar=calendar, client_names=["Acme", "华信"])


@pytest.mark.parametrize(
    ("sentence", "calendar", "title", "client"),
    [
        ("Audit for Acme by Friday 11th", NEW_YORK, "Audit", "Acme"),
        ("Audit for Acme by Friday the 11th", NEW_YORK, "Audit", "Acme"),
        ("Audit for Acme by Fri 11 Dec", NEW_YORK, "Audit", "Acme"),
        ("revisionen till Acme senast fredag den 11:e", STOCKHOLM, "revisionen", "Acme"),
        ("revisionen till Acme senast fredagen den 11:e", STOCKHOLM, "revisionen", "Acme"),
        ("给华信的审计 12月11日（周五）前", SHANGHAI, "审计", "华信"),
        ("给华信的审计 周五12月11日前", SHANGHAI, "审计", "华信"),
        ("给华信的审计 12月11日周五", SHANGHAI, "审计", "华信"),
        ("给华信的审计 12月11号(星期五)之前", SHANGHAI, "审计", "华信"),
    ],
)  # fmt: skip
def test_a_weekday_with_its_date_keeps_the_title_and_resolves_to_that_day(
    sentence: str, calendar: BusinessCalendar, title: str, client: str
) -> None:
    found = capture(sentence, calendar)
    assert (found.title, found.client, wall(found.due_at)) == (title, client, FRIDAY_ELEVENTH)
    assert not found.ambiguous


@pytest.mark.parametrize(
    ("sentence", "calendar"),
    [
        ("Audit for Acme by Friday 12th", NEW_YORK),
        ("revisionen till Acme senast fredag den 12:e", STOCKHOLM),
        ("给华信的审计 12月12日（周五）前", SHANGHAI),
        ("给华信的审计 周五12月12日前", SHANGHAI),
        ("给华信的审计 12月12日周五", SHANGHAI),
    ],
)  # fmt: skip
def test_a_weekday_and_a_date_that_disagree_is_an_error_naming_both_readings(
    sentence: str, calendar: BusinessCalendar
) -> None:
    with pytest.raises(DeadlineError) as refused:
        capture(sentence, calendar)
    message = str(refused.value)
    assert "Sat 12 Dec" in message and "Fri 11 Dec" in message


@pytest.mark.parametrize(
    ("sentence", "stray"),
    [
        ("Audit for Acme by Friday 11", "11"),
        ("Audit for Acme by Friday afternoon", "afternoon"),
        ("Audit for Acme by Friday evening", "evening"),
        ("Audit for Acme by tomorrow night", "night"),
        ("Audit for Acme by tomorrow 3", "3"),
    ],
)  # fmt: skip
def test_a_date_or_time_word_next_to_the_deadline_that_is_not_understood_is_an_error(
    sentence: str, stray: str
) -> None:
    with pytest.raises(DeadlineError) as refused:
        capture(sentence)
    assert f"'{stray}'" in str(refused.value)
    assert "e.g." in str(refused.value)


def test_words_outside_the_deadline_stay_in_the_title() -> None:
    found = capture("2nd draft of the 3 audit memos for Acme by Friday 11th")
    assert (found.title, wall(found.due_at)) == ("2nd draft of the 3 audit memos", FRIDAY_ELEVENTH)
    found = capture("给华信的第2版审计报告 周五12月11日前", SHANGHAI)
    assert (found.title, wall(found.due_at)) == ("第2版审计报告", FRIDAY_ELEVENTH)


def test_first_thing_is_a_time_only_beside_a_day_or_alone() -> None:
    found = capture("The first thing to fix for Acme by Friday")
    assert (found.title, wall(found.due_at)) == ("The first thing to fix", "Fri 2026-11-27 17:00")
    assert wall(capture("deck for Acme first thing Friday").due_at) == "Fri 2026-11-27 09:00"


def test_a_numeric_date_follows_the_calendar_countrys_order() -> None:
    assert wall(capture("11/12", STOCKHOLM).due_at) == FRIDAY_ELEVENTH
    assert wall(capture("12/11").due_at) == FRIDAY_ELEVENTH
    assert not capture("11/12", STOCKHOLM).ambiguous


def test_a_numeric_date_is_refused_where_the_order_is_unknown_and_both_readings_exist() -> None:
    nowhere = BusinessCalendar(timezone="America/Toronto", country="CA")
    with pytest.raises(DeadlineError) as refused:
        capture("11/12", nowhere)
    assert "11 Dec" in str(refused.value) and "12 Nov" in str(refused.value)
    assert wall(capture("25/12", nowhere).due_at).startswith("Fri 2026-12-25")
