"""The outbox worker: deliver every queued message through its transport, never lose one.

A message is claimed with a lease (status `sending`, `lease_until`) in a short transaction:
on PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite under the write lock. The send
happens outside any transaction, through the `Channel` registered for the message's
channel name; each outcome is written back in its own short transaction as soon as it is
known, and only if this worker still holds the lease. A worker that dies mid-send leaves a
lease that expires; the next claim knows the earlier outcome is unknown and hands that to
the transport, which looks for the earlier send where it can (Slack). Email cannot ask, so
its commits run one at a time per worker: a crash repeats at most one email, under the
same Message-ID (see `reliability.channels.send_all`). Webhook deliveries are messages of
this outbox too (channel `webhook`), and follow the same rules; `reliability.webhooks`
adds their signing key and what their outcome does to the endpoint."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from reliability import notices, rollups, tallies, webhooks
from reliability.channels import DeliveryError, OutgoingMessage, SendResult, send_all
from reliability.channels.registry import channel_for
from reliability.db import locked, on_postgresql
from reliability.ledger import Ledger, move_promise
from reliability.models import (
    Notice,
    NoticeAttempt,
    NoticeKind,
    NoticeStatus,
    Promise,
    PromiseStatus,
)

log = logging.getLogger(__name__)
ACTOR = "outbox"
READY = (NoticeStatus.queued, NoticeStatus.retry)


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "sent": self.sent, "retrying": self.retrying,
                "dead": self.dead}


@dataclass(frozen=True)
class _Claim:
    notice_id: int
    channel: str
    message: OutgoingMessage
    attempt_id: int
    unknown_since: datetime | None  # an earlier attempt's outcome was never recorded


def backoff_seconds(attempt: int, base: float, ceiling: float,
                    rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: spreads retries of a burst of failures."""
    return min(ceiling, base * 2 ** max(attempt - 1, 0)) * (0.5 + rng() / 2)


