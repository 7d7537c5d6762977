"""Backtest: would the early warnings have come in time, on a team's own past?

A history (CSV) is replayed through the real risk engine business morning by business
morning, each assessment seeing only what was known then: the owner's and the team's promises
finished before that morning (the same windows the scanner reads) and the owner's other open
promises. No check-ins are simulated, so the scores are what the history alone is worth.
Method and definitions: docs/ledger.md. Pure apart from reading the CSV (`read_history`).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import heapq
import math
from array import array
from collections import defaultdict, deque
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from reliability.calendar import BusinessCalendar, CalendarError
from reliability.errors import UserError
from reliability.forecast import (
    HISTORY_PER_OWNER,
    MIN_OWNER_SAMPLES,
    PRIOR,
    TEAM_HISTORY,
    LatestDueRecord,
    Measure,
    PastPromise,
    Record,
    RunningRecord,
    measure,
)
from reliability.risk import Chance, OpenLoad, Policy, PromiseFacts, chance

REQUIRED = ("id", "owner", "client", "made_at", "due_at", "done_at")
OPTIONAL = ("estimate_hours", "actual_hours", "country", "timezone")
DEFAULT_TIMEZONE = "UTC"
METHODS = ("model", "calendar", "owner_rate")
BINS = 10
FLAG_THRESHOLD = Policy().at_risk_threshold  # the owner-rate baseline flags like the model


@dataclass(frozen=True)
class Row:
    """One promise of the history, every moment aware."""

    line: int
    id: str
    owner: str
    client: str
    made_at: datetime
    due_at: datetime
    done_at: datetime | None
    calendar: BusinessCalendar
    estimate_hours: float | None = None
    actual_hours: float | None = None

    @property
    def late(self) -> bool:
        return self.done_at is None or self.done_at > self.due_at

    def past(self, *, effort: bool = False) -> PastPromise:
        """As history; with `effort`, its overrun is read from the hours, not the dates."""
        return PastPromise(owner=self.owner, made_at=self.made_at, due_at=self.due_at,
                           done_at=self.done_at,
                           estimate_hours=self.estimate_hours if effort else None,
                           actual_hours=self.actual_hours if effort else None)


@dataclass(frozen=True)
class Problem:
    line: int
    why: str


class Survey:
    """What the replay must know of a history's rows before it starts: how many there are,
    when the history ends, and how far out of time order they come (how long before the
    latest making read so far a row can have been made)."""

    def __init__(self) -> None:
        self.count = 0
        self.end: datetime | None = None
        self.latest_made: datetime | None = None
        self.disorder = timedelta(0)

    def add(self, row: Row) -> None:
        self.count += 1
        made = row.made_at.astimezone(UTC)
        for moment in (made, row.done_at):
            if moment is not None and (self.end is None or moment > self.end):
                self.end = moment
        if self.latest_made is None or made > self.latest_made:
            self.latest_made = made
        else:
            self.disorder = max(self.disorder, self.latest_made - made)


@dataclass(frozen=True)
class History:
    """A history held in memory: its readable rows in file order and the unreadable ones."""

    rows: tuple[Row, ...]
    problems: tuple[Problem, ...]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    @functools.cached_property
    def survey(self) -> Survey:
        survey = Survey()
        for row in self.rows:
            survey.add(row)
        return survey


class HistoryFile:
    """A history read from its CSV file as the replay goes, never held whole: a first pass
    checks every row (the unreadable ones and what is wrong with each, and the `Survey`),
    and each iteration reads the readable rows again, in file order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calendars = _Calendars()
        self.survey = Survey()
        problems: list[Problem] = []
        with self._lines() as lines:
            for found in _parsed(lines, self.calendars):
                if isinstance(found, Problem):
                    problems.append(found)
                else:
                    self.survey.add(found)
        self.problems = tuple(problems)

    def __iter__(self) -> Iterator[Row]:
        unreadable = {problem.line for problem in self.problems}
        count = 0
        with self._lines() as lines:
            for found in _parsed(lines, self.calendars, skip=unreadable):
                if isinstance(found, Problem) or count == self.survey.count:
                    raise UserError(f"{self.path} changed while it was read; read it again")
                count += 1
                yield found
        if count != self.survey.count:
            raise UserError(f"{self.path} changed while it was read; read it again")

    @contextlib.contextmanager
    def _lines(self) -> Iterator[TextIO]:
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as handle:
                yield handle
        except UnicodeDecodeError as exc:
            raise UserError(f"{self.path} is not UTF-8 text: {exc.reason}") from None
        except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB
            raise UserError(f"{self.path} is not a CSV file that can be read ({exc}); export "
                            "the history again as plain CSV") from None


