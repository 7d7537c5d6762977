"""The business calendar: business days, holidays, DST and the notice deadline."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from helpers import at
from hypothesis import given, settings
from hypothesis import strategies as st

from reliability import calendar as calendar_module
from reliability.calendar import BusinessCalendar, CalendarError, check_country

NEW_YORK = BusinessCalendar("America/New_York", "US")
STOCKHOLM = BusinessCalendar("Europe/Stockholm", "SE")
LONDON = BusinessCalendar("Europe/London", "GB")


def test_thanksgiving_is_not_a_business_day_in_the_us() -> None:
    assert NEW_YORK.holiday(date(2026, 11, 26)) == "Thanksgiving Day"
    assert not NEW_YORK.is_business_day(date(2026, 11, 26))
    assert NEW_YORK.next_business_day(date(2026, 11, 25)) == date(2026, 11, 27)


def test_notice_for_a_friday_promise_in_thanksgiving_week_is_due_on_tuesday() -> None:
    due = NEW_YORK.end_of(date(2026, 11, 27))
    assert NEW_YORK.notice_by(due, 2) == at("2026-11-24T17:00-05:00")


def test_notice_for_a_friday_promise_is_due_on_wednesday() -> None:
    due = at("2026-11-20T17:00-05:00")
    assert NEW_YORK.notice_by(due, 2) == at("2026-11-18T17:00-05:00")


def test_notice_time_never_falls_after_the_end_of_the_business_day() -> None:
    due = at("2026-11-20T23:30-05:00")
    assert NEW_YORK.notice_by(due, 2) == at("2026-11-18T17:00-05:00")


def test_independence_day_observed_on_friday_3_july_2026() -> None:
    assert not NEW_YORK.is_business_day(date(2026, 7, 3))
    assert NEW_YORK.last_business_day_of_week(date(2026, 6, 29)) == date(2026, 7, 2)
    assert NEW_YORK.notice_by(NEW_YORK.end_of(date(2026, 7, 6)), 2) == NEW_YORK.end_of(
        date(2026, 7, 1)
    )


def test_epiphany_2027_closes_sweden_but_not_the_us() -> None:
    assert not STOCKHOLM.is_business_day(date(2027, 1, 6))
    assert NEW_YORK.is_business_day(date(2027, 1, 6))
    assert STOCKHOLM.add_business_days(date(2027, 1, 5), 1) == date(2027, 1, 7)


def test_christmas_and_boxing_day_observed_in_britain_2026() -> None:
    assert not LONDON.is_business_day(date(2026, 12, 25))
    assert not LONDON.is_business_day(date(2026, 12, 28))  # Boxing Day falls on a Saturday
    assert LONDON.add_business_days(date(2026, 12, 24), 1) == date(2026, 12, 29)


def test_weekends_are_skipped_both_ways() -> None:
    friday = date(2026, 11, 20)
    assert NEW_YORK.add_business_days(friday, 1) == date(2026, 11, 23)
    assert NEW_YORK.add_business_days(date(2026, 11, 23), -1) == friday
    assert NEW_YORK.add_business_days(friday, 0) == friday
    assert NEW_YORK.previous_business_day(date(2026, 11, 22)) == friday
    assert NEW_YORK.next_business_day(date(2026, 11, 21), inclusive=True) == date(2026, 11, 23)


def test_last_business_day_of_week_month_and_quarter() -> None:
    assert NEW_YORK.last_business_day_of_week(date(2026, 11, 23)) == date(2026, 11, 27)
    assert STOCKHOLM.last_business_day_of_month(date(2026, 10, 5)) == date(2026, 10, 30)
    assert NEW_YORK.last_business_day_of_month(date(2026, 5, 1)) == date(2026, 5, 29)
    assert NEW_YORK.last_business_day_of_quarter(date(2026, 11, 2)) == date(2026, 12, 31)
    assert STOCKHOLM.last_business_day_of_quarter(date(2027, 2, 2)) == date(2027, 3, 31)


def test_business_days_between_counts_what_lies_after_the_start() -> None:
    wednesday_morning = at("2026-11-18T09:00-05:00")
    friday = at("2026-11-20T17:00-05:00")
    assert NEW_YORK.business_days_between(wednesday_morning, friday) == 2
    assert NEW_YORK.business_days_between(friday, wednesday_morning) == -2
    assert NEW_YORK.business_days_between(at("2026-11-25T09:00-05:00"),
                                          at("2026-11-30T09:00-05:00")) == 2


def test_end_of_day_is_local_across_the_us_dst_change() -> None:
    before, after = NEW_YORK.end_of(date(2026, 10, 30)), NEW_YORK.end_of(date(2026, 11, 2))
    assert before.utcoffset() == timedelta(hours=-4)
    assert after.utcoffset() == timedelta(hours=-5)
    assert (before.hour, after.hour) == (17, 17)
    assert NEW_YORK.notice_by(after, 2) == at("2026-10-29T17:00-04:00")


def test_notice_deadline_across_the_swedish_spring_change_and_easter() -> None:
    due = STOCKHOLM.end_of(date(2027, 3, 30))
    assert due == at("2027-03-30T17:00+02:00")
    # Easter Monday 29 and Good Friday 26 March are closed; summer time starts on the 28th.
    assert STOCKHOLM.notice_by(due, 2) == at("2027-03-24T17:00+01:00")


def test_a_wall_clock_time_inside_the_dst_gap_becomes_a_real_instant() -> None:
    moment = NEW_YORK.at(date(2027, 3, 14), time(2, 30))
    assert moment.hour == 3 and moment.utcoffset() == timedelta(hours=-4)


def test_the_repeated_hour_of_a_dst_fold_keeps_both_of_its_moments() -> None:
    calendar = BusinessCalendar("America/New_York", "US", start_of_day=time(0),
                                end_of_day=time(23, 59))
    # 01:30 happens twice on 1 November 2026: first at -04:00, then at -05:00.
    # (Compared in UTC: Python never finds a moment inside a fold equal to one in another zone.)
    first, second = at("2026-11-01T05:30Z"), at("2026-11-01T06:30Z")
    assert calendar.notice_by(first, 0).astimezone(UTC) == first
    assert calendar.notice_by(second, 0).astimezone(UTC) == second


def test_business_hours_count_only_open_time() -> None:
    wednesday_3pm = at("2026-11-25T15:00-05:00")
    # 2 hours Wednesday, Thanksgiving skipped, 2 hours Friday morning.
    assert NEW_YORK.add_business_hours(wednesday_3pm, 4) == at("2026-11-27T11:00-05:00")
    assert NEW_YORK.add_business_hours(at("2026-11-18T17:00-05:00"), -4) == at(
        "2026-11-18T13:00-05:00"
    )


def test_a_whole_business_day_ends_at_closing_and_going_back_one_starts_at_opening() -> None:
    assert NEW_YORK.add_business_hours(at("2026-11-24T09:00-05:00"), 8) == at(
        "2026-11-24T17:00-05:00"
    )
    assert NEW_YORK.add_business_hours(at("2026-11-24T17:00-05:00"), -8) == at(
        "2026-11-24T09:00-05:00"
    )
    # From Friday's close, 16 business hours skip the weekend and end Tuesday at closing.
    assert NEW_YORK.add_business_hours(at("2026-11-20T17:00-05:00"), 16) == at(
        "2026-11-24T17:00-05:00"
    )


@settings(max_examples=400, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC)),
    hours=st.floats(min_value=-400, max_value=400).map(lambda h: round(h, 2)),
    calendar=st.sampled_from([NEW_YORK, STOCKHOLM, LONDON]),
)
def test_adding_business_hours_is_undone_by_counting_them(
    moment: datetime, hours: float, calendar: BusinessCalendar
) -> None:
    """Across weekends, holidays and DST changes the two agree, and the result is open time."""
    moved = calendar.add_business_hours(moment, hours)
    assert calendar.business_hours(moment, moved) == pytest.approx(hours, abs=1e-6)
    local = calendar.local(moved)
    assert calendar.is_business_day(local.date())
    assert calendar.start_of_day <= local.time().replace(tzinfo=None) <= calendar.end_of_day


def test_next_business_morning_skips_the_weekend() -> None:
    assert NEW_YORK.next_business_morning(at("2026-11-20T10:00-05:00")) == at(
        "2026-11-23T09:00-05:00"
    )
    assert NEW_YORK.next_business_morning(at("2026-11-23T07:00-05:00")) == at(
        "2026-11-23T09:00-05:00"
    )


def test_configured_closures_count_as_holidays() -> None:
    calendar = BusinessCalendar("Europe/Stockholm", "SE", closures=frozenset({date(2026, 11, 24)}))
    assert not calendar.is_business_day(date(2026, 11, 24))
    assert calendar.add_business_days(date(2026, 11, 23), 1) == date(2026, 11, 25)


def test_without_a_country_only_weekends_are_closed() -> None:
    calendar = BusinessCalendar("UTC")
    assert calendar.is_business_day(date(2026, 12, 25))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BusinessCalendar("Mars/Olympus"), "unknown timezone 'Mars/Olympus'"),
        (lambda: BusinessCalendar("UTC", "ZZ"), "unknown country 'ZZ'"),
        (lambda: BusinessCalendar("UTC", None, time(18), time(9)), "must start before it ends"),
    ],
)
def test_a_calendar_that_cannot_exist_is_refused_with_a_reason(build, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        build()


def test_country_codes_are_normalised() -> None:
    assert check_country("se") == "SE"
    assert check_country("us-ca") == "US-CA"


CALENDARS = [NEW_YORK, STOCKHOLM, LONDON,
             BusinessCalendar("Asia/Shanghai", "CN", closures=frozenset({date(2026, 12, 28)}))]


@settings(deadline=None)  # the first examples load a country's holidays for a year
@given(st.sampled_from(CALENDARS), st.dates(date(2025, 1, 1), date(2028, 12, 31)),
       st.integers(0, 900))
def test_counting_business_days_agrees_with_walking_them(calendar: BusinessCalendar,
                                                         start: date, length: int) -> None:
    end = start + timedelta(days=length)
    assert calendar.count_business_days(start, end) == len(calendar.business_days(start, end))


def _walked_hours(calendar: BusinessCalendar, start, end) -> float:
    """Open hours the slow way, a minute at a time, for the property below."""
    minutes, moment = 0, start
    while moment < end:
        minutes += calendar.is_open(moment)
        moment += timedelta(minutes=1)
    return minutes / 60


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CALENDARS[:2]), st.integers(0, 60 * 24 * 12), st.integers(0, 60 * 24 * 9))
def test_business_hours_agree_with_counting_open_minutes(calendar: BusinessCalendar,
                                                         offset: int, length: int) -> None:
    start = calendar.at(date(2026, 11, 16), time(0)) + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)
    assert calendar.business_hours(start, end) == pytest.approx(_walked_hours(calendar, start,
                                                                               end))
    assert calendar.business_hours(end, start) == pytest.approx(-calendar.business_hours(start,
                                                                                          end))


def _open_hours(calendar: BusinessCalendar, day: date, low: time, high: time) -> float:
    """A business day's open hours between two clock times, worked out afresh."""
    if not calendar.is_business_day(day):
        return 0.0
    start, end = max(low, calendar.start_of_day), min(high, calendar.end_of_day)
    seconds = ((end.hour - start.hour) * 3600 + (end.minute - start.minute) * 60
               + (end.second - start.second) + (end.microsecond - start.microsecond) / 1e6)
    return max(seconds / 3600, 0.0)


