"""Evidence-based forecast: how long an owner's promises really take, as a distribution.

In the spirit of FogBugz evidence-based scheduling: each finished promise gives one ratio of
actual to planned business hours. An owner's recent ratios are their own empirical
distribution; with too few of them the team's record stands in, and with too few of those a
wide, documented prior. Pure and deterministic: no I/O, no randomness. The equations are in
docs/risk-model.md.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, islice
from operator import gt, itemgetter
from statistics import NormalDist, median
from typing import NamedTuple

from reliability.calendar import BusinessCalendar
from reliability.vocabulary import CheckInStatus

MIN_RATIO = 0.05  # a promise kept in a twentieth of its planned time tells us nothing more
MAX_RATIO = 4.0  # four times the plan is "very late"; longer overruns count the same
BROKEN_RATIO = MAX_RATIO  # a promise never delivered counts as the worst overrun
MAX_SAMPLES = 100  # recent history only: people and teams change (docs/risk-model.md)
HISTORY_PER_OWNER = MAX_SAMPLES  # the scan reads no more of an owner's past than this
TEAM_HISTORY = 200  # the team's past the scan reads, consulted when an owner has too little
MIN_OWNER_SAMPLES = 5
MIN_TEAM_SAMPLES = 10
MIN_PLANNED_HOURS = 1.0  # a promise made after hours for the same evening still needs a scale

PRIOR_MEDIAN = 0.7  # the typical promise carries some slack
PRIOR_SIGMA = 0.5  # wide: a 90% range of 0.3x to 1.6x the planned time
PRIOR_POINTS = 40
PRIOR_WEIGHT = 1.0  # beside real history the prior counts as one extra past promise

STATUS_LIKELIHOOD = {CheckInStatus.at_risk: 4.0, CheckInStatus.blocked: 6.0,
                     CheckInStatus.on_track: 0.6}
UNANSWERED_LIKELIHOOD = 2.5
# History was measured under the owner's usual load, so only load beyond a usual amount
# stretches the remaining work: each further promise due in the window adds a tenth.
USUAL_LOAD = 5
LOAD_PER_PROMISE = 0.1
MAX_LOAD = 2.0
MIN_P, MAX_P = 0.01, 0.99  # no evidence short of the date passing makes a slip certain
FORECAST_QUANTILE = 0.8
# Finished promises whose measurements stay memoised: every owner's recent history, a few
# calendars each, with room to spare.
MEASURED_CACHE = 50_000


@dataclass(frozen=True)
class PastPromise:
    """A finished promise in someone's history; `done_at` None means broken or cancelled."""

    owner: str
    made_at: datetime
    due_at: datetime
    done_at: datetime | None
    estimate_hours: float | None = None
    actual_hours: float | None = None

    @property
    def late(self) -> bool:
        return self.done_at is None or self.done_at > self.due_at


class Measure(NamedTuple):
    """What one finished promise says in one calendar: actual over planned time, clipped
    (None when the promise gives no usable scale), and the business hours it was delivered
    late by (None unless delivered late)."""

    ratio: float | None
    late_by: float | None
    late: bool
    broken: bool


def measure(promise: PastPromise, calendar: BusinessCalendar, *,
            remember: bool = True) -> Measure:
    """Memoised: a worker measures the same finished promises on every tick, and a history
    only ever gains new ones. A caller that keeps its measurements (the backtest) passes
    `remember=False` rather than fill the memo with promises it will not ask about again."""
    ratio, late_by = (_remembered if remember else _measure)(promise, calendar)
    return Measure(ratio, late_by, promise.late, promise.done_at is None)


