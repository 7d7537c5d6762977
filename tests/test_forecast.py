"""The evidence-based forecast: business hours, history samples, the conditional slip chance."""

from __future__ import annotations

import math
import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reliability.calendar import BusinessCalendar
from reliability.forecast import (
    MAX_SAMPLES,
    PRIOR,
    PRIOR_RATIOS,
    USUAL_LOAD,
    Distribution,
    LatestDueRecord,
    Measure,
    PastPromise,
    Progress,
    Record,
    RunningRecord,
    adjusted,
    measure,
    outlook,
)

NEW_YORK = ZoneInfo("America/New_York")
ACME = BusinessCalendar(
    timezone="America/New_York", country="US", start_of_day=time(9), end_of_day=time(17)
)


def ny(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


def week_long(owner: str, week: int, *, late_days: int | None) -> PastPromise:
    """A Monday 09:00 to Friday 17:00 promise; delivered `late_days` after (None = broken)."""
    made = datetime(2026, 3, 2, 9, tzinfo=NEW_YORK) + timedelta(weeks=week)
    due = made + timedelta(days=4, hours=8)
    done = None if late_days is None else due + timedelta(days=late_days)
    return PastPromise(owner=owner, made_at=made, due_at=due, done_at=done)


def test_business_hours_skip_thanksgiving_day() -> None:
    # Mon 23 Nov 09:00 to Fri 27 Nov 17:00 has four working days: Thursday is Thanksgiving.
    assert ACME.business_hours(ny(23), ny(27, 17)) == 32
    assert ACME.business_hours(ny(25, 12), ny(27, 10)) == 5 + 1


def test_business_hours_count_only_opening_hours_and_run_backwards() -> None:
    assert ACME.business_hours(ny(20, 16), ny(23, 10)) == 2  # Friday 16:00 to Monday 10:00
    assert ACME.business_hours(ny(21, 10), ny(22, 20)) == 0  # a weekend
    assert ACME.business_hours(ny(23, 10), ny(20, 16)) == -2


def test_business_hours_are_wall_clock_hours_across_the_dst_change() -> None:
    # New York leaves daylight time on Sunday 1 Nov 2026; the working week is still 40 hours.
    assert ACME.business_hours(ny(30, 9, month=10), ny(6, 17)) == 48


def test_an_owners_record_counts_late_and_broken_promises_with_median_lateness() -> None:
    history = [
        week_long("alice", 0, late_days=-1),
        week_long("alice", 1, late_days=3),  # Friday 17:00 to Monday 17:00: one business day
        week_long("alice", 2, late_days=4),  # to Tuesday 17:00: two business days
        week_long("alice", 3, late_days=None),
    ]
    record = Record.of(history, ACME)
    assert (record.size, record.late, record.broken) == (4, 3, 1)
    assert record.median_lateness_hours == 12


def test_a_record_keeps_only_the_most_recent_promises() -> None:
    old_and_late = [week_long("alice", week, late_days=3) for week in range(10)]
    recent_and_on_time = [week_long("alice", week, late_days=-1)
                          for week in range(10, 10 + MAX_SAMPLES)]
    record = Record.of(old_and_late + recent_and_on_time, ACME)
    assert record.size == MAX_SAMPLES
    assert record.late == 0


def test_estimated_and_actual_hours_take_precedence_over_dates() -> None:
    base = week_long("alice", 0, late_days=-1)
    overran = PastPromise(
        base.owner, base.made_at, base.due_at, base.done_at, estimate_hours=10, actual_hours=30
    )
    assert Record.of([base], ACME).distribution.share_late() < 0.5
    assert Record.of([overran], ACME).distribution.share_late() > 0.5


def test_the_prior_is_wide_and_expects_about_one_promise_in_four_to_slip() -> None:
    ratios = [ratio for ratio, _ in PRIOR.points]
    assert 0.2 < PRIOR.share_late() < 0.3
    assert min(ratios) < 0.4 and max(ratios) > 1.8


def test_the_slip_chance_rises_as_time_passes_without_delivery() -> None:
    history = Distribution.of([0.6, 0.7, 0.8, 0.9, 0.95, 1.2])
    chances = [
        outlook(history, planned=40, elapsed=elapsed).p_model for elapsed in (0, 20, 30, 36, 39)
    ]
    assert chances == sorted(chances)
    assert chances[0] < 0.3 < 0.9 < chances[-1]


def test_ratios_that_would_have_finished_already_are_excluded() -> None:
    history = Distribution.of([0.5, 0.5, 0.5, 1.5], prior_weight=0)
    assert outlook(history, planned=40, elapsed=0).p_model == pytest.approx(0.25)
    assert outlook(history, planned=40, elapsed=30).p_model == 1.0


def test_more_progress_means_a_lower_slip_chance() -> None:
    history = Distribution.of([0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.3])
    chances = [
        outlook(
            history, planned=40, elapsed=20, progress=Progress(elapsed=20, done=done, weight=1)
        ).p_model
        for done in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)
    ]
    assert chances == sorted(chances, reverse=True)
    assert chances[0] > 0.9 and chances[-1] < 0.1


