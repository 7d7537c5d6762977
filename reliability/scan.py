"""The scan: assess the open promises whose `next_check_at` has come, and act on the result.

Cost follows the work due, not the table: each open promise carries the next moment its
assessment can change, under an index, and a tick reads only those rows. Several workers
may scan at once: on PostgreSQL each claims its batch with `FOR UPDATE SKIP LOCKED`; on
SQLite the write lock taken at the start of the transaction serialises them. Actions carry
idempotency keys, so a slip yields one draft however many ticks see it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, true, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reliability import compose, notices, webhook_events
from reliability.calendar import BusinessCalendar, CalendarError
from reliability.db import among, insert_rows, on_postgresql
from reliability.forecast import HISTORY_PER_OWNER, TEAM_HISTORY
from reliability.ledger import Ledger
from reliability.models import (
    Assessment,
    CheckIn,
    Client,
    DueChange,
    Event,
    Member,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
    PromiseStatus,
)
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
from reliability.vocabulary import AssessError, NextAction

log = logging.getLogger(__name__)

ACTOR = "rule:scan"
# A new assessment row is kept when the level changes or p_late moves at least this much.
P_LATE_STEP = 0.05


@dataclass
class ScanReport:
    assessed: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    # Promises that could not be assessed this tick: id and reason code.
    failed: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"assessed": self.assessed, "changes": self.changes, "actions": self.actions,
                "failed": self.failed}

    def absorb(self, other: ScanReport) -> None:
        self.assessed += other.assessed
        self.changes += other.changes
        self.actions += other.actions
        self.failed += other.failed


@dataclass
class _Batch:
    """Everything one batch needs, loaded with a handful of queries instead of one per row."""

    rows: list[tuple[Promise, Client, Member]]
    checkins: dict[int, list[CheckIn]]
    asked: dict[int, datetime]
    told: dict[int, datetime]
    moved: dict[int, datetime]
    open_due: dict[int, list[tuple[int, datetime]]]
    managers: dict[int, Member]


@dataclass
class _Tick:
    """What one tick learns once and reuses in every batch: each owner's history (read
    once, measured once per calendar) and the team's record."""

    history: dict[int, list[PastPromise]] = field(default_factory=dict)
    owners: dict[tuple[int, str], Record] = field(default_factory=dict)
    team: dict[str, Record] = field(default_factory=dict)