def _measure(promise: PastPromise,
             calendar: BusinessCalendar) -> tuple[float | None, float | None]:
    late_by = None
    if promise.done_at is not None and promise.done_at > promise.due_at:
        late_by = calendar.business_hours(promise.due_at, promise.done_at)
    if promise.done_at is None:
        return BROKEN_RATIO, late_by
    if promise.estimate_hours and promise.actual_hours is not None:
        ratio = promise.actual_hours / promise.estimate_hours
    else:
        planned = calendar.business_hours(promise.made_at, promise.due_at)
        if planned < MIN_PLANNED_HOURS:
            return None, late_by
        ratio = calendar.business_hours(promise.made_at, promise.done_at) / planned
        if promise.late:
            # Delivered after the due moment but before the next opening hour: still late.
            ratio = max(ratio, math.nextafter(1.0, 2.0))
    return min(max(ratio, MIN_RATIO), MAX_RATIO), late_by


_remembered = functools.lru_cache(maxsize=MEASURED_CACHE)(_measure)


@dataclass(frozen=True)
class Distribution:
    """Weighted ratios of actual to planned time, sorted by ratio."""

    points: tuple[tuple[float, float], ...]

    @classmethod
    def of(cls, ratios: Iterable[float], *, prior_weight: float = PRIOR_WEIGHT) -> Distribution:
        """History mixed with a little prior, so no evidence is ever taken as certainty."""
        # Floats sort faster than pairs: the history's points are made in order.
        return cls.of_points([(ratio, 1.0) for ratio in sorted(ratios)],
                             prior_weight=prior_weight)

    @classmethod
    def of_points(cls, history: Iterable[tuple[float, float]], *,
                  prior_weight: float = PRIOR_WEIGHT) -> Distribution:
        """`of` from the history's points, each a ratio and a weight of 1, made already (a
        running record keeps them, rather than make a hundred pairs for every record)."""
        points = [*history, *_prior_points(prior_weight)]
        points.sort()  # two sorted runs, when the history comes in order: one merge
        return cls(tuple(points))

    def share_late(self) -> float:
        """P(ratio > 1): how often a promise from this history overruns, before any news."""
        return sum(weight for ratio, weight in self.points if ratio > 1) / self.total

    @functools.cached_property
    def ratios(self) -> tuple[float, ...]:
        return tuple(map(itemgetter(0), self.points))

    @functools.cached_property
    def weights(self) -> tuple[float, ...]:
        return tuple(map(itemgetter(1), self.points))

    @functools.cached_property
    def total(self) -> float:
        return sum(self.weights)

    @functools.cached_property
    def shares(self) -> tuple[list[float], float] | None:
        """`_shares` of all the weights: a look at a promise before any of its history would
        have finished (every capture) takes these, so they are worked out once."""
        return _shares(self.weights)

    @functools.cached_property
    def orderly(self) -> bool:
        """Whether scaled ratios keep their order in floating point: all finite, positive
        ones between 1e-200 and 1e200, and no ratio within a billionth of a larger one that
        weighs less (rounding could make their finish times tie, and ties sort by weight).
        Only a history ratio next to a prior one can be that close; the 20,000-row backtest
        never met one, so its looks all took the fast path in `Outlook`."""
        ratios, weights = self.ratios, self.weights
        if not all(map(math.isfinite, ratios)):
            return False
        first = bisect.bisect_right(ratios, 0.0)
        if first < len(ratios) and not (ratios[first] >= 1e-200 and ratios[-1] <= 1e200):
            return False
        # Only where the weight drops can a near tie matter: find those first (a few dozen
        # of a record's 140 points), then measure only them.
        drops = compress(range(1, len(ratios)), map(gt, weights, islice(weights, 1, None)))
        return not any(ratios[i] - ratios[i - 1] <= 1e-9 * ratios[i] for i in drops)


def _shares(weights: Sequence[float]) -> tuple[list[float], float] | None:
    """Each weight as a share of their total, and the shares' sum (1 give or take rounding);
    None when they weigh nothing."""
    total = sum(weights)
    if not total > 0:
        return None
    scale = 1.0 / total
    masses = [weight * scale for weight in weights]
    return masses, sum(masses)