def _hours_by_counting(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Open hours as business_hours worked them out before it remembered anything: the open
    hours of the first and last day and the days between counted afresh every time."""
    if end < start:
        return -_hours_by_counting(calendar, end, start)
    first, last = calendar.local(start), calendar.local(end)
    if first.date() == last.date():
        return _open_hours(calendar, first.date(), first.time(), last.time())
    middle = calendar.count_business_days(first.date() + timedelta(days=1),
                                          last.date() - timedelta(days=1))
    return (_open_hours(calendar, first.date(), first.time(), calendar.end_of_day)
            + middle * calendar.hours_per_day
            + _open_hours(calendar, last.date(), calendar.start_of_day, last.time()))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS),
       st.lists(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                             timezones=st.just(UTC)), min_size=2, max_size=8))
def test_numbered_days_count_what_counting_them_afresh_counts(calendar: BusinessCalendar,
                                                               moments: list[datetime]) -> None:
    """Days are numbered from whichever one a calendar is first asked about, later or earlier
    than the next, and the open hours of clock times are remembered: the hours and days
    between two moments come out the same to the bit."""
    fresh = BusinessCalendar(calendar.timezone, calendar.country, closures=calendar.closures)
    for start, end in pairwise(moments):
        assert fresh.business_hours(start, end) == _hours_by_counting(calendar, start, end)
        first, last = calendar.local(start).date(), calendar.local(end).date()
        counted = (calendar.count_business_days(first + timedelta(days=1), last) if first <= last
                   else -calendar.count_business_days(last + timedelta(days=1), first))
        assert fresh.business_days_between(start, end) == counted


def test_a_calendar_remembers_a_bounded_number_of_clock_spans_and_still_counts_right(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendar_module, "SPANS_KEPT", 3)
    fresh = BusinessCalendar("Europe/Stockholm", "SE")
    start = at("2026-11-16T08:00+01:00")
    for minutes in range(0, 60 * 24 * 5, 37):
        end = start + timedelta(minutes=minutes, seconds=minutes % 7)
        assert fresh.business_hours(start, end) == _hours_by_counting(STOCKHOLM, start, end)
        assert len(fresh._spans) <= 3
