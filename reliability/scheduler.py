"""Wires the periodic work to the service functions: scan, deliver, digests, Slack drafts.

APScheduler 3.11 runs each job at most once at a time (`max_instances=1`) and folds runs
missed during downtime into one (`coalesce=True`): after an outage the scan catches up
in a single tick, because every promise's `next_check_at` already says what is overdue.
Several worker processes may run side by side: claims and idempotency keys make that safe.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from reliability import suggestions, telemetry
from reliability.inbox import read_mailbox
from reliability.ledger import Ledger
from reliability.outbox import Outbox
from reliability.scan import Scanner, ScanReport

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class OfferDrafts(Protocol):
    """Queues Slack offers of waiting drafts: the composition root passes the Slack app's,
    so the scheduler imports no interface."""

    def __call__(self, ledger: Ledger, *, now: datetime) -> object: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Jobs:
    """The periodic jobs, each a thin call into the service layer."""

    def __init__(self, ledger: Ledger, clock: Clock = _utc_now,
                 offer_drafts: OfferDrafts | None = None) -> None:
        self.ledger = ledger
        self.clock = clock
        self.offer_drafts = offer_drafts
        self.scanner = Scanner(ledger)
        self.outbox = Outbox(ledger)

    def scan(self) -> ScanReport:
        started = time.perf_counter()
        report = self.scanner.tick(self.clock())
        telemetry.SCAN_TICK_SECONDS.observe(time.perf_counter() - started)
        telemetry.SCAN_ASSESSED.inc(report.assessed)
        if report.changes or report.actions:
            log.info("scan: %d assessed, %d changed, %d actions", report.assessed,
                     len(report.changes), len(report.actions))
        if report.assessed:
            settle_heap()
        return report

    def deliver(self) -> None:
        while True:
            started = time.perf_counter()
            report = self.outbox.deliver(self.clock())
            telemetry.DELIVERY_ROUND_SECONDS.observe(time.perf_counter() - started)
            for outcome, ids in (("sent", report.sent), ("retry", report.retrying),
                                 ("dead", report.dead)):
                telemetry.DELIVERY_ATTEMPTS.labels(outcome).inc(len(ids))
            if report.claimed < self.ledger.settings.delivery.batch_size:
                return

    def slack_drafts(self) -> None:
        """Drafts waiting for approval are queued as outbox DMs to their owners, with Send /
        Edit buttons; the deliver job sends them."""
        if self.offer_drafts is not None:
            self.offer_drafts(self.ledger, now=self.clock())

    def mail(self) -> None:
        """The team mailbox, read for promises and requests (when [inbox] host is set)."""
        read_mailbox(self.ledger, now=self.clock())

    def digests(self) -> None:
        from reliability.digest import queue_due_digests

        queue_due_digests(self.ledger, now=self.clock())

    def expire_offers(self) -> None:
        """Offers of promises found in conversations that nobody answered are dropped, with
        the words they quoted."""
        expired = suggestions.expire(self.ledger, now=self.clock())
        if expired:
            log.info("suggestions: %d unanswered offers expired", expired)


def settle_heap() -> None:
    """Once, after the first tick that assessed something has imported, compiled and cached
    what every later tick reuses: move what is alive into the collector's permanent
    generation. Each full collection then walks only what later ticks allocate, not the
    whole worker; a busy tick triggers two or three of them (about 0.2 s of a 1,000-row
    tick; bench/bench_scan.py). Whatever another job holds at that moment stays too: a
    one-off, bounded cost."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def build(ledger: Ledger, *, background: bool, clock: Clock = _utc_now,
          offer_drafts: OfferDrafts | None = None) -> BaseScheduler:
    """The periodic jobs over `ledger`; Slack offers only when Slack is set up and the caller
    passes `offer_drafts`."""
    jobs = Jobs(ledger, clock, offer_drafts)
    scheduler: BaseScheduler = (BackgroundScheduler if background else BlockingScheduler)(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                    "misfire_grace_time": None})
    every = ledger.settings.scheduler
    start = clock()
    periodic = [(jobs.scan, every.scan_interval_seconds), (jobs.digests, 60),
                (jobs.deliver, every.deliver_interval_seconds), (jobs.expire_offers, 3600)]
    if offer_drafts is not None and ledger.settings.slack.bot_token is not None:
        periodic.append((jobs.slack_drafts, every.deliver_interval_seconds))
    if ledger.settings.inbox.host:
        periodic.append((jobs.mail, ledger.settings.inbox.poll_seconds))
    for job, seconds in periodic:
        scheduler.add_job(_logged(job), IntervalTrigger(seconds=seconds, timezone=UTC),
                          id=job.__name__, name=job.__name__, next_run_time=start)
    return scheduler


def _logged(job: Callable[[], None]) -> Callable[[], None]:
    """A failing tick is logged and retried on the next interval; it never stops the others."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("%s failed; it runs again at the next interval", job.__name__)

    run.__name__ = job.__name__
    return run


def describe(scheduler: BaseScheduler) -> list[dict[str, Any]]:
    return [{"id": job.id, "next_run_time": job.next_run_time} for job in scheduler.get_jobs()]