def _prior_ratios() -> tuple[float, ...]:
    """Evenly spaced quantiles of a lognormal: a fixed, reproducible stand-in for history."""
    normal = NormalDist(math.log(PRIOR_MEDIAN), PRIOR_SIGMA)
    return tuple(
        math.exp(normal.inv_cdf((index + 0.5) / PRIOR_POINTS)) for index in range(PRIOR_POINTS)
    )


PRIOR_RATIOS = _prior_ratios()


@functools.lru_cache(maxsize=8)
def _prior_points(prior_weight: float) -> tuple[tuple[float, float], ...]:
    """The prior's points at `prior_weight` in all: the same pairs for every distribution."""
    share = prior_weight / len(PRIOR_RATIOS)
    return tuple((ratio, share) for ratio in PRIOR_RATIOS)

PRIOR = Distribution.of(())


@dataclass(frozen=True)
class Record:
    """Someone's (or the team's) recent finished promises: samples plus the facts reasons quote.

    Build one per owner and one for the team once per scan and pass them to `assess`; the
    business-hour arithmetic over history is the expensive part of an assessment."""

    size: int
    late: int
    broken: int
    median_lateness_hours: float | None
    hours_per_day: float
    distribution: Distribution

    @classmethod
    def of(cls, history: Iterable[PastPromise], calendar: BusinessCalendar) -> Record:
        recent = sorted(history, key=lambda promise: promise.due_at, reverse=True)
        return cls.of_measures((measure(promise, calendar) for promise in recent),
                               calendar.hours_per_day)

    @classmethod
    def of_measures(cls, measures: Iterable[Measure], hours_per_day: float) -> Record:
        """From measurements newest first: the first MAX_SAMPLES usable ones. A caller that
        keeps its measurements (the backtest) builds a record without measuring again."""
        used = list(islice((m for m in measures if m.ratio is not None), MAX_SAMPLES))
        ratios, late_by, late, broken = zip(*used, strict=True) if used else ((), (), (), ())
        lateness = [hours for hours in late_by if hours is not None]
        return cls(
            size=len(used),
            late=sum(late),
            broken=sum(broken),
            median_lateness_hours=median(lateness) if lateness else None,
            hours_per_day=hours_per_day,
            distribution=Distribution.of(ratios),
        )


class _Tally:
    """What a Record says of a changing set of measurements: the usable ones' sorted ratios
    and hours late, and how many were late and broken. The Record is rebuilt only when asked
    for after a change; being sorted, the lists give the same Record whatever the order the
    measurements came in."""

    def __init__(self, hours_per_day: float) -> None:
        self.hours_per_day = hours_per_day
        self.points: list[tuple[float, float]] = []  # (ratio, 1.0), sorted
        self.lateness: list[float] = []  # sorted
        self.late = 0
        self.broken = 0
        self.current: Record | None = None

    def _count(self, measured: Measure, sign: int) -> None:
        ratio, late_by, late, broken = measured
        if ratio is None:
            return
        self.late += sign * late
        self.broken += sign * broken
        if sign > 0:
            bisect.insort(self.points, (ratio, 1.0))
            if late_by is not None:
                bisect.insort(self.lateness, late_by)
        else:
            del self.points[bisect.bisect_left(self.points, (ratio, 1.0))]
            if late_by is not None:
                del self.lateness[bisect.bisect_left(self.lateness, late_by)]
        self.current = None

    def record(self) -> Record:
        if self.current is None:
            self.current = Record(
                size=len(self.points),
                late=self.late,
                broken=self.broken,
                median_lateness_hours=median(self.lateness) if self.lateness else None,
                hours_per_day=self.hours_per_day,
                distribution=Distribution.of_points(self.points),
            )
        return self.current


