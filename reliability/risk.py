"""Risk assessment: which open promises will slip, how likely, why, and what to do about it.

The point is to see a slip while there is still time to tell the client on Wednesday rather
than Friday morning. Pure: the service layer builds these plain facts from the database, the
backtest from a CSV; both get the same answer for the same `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reliability.calendar import BusinessCalendar
from reliability.forecast import (
    MIN_OWNER_SAMPLES,
    MIN_TEAM_SAMPLES,
    PRIOR,
    STATUS_LIKELIHOOD,
    UNANSWERED_LIKELIHOOD,
    Distribution,
    Outlook,
    PastPromise,
    Progress,
    Record,
    adjusted,
    load_factor,
    outlook,
)
from reliability.vocabulary import CheckInStatus, Evidence, NextAction, RiskLevel

if TYPE_CHECKING:
    from reliability.config import PolicySettings

__all__ = [
    "CaptureForecast",
    "Chance",
    "CheckInFact",
    "OpenLoad",
    "PastPromise",
    "Policy",
    "PromiseFacts",
    "Record",
    "RiskAssessment",
    "assess",
    "chance",
    "forecast_at_capture",
]

FRESH_BUSINESS_DAYS = 1  # an answer from today or the previous business day counts in full


@dataclass(frozen=True)
class CheckInFact:
    at: datetime
    status: str  # on_track | at_risk | blocked | done
    progress: int | None = None  # percent
    note: str | None = None


@dataclass(frozen=True)
class PromiseFacts:
    id: int | None
    title: str
    owner: str
    owner_name: str
    made_at: datetime
    due_at: datetime
    original_due_at: datetime
    checkins: tuple[CheckInFact, ...] = ()
    checkin_requested_at: datetime | None = None  # when the owner was last asked to check in
    client_told_at: datetime | None = None  # a delay notice already went out for this due date
    # When the due date last moved: an "at risk" said about the old date says nothing about
    # the new one (progress still counts).
    due_changed_at: datetime | None = None


@dataclass(frozen=True)
class OpenLoad:
    """Another open promise of the same owner."""

    due_at: datetime


@dataclass(frozen=True)
class Policy:
    """When to warn. A slip becomes at risk once it is more likely than not: the owner still
    approves every draft, so a false alarm costs a minute while a silent slip costs the client's
    trust. Watch starts clearly above the prior's base rate of about one in four."""

    notice_lead_business_days: int = 2
    checkin_lead_business_days: int = 3
    escalate_business_hours_before_notice: float = 4.0
    at_risk_threshold: float = 0.5
    watch_threshold: float = 0.3

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> Policy:
        return cls(
            notice_lead_business_days=settings.notice_lead_business_days,
            checkin_lead_business_days=settings.checkin_lead_business_days,
            escalate_business_hours_before_notice=settings.escalate_business_hours_before_notice,
        )


@dataclass(frozen=True)
class RiskAssessment:
    level: str  # a RiskLevel, or CheckInStatus.done once the owner reported it done
    p_late: float
    # Each reason is a code and its facts (see reliability.drafting.reasons), words only
    # when a person reads them, in their language.
    reasons: tuple[dict[str, Any], ...]
    notice_by: datetime
    next_action: NextAction
    forecast_done_at: datetime  # 80th percentile, the end of a business day
    next_check_at: datetime | None  # None only once done
    evidence: Evidence
    # The owner is due a check-in request too, whatever the main action is: an at-risk
    # promise still needs the owner's word.
    ask_checkin: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "p_late": round(self.p_late, 3),
            "reasons": list(self.reasons),
            "notice_by": self.notice_by.isoformat(),
            "next_action": self.next_action,
            "forecast_done_at": self.forecast_done_at.isoformat(),
            "next_check_at": self.next_check_at.isoformat() if self.next_check_at else None,
            "evidence": self.evidence,
            "ask_checkin": self.ask_checkin,
        }


@dataclass(frozen=True)
class Chance:
    """How likely a promise is to slip as of `now` and why: the part of an assessment that a
    backtest scores. `assess` adds the dates and the next action to it."""

    level: str
    p_late: float
    reasons: tuple[dict[str, Any], ...]
    evidence: Evidence
    latest: CheckInFact | None  # the owner's latest check-in by `now`
    view: Outlook | None  # None once the owner reported it done
    elapsed: float  # business hours since the promise was made
    answer_due: datetime | None  # when silence to a check-in request starts to count