# -- reading ----------------------------------------------------------------------------


class _Calendars:
    def __init__(self) -> None:
        self.cache: dict[tuple[str, str | None], BusinessCalendar] = {}

    def __call__(self, timezone: str, country: str | None) -> BusinessCalendar:
        key = (timezone, country)
        if key not in self.cache:
            self.cache[key] = BusinessCalendar(timezone=timezone, country=country)
        return self.cache[key]


def _moment(text: str, calendar: BusinessCalendar, what: str, *, day_start: bool) -> datetime:
    """ISO 8601; without an offset, the row's timezone; a bare date is that business day's
    opening (made_at) or close (due_at, done_at)."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return calendar.start_of(day) if day_start else calendar.end_of(day)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 date or moment") from None
    if moment.tzinfo is None:
        moment = calendar.at(moment.date(), moment.time())
    return moment.astimezone(UTC)


def _hours(text: str | None, what: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number of hours") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} {text!r} must be zero or more hours")
    return value


def parse_rows(lines: Iterable[str]) -> History:
    """Every readable row, and for every other one its line number and what is wrong."""
    rows: list[Row] = []
    problems: list[Problem] = []
    for found in _parsed(lines, _Calendars()):
        (problems if isinstance(found, Problem) else rows).append(found)
    return History(tuple(rows), tuple(problems))


def _parsed(lines: Iterable[str], calendars: _Calendars, *,
            skip: Container[int] | None = None) -> Iterator[Row | Problem]:
    """Each row in turn, read or with its line number and what is wrong. Lines in `skip`,
    found unreadable before, are passed over, and ids are not checked again for repeats:
    checking them holds every id read."""
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise UserError(f"the CSV lacks the column(s) {', '.join(missing)}; it needs "
                        f"{', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})")
    reader.fieldnames = header
    seen: dict[str, int] | None = {} if skip is None else None
    for record in reader:
        line = reader.line_num
        if skip is not None and line in skip:
            continue
        try:
            row = _row(record, line, calendars)
            if seen is not None:
                if row.id in seen:
                    raise ValueError(f"id {row.id!r} already used on line {seen[row.id]}")
                seen[row.id] = line
        except (ValueError, CalendarError) as exc:
            yield Problem(line, str(exc))
        else:
            yield row


def _row(record: dict[str | Any, Any], line: int, calendars: _Calendars) -> Row:
    if None in record:
        raise ValueError(f"{len(record[None])} more field(s) than the header has")
    values = {key: (value or "").strip() for key, value in record.items() if key is not None}
    for name in ("id", "owner", "client", "made_at", "due_at"):
        if not values.get(name):
            raise ValueError(f"{name} is empty")
    calendar = calendars(values.get("timezone") or DEFAULT_TIMEZONE,
                         values.get("country") or None)
    made = _moment(values["made_at"], calendar, "made_at", day_start=True)
    due = _moment(values["due_at"], calendar, "due_at", day_start=False)
    done = (_moment(values["done_at"], calendar, "done_at", day_start=False)
            if values.get("done_at") else None)
    if due <= made:
        raise ValueError("due_at is not after made_at")
    if done is not None and done < made:
        raise ValueError("done_at is before made_at")
    return Row(line=line, id=values["id"], owner=values["owner"].lower(),
               client=values["client"], made_at=made, due_at=due, done_at=done,
               calendar=calendar,
               estimate_hours=_hours(values.get("estimate_hours"), "estimate_hours"),
               actual_hours=_hours(values.get("actual_hours"), "actual_hours"))


def read_history(path: Path) -> HistoryFile:
    """The history in `path`, checked row by row and read again as the replay goes."""
    return HistoryFile(path)


# -- scores -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bin:
    """One tenth of the probability scale: what a method said there and what happened."""

    low: float
    mean_p: float
    observed: float
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"from": self.low, "to": round(self.low + 1 / BINS, 1),
                "mean_p_late": round(self.mean_p, 4), "observed_late": round(self.observed, 4),
                "count": self.count}


@dataclass(frozen=True)
class Scores:
    """How one method did at one moment: recall over every late item, precision, Brier and
    calibration over the items assessed at that moment."""

    recall: float | None
    precision: float | None
    brier: float | None
    flagged: int
    evaluated: int
    calibration: tuple[Bin, ...] = ()
    ece: float | None = None  # expected calibration error: count-weighted |mean_p - observed|

    def to_json(self) -> dict[str, Any]:
        return {"recall": _rounded(self.recall), "precision": _rounded(self.precision),
                "brier": _rounded(self.brier), "ece": _rounded(self.ece),
                "flagged": self.flagged, "evaluated": self.evaluated,
                "calibration": [bin_.to_json() for bin_ in self.calibration]}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def calibration(pairs: Sequence[tuple[float, bool]]) -> tuple[tuple[Bin, ...], float | None]:
    """Ten equal bins of p_late (empty ones left out) and the expected calibration error."""
    grouped: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for p, late in pairs:
        grouped[min(int(p * BINS), BINS - 1)].append((p, late))
    bins = tuple(
        Bin(low=index / BINS, mean_p=sum(p for p, _ in members) / len(members),
            observed=sum(late for _, late in members) / len(members), count=len(members))
        for index, members in sorted(grouped.items()))
    if not pairs:
        return bins, None
    return bins, sum(b.count * abs(b.mean_p - b.observed) for b in bins) / len(pairs)


@dataclass(frozen=True)
class LateItem:
    id: str
    line: int
    owner: str
    client: str
    due_at: datetime
    done_at: datetime | None
    flagged_at: datetime | None  # the first morning the model said at_risk, if N days ahead
    flagged_lead_business_days: int | None
    p_late: float | None  # the model's, N business days before the due

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "line": self.line, "owner": self.owner, "client": self.client,
            "due_at": self.due_at.isoformat(),
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "flagged_at": self.flagged_at.isoformat() if self.flagged_at else None,
            "flagged_lead_business_days": self.flagged_lead_business_days,
            "p_late": None if self.p_late is None else round(self.p_late, 4),
        }


@dataclass(frozen=True)
class Result:
    lead_business_days: int
    rows: int
    problems: tuple[Problem, ...]
    late: tuple[LateItem, ...]
    scored: int  # rows whose outcome is known
    unresolved: int  # never done, and the history ends before their due
    too_short: int  # late items made with less than N business days' notice
    short_notice: int  # scored promises made with less than N business days' notice
    assessments: int
    scores: dict[str, Scores]  # N business days before the due
    capture: dict[str, Scores]  # at the moment each promise was made

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_business_days": self.lead_business_days,
            "rows": self.rows,
            "unreadable": len(self.problems),
            "problems": [{"line": p.line, "why": p.why} for p in self.problems],
            "scored": self.scored,
            "unresolved": self.unresolved,
            "late": len(self.late),
            "late_made_too_late_to_warn": self.too_short,
            "made_with_short_notice": self.short_notice,
            "assessments": self.assessments,
            "scores": {name: score.to_json() for name, score in self.scores.items()},
            "capture": {name: score.to_json() for name, score in self.capture.items()},
            "late_items": [item.to_json() for item in self.late],
        }

    def summary(self, *, show: int = 20) -> str:
        n = self.lead_business_days
        lines = [
            f"{self.rows + len(self.problems)} rows: {self.rows} read, {len(self.problems)} "
            f"unreadable; {self.scored} with a known outcome, {len(self.late)} late; "
            f"{self.assessments} assessments",
            f"{self.short_notice} promise{'' if self.short_notice == 1 else 's'} made with "
            f"under {n} business days' notice ({self.too_short} late): scored at capture only",
        ]
        for title, scores in ((f"at capture (all {self.scored})", self.capture),
                              (f"at due - {n} business days", self.scores)):
            lines += ["", title, _score_table(scores, n)]
        for title, scores in (("at capture", self.capture),
                              (f"at due - {n} business days", self.scores)):
            lines += ["", f"calibration {title} (mean p_late / observed late share / count)"]
            lines += _calibration_table(scores)
        if self.late and show:
            lines += ["", f"late items (first {min(show, len(self.late))} of {len(self.late)}):"]
            for item in self.late[:show]:
                warned = (f"flagged {item.flagged_lead_business_days} business days ahead"
                          if item.flagged_at else "not flagged in time")
                lines.append(f"  line {item.line} #{item.id} {item.owner} for {item.client}, "
                             f"due {item.due_at:%Y-%m-%d}: {warned}")
        if self.problems and show:
            lines += ["", f"unreadable rows ({len(self.problems)}):"]
            lines += [f"  line {p.line}: {p.why}" for p in self.problems[:show]]
            if len(self.problems) > show:
                lines.append(f"  ... and {len(self.problems) - show} more (see --json)")
        return "\n".join(lines)


LABELS = {"model": "risk model", "calendar": "calendar", "owner_rate": "owner rate"}


def _score_table(scores: dict[str, Scores], n: int) -> str:
    lines = [f"{'method':<12} {'recall@' + str(n):>9} {'precision':>9} {'brier':>7} "
             f"{'ece':>6} {'flagged':>8} {'scored':>7}"]
    for name, score in scores.items():
        lines.append(f"{LABELS[name]:<12} {_fmt(score.recall):>9} {_fmt(score.precision):>9} "
                     f"{_fmt(score.brier):>7} {_fmt(score.ece):>6} {score.flagged:>8} "
                     f"{score.evaluated:>7}")
    return "\n".join(lines)


def _calibration_table(scores: dict[str, Scores]) -> list[str]:
    lines = [f"{'p_late':<9}" + "".join(f"{LABELS[name]:>24}" for name in scores)]
    for index in range(BINS):
        cells = []
        for score in scores.values():
            found = next((b for b in score.calibration if round(b.low * BINS) == index), None)
            cells.append(f"{'-':>24}" if found is None else
                         f"{found.mean_p:>8.3f} {found.observed:>6.3f} {found.count:>8}")
        lines.append(f"{index / BINS:.1f}-{(index + 1) / BINS:.1f}  " + "".join(cells))
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# -- replay -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Tracking:
    """What the replay learns about one promise."""

    index: int  # its place among the readable rows
    row: Row
    evaluate_at: datetime | None  # the business morning N business days before the due
    facts: PromiseFacts | None = None  # while it is open
    flagged: dict[str, datetime] = field(default_factory=dict)
    p: dict[str, float] = field(default_factory=dict)  # at the evaluation morning
    alarm: dict[str, bool] = field(default_factory=dict)  # flagged at the evaluation morning
    at_capture: dict[str, float] = field(default_factory=dict)  # p_late when it was made
    done: bool = False


class _Finished:
    """A finished promise in the histories, with what it measures in each calendar it has
    been read in: measured once, for its owner's record and the team's alike."""

    __slots__ = ("due_at", "measures", "past")

    def __init__(self, past: PastPromise) -> None:
        self.past = past
        self.due_at = past.due_at
        self.measures: dict[str, Measure] = {}

    def measure(self, calendar: BusinessCalendar, zone: str) -> Measure:
        found = self.measures.get(zone)
        if found is None:
            found = self.measures[zone] = measure(self.past, calendar, remember=False)
        return found


class _Histories:
    """Finished promises known so far: per owner and for the team, each measured once in each
    calendar it is read in (the business-hour arithmetic is the expensive part), with the
    owners' records kept up to date and the team's cached until a new finish arrives."""

    def __init__(self) -> None:
        self.owner: dict[str, deque[_Finished]] = defaultdict(
            lambda: deque(maxlen=HISTORY_PER_OWNER))
        self.team: deque[_Finished] = deque(maxlen=TEAM_HISTORY)
        self.owner_done: dict[str, int] = defaultdict(int)
        self.owner_late: dict[str, int] = defaultdict(int)
        self.team_done = 0
        self.team_late = 0
        # Per calendar: the team's record, kept up to date, and how many finishes it has seen.
        self.team_records: dict[str, tuple[int, LatestDueRecord]] = {}
        # Per owner and calendar: the owner's record, kept up to date, and how many of the
        # owner's finishes it has seen.
        self.running: dict[tuple[str, str], tuple[int, RunningRecord]] = {}

    def add(self, row: Row, *, effort: bool) -> None:
        finished = _Finished(row.past(effort=effort))
        self.owner[row.owner].append(finished)
        self.team.append(finished)
        self.owner_done[row.owner] += 1
        self.team_done += 1
        self.owner_late[row.owner] += row.late
        self.team_late += row.late

    def record(self, owner: str, calendar: BusinessCalendar) -> Record:
        """The scanner's view of the owner: their latest finishes, measured in `calendar`."""
        zone = f"{calendar.timezone}|{calendar.country}"
        history, version = self.owner[owner], self.owner_done[owner]
        seen, running = self.running.get((owner, zone)) or (
            0, RunningRecord(calendar.hours_per_day, HISTORY_PER_OWNER))
        if seen != version:
            for finished in _newest(history, version - seen):
                running.add(finished.measure(calendar, zone))
            self.running[(owner, zone)] = (version, running)
        return running.record()

    def team_record(self, calendar: BusinessCalendar) -> Record:
        """The scanner's view of the team: the latest finishes by due time, measured in
        `calendar`."""
        zone = f"{calendar.timezone}|{calendar.country}"
        seen, running = self.team_records.get(zone) or (
            0, LatestDueRecord(calendar.hours_per_day, TEAM_HISTORY))
        if seen != self.team_done:
            for finished in _newest(self.team, self.team_done - seen):
                running.add(finished.due_at, finished.measure(calendar, zone))
            self.team_records[zone] = (self.team_done, running)
        return running.record()

    def team_rate(self) -> float:
        return self.team_late / self.team_done if self.team_done else PRIOR.share_late()

    def owner_rate(self, owner: str) -> float:
        done = self.owner_done[owner]
        return self.owner_late[owner] / done if done else self.team_rate()