class RunningRecord(_Tally):
    """The Record of a sliding window of the latest finishes (oldest first), kept up to date
    one finish at a time. A replay asks for an owner's record after every finish, and
    rebuilding it from the whole window each time cost more than the assessments it served.
    The window is at most MAX_SAMPLES long, so every usable measurement in it counts and the
    record is `Record.of_measures` over the window, whatever its order."""

    def __init__(self, hours_per_day: float, window: int = MAX_SAMPLES) -> None:
        if window > MAX_SAMPLES:
            raise ValueError(f"a running record holds at most {MAX_SAMPLES} finishes")
        super().__init__(hours_per_day)
        self.window: deque[Measure] = deque()
        self.size = window

    def add(self, measured: Measure) -> None:
        if len(self.window) == self.size:
            self._count(self.window.popleft(), -1)
        self.window.append(measured)
        self._count(measured, 1)


class LatestDueRecord(_Tally):
    """The Record of a sliding window of the latest finishes as `Record.of` reads it: the
    MAX_SAMPLES usable ones due last (of equal dues, the one finished first), kept up to date
    one finish at a time. The team's window is twice that long, and sorting it again after
    every finish cost a replay a fifth of its time."""

    def __init__(self, hours_per_day: float, window: int) -> None:
        super().__init__(hours_per_day)
        self.size = window
        self.window: deque[tuple[datetime, int, Measure]] = deque()
        # The window's usable finishes by due, then latest finished first: the last
        # MAX_SAMPLES are the ones counted.
        self.ranked: list[tuple[datetime, int, Measure]] = []
        self.finishes = 0

    def add(self, due_at: datetime, measured: Measure) -> None:
        self.finishes += 1
        entry = (due_at, -self.finishes, measured)
        self.window.append(entry)
        self._rank(entry, 1)
        if len(self.window) > self.size:
            self._rank(self.window.popleft(), -1)

    def _rank(self, entry: tuple[datetime, int, Measure], sign: int) -> None:
        """Put `entry` in the ranking (or take it out) and count what enters or leaves the
        last MAX_SAMPLES: at most the entry itself and its neighbour across the border."""
        if entry[2].ratio is None:
            return
        ranked = self.ranked
        if sign > 0:
            at = bisect.bisect_right(ranked, entry)
            ranked.insert(at, entry)
            border = len(ranked) - MAX_SAMPLES  # the first one counted
            if at >= border:
                self._count(entry[2], 1)
                if border > 0:
                    self._count(ranked[border - 1][2], -1)
        else:
            at = bisect.bisect_left(ranked, entry)
            border = len(ranked) - MAX_SAMPLES
            del ranked[at]
            if at >= border:
                self._count(entry[2], -1)
                if border > 0:
                    self._count(ranked[border - 1][2], 1)


@dataclass(frozen=True)
class Progress:
    """A progress report: `done` (0..1) of the work at `elapsed` business hours, `weight` its
    freshness (1 when recent, less as it ages)."""

    elapsed: float
    done: float
    weight: float


