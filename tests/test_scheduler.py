"""The scheduler: the periodic jobs exist, run the service functions, and survive failures."""

import gc
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from helpers import at
from scenarios import notices_of, q3_report
from sqlmodel import Session

from reliability import suggestions
from reliability.commitments import Finding, FindingKind
from reliability.ledger import Ledger
from reliability.models import Source, Suggestion
from reliability.scheduler import Jobs, _logged, build

TUESDAY_9 = at("2026-11-17T09:00-05:00")


@pytest.fixture(autouse=True)
def collectable_heap() -> Iterator[None]:
    """The scan job freezes the process heap once; give the rest of the test run it back."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_scan_digest_and_delivery_jobs_run_one_at_a_time_and_coalesce(agency: Ledger) -> None:
    scheduler = build(agency, background=True, clock=lambda: TUESDAY_9)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {"scan", "digests", "deliver", "expire_offers"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
    assert jobs["scan"].trigger.interval == timedelta(seconds=60)
    assert jobs["deliver"].trigger.interval == timedelta(seconds=15)
    assert jobs["expire_offers"].trigger.interval == timedelta(hours=1)


def test_the_scan_job_assesses_and_asks_for_check_ins(agency: Ledger) -> None:
    q3_report(agency)
    Jobs(agency, clock=lambda: TUESDAY_9).scan()
    [request] = notices_of(agency, "checkin_request")
    assert request.status == "queued"


def test_after_its_first_tick_the_worker_stops_rewalking_its_long_lived_objects(
    agency: Ledger,
) -> None:
    jobs = Jobs(agency, clock=lambda: TUESDAY_9)
    jobs.scan()
    assert gc.get_freeze_count() == 0  # nothing assessed yet: nothing warmed up to keep

    q3_report(agency)
    assert jobs.scan().assessed == 1
    settled = gc.get_freeze_count()
    q3_report(agency)
    jobs.scan()

    assert settled > 0 and gc.get_freeze_count() <= settled  # frozen once, not per tick


def test_a_failing_job_is_logged_and_does_not_stop_the_scheduler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def scan() -> None:
        raise RuntimeError("database went away")

    with caplog.at_level(logging.ERROR):
        _logged(scan)()
    assert "scan failed; it runs again at the next interval" in caplog.text


def test_drafts_are_offered_in_slack_only_when_slack_is_set_up(agency: Ledger) -> None:
    from pydantic import SecretStr

    from reliability.slack_app import offer_drafts

    def job_ids() -> set[str]:
        scheduler = build(agency, background=True, clock=lambda: TUESDAY_9,
                          offer_drafts=offer_drafts)
        scheduler.start(paused=True)
        try:
            return {job.id for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)

    assert "slack_drafts" not in job_ids()
    agency.settings.slack.bot_token = SecretStr("xoxb-test")
    assert "slack_drafts" in job_ids()


def test_the_expiry_job_drops_offers_nobody_answered_with_their_words(agency: Ledger) -> None:
    finding = Finding(kind=FindingKind.commitment, sentence="I'll send the deck by Friday.",
                      title="Send the deck", owner="alice@example.com", client="Acme",
                      due_at=at("2026-11-20T17:00-05:00"), confidence=0.9)
    offered = suggestions.offer(agency, finding, member_email="alice@example.com",
                                source=Source.slack_watch, origin_key="slack:T:C:1.0",
                                now=TUESDAY_9)
    assert offered is not None
    Jobs(agency, clock=lambda: TUESDAY_9 + timedelta(days=15)).expire_offers()
    with Session(agency.engine) as session:
        row = session.get(Suggestion, offered.id)
    assert row is not None and (row.status, row.sentence) == ("expired", None)


def test_the_mailbox_is_read_every_poll_seconds_only_once_it_is_set_up(agency: Ledger) -> None:
    agency.settings.inbox.host = "imap.example.com"
    agency.settings.inbox.poll_seconds = 120
    scheduler = build(agency, background=True, clock=lambda: TUESDAY_9)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert jobs["mail"].trigger.interval == timedelta(seconds=120)