def test_other_promises_beyond_the_usual_load_stretch_the_remaining_work() -> None:
    history = Distribution.of([0.7, 0.8, 0.9, 0.95, 1.1])
    alone = outlook(history, planned=40, elapsed=10).p_model
    usual = outlook(history, planned=40, elapsed=10, other_open=USUAL_LOAD).p_model
    busy = outlook(history, planned=40, elapsed=10, other_open=USUAL_LOAD + 3).p_model
    assert usual == alone
    assert busy > alone


def test_signals_move_the_odds_and_never_reach_certainty() -> None:
    assert adjusted(0.2, [4.0]) == pytest.approx(0.5)
    assert adjusted(0.2, [0.5]) < 0.2
    assert adjusted(1.0, []) < 1.0
    assert adjusted(0.0, []) > 0.0


def test_the_forecast_date_agrees_with_the_probability() -> None:
    view = outlook(Distribution.of([0.6, 0.7, 0.8, 0.9, 1.2]), planned=40, elapsed=0)
    assert view.finish_hours(p_late=0.9) > 40
    assert view.finish_hours(p_late=0.05) <= 40


def test_a_delivery_after_hours_on_the_due_day_still_counts_as_late() -> None:
    on_friday_evening = week_long("alice", 0, late_days=0)
    evening = PastPromise(
        "alice",
        on_friday_evening.made_at,
        on_friday_evening.due_at,
        on_friday_evening.due_at + timedelta(hours=2),
    )
    record = Record.of([evening], ACME)
    assert record.late == 1
    assert max(ratio for ratio, weight in record.distribution.points if weight == 1) > 1


finished_promise = st.builds(
    lambda start, planned, delay, broken: PastPromise(
        owner="ann", made_at=ny(2) + timedelta(hours=start),
        due_at=ny(2) + timedelta(hours=start + planned),
        done_at=None if broken else ny(2) + timedelta(hours=start + planned + delay)),
    start=st.integers(0, 24 * 60), planned=st.integers(1, 24 * 15),
    delay=st.integers(-24 * 10, 24 * 20), broken=st.booleans())


@settings(max_examples=60, deadline=None)
@given(history=st.lists(finished_promise, max_size=40), window=st.integers(1, 12))
def test_a_running_record_equals_the_record_rebuilt_from_its_window_after_every_finish(
        history: list[PastPromise], window: int) -> None:
    running = RunningRecord(ACME.hours_per_day, window)
    for seen, promise in enumerate(history, start=1):
        running.add(measure(promise, ACME))
        assert running.record() == Record.of(history[max(seen - window, 0):seen], ACME)


@settings(max_examples=40, deadline=None)
@given(rng=st.randoms(use_true_random=False), window=st.integers(1, 2 * MAX_SAMPLES + 20),
       finishes=st.integers(0, 3 * MAX_SAMPLES))