def _newest(history: deque[_Finished], count: int) -> list[_Finished]:
    """The last `count` finishes of `history` (all of it if it holds fewer), oldest first."""
    return list(islice(reversed(history), min(count, len(history))))[::-1]


def _evaluation_morning(row: Row, lead: int) -> datetime | None:
    """The business morning N business days before the due, when the promise is scored;
    None when it was made after that morning."""
    cal = row.calendar
    evaluate_at = cal.start_of(cal.add_business_days(cal.local(row.due_at).date(), -lead))
    return evaluate_at if cal.next_business_morning(row.made_at) <= evaluate_at else None


def _next_morning(row: Row, morning: datetime) -> datetime:
    cal = row.calendar
    return cal.start_of(cal.next_business_day(cal.local(morning).date()))


MADE, ASSESS, FINISHED = 0, 1, 2  # at the same moment: made first, finished after the look


# Moment in UTC, kind, row index (together unique, so the rest is never compared), moment
# in the promise's calendar, and what the replay learns about the promise.
Event = tuple[datetime, int, int, datetime, "_Tracking"]


def run(history: History | HistoryFile, *, lead_business_days: int = 2,
        policy: Policy | None = None, effort: bool = False,
        progress: Callable[[int, int], None] | None = None) -> Result:
    """Replay every row; score the model and both baselines when each promise was made and N
    business days before its due. With `effort`, past overruns are read from the effort
    columns where a row has them (docs/risk-model.md says why dates are the default).
    `progress(done, total)` hears how many of the rows' makings and finishes the replay has
    passed, about 200 times in all. Rows are read as the replay goes and each promise is
    forgotten once it is over (all but what its scores need), so memory follows the promises
    open at one time and the history's disorder, not its length."""
    with _collector_paused():
        return _replay(history, lead_business_days=lead_business_days,
                       policy=policy or Policy(notice_lead_business_days=lead_business_days),
                       effort=effort, progress=progress)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during a replay: it makes millions of short-lived
    objects and next to no reference cycles (a few hundred in 100,000 rows, freed after),
    and the collector's passes over what is alive cost 100,000 rows 53 s instead of 38."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _replay(history: History | HistoryFile, *, lead_business_days: int, policy: Policy,
            effort: bool, progress: Callable[[int, int], None] | None) -> Result:
    survey = history.survey
    # Events in time order, the rows read as the replay reaches them. Rows come out of time
    # order by at most the survey's disorder, so once a row made more than that after the
    # next event has been read, no row still unread can come before that event. A row's
    # finish and mornings are queued once it is made, each morning once the one before it
    # has passed, so the queue holds the open promises' next events and the makings read
    # ahead, never the whole history.
    # Each event is keyed by its moment in UTC (moments in one zone compare without asking
    # the zone for offsets) and carries the moment as the promise's calendar gives it.
    events: list[Event] = []
    unread: Iterator[tuple[int, Row]] | None = enumerate(history)
    latest_read: datetime | None = None
    known = _Histories()
    open_by_owner: dict[str, dict[int, OpenLoad]] = defaultdict(dict)
    card = _Scorecard(survey.end)
    assessments = 0
    total = 2 * survey.count
    passed = 0
    step = max(total // 200, 1)
    while True:
        while unread is not None and (latest_read is None or not events
                                      or latest_read - survey.disorder <= events[0][0]):
            index, row = next(unread, (-1, None))
            if row is None:
                unread = None
                break
            made = row.made_at.astimezone(UTC)
            latest_read = made if latest_read is None else max(latest_read, made)
            _queue(events, row.made_at, MADE,
                   _Tracking(index, row, _evaluation_morning(row, lead_business_days)))
        if not events:
            break
        _, kind, index, moment, track = heapq.heappop(events)
        row = track.row
        if kind == ASSESS:
            assessments += _look(track, moment, known, open_by_owner[row.owner], policy)
            if not track.done and moment != track.evaluate_at:
                _queue(events, _next_morning(row, moment), ASSESS, track)
            continue
        if progress is not None and passed % step == 0:
            progress(passed, total)
        passed += 1
        if kind == MADE:
            open_by_owner[row.owner][index] = OpenLoad(row.due_at)
            track.facts = PromiseFacts(id=index, title=row.id, owner=row.owner,
                                       owner_name=row.owner, made_at=row.made_at,
                                       due_at=row.due_at, original_due_at=row.due_at)
            _capture(track, known, open_by_owner[row.owner], policy)
            assessments += 1
            # A promise never delivered leaves the owner's load at its due: by then the team
            # would have cancelled or renegotiated it. It never enters the history (as in a
            # scan).
            _queue(events, row.done_at or row.due_at, FINISHED, track)
            if track.evaluate_at is not None:
                _queue(events, row.calendar.next_business_morning(row.made_at), ASSESS, track)
        else:
            open_by_owner[row.owner].pop(index, None)
            track.done = True
            track.facts = None
            if row.done_at is not None:
                known.add(row, effort=effort)
            card.add(track, lead_business_days)
    if progress is not None:
        progress(total, total)
    return card.result(lead_business_days, survey.count, history.problems, assessments)


def _queue(events: list[Event], moment: datetime, kind: int, track: _Tracking) -> None:
    heapq.heappush(events, (moment.astimezone(UTC), kind, track.index, moment, track))


def _capture(track: _Tracking, known: _Histories, open_load: dict[int, OpenLoad],
             policy: Policy) -> None:
    """The forecast shown when the promise is made, next to both baselines at that moment."""
    row = track.row
    track.at_capture["owner_rate"] = known.owner_rate(row.owner)
    track.at_capture["calendar"] = known.team_rate()
    track.at_capture["model"] = _chance(track, row.made_at, known, open_load, policy).p_late


def _chance(track: _Tracking, now: datetime, known: _Histories,
            open_load: dict[int, OpenLoad], policy: Policy) -> Chance:
    """The risk engine's level and p_late, the part of an assessment the backtest scores."""
    row = track.row
    assert track.facts is not None  # only open promises are looked at
    owner_record = known.record(row.owner, row.calendar)
    team_record: Record | Sequence[PastPromise] = (
        () if owner_record.size >= MIN_OWNER_SAMPLES else known.team_record(row.calendar))
    return chance(
        track.facts, now=now, calendar=row.calendar, owner_history=owner_record,
        team_history=team_record,
        open_load=[load for other, load in open_load.items() if other != track.index],
        policy=policy,
    )


def _look(track: _Tracking, now: datetime, known: _Histories,
          open_load: dict[int, OpenLoad], policy: Policy) -> int:
    """One business morning's look at one open promise; returns the assessments made."""
    row = track.row
    if track.done:
        return 0
    evaluating = now == track.evaluate_at
    owner_rate = known.owner_rate(row.owner)
    if owner_rate >= FLAG_THRESHOLD:
        track.flagged.setdefault("owner_rate", now)
    if evaluating:
        track.p["owner_rate"] = owner_rate
        track.alarm["owner_rate"] = owner_rate >= FLAG_THRESHOLD
        track.p["calendar"] = known.team_rate()
        track.alarm["calendar"] = True
        track.flagged.setdefault("calendar", now)
    if "model" in track.flagged and not evaluating:
        return 0  # already warned in time; only the score at N days ahead remains
    result = _chance(track, now, known, open_load, policy)
    if result.level == "at_risk":
        track.flagged.setdefault("model", now)
    if evaluating:
        track.p["model"] = result.p_late
        track.alarm["model"] = result.level == "at_risk"
    return 1


class _Scorecard:
    """What the scores need of each promise, taken when its replay is over so the replay can
    forget it. Counts are kept as they come; the probabilities are kept in row order, the
    order they are summed in (a float sum depends on its order), so a promise that finishes
    before an earlier row's waits here until that one has finished too."""

    def __init__(self, end_of_history: datetime | None) -> None:
        self.end = end_of_history
        self.waiting: dict[int, tuple[bool, tuple[float, ...], dict[str, tuple[float, bool]]]
                           | None] = {}
        self.next = 0  # the first row still awaited
        self.capture = {method: array("d") for method in METHODS}
        self.capture_late = bytearray()
        # Per method, at the evaluation morning: p_late, whether it was late, the alarm.
        self.evaluated = {method: (array("d"), bytearray(), bytearray()) for method in METHODS}
        self.caught = dict.fromkeys(METHODS, 0)
        self.late: list[LateItem] = []
        self.scored = 0
        self.too_short = 0
        self.short_notice = 0

    def add(self, track: _Tracking, lead: int) -> None:
        row = track.row
        resolved = row.done_at is not None or (self.end is not None and row.due_at < self.end)
        found = None
        if resolved:
            late = row.late
            self.scored += 1
            self.short_notice += track.evaluate_at is None
            if late:
                self.late.append(_late_item(track, lead))
                self.too_short += track.evaluate_at is None
                for method in METHODS:
                    self.caught[method] += method in track.flagged
            found = (late, tuple(track.at_capture[method] for method in METHODS),
                     {method: (track.p[method], track.alarm[method]) for method in track.p})
        self.waiting[track.index] = found
        while self.next in self.waiting:
            outcome = self.waiting.pop(self.next)
            self.next += 1
            if outcome is not None:
                self._keep(*outcome)

    def _keep(self, late: bool, capture: tuple[float, ...],
              evaluated: dict[str, tuple[float, bool]]) -> None:
        self.capture_late.append(late)
        for method, p in zip(METHODS, capture, strict=True):
            self.capture[method].append(p)
        for method, (p, alarm) in evaluated.items():
            ps, lates, alarms = self.evaluated[method]
            ps.append(p)
            lates.append(late)
            alarms.append(alarm)

    def result(self, lead: int, rows: int, problems: tuple[Problem, ...],
               assessments: int) -> Result:
        scores = {}
        capture = {}
        late = len(self.late)
        for method in METHODS:
            ps, lates, alarms = self.evaluated[method]
            scores[method] = _scores(list(zip(ps, map(bool, lates), strict=True)),
                                     alarms=list(map(bool, alarms)),
                                     caught=self.caught[method], late=late)
            # At capture each method flags what it thinks more likely late than not.
            pairs = list(zip(self.capture[method], map(bool, self.capture_late), strict=True))
            capture[method] = _scores(pairs, alarms=[p >= FLAG_THRESHOLD for p, _ in pairs],
                                      caught=sum(p >= FLAG_THRESHOLD for p, was in pairs if was),
                                      late=late)
        return Result(
            lead_business_days=lead,
            rows=rows,
            problems=problems,
            late=tuple(sorted(self.late, key=lambda item: (item.due_at, item.line))),
            scored=self.scored,
            unresolved=rows - self.scored,
            too_short=self.too_short,
            short_notice=self.short_notice,
            assessments=assessments,
            scores=scores,
            capture=capture,
        )


def _scores(pairs: Sequence[tuple[float, bool]], *, alarms: Sequence[bool], caught: int,
            late: int) -> Scores:
    flagged = [was for (_, was), alarm in zip(pairs, alarms, strict=True) if alarm]
    bins, ece = calibration(pairs)
    return Scores(
        recall=caught / late if late else None,
        precision=sum(flagged) / len(flagged) if flagged else None,
        brier=sum((p - was) ** 2 for p, was in pairs) / len(pairs) if pairs else None,
        flagged=len(flagged),
        evaluated=len(pairs),
        calibration=bins,
        ece=ece,
    )


def _late_item(track: _Tracking, lead: int) -> LateItem:
    row = track.row
    flagged = track.flagged.get("model")
    return LateItem(
        id=row.id, line=row.line, owner=row.owner, client=row.client, due_at=row.due_at,
        done_at=row.done_at, flagged_at=flagged,
        flagged_lead_business_days=(row.calendar.business_days_between(flagged, row.due_at)
                                    if flagged else None),
        p_late=track.p.get("model"),
    )