def chance(
    promise: PromiseFacts,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    owner_history: Record | Sequence[PastPromise],
    team_history: Record | Sequence[PastPromise],
    open_load: Sequence[OpenLoad],
    policy: Policy,
) -> Chance:
    """The level and p_late of `promise` as of `now`, with the reasons behind them."""
    cal = calendar
    checkins = sorted((c for c in promise.checkins if c.at <= now), key=lambda c: c.at)
    latest = checkins[-1] if checkins else None
    name = promise.owner_name or promise.owner
    if latest is not None and latest.status == CheckInStatus.done:
        return Chance(
            level=CheckInStatus.done,
            p_late=0.0,
            reasons=({"code": "reported_done", "owner": name, "at": _iso(latest.at)},),
            evidence=Evidence.owner,
            latest=latest,
            view=None,
            elapsed=0.0,
            answer_due=None,
        )

    reasons: list[dict[str, Any]] = []
    overdue = now > promise.due_at
    if overdue:
        reasons.append({"code": "past_due", "due_at": _iso(promise.due_at)})

    likelihoods: list[float] = []
    said = latest
    if said is not None and promise.due_changed_at is not None and said.at < promise.due_changed_at:
        said = None
    if said is not None and said.status in STATUS_LIKELIHOOD:
        weight = _freshness(cal, said.at, now)
        likelihoods.append(STATUS_LIKELIHOOD[said.status] ** weight)
        reasons.append(_status_reason(cal, name, said, now))

    answer_due = _answer_due(promise, cal, now, checkins)
    if answer_due is not None and now >= answer_due:
        likelihoods.append(UNANSWERED_LIKELIHOOD)
        reasons.append({"code": "no_answer", "asked_at": _iso(promise.checkin_requested_at)})

    planned = cal.business_hours(promise.made_at, promise.due_at)
    elapsed = max(cal.business_hours(promise.made_at, now), 0.0)
    progress = None
    reported = next((c for c in reversed(checkins) if c.progress is not None), None)
    if reported is not None and reported.progress is not None:
        at = max(cal.business_hours(promise.made_at, reported.at), 0.0)
        progress = Progress(
            elapsed=at, done=reported.progress / 100, weight=_freshness(cal, reported.at, now)
        )
        left = 1 - at / planned if planned > 0 else 0.0
        reasons.append({"code": "progress", "done": reported.progress,
                        "time_left": round(100 * min(max(left, 0.0), 1.0)),
                        "at": _iso(reported.at)})

    evidence, distribution, history_reasons = _evidence(
        name, _record(owner_history, cal), lambda: _record(team_history, cal)
    )
    reasons += history_reasons

    other_open = _crowding(cal, promise.due_at, open_load)
    if other_open:
        reasons.append({"code": "crowded", "owner": name, "others": other_open,
                        "by": _iso(promise.due_at)})

    if cal.business_days_between(promise.made_at, promise.due_at) < (
        policy.notice_lead_business_days
    ):
        reasons.append({"code": "short_window", "made_at": _iso(promise.made_at),
                        "due_at": _iso(promise.due_at)})
    if promise.original_due_at != promise.due_at:
        reasons.append({"code": "moved", "from": _iso(promise.original_due_at)})

    view = outlook(
        distribution, planned=planned, elapsed=elapsed, progress=progress, other_open=other_open
    )
    p_late = 1.0 if overdue else adjusted(view.p_model, likelihoods)

    if overdue:
        level = RiskLevel.overdue
    elif p_late >= policy.at_risk_threshold or (
        said is not None and said.status in (CheckInStatus.at_risk, CheckInStatus.blocked)
    ):
        level = RiskLevel.at_risk
    elif p_late >= policy.watch_threshold:
        level = RiskLevel.watch
    else:
        level = RiskLevel.on_track
    return Chance(level=level, p_late=p_late, reasons=tuple(reasons), evidence=evidence,
                  latest=latest, view=view, elapsed=elapsed, answer_due=answer_due)


def _answer_due(promise: PromiseFacts, cal: BusinessCalendar, now: datetime,
                checkins: Sequence[CheckInFact]) -> datetime | None:
    """When an unanswered check-in request starts to count: silence only says something once
    the owner has had until the next business morning. None when nothing waits for an answer."""
    requested = promise.checkin_requested_at
    if requested is None or requested > now or any(c.at >= requested for c in checkins):
        return None
    return cal.next_business_morning(requested)


