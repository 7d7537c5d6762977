"""Risk assessment: the slip is seen on Wednesday, with reasons and a probability."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import history

from reliability.calendar import BusinessCalendar
from reliability.config import PolicySettings
from reliability.drafting.reasons import reason_texts
from reliability.risk import (
    CheckInFact,
    OpenLoad,
    PastPromise,
    Policy,
    PromiseFacts,
    Record,
    RiskAssessment,
    assess,
)

NEW_YORK = ZoneInfo("America/New_York")
ACME = BusinessCalendar(
    timezone="America/New_York", country="US", start_of_day=time(9), end_of_day=time(17)
)
AD_DATA = "waiting on the ad account data"


def ny(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in November 2026, New York time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK)


Q3_REPORT = PromiseFacts(
    id=1,
    title="Q3 report",
    owner="alice@agency.example",
    owner_name="Alice",
    made_at=ny(16),
    due_at=ny(20, 17),
    original_due_at=ny(20, 17),
)
ASKED_TUESDAY = replace(Q3_REPORT, checkin_requested_at=ny(17))
AT_RISK_TUESDAY = replace(
    ASKED_TUESDAY, checkins=(CheckInFact(at=ny(17, 9, 20), status="at_risk", note=AD_DATA),)
)
RELIABLE = history(late=1, total=10)
UNRELIABLE = history(late=4, total=5)


def run(
    promise: PromiseFacts,
    now: datetime,
    owner_history: list[PastPromise] | Record = RELIABLE,
    team_history: list[PastPromise] | Record | None = None,
    open_load: tuple[OpenLoad, ...] = (),
    policy: Policy = Policy(),
    calendar: BusinessCalendar = ACME,
) -> RiskAssessment:
    return assess(
        promise,
        now=now,
        calendar=calendar,
        owner_history=owner_history,
        team_history=team_history or [],
        open_load=open_load,
        policy=policy,
    )


def said(assessment: RiskAssessment, now: datetime, locale: str = "en") -> list[str]:
    """The reasons as a New York manager reads them at `now`."""
    return reason_texts(assessment.reasons, locale, timezone="America/New_York", now=now)


def progress_report(promise: PromiseFacts, percent: int, at: datetime) -> PromiseFacts:
    return replace(
        promise, checkins=(CheckInFact(at=at, status="on_track", progress=percent, note=None),)
    )


# -- the acceptance story ----------------------------------------------------------------


def test_delay_notice_is_due_on_wednesday_for_a_friday_promise_reported_at_risk() -> None:
    assessment = run(AT_RISK_TUESDAY, now=ny(18))
    assert assessment.level == "at_risk"
    assert "Alice reported it at risk yesterday: “waiting on the ad account data”" in (
        said(assessment, ny(18))
    )
    assert assessment.notice_by == ny(18, 17)
    assert assessment.notice_by.utcoffset() == timedelta(hours=-5)
    assert assessment.next_action == "delay_notice"


def test_a_new_promise_from_a_reliable_owner_is_not_at_risk_on_monday() -> None:
    assessment = run(AT_RISK_TUESDAY, now=ny(16))
    assert assessment.level in ("on_track", "watch")
    assert assessment.next_action == "none"
    assert assessment.evidence == "owner"
    assert "One of Alice's last ten promises was late, by 1 business day" in (
        said(assessment, ny(16)))


def test_silence_and_a_late_record_put_the_promise_at_risk_by_wednesday_morning() -> None:
    assessment = run(ASKED_TUESDAY, now=ny(18), owner_history=UNRELIABLE)
    assert assessment.level == "at_risk"
    assert assessment.next_action == "delay_notice"
    assert "No answer yet to the check-in request sent yesterday at 9:00 AM" in (
        said(assessment, ny(18)))
    assert "Four of Alice's last five promises were late, typically by 1 business day" in (
        said(assessment, ny(18))
    )


def test_an_unanswered_check_in_counts_only_from_the_next_business_morning() -> None:
    same_day = run(ASKED_TUESDAY, now=ny(17, 16))
    next_morning = run(ASKED_TUESDAY, now=ny(18))
    assert not any(reason["code"] == "no_answer" for reason in same_day.reasons)
    never_asked = run(Q3_REPORT, now=ny(18))
    asked = ny(17).astimezone(UTC).isoformat()
    assert {"code": "no_answer", "asked_at": asked} in next_morning.reasons
    assert next_morning.p_late > never_asked.p_late
    assert run(ASKED_TUESDAY, now=ny(17, 16)).p_late == run(Q3_REPORT, now=ny(17, 16)).p_late


def test_a_thursday_promise_for_friday_is_flagged_at_once_with_a_short_window() -> None:
    rushed = replace(Q3_REPORT, made_at=ny(19, 10))
    assessment = run(rushed, now=ny(19, 10), owner_history=UNRELIABLE)
    assert assessment.level == "at_risk"
    assert "Little time to warn the client: promised today for tomorrow" in (
        said(assessment, ny(19, 10)))
    assert assessment.next_action == "escalate"  # the notice deadline passed before it was made


def test_a_promise_made_with_enough_lead_has_no_short_window_reason() -> None:
    assessment = run(Q3_REPORT, now=ny(16))
    assert not any(reason["code"] == "short_window" for reason in assessment.reasons)


def test_an_owner_without_history_is_forecast_from_the_team_record() -> None:
    bob = replace(Q3_REPORT, owner="bob@agency.example", owner_name="Bob")
    assessment = run(
        bob,
        now=ny(16),
        owner_history=history(0, 2, owner="bob"),
        team_history=history(3, 12, owner="team"),
    )
    assert assessment.evidence == "team"
    assert said(assessment, ny(16))[:2] == [
        "Bob has two finished promises on record, too few to judge, so we go by the team's "
        "record",
        "Three of the team's last 12 promises were late, typically by 1 business day"]


def test_an_owner_and_team_without_history_fall_back_to_a_wide_prior() -> None:
    bob = replace(Q3_REPORT, owner="bob@agency.example", owner_name="Bob")
    assessment = run(bob, now=ny(16), owner_history=[], team_history=history(0, 3, "team"))
    assert assessment.evidence == "prior"
    assert said(assessment, ny(16)) == [
        "Bob has no track record yet, nor has the team; we assume one promise in four slips"]
    assert said(assessment, ny(16), "sv") == [
        "Bob har ingen historik ännu, och inte teamet heller; vi räknar med att ett löfte av "
        "fyra blir försenat"]
    assert said(assessment, ny(16), "zh") == [
        "Bob还没有记录，团队的记录也不足；我们假设每四项承诺中有一项会延误"]
    assert assessment.level == "on_track"


# -- the probability behaves ---------------------------------------------------------------


def test_more_late_history_means_a_higher_slip_chance() -> None:
    chances = [run(Q3_REPORT, now=ny(17), owner_history=history(k, 10)).p_late for k in range(11)]
    assert chances == sorted(chances)
    assert chances[0] < 0.25 and chances[-1] > 0.75


def test_more_progress_means_a_lower_slip_chance() -> None:
    chances = [
        run(progress_report(Q3_REPORT, percent, ny(18, 11)), now=ny(18, 12)).p_late
        for percent in range(0, 100, 10)
    ]
    assert chances == sorted(chances, reverse=True)
    assert chances[0] > 0.75 and chances[-1] < 0.25


def test_much_done_with_little_time_left_is_explained() -> None:
    # Thursday 17:00 is 32 of the 40 business hours from Monday 09:00 to Friday 17:00.
    assessment = run(progress_report(Q3_REPORT, 60, ny(19, 17)), now=ny(20))
    assert "60% done with 20% of the time left (reported yesterday at 5:00 PM)" in (
        said(assessment, ny(20)))
    assert assessment.level == "at_risk"


def test_an_old_at_risk_report_counts_less_than_a_fresh_one() -> None:
    long_promise = replace(AT_RISK_TUESDAY, due_at=ny(30, 17), original_due_at=ny(30, 17))
    fresh = run(long_promise, now=ny(18))
    stale = run(long_promise, now=ny(24))
    assert fresh.level == stale.level == "at_risk"  # the owner's own word stands until revised
    assert stale.p_late < fresh.p_late
    assert ("Alice reported it at risk on Tuesday, November 17 (five business days ago): "
            f"“{AD_DATA}”") in said(stale, ny(24))


def test_more_than_the_usual_load_in_the_same_window_raises_the_slip_chance() -> None:
    usual = (OpenLoad(ny(18, 12)), OpenLoad(ny(19, 17)), OpenLoad(ny(20)), OpenLoad(ny(20, 15)))
    busy = (*usual, OpenLoad(ny(18, 15)), OpenLoad(ny(19, 12)), OpenLoad(ny(20, 12)))
    later = (OpenLoad(ny(27)),)
    alone = run(Q3_REPORT, now=ny(17))
    loaded = run(Q3_REPORT, now=ny(17), open_load=busy)
    assert "Alice has seven other promises due by Friday" in said(loaded, ny(17))
    assert loaded.p_late > alone.p_late
    # Her record was made under a usual load of a few promises: those add nothing.
    assert run(Q3_REPORT, now=ny(17), open_load=usual).p_late == alone.p_late
    assert run(Q3_REPORT, now=ny(17), open_load=later).p_late == alone.p_late


@pytest.mark.parametrize("late", [0, 3, 5, 8, 10])
@pytest.mark.parametrize("percent", [None, 10, 50, 90])
@pytest.mark.parametrize("now", [ny(16), ny(18, 10), ny(20, 16), ny(23, 9)])
def test_the_forecast_lands_on_a_business_day_after_the_due_date_when_a_slip_is_likely(
    late: int, percent: int | None, now: datetime
) -> None:
    promise = Q3_REPORT if percent is None else progress_report(Q3_REPORT, percent, ny(16, 12))
    assessment = run(promise, now=now, owner_history=history(late, 10))
    done = ACME.local(assessment.forecast_done_at)
    assert ACME.is_business_day(done.date())
    assert done.time() == time(17)
    assert 0 <= assessment.p_late <= 1
    if assessment.p_late > 0.5:
        assert assessment.forecast_done_at >= Q3_REPORT.due_at


# -- time and the calendar -----------------------------------------------------------------


def test_thanksgiving_week_gives_notice_on_tuesday_and_never_forecasts_thursday() -> None:
    thanksgiving = replace(Q3_REPORT, made_at=ny(23), due_at=ny(27, 17), original_due_at=ny(27, 17))
    for late in range(0, 11, 2):
        assessment = run(thanksgiving, now=ny(25, 17), owner_history=history(late, 10))
        assert assessment.notice_by == ny(24, 17)
        assert assessment.forecast_done_at.date() != date(2026, 11, 26)
        assert assessment.next_check_at == ny(27, 9)  # Wednesday evening: back on Friday


def test_next_check_is_the_moment_the_check_in_window_opens() -> None:
    assert run(Q3_REPORT, now=ny(16)).next_check_at == ny(17, 9)


def test_next_check_is_when_escalation_starts_for_an_untold_slip() -> None:
    assert run(AT_RISK_TUESDAY, now=ny(18)).next_check_at == ny(18, 13)


def test_an_overdue_promise_is_still_looked_at_every_business_morning() -> None:
    assessment = run(Q3_REPORT, now=ny(21, 10))
    assert assessment.level == "overdue"
    assert assessment.p_late == 1.0
    assert assessment.next_check_at == ny(23, 9)
    assert "Past due since yesterday at 5:00 PM, not reported done" in (
        said(assessment, ny(21, 10)))
    assert assessment.forecast_done_at > ny(21, 10)


# -- what to do next -----------------------------------------------------------------------


def test_an_untold_slip_escalates_within_four_business_hours_of_the_notice_deadline() -> None:
    assert run(AT_RISK_TUESDAY, now=ny(18, 12, 59)).next_action == "delay_notice"
    assert run(AT_RISK_TUESDAY, now=ny(18, 13)).next_action == "escalate"
    assert run(Q3_REPORT, now=ny(21, 10)).next_action == "escalate"


def test_no_second_delay_notice_once_the_client_was_told() -> None:
    told = replace(AT_RISK_TUESDAY, client_told_at=ny(18, 10))
    assessment = run(told, now=ny(18, 14))
    assert assessment.level == "at_risk"
    assert assessment.next_action == "none"


def test_a_check_in_is_asked_once_the_window_opens_and_not_again_while_fresh() -> None:
    assert run(Q3_REPORT, now=ny(16, 16)).next_action == "none"
    assert run(Q3_REPORT, now=ny(17)).next_action == "checkin"
    assert run(ASKED_TUESDAY, now=ny(17, 10)).next_action == "none"
    answered = progress_report(ASKED_TUESDAY, 70, ny(17, 11))
    assert run(answered, now=ny(18, 10)).next_action == "none"
    assert run(answered, now=ny(19, 10)).next_action == "checkin"  # the answer went stale


def test_a_promise_reported_done_needs_nothing_more() -> None:
    done = replace(Q3_REPORT, checkins=(CheckInFact(at=ny(19, 15), status="done"),))
    assessment = run(done, now=ny(20), owner_history=UNRELIABLE)
    assert assessment.level == "done"
    assert assessment.p_late == 0
    assert assessment.next_action == "none"
    assert assessment.next_check_at is None


def test_check_ins_after_now_are_not_seen() -> None:
    assert run(AT_RISK_TUESDAY, now=ny(16, 12)) == run(ASKED_TUESDAY, now=ny(16, 12))


# -- interface -----------------------------------------------------------------------------


def test_a_prebuilt_record_gives_the_same_assessment_as_raw_history() -> None:
    raw = run(AT_RISK_TUESDAY, now=ny(18), owner_history=UNRELIABLE)
    prebuilt = run(AT_RISK_TUESDAY, now=ny(18), owner_history=Record.of(UNRELIABLE, ACME))
    assert raw == prebuilt


def test_the_assessment_serialises_to_json() -> None:
    payload = run(AT_RISK_TUESDAY, now=ny(18)).to_json()
    assert json.loads(json.dumps(payload))["notice_by"] == "2026-11-18T17:00:00-05:00"
    assert payload["level"] == "at_risk"
    assert payload["evidence"] == "owner"
    assert 0 <= payload["p_late"] <= 1


def test_the_policy_follows_the_team_settings() -> None:
    policy = Policy.from_settings(PolicySettings(notice_lead_business_days=3))
    assert run(Q3_REPORT, now=ny(16), policy=policy).notice_by == ny(17, 17)


# Read on Wednesday, November 18, at 10:00 in New York.
@pytest.mark.parametrize(("reason", "locale", "expected"), [
    ({"code": "crowded", "owner": "陈梅", "others": 2, "by": ny(18, 17).isoformat()}, "zh",
     "陈梅今天还有另外2项承诺要交付"),
    ({"code": "crowded", "owner": "陈梅", "others": 1, "by": ny(21, 17).isoformat(),
      "unusual": True}, "zh", "陈梅在11月21日（周六）前还有另外1项承诺要交付，比平时多"),
    ({"code": "reported_status", "owner": "陈梅", "status": "at_risk",
      "at": ny(13, 17).isoformat(), "days_ago": 3}, "zh",
     "陈梅于11月13日（周五）报告有延误风险（3个工作日前）"),
    ({"code": "short_window", "made_at": ny(16).isoformat(), "due_at": ny(20, 17).isoformat()},
     "zh", "提醒客户的时间很紧：前天做出承诺，后天截止"),
    ({"code": "progress", "done": 40, "time_left": 20, "at": ny(16).isoformat()}, "zh",
     "前天09:00报告已完成40%，当时还剩20%的时间"),
    ({"code": "short_window", "made_at": ny(16).isoformat(), "due_at": ny(20, 17).isoformat()},
     "sv", "Kort tid att förvarna kunden: lovat i måndags med leverans på fredag"),
    ({"code": "crowded", "owner": "Erik", "others": 2, "by": ny(18, 17).isoformat()}, "sv",
     "Erik har två andra löften att leverera senast i dag"),
    ({"code": "crowded", "owner": "Alice", "others": 2, "by": ny(18, 17).isoformat()}, "en",
     "Alice has two other promises due today"),
])
def test_days_near_now_are_named_the_way_each_language_says_them(
        reason: dict[str, object], locale: str, expected: str) -> None:
    assert reason_texts([reason], locale, timezone="America/New_York", now=ny(18, 10)) == [
        expected]