@dataclass
class _Work:
    """What one batch decided, written together at the end of the batch."""

    drafts: list[notices.Draft] = field(default_factory=list)
    escalations: list[tuple[Promise, Client, Member, Member, RiskAssessment]] = field(
        default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    promises: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def absorb(self, other: _Work) -> None:
        self.drafts += other.drafts
        self.escalations += other.escalations
        self.assessments += other.assessments
        self.events += other.events
        self.promises += other.promises
        self.failed += other.failed


class Scanner:
    """One scanning worker; what a tick learns is kept for the length of that tick."""

    def __init__(self, ledger: Ledger, *, batch_size: int | None = None) -> None:
        self.ledger = ledger
        self.settings = ledger.settings
        self.batch_size = batch_size or self.settings.scheduler.scan_batch_size
        self.policy = Policy.from_settings(self.settings.policy)

    def tick(self, now: datetime) -> ScanReport:
        """Assess everything due by `now`, batch after batch, until nothing is left.

        A promise that cannot be assessed is set aside and the rest of its batch goes on.
        A batch that fails as a whole all the same (a message that cannot be drafted) is
        done again one promise at a time, each in a savepoint, so only the promise at fault
        is set aside: the fast path stays one transaction per batch."""
        report = ScanReport()
        known = _Tick()
        while True:
            try:
                with self.ledger.transaction() as session:
                    done = self._batch(session, now, known, one_by_one=False)
            except Exception as error:
                log.warning("a scan batch failed (%r): assessing it one promise at a time",
                            error)
                with self.ledger.transaction() as session:
                    done = self._batch(session, now, known, one_by_one=True)
            if done is None:
                return report
            report.absorb(done)

    def _batch(self, session: Session, now: datetime, known: _Tick, *,
               one_by_one: bool) -> ScanReport | None:
        """Claim, assess and write one batch; None when nothing is due."""
        claimed = self._claim(session, now)
        if not claimed:
            return None
        batch = self._load(session, claimed)
        known.history.update(self._histories(
            session, {p.owner_id for p in claimed} - known.history.keys()))
        report = ScanReport()
        if not one_by_one:
            work = _Work()
            for promise, client, owner in batch.rows:
                self._assess_safely(session, batch, work, promise, client, owner, now,
                                    report, known)
            self._write(session, batch, work, now, report)
            return report
        for promise, client, owner in batch.rows:
            work, mine = _Work(), ScanReport()
            try:
                with session.begin_nested():
                    self._assess_safely(session, batch, work, promise, client, owner, now,
                                        mine, known)
                    self._write(session, batch, work, now, mine)
            except OperationalError:
                raise  # the database itself (a lost connection): no promise is at fault
            except Exception as error:  # this promise's message, its write: its fault alone
                work, mine = _Work(), ScanReport()
                _set_aside(work, mine, promise, error, now)
                self._write(session, batch, work, now, mine)
            report.absorb(mine)
        return report

    def _assess_safely(self, session: Session, batch: _Batch, work: _Work, promise: Promise,
                       client: Client, owner: Member, now: datetime, report: ScanReport,
                       known: _Tick) -> None:
        """Assess one promise of the batch; one that cannot be assessed is set aside with
        its reason instead of failing the tick for the whole team. Assessing writes
        nothing, so a failure leaves only this promise's own, discarded, work behind."""
        mine, seen = _Work(), ScanReport()
        try:
            self._assess_one(session, batch, mine, promise, client, owner, now, seen, known)
        except Exception as error:  # any failure of one row is that row's alone
            _set_aside(work, report, promise, error, now)
            return
        work.absorb(mine)
        report.absorb(seen)

    # -- claiming and loading -----------------------------------------------------------

    def _claim(self, session: Session, now: datetime) -> list[Promise]:
        query = (
            select(Promise)
            .where(Promise.status == PromiseStatus.open,
                   col(Promise.next_check_at).is_not(None),
                   col(Promise.next_check_at) <= now)
            .order_by(col(Promise.next_check_at))
            .limit(self.batch_size)
        )
        if on_postgresql(session):
            query = query.with_for_update(skip_locked=True, of=Promise)  # type: ignore[arg-type]
        return list(session.exec(query).all())

    def _load(self, session: Session, claimed: list[Promise]) -> _Batch:
        ids = [p.id for p in claimed]
        owner_ids = {p.owner_id for p in claimed}

        def rows(query: Any) -> list[Any]:
            return list(session.exec(query).all())

        clients = {c.id: c for c in rows(select(Client).where(
            among(session, Client.id, {p.client_id for p in claimed})))}
        members = {m.id: m for m in rows(select(Member).where(
            among(session, Member.id, owner_ids)))}
        manager_ids = {m.manager_id for m in members.values() if m.manager_id}
        managers = {m.id: m for m in rows(select(Member).where(
            among(session, Member.id, manager_ids)))} if manager_ids else {}

        checkins: dict[int, list[CheckIn]] = defaultdict(list)
        for checkin in rows(select(CheckIn).where(among(session, CheckIn.promise_id, ids))
                            .order_by(col(CheckIn.at))):
            checkins[checkin.promise_id].append(checkin)

        asked = dict(rows(
            select(Notice.promise_id, func.max(Notice.created_at))
            .where(among(session, Notice.promise_id, ids),
                   Notice.kind == NoticeKind.checkin_request)
            .group_by(col(Notice.promise_id))))
        told: dict[int, datetime] = {}
        for notice in rows(select(Notice).where(among(session, Notice.promise_id, ids),
                                                Notice.kind == NoticeKind.delay_notice,
                                                Notice.status == NoticeStatus.sent)):
            assert notice.promise_id is not None and notice.sent_at is not None
            told[notice.promise_id] = notice.sent_at

        moved = dict(rows(
            select(DueChange.promise_id, func.max(DueChange.changed_at))
            .where(among(session, DueChange.promise_id, ids))
            .group_by(col(DueChange.promise_id))))

        # Load counts promises due by the end of this one's due day (a day on at most): each
        # owner's open promises up to the batch's last such bound, one index range per owner.
        bound = _day_after(max(promise.due_at for promise in claimed))
        open_due: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
        for owner_id, promise_id, due_at in rows(
            select(Promise.owner_id, Promise.id, Promise.due_at)
            .where(Promise.status == PromiseStatus.open, col(Promise.due_at) <= bound,
                   among(session, Promise.owner_id, owner_ids),
                   col(Promise.internal).is_(False))):
            open_due[owner_id].append((promise_id or 0, due_at))

        return _Batch(
            rows=[(p, clients[p.client_id], members[p.owner_id]) for p in claimed],
            checkins=checkins,
            asked={k: v for k, v in asked.items() if k is not None},
            told=told,
            moved=moved,
            open_due=open_due,
            managers=managers,
        )

    @staticmethod
    def _histories(session: Session, owner_ids: set[int]) -> dict[int, list[PastPromise]]:
        """Each owner's latest finished promises, measured against the date first promised.

        One statement for the whole batch that stays one short index range per owner, so the
        read costs the same with a million rows stored. PostgreSQL says so with LATERAL ...
        LIMIT. SQLite has no LATERAL; it starts each owner's range at their cut-off (the
        done_at of their HISTORY_PER_OWNER-th latest, or their earliest), found once per
        owner; rows that tie at the cut-off are trimmed here."""
        if not owner_ids:
            return {}
        columns = (Promise.made_at, Promise.original_due_at, Promise.done_at)
        if on_postgresql(session):
            owners = (select(Member.id).where(among(session, Member.id, owner_ids))
                      .subquery("owners"))
            recent = (select(*columns)
                      .where(Promise.owner_id == owners.c.id,
                             Promise.status == PromiseStatus.done)
                      .order_by(col(Promise.done_at).desc())
                      .limit(HISTORY_PER_OWNER)
                      .lateral("recent"))
            query = select(owners.c.id, recent).select_from(owners).join(recent, true())
        else:
            earlier = aliased(Promise)
            mine = and_(earlier.owner_id == Member.id, earlier.status == PromiseStatus.done)
            latest = (select(earlier.done_at).where(mine).order_by(col(earlier.done_at).desc())
                      .limit(1).offset(HISTORY_PER_OWNER - 1).scalar_subquery())
            earliest = select(func.min(earlier.done_at)).where(mine).scalar_subquery()
            query = (select(Member.id, *columns)
                     .outerjoin(Promise, and_(Promise.owner_id == Member.id,
                                              Promise.status == PromiseStatus.done,
                                              col(Promise.done_at)
                                              >= func.coalesce(latest, earliest)))
                     .where(among(session, Member.id, owner_ids)))
        history: dict[int, list[PastPromise]] = {owner_id: [] for owner_id in owner_ids}
        for owner_id, made, due, done in session.exec(query).all():
            if made is not None:  # an owner with nothing finished yet
                history[owner_id].append(PastPromise(owner=str(owner_id), made_at=made,
                                                     due_at=due, done_at=done))
        return {owner_id: sorted(past, key=lambda p: p.done_at or p.due_at,
                                 reverse=True)[:HISTORY_PER_OWNER]
                for owner_id, past in history.items()}

    @staticmethod
    def _team_history(session: Session) -> list[PastPromise]:
        rows = session.exec(
            select(Promise.owner_id, Promise.made_at, Promise.original_due_at, Promise.done_at)
            .where(Promise.status == PromiseStatus.done)
            .order_by(col(Promise.done_at).desc())
            .limit(TEAM_HISTORY)
        ).all()
        return [PastPromise(owner=str(o), made_at=m, due_at=d, done_at=x) for o, m, d, x in rows]

    # -- one promise --------------------------------------------------------------------

    def _assess_one(self, session: Session, batch: _Batch, work: _Work, promise: Promise,
                    client: Client, owner: Member, now: datetime, report: ScanReport,
                    known: _Tick) -> None:
        assert promise.id is not None and owner.id is not None
        calendar = self.ledger.calendar_for(client)
        zone_key = f"{calendar.timezone}|{calendar.country}"
        if zone_key not in known.team:
            known.team[zone_key] = Record.of(self._team_history(session), calendar)
        if (owner.id, zone_key) not in known.owners:
            known.owners[(owner.id, zone_key)] = Record.of(known.history[owner.id], calendar)
        facts = PromiseFacts(
            id=promise.id,
            title=promise.title,
            owner=owner.email,
            owner_name=owner.name,
            made_at=promise.made_at,
            due_at=promise.due_at,
            original_due_at=promise.original_due_at,
            checkins=tuple(CheckInFact(c.at, c.status, c.progress, c.note)
                           for c in batch.checkins.get(promise.id, [])),
            checkin_requested_at=batch.asked.get(promise.id),
            client_told_at=self._told_for_current_due(batch, promise),
            due_changed_at=batch.moved.get(promise.id),
        )
        result = assess(
            facts,
            now=now,
            calendar=calendar,
            owner_history=known.owners[(owner.id, zone_key)],
            team_history=known.team[zone_key],
            open_load=[OpenLoad(due) for other, due in batch.open_due.get(owner.id, [])
                       if other != promise.id],
            policy=self.policy,
        )
        report.assessed += 1
        previous_level, previous_p = promise.level, promise.p_late
        changed = previous_level != result.level
        reasons = list(result.reasons)
        if (changed or previous_p is None or abs(result.p_late - previous_p) >= P_LATE_STEP
                or reasons != promise.risk_reasons):
            work.assessments.append({
                "promise_id": promise.id, "at": now, "level": result.level,
                "p_late": result.p_late, "reasons": reasons, "notice_by": result.notice_by,
                "next_action": result.next_action, "forecast_done_at": result.forecast_done_at,
                "evidence": result.evidence,
            })
        if changed:
            change = {"from": previous_level, "to": result.level,
                      "p_late": round(result.p_late, 3), "reasons": reasons}
            report.changes.append({"promise_id": promise.id, **change})
            work.events.append({"at": now, "actor": ACTOR, "kind": "promise.assessed",
                                "promise_id": promise.id, "payload": change})
        work.promises.append({
            "id": promise.id, "level": result.level, "p_late": result.p_late,
            "assessed_at": now, "risk_reasons": reasons, "assess_error": None,
            "next_check_at": result.next_check_at or now + timedelta(days=1),
        })
        if promise.internal:
            return
        if result.next_action == NextAction.checkin or result.ask_checkin:
            work.drafts.append(self._checkin_request(promise, client, owner, calendar, now))
        if result.next_action in (NextAction.delay_notice, NextAction.escalate):
            work.drafts.append(self._delay_draft(promise, client, owner, batch, calendar,
                                                 result, now))
        manager = batch.managers.get(owner.manager_id or 0)
        if result.next_action == NextAction.escalate and manager is not None:
            work.escalations.append((promise, client, owner, manager, result))

    def _write(self, session: Session, batch: _Batch, work: _Work, now: datetime,
               report: ScanReport) -> None:
        """Store what one batch decided: new messages first, then the promises' new state,
        assessments and events, each as one statement for the whole batch."""
        made = notices.create_many(session, self.settings, work.drafts, now)
        escalations = []
        if work.escalations:
            drafts = {n.promise_id: n for n in session.exec(select(Notice).where(
                among(session, Notice.idempotency_key,
                      [_delay_key(p) for p, *_ in work.escalations])
            )).all()}
            for promise, client, owner, manager, result in work.escalations:
                draft = drafts.get(promise.id)
                if draft is not None and draft.status != NoticeStatus.draft:
                    continue  # approved or sent since: nothing for the manager to decide
                escalations.append(self._escalation(promise, client, owner, manager, result,
                                                    draft, now))
            made += notices.create_many(session, self.settings, escalations, now)
        report.actions += [{"kind": n.kind, "promise_id": n.promise_id, "notice_id": n.id}
                           for n in made]
        # Nothing reads the claimed objects after this, so the ORM need not update them.
        for changes in (work.promises, work.failed):
            if changes:
                session.execute(update(Promise).execution_options(synchronize_session=False),
                                changes)
        insert_rows(session, Assessment, work.assessments)
        insert_rows(session, Event, work.events)
        webhook_events.publish_batch(session, work.events)

    @staticmethod
    def _told_for_current_due(batch: _Batch, promise: Promise) -> datetime | None:
        told = batch.told.get(promise.id or 0)
        return told if told is not None and promise.due_at == promise.original_due_at else None

    def _checkin_request(self, promise: Promise, client: Client, owner: Member,
                         calendar: BusinessCalendar, now: datetime) -> notices.Draft:
        day = calendar.local(now).date().isoformat()
        return notices.Draft(
            kind=NoticeKind.checkin_request, key=f"checkin_request:{promise.id}:{day}",
            recipient=notices.member_recipient(self.settings, owner), member_id=owner.id,
            context=compose.checkin_request(self.settings, promise=promise, client=client,
                                            owner=owner, now=now),
            created_by=ACTOR, promise_id=promise.id,
        )

    def _delay_draft(self, promise: Promise, client: Client, owner: Member, batch: _Batch,
                     calendar: BusinessCalendar, result: RiskAssessment,
                     now: datetime) -> notices.Draft:
        proposed = result.forecast_done_at
        if proposed <= promise.due_at:
            proposed = calendar.end_of(calendar.next_business_day(
                calendar.local(promise.due_at).date()))
        checkins = batch.checkins.get(promise.id or 0, [])
        # The owner's note is written for the team: the approver sees it, the client does not.
        latest_note = next((c.note for c in reversed(checkins) if c.note), None)
        client_reason = next((c.client_reason for c in reversed(checkins) if c.client_reason),
                             None)
        progress = next((c.progress for c in reversed(checkins) if c.progress is not None),
                        None)
        waiting_for = checkins[-1].waiting_for if checkins else None
        escalate_at = calendar.add_business_hours(
            result.notice_by, -self.settings.policy.escalate_business_hours_before_notice)
        return notices.Draft(
            kind=NoticeKind.delay_notice, key=_delay_key(promise),
            recipient=notices.client_recipient(client), client=client,
            context=compose.delay_notice(self.settings, promise=promise, client=client,
                                         owner=owner, new_due_at=proposed,
                                         reason=client_reason,
                                         interim=None, now=now,
                                         progress=progress / 100 if progress is not None
                                         else None, waiting_for=waiting_for),
            inputs={"reason": client_reason, "interim": None, "waiting_for": waiting_for,
                    "progress": progress / 100 if progress is not None else None},
            approver_note=notices.approver_note(client_reason, latest_note),
            created_by=ACTOR, promise_id=promise.id, reply_to=owner.email,
            proposed_due_at=proposed, escalate_at=escalate_at,
        )

    def _escalation(self, promise: Promise, client: Client, owner: Member, manager: Member,
                    result: RiskAssessment, draft: Notice | None, now: datetime) -> notices.Draft:
        return notices.Draft(
            kind=NoticeKind.escalation,
            key=f"escalation:{promise.id}:{notices.key_moment(promise.due_at)}",
            recipient=notices.member_recipient(self.settings, manager), member_id=manager.id,
            context=compose.risk_escalation(
                self.settings, promise=promise, client=client, owner=owner, manager=manager,
                p_late=result.p_late, reasons=list(result.reasons), notice_by=result.notice_by,
                draft_id=draft.id if draft else None, now=now),
            created_by=ACTOR, promise_id=promise.id,
        )


def _day_after(moment: datetime) -> datetime:
    """A day on, or the last moment there is for a date stored too far out to add to."""
    try:
        return moment + timedelta(days=1)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _set_aside(work: _Work, report: ScanReport, promise: Promise, error: Exception,
               now: datetime) -> None:
    """Mark a promise that could not be assessed, say why once, and skip it until it changes
    (a change sets next_check_at again)."""
    reason = _reason(error)
    log.warning("promise #%s could not be assessed (%s): %r", promise.id, reason, error)
    work.failed.append({"id": promise.id, "assess_error": reason, "assessed_at": now,
                        "next_check_at": None})
    work.events.append({"at": now, "actor": ACTOR, "kind": "promise.not_assessed",
                        "promise_id": promise.id,
                        "payload": {"reason": reason, "error": repr(error)[:300]}})
    report.failed.append({"promise_id": promise.id, "reason": reason})


def _reason(error: Exception) -> AssessError:
    if isinstance(error, CalendarError):
        return AssessError.unknown_calendar
    if isinstance(error, OverflowError) or "out of range" in str(error):
        return AssessError.date_out_of_range
    return AssessError.unexpected


def _delay_key(promise: Promise) -> str:
    return f"delay_notice:{promise.id}:{notices.key_moment(promise.due_at)}"