def test_the_latest_due_record_equals_the_record_of_its_window_by_due_after_every_finish(
        rng: random.Random, window: int, finishes: int) -> None:
    """Past the MAX_SAMPLES border too, with dues that tie and measurements without a ratio."""
    running = LatestDueRecord(ACME.hours_per_day, window)
    history: list[tuple[datetime, Measure]] = []
    for _ in range(finishes):
        late_by = rng.choice([None, float(rng.randrange(1, 30))])
        measured = Measure(ratio=rng.choice([None, 0.5, 1.0, round(rng.uniform(0.05, 4), 2)]),
                           late_by=late_by, late=late_by is not None, broken=rng.random() < .1)
        due = ny(2) + timedelta(hours=rng.randrange(60))
        history.append((due, measured))
        running.add(due, measured)
        latest = sorted(history[-window:], key=lambda finish: finish[0], reverse=True)
        assert running.record() == Record.of_measures(
            (measured for _, measured in latest), ACME.hours_per_day)


def test_a_running_record_is_never_wider_than_a_record() -> None:
    with pytest.raises(ValueError, match="at most"):
        RunningRecord(ACME.hours_per_day, MAX_SAMPLES + 1)


ratio = st.floats(0.05, 4.0)


@st.composite
def histories(draw: st.DrawFn) -> Distribution:
    """Ratios as measured, some repeated and some a rounding step below another or below one
    of the prior's (their finishes could tie once scaled, and sort by weight), mixed with the
    prior at its usual or an unusual weight."""
    ratios = draw(st.lists(ratio, max_size=30))
    ratios += draw(st.lists(st.sampled_from(ratios), max_size=5)) if ratios else []
    near = draw(st.lists(st.sampled_from(ratios + list(PRIOR_RATIOS)), max_size=20))
    ratios += [math.nextafter(r, 0.0) for r in near]
    return Distribution.of(ratios, prior_weight=draw(st.sampled_from([1.0, 0.0, 3.0])))


@settings(max_examples=300, deadline=None)
@given(history=histories(), planned=st.floats(0.0, 200.0) | st.integers(1, 80).map(float),
       elapsed=st.just(0.0) | st.floats(0.0, 400.0),
       other_open=st.integers(0, 20))
def test_the_slip_chance_without_news_is_the_late_share_of_the_listed_finishes(
        history: Distribution, planned: float, elapsed: float, other_open: int) -> None:
    view = outlook(history, planned=planned, elapsed=elapsed, other_open=other_open)
    masses = [weight for _, weight in view.finishes]
    late = [weight for hours, weight in view.finishes if hours > view.planned]
    assert view.p_model == (sum(late) / sum(masses) if sum(masses) else 1.0)


@settings(max_examples=300, deadline=None)
@given(history=histories())
def test_a_distribution_is_orderly_when_no_neighbouring_pair_could_tie_the_wrong_way(
        history: Distribution) -> None:
    """`orderly` looks only where the weight drops; every neighbouring pair says the same."""
    ratios, weights = history.ratios, history.weights
    pairs = zip(ratios, ratios[1:], weights, weights[1:], strict=False)
    positive = [ratio for ratio in ratios if ratio > 0]
    assert history.orderly == (
        all(map(math.isfinite, ratios))
        and (not positive or (positive[0] >= 1e-200 and positive[-1] <= 1e200))
        and not any(high - low <= 1e-9 * high and heavy > light
                    for low, high, heavy, light in pairs))


def test_only_a_ratio_a_rounding_step_below_a_lighter_one_makes_a_distribution_disorderly(
) -> None:
    assert Distribution.of([0.5, 1.2, 1.2, math.nextafter(1.2, 2.0)]).orderly
    assert not Distribution.of([0.5, math.nextafter(PRIOR_RATIOS[3], 0.0)]).orderly