class Outbox:
    """One delivery worker. `deliver(now)` runs one round: claim, send, record."""

    def __init__(self, ledger: Ledger, *, worker: str | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.ledger = ledger
        self.settings = ledger.settings
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.tls_context = tls_context

    def deliver(self, now: datetime) -> DeliveryReport:
        return asyncio.run(self.deliver_async(now))

    async def deliver_async(self, now: datetime) -> DeliveryReport:
        report = DeliveryReport()
        claims = self._claim(now)
        report.claimed = len(claims)
        by_channel: dict[str, list[_Claim]] = {}
        for claim in claims:
            by_channel.setdefault(claim.channel, []).append(claim)
        await asyncio.gather(*(self._send(name, group, now, report)
                               for name, group in by_channel.items()))
        return report

    # -- claiming -----------------------------------------------------------------------

    def _claim(self, now: datetime) -> list[_Claim]:
        lease = timedelta(seconds=self.settings.delivery.lease_seconds)
        with self.ledger.transaction() as session:
            query = (
                select(Notice)
                .where(or_(
                    (col(Notice.status).in_(READY)) & (col(Notice.next_attempt_at) <= now),
                    (Notice.status == NoticeStatus.sending) & (col(Notice.lease_until) < now),
                ))
                .order_by(col(Notice.next_attempt_at), col(Notice.id))
                .limit(self.settings.delivery.batch_size)
            )
            if on_postgresql(session):
                query = query.with_for_update(skip_locked=True)
            claims = []
            for notice in session.exec(query).all():
                unknown_since = self._unknown_since(session, notice)
                notice.status = NoticeStatus.sending
                notice.lease_until = now + lease
                notice.leased_by = self.worker
                notice.attempts += 1
                attempt = NoticeAttempt(notice_id=notice.id, started_at=now, worker=self.worker,
                                        outcome="sending")
                session.add_all([notice, attempt])
                session.flush()
                claims.append(_Claim(notice.id or 0, notice.channel,
                                     _message(notice, webhooks.signing_key(session, notice)),
                                     attempt.id or 0, unknown_since))
            return claims

    @staticmethod
    def _unknown_since(session: Session, notice: Notice) -> datetime | None:
        """When an attempt whose outcome was never recorded started (its worker died)."""
        if notice.status != NoticeStatus.sending:
            return None
        lost = session.exec(
            select(NoticeAttempt).where(NoticeAttempt.notice_id == notice.id,
                                        NoticeAttempt.outcome == "sending")
            .order_by(col(NoticeAttempt.id))).all()
        for attempt in lost:
            attempt.outcome = "unknown"
            attempt.error = "the worker stopped before recording the outcome"
            session.add(attempt)
        return lost[0].started_at if lost else None

    # -- sending ------------------------------------------------------------------------

    async def _send(self, name: str, claims: Sequence[_Claim], now: datetime,
                    report: DeliveryReport) -> None:
        """Each claim through its transport, recorded as soon as its outcome is known."""
        try:
            channel = channel_for(name, self.settings, self.tls_context)
        except DeliveryError as error:
            for claim in claims:
                self._record(claim, error, now, report)
            return
        await send_all(
            channel, [claim.message for claim in claims],
            concurrency=self.settings.delivery.concurrency,
            unknown_since=[claim.unknown_since for claim in claims],
            on_result=lambda index, result: self._record(claims[index], result, now, report),
        )

    # -- recording ----------------------------------------------------------------------

    def _record(self, claim: _Claim, result: SendResult | DeliveryError, now: datetime,
                report: DeliveryReport) -> None:
        with self.ledger.transaction() as session:
            notice = session.get(Notice, claim.notice_id)
            attempt = session.get(NoticeAttempt, claim.attempt_id)
            assert notice is not None and attempt is not None
            if notice.status != NoticeStatus.sending or notice.leased_by != self.worker:
                self._record_late(session, notice, attempt, result, now, report)
                return
            notice.lease_until = None
            notice.leased_by = None
            if isinstance(result, SendResult):
                self._sent(session, notice, attempt, result, now, report)
            else:
                attempt.error = result.reason
                gave_up = result.permanent or notice.attempts >= (
                    self.settings.delivery.max_attempts)
                notice.last_error = result.reason
                if gave_up:
                    attempt.outcome = "dead"
                    notice.status, notice.next_attempt_at = NoticeStatus.dead, None
                    notices.record_event(session, notice, now=now, actor=ACTOR,
                                         kind="notice.dead", reason=result.reason,
                                         attempts=notice.attempts)
                    webhooks.gave_up(session, self.settings, notice, now=now)
                    report.dead.append(claim.notice_id)
                else:
                    attempt.outcome = "retry"
                    wait = max(result.retry_after or 0, backoff_seconds(
                        notice.attempts, self.settings.delivery.backoff_base_seconds,
                        self.settings.delivery.backoff_max_seconds))
                    notice.status = NoticeStatus.retry
                    notice.next_attempt_at = now + timedelta(seconds=wait)
                    notices.record_event(session, notice, now=now, actor=ACTOR,
                                         kind="notice.retry", reason=result.reason,
                                         attempts=notice.attempts,
                                         next_attempt_at=notice.next_attempt_at.isoformat())
                    report.retrying.append(claim.notice_id)
            session.add_all([notice, attempt])

    def _sent(self, session: Session, notice: Notice, attempt: NoticeAttempt,
              result: SendResult, now: datetime, report: DeliveryReport) -> None:
        attempt.outcome, attempt.duration_ms = "sent", result.duration_ms
        attempt.provider_id = result.provider_id
        if notice.status == NoticeStatus.sent:  # a late worker's copy went out too
            notices.record_event(session, notice, now=now, actor=ACTOR, kind="notice.sent_again",
                                 provider_id=result.provider_id)
            return
        notice.status, notice.sent_at = NoticeStatus.sent, now
        notice.provider_id, notice.next_attempt_at = result.provider_id, None
        notice.lease_until, notice.leased_by = None, None
        notice.last_error = None
        notices.record_event(session, notice, now=now, actor=ACTOR, kind="notice.sent",
                             provider_id=result.provider_id)
        if notice.kind == NoticeKind.delay_notice:
            self._apply_delay(session, notice, now)
        webhooks.delivered(session, notice)
        report.sent.append(notice.id or 0)

    def _record_late(self, session: Session, notice: Notice, attempt: NoticeAttempt,
                     result: SendResult | DeliveryError, now: datetime,
                     report: DeliveryReport) -> None:
        """An outcome that comes after this worker's lease ran out and another worker took
        the message over. A send is a send: it is recorded, and marks the message sent if
        it is not yet. A failure stays on the attempt; the message is the other worker's."""
        log.warning("lost the lease on notice %s before recording it", notice.id)
        if isinstance(result, SendResult):
            self._sent(session, notice, attempt, result, now, report)
        else:
            attempt.outcome, attempt.error = "superseded", result.reason

    def _apply_delay(self, session: Session, notice: Notice, now: datetime) -> None:
        """A sent delay notice tells the client of the slip, and moves the promise to the date
        it proposed; the original stays."""
        promise = locked(session, Promise, notice.promise_id) if notice.promise_id else None
        if promise is None:
            return
        rollups.client_told(promise, at=now, new_due_at=notice.proposed_due_at)
        session.add(promise)
        if promise.status != PromiseStatus.open:
            tallies.finished(session, promise)  # the client heard of it once it was over
            return
        new_due = notice.proposed_due_at
        if new_due is None or new_due == promise.due_at:
            return
        client = self.ledger.view(session, promise).client
        lead = self.ledger.calendar_for(client).business_days_between(now,
                                                                      promise.original_due_at)
        move_promise(session, promise, due_at=new_due, now=now, actor=ACTOR, client_told=True,
                     reason=f"delay notice #{notice.id} sent to the client",
                     notice_lead_business_days=lead)


def _message(notice: Notice, signing_key: str | None) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=notice.idempotency_key,
        recipient=notice.recipient,
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        blocks=notice.blocks,
        reply_to=notice.reply_to,
        recipient_name=notice.recipient_name,
        signing_key=signing_key,
    )