def assess(
    promise: PromiseFacts,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    owner_history: Record | Sequence[PastPromise],
    team_history: Record | Sequence[PastPromise],
    open_load: Sequence[OpenLoad],
    policy: Policy,
) -> RiskAssessment:
    """How likely `promise` is to slip as of `now`, why, and what to do next.

    Pass `Record`s built once per scan rather than raw histories when assessing many promises."""
    cal = calendar
    notice_by = cal.notice_by(promise.due_at, policy.notice_lead_business_days)
    odds = chance(promise, now=now, calendar=cal, owner_history=owner_history,
                  team_history=team_history, open_load=open_load, policy=policy)
    view, latest = odds.view, odds.latest
    if view is None:  # the owner reported it done
        assert latest is not None
        return RiskAssessment(
            level=odds.level,
            p_late=odds.p_late,
            reasons=odds.reasons,
            notice_by=notice_by,
            next_action=NextAction.none,
            forecast_done_at=latest.at,
            next_check_at=None,
            evidence=odds.evidence,
        )
    escalate_from = cal.add_business_hours(notice_by, -policy.escalate_business_hours_before_notice)
    checkins_open = cal.start_of(
        cal.add_business_days(cal.local(promise.due_at).date(), -policy.checkin_lead_business_days)
    )
    ask_checkin = _checkin_due(
        promise, now=now, calendar=cal, checkins_open=checkins_open, latest=latest
    )
    return RiskAssessment(
        level=odds.level,
        p_late=odds.p_late,
        reasons=odds.reasons,
        notice_by=notice_by,
        next_action=_next_action(
            promise, level=odds.level, now=now, escalate_from=escalate_from,
            ask_checkin=ask_checkin
        ),
        ask_checkin=ask_checkin,
        forecast_done_at=_forecast_day(cal, view.finish_hours(odds.p_late), promise, now,
                                       odds.elapsed),
        next_check_at=min(
            moment
            for moment in (
                checkins_open,
                odds.answer_due,
                escalate_from,
                notice_by,
                promise.due_at,
                cal.next_business_morning(now),
            )
            if moment is not None and moment > now
        ),
        evidence=odds.evidence,
    )


# How likely a new promise is to be kept, in words: the upper bound of p_late for each.
CHANCE_WORDS = (
    (0.15, "Very likely to be kept"),
    (0.35, "Likely to be kept"),
    (0.65, "Could go either way"),
    (0.85, "Likely to run late"),
    (1.0, "Very likely to run late"),
)
# Load is the reason named when it alone adds this much to the chance of running late.
LOAD_MATTERS = 0.1


@dataclass(frozen=True)
class CaptureForecast:
    """What the echo of a new promise says before it is stored: how likely it is to be kept,
    the one reason that matters most, and the day by which the owner will likely be done
    (80% of similar promises were). Most slips are decided here: a promise due tomorrow
    leaves no scan time to warn."""

    p_late: float
    chance: str
    reason: dict[str, Any]  # the one that matters most, as code and facts
    likely_done_by: datetime  # the end of a business day
    # The likely day, offered instead of the ask when it is a later day and rests on a
    # record (the owner's or the team's); None otherwise.
    suggested_due_at: datetime | None
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "p_late": round(self.p_late, 3),
            "chance": self.chance,
            "reason": self.reason,
            "likely_done_by": self.likely_done_by.isoformat(),
            "suggested_due_at": (self.suggested_due_at.isoformat()
                                 if self.suggested_due_at else None),
            "evidence": self.evidence,
        }


def forecast_at_capture(
    *,
    owner: str,
    owner_name: str,
    due_at: datetime,
    now: datetime,
    calendar: BusinessCalendar,
    owner_history: Record | Sequence[PastPromise],
    team_history: Record | Sequence[PastPromise],
    open_load: Sequence[OpenLoad],
    policy: Policy,
) -> CaptureForecast:
    """The assessment of a promise about to be made at `now`, in the words the echo shows."""
    owner_record = _record(owner_history, calendar)
    team_record = _record(team_history, calendar)
    facts = PromiseFacts(id=None, title="", owner=owner, owner_name=owner_name, made_at=now,
                         due_at=due_at, original_due_at=due_at)
    result = assess(facts, now=now, calendar=calendar, owner_history=owner_record,
                    team_history=team_record, open_load=open_load, policy=policy)
    name = owner_name or owner
    reason = _capture_reason(name, result.evidence, owner_record, team_record)
    crowded = _crowding(calendar, due_at, open_load)
    if load_factor(crowded) > 1:
        alone = assess(facts, now=now, calendar=calendar,
                       owner_history=owner_record, team_history=team_record, open_load=(),
                       policy=policy)
        if result.p_late - alone.p_late >= LOAD_MATTERS:
            reason = {"code": "crowded", "owner": name, "others": crowded,
                      "by": _iso(due_at), "unusual": True}
    likely = result.forecast_done_at
    # With no record to go on the day is a rough guess: it is shown, not offered instead.
    later = (result.evidence != Evidence.prior
             and calendar.local(likely).date() > calendar.local(due_at).date())
    return CaptureForecast(
        p_late=result.p_late,
        chance=next((words for bound, words in CHANCE_WORDS if result.p_late < bound),
                    CHANCE_WORDS[-1][1]),
        reason=reason,
        likely_done_by=likely,
        suggested_due_at=likely if later else None,
        evidence=result.evidence,
    )