@dataclass(frozen=True)
class Outlook:
    """When the open promise may finish: business hours after it was made, with weights.

    Without news each historical ratio r is a total duration r·planned; those that would have
    finished by now are excluded. A progress report re-anchors every ratio to the work still
    left at the report. Both are mixed by the report's freshness. The finishes are listed only
    when a date is asked for: a backtest scores the chance alone, millions of times."""

    distribution: Distribution
    planned: float
    elapsed: float
    load: float
    progress: Progress | None = None
    p_model: float = field(init=False)  # the weight of the finishes after the planned time

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_model", self._p_model())

    @functools.cached_property
    def finishes(self) -> tuple[tuple[float, float], ...]:
        """(hours, weight) pairs, sorted."""
        planned, elapsed, load, progress = self.planned, self.elapsed, self.load, self.progress
        distribution = self.distribution
        history_weight = 1.0 - (progress.weight if progress else 0.0)
        ratios, weights = distribution.ratios, distribution.weights
        finishes: list[tuple[float, float]] = []
        # Ratios are sorted, so the durations that would have ended by now are a prefix.
        first = bisect.bisect_right(ratios, elapsed, key=lambda r: r * planned)
        survivor_total = sum(weights[first:])
        if survivor_total > 0 and history_weight > 0:
            scale = history_weight / survivor_total
            finishes += [(elapsed + load * (r * planned - elapsed), w * scale)
                         for r, w in zip(ratios[first:], weights[first:], strict=True)]
        if progress is not None and progress.weight > 0:
            left = 1.0 - min(max(progress.done, 0.0), 0.95)
            scale = progress.weight / distribution.total
            finishes += [
                (max(progress.elapsed + load * left * r * planned, elapsed), w * scale)
                for r, w in distribution.points
            ]
        finishes.sort()
        return tuple(finishes)

    def _p_model(self) -> float:
        if self.progress is None and self._orderly():
            return self._p_without_news()
        finishes = self.finishes
        masses = list(map(itemgetter(1), finishes))
        mass = sum(masses)
        late = bisect.bisect_right(finishes, self.planned, key=itemgetter(0))
        return sum(masses[late:]) / mass if mass else 1.0

    def _orderly(self) -> bool:
        """Whether finish times without news grow with the ratio and cannot tie for ratios
        that differ: no less than 1 of load and of planned hours, sizes well inside floating
        point's range, an orderly distribution (all 68,967 looks of the 20,000-row backtest)."""
        return (self.elapsed >= 0.0 and self.load >= 1.0 and self.planned >= MIN_PLANNED_HOURS
                and self.planned * self.load < 1e50 and self.distribution.orderly)

    def _p_without_news(self) -> float:
        """`p_model` without listing the finishes. With no progress report they are the
        surviving ratios in order (see `_orderly`), so the late ones are a suffix found by
        bisection: the same sums in the same order as `finishes` gives, the same float."""
        planned, elapsed, load = self.planned, self.elapsed, self.load
        ratios, weights = self.distribution.ratios, self.distribution.weights
        first = bisect.bisect_right(ratios, elapsed, key=lambda r: r * planned)
        scaled = self.distribution.shares if first == 0 else _shares(weights[first:])
        if scaled is None:
            return 1.0
        masses, mass = scaled
        late = bisect.bisect_right(ratios, planned, lo=first,
                                   key=lambda r: elapsed + load * (r * planned - elapsed))
        return sum(masses[late - first:]) / mass if mass else 1.0

    def finish_hours(self, p_late: float, quantile: float = FORECAST_QUANTILE) -> float | None:
        """The `quantile` of the finish time once the late side is reweighted to carry
        `p_late`, so the date agrees with the probability; None if no evidence reaches it."""
        split = bisect.bisect_right(self.finishes, self.planned, key=itemgetter(0))
        on_time, late = self.finishes[:split], self.finishes[split:]
        if p_late >= 1 - quantile:
            part, level = late, (quantile - (1 - p_late)) / p_late
        else:
            part, level = on_time, quantile / (1 - p_late)
        total = sum(w for _, w in part)
        cumulative = 0.0
        for hours, w in part:
            cumulative += w
            if cumulative >= level * total - 1e-12:
                return hours
        return None


def load_factor(other_open: int) -> float:
    """How much other promises due in the same window stretch the remaining work."""
    return min(1 + LOAD_PER_PROMISE * max(other_open - USUAL_LOAD, 0), MAX_LOAD)


def outlook(
    distribution: Distribution,
    *,
    planned: float,
    elapsed: float,
    progress: Progress | None = None,
    other_open: int = 0,
) -> Outlook:
    """Finish times for an open promise, from history conditioned on what is known now."""
    return Outlook(distribution, planned=max(planned, MIN_PLANNED_HOURS), elapsed=elapsed,
                   load=load_factor(other_open), progress=progress)


def adjusted(p: float, likelihoods: Sequence[float]) -> float:
    """Bayes in odds form: each independent signal multiplies the odds of a slip."""
    p = min(max(p, MIN_P), MAX_P)
    odds = p / (1 - p) * math.prod(likelihoods)
    return min(max(odds / (1 + odds), MIN_P), MAX_P)
