"""The outbox worker: deliver queued messages by email or Slack, never lose one, never send twice.

A message is claimed with a lease (status `sending`, `lease_until`) in a short transaction:
on PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite under the write lock. The send
happens outside any transaction; its outcome is then written back only if this worker
still holds the lease. A worker that dies mid-send leaves a lease that expires; the next
claim knows the earlier outcome is unknown and, for Slack, looks in the channel's history
for the message's idempotency key before posting again. For email the retry reuses the
Message-ID derived from the same key, so mail systems see one message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from reliability import notices
from reliability.channels import DeliveryError, OutgoingMessage, SendResult
from reliability.channels.email import EmailChannel
from reliability.channels.slack import SlackChannel
from reliability.db import on_postgresql
from reliability.ledger import Ledger, move_promise
from reliability.models import (
    DeliveryChannel,
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
        self.worker = worker or f"{socket.gethostname()}:{id(self):x}"
        self.tls_context = tls_context

    def deliver(self, now: datetime) -> DeliveryReport:
        return asyncio.run(self.deliver_async(now))

    async def deliver_async(self, now: datetime) -> DeliveryReport:
        report = DeliveryReport()
        claims = self._claim(now)
        report.claimed = len(claims)
        if not claims:
            return report
        email = [c for c in claims if c.channel == DeliveryChannel.email]
        slack = [c for c in claims if c.channel == DeliveryChannel.slack]
        await asyncio.gather(self._send_email(email, now, report),
                             self._send_slack(slack, now, report))
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
                claims.append(_Claim(notice.id or 0, notice.channel, _message(notice),
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

    async def _send_email(self, claims: Sequence[_Claim], now: datetime,
                          report: DeliveryReport) -> None:
        if not claims:
            return
        channel = EmailChannel(self.settings.smtp, self.tls_context,
                               concurrency=self.settings.delivery.concurrency)
        await channel.send_batch(
            [c.message for c in claims],
            on_result=lambda index, result: self._record(claims[index], result, now, report),
        )

    async def _send_slack(self, claims: Sequence[_Claim], now: datetime,
                          report: DeliveryReport) -> None:
        if not claims:
            return
        if self.settings.slack.bot_token is None:
            error = DeliveryError("Slack is not set up: set RELIABILITY_SLACK__BOT_TOKEN",
                                  permanent=True)
            for claim in claims:
                self._record(claim, error, now, report)
            return
        limit = asyncio.Semaphore(self.settings.delivery.concurrency)
        async with SlackChannel(self.settings.slack) as slack:

            async def one(claim: _Claim) -> None:
                async with limit:
                    result: SendResult | DeliveryError
                    try:
                        found = None
                        if claim.unknown_since is not None:
                            found = await slack.find_sent(claim.message, since=claim.unknown_since)
                        result = found or await slack.send(claim.message)
                    except DeliveryError as exc:
                        result = exc
                self._record(claim, result, now, report)

            await asyncio.gather(*(one(claim) for claim in claims))

    # -- recording ----------------------------------------------------------------------

    def _record(self, claim: _Claim, result: SendResult | DeliveryError, now: datetime,
                report: DeliveryReport) -> None:
        with self.ledger.transaction() as session:
            notice = session.get(Notice, claim.notice_id)
            attempt = session.get(NoticeAttempt, claim.attempt_id)
            assert notice is not None and attempt is not None
            if notice.status != NoticeStatus.sending or notice.leased_by != self.worker:
                log.warning("lost the lease on notice %s before recording it", notice.id)
                return
            notice.lease_until = None
            notice.leased_by = None
            if isinstance(result, SendResult):
                attempt.outcome, attempt.duration_ms = "sent", result.duration_ms
                attempt.provider_id = result.provider_id
                notice.status, notice.sent_at = NoticeStatus.sent, now
                notice.provider_id, notice.next_attempt_at = result.provider_id, None
                notice.last_error = None
                notices.record_event(session, notice, now=now, actor=ACTOR, kind="notice.sent",
                                     provider_id=result.provider_id)
                if notice.kind == NoticeKind.delay_notice:
                    self._apply_delay(session, notice, now)
                report.sent.append(claim.notice_id)
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

    def _apply_delay(self, session: Session, notice: Notice, now: datetime) -> None:
        """A sent delay notice moves the promise to the date it proposed; the original stays."""
        promise = session.get(Promise, notice.promise_id)
        if promise is None or promise.status != PromiseStatus.open:
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


def _message(notice: Notice) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=notice.idempotency_key,
        recipient=notice.recipient,
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        blocks=notice.blocks,
        reply_to=notice.reply_to,
        recipient_name=notice.recipient_name,
    )