def _crowding(cal: BusinessCalendar, due_at: datetime, open_load: Sequence[OpenLoad]) -> int:
    """Other open promises competing for the same hours: those due by the end of the due day."""
    # In UTC, moments stored in UTC compare without asking a zone for their offsets.
    window_ends = cal.end_of(cal.local(due_at).date()).astimezone(UTC)
    return sum(load.due_at <= window_ends for load in open_load)


def _capture_reason(name: str, evidence: Evidence, owner: Record,
                    team: Record) -> dict[str, Any]:
    """The record the forecast rests on, as a reason."""
    if evidence == Evidence.owner:
        return _track_reason("owner", name, owner)
    if evidence == Evidence.team:
        return {**_track_reason("team", name, team), "newcomer": True}
    return {"code": "rough_guess", "owner": name}


def _record(history: Record | Sequence[PastPromise], calendar: BusinessCalendar) -> Record:
    return history if isinstance(history, Record) else Record.of(history, calendar)


def _evidence(
    name: str, owner: Record, team_record: Callable[[], Record]
) -> tuple[Evidence, Distribution, list[dict[str, Any]]]:
    """Which history speaks for this owner, and the reasons that say so; the team's record
    is only built when the owner's own is too short."""
    if owner.size >= MIN_OWNER_SAMPLES:
        return Evidence.owner, owner.distribution, [_track_reason("owner", name, owner)]
    team = team_record()
    if team.size >= MIN_TEAM_SAMPLES:
        return (
            Evidence.team,
            team.distribution,
            [{"code": "little_history_team", "owner": name, "count": owner.size},
             _track_reason("team", name, team)],
        )
    return (
        Evidence.prior,
        PRIOR,
        [{"code": "little_history", "owner": name, "count": owner.size,
          "team_count": team.size, "slip_rate": round(PRIOR.share_late(), 3)}],
    )


def _track_reason(whose: str, name: str, record: Record) -> dict[str, Any]:
    """The history used, e.g. 4 of Alice's last 5 promises were late, by a median of 2 days."""
    return {"code": "track_record", "whose": whose, "owner": name, "count": record.size,
            "late": record.late, "broken": record.broken,
            "median_late_hours": (round(record.median_lateness_hours, 2)
                                  if record.median_lateness_hours is not None else None),
            "hours_per_day": record.hours_per_day}


def _status_reason(cal: BusinessCalendar, name: str, checkin: CheckInFact,
                   now: datetime) -> dict[str, Any]:
    age = cal.business_days_between(checkin.at, now)
    return {"code": "reported_status", "owner": name, "status": checkin.status,
            "at": _iso(checkin.at), "days_ago": age if age > FRESH_BUSINESS_DAYS else None,
            "note": checkin.note.strip() if checkin.note else None}


def _freshness(cal: BusinessCalendar, at: datetime, now: datetime) -> float:
    """1 for an answer from today or the previous business day, halving each day after."""
    age = cal.business_days_between(at, now)
    return 1.0 if age <= FRESH_BUSINESS_DAYS else 0.5 ** (age - FRESH_BUSINESS_DAYS)


def _checkin_due(
    promise: PromiseFacts,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    checkins_open: datetime,
    latest: CheckInFact | None,
) -> bool:
    """Inside the check-in window, with no word from the owner since the last business day."""
    contacts = [promise.checkin_requested_at, latest.at if latest is not None else None]
    last_contact = max((c for c in contacts if c is not None and c <= now), default=None)
    return now >= checkins_open and (
        last_contact is None or _freshness(calendar, last_contact, now) < 1
    )


def _next_action(
    promise: PromiseFacts, *, level: str, now: datetime, escalate_from: datetime, ask_checkin: bool
) -> NextAction:
    if level in (RiskLevel.at_risk, RiskLevel.overdue) and promise.client_told_at is None:
        return NextAction.escalate if now >= escalate_from else NextAction.delay_notice
    return NextAction.checkin if ask_checkin else NextAction.none


def _forecast_day(
    cal: BusinessCalendar,
    finish_hours: float | None,
    promise: PromiseFacts,
    now: datetime,
    elapsed: float,
) -> datetime:
    """The end of the business day the forecast finish falls on; past all evidence, the
    business day after the due date (or today, if that has gone by too)."""
    if finish_hours is None:
        last_known = max(cal.local(promise.due_at).date(), cal.local(now).date())
        return cal.end_of(cal.next_business_day(last_known))
    finish = cal.add_business_hours(now, max(finish_hours - elapsed, 0.0))
    return cal.end_of(cal.next_business_day(cal.local(finish).date(), inclusive=True))


def _iso(moment: datetime) -> str:
    """Moments inside reasons are stored as JSON; the reader's zone is applied when shown."""
    return moment.astimezone(UTC).isoformat()
