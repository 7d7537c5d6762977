"""Delivery: every approved message goes out exactly once, survives outages, and says why not."""

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from conftest import Cli
from helpers import at
from scenarios import agency_with, wednesday_draft
from servers.slack_api import slack_api
from servers.smtp import free_port, smtp_server
from sqlmodel import Session, col, select

from reliability import compose, notices
from reliability.channels.email import EmailChannel, message_id_for
from reliability.channels.slack import SlackChannel
from reliability.config import Settings
from reliability.drafting import samples
from reliability.ledger import Ledger
from reliability.models import DueChange, Event, Notice, NoticeAttempt, NoticeKind, Promise
from reliability.outbox import DeliveryReport, Outbox, backoff_seconds

WEDNESDAY_10 = at("2026-11-18T10:00-05:00")


def approve(ledger: Ledger, notice_id: int, now=WEDNESDAY_10) -> None:
    with ledger.transaction() as session:
        notices.approve(session, notice_id, now=now, actor="alice@example.com")


def point_at(settings: Settings, server, **delivery: int) -> None:
    settings.smtp = server.settings()
    for key, value in delivery.items():
        setattr(settings.delivery, key, value)


def queue_team_messages(ledger: Ledger, count: int, now=WEDNESDAY_10) -> list[int]:
    """`count` queued check-in requests to alice, each with its own key."""
    with ledger.transaction() as session:
        view = ledger.view(session, session.exec(select(Promise)).first())
        ids = []
        for index in range(count):
            notice = notices.create(
                session, ledger.settings, kind=NoticeKind.checkin_request,
                key=f"test:{index}",
                recipient=notices.member_recipient(ledger.settings, view.owner),
                context=compose.checkin_request(
                    ledger.settings, promise=view.promise, client=view.client,
                    owner=view.owner, now=now),
                now=now, created_by="test", promise_id=view.promise.id)
            assert notice is not None
            ids.append(notice.id)
        return ids


def notice(ledger: Ledger, notice_id: int) -> Notice:
    with Session(ledger.engine) as session:
        found = session.get(Notice, notice_id)
        assert found is not None
        return found


def test_an_approved_delay_notice_is_emailed_once_and_moves_the_promise(
    ledger: Ledger, cli: Cli, settings: Settings
) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))
    approve(ledger, draft.id or 0)
    with smtp_server() as server:
        env = {"RELIABILITY_SMTP__HOST": server.host, "RELIABILITY_SMTP__PORT": str(server.port),
               "RELIABILITY_SMTP__FROM_ADDRESS": "promises@example.com"}
        os.environ.update(env)
        try:
            first = cli("deliver", "--once", "--json", as_of="2026-11-18T10:05-05:00")
            second = cli("deliver", "--once", "--json", as_of="2026-11-18T10:06-05:00")
        finally:
            for key in env:
                os.environ.pop(key)
        delay_emails = [m for m in server.messages if m["To"].addresses[0].addr_spec
                        == "dana@acme.example"]
    assert first.exit_code == 0, first.stderr
    assert json.loads(second.stdout)["sent"] == []
    [email] = delay_emails
    assert email["Message-ID"] == message_id_for(draft.idempotency_key, "example.com")
    assert email["Reply-To"].addresses[0].addr_spec == "alice@example.com"
    assert email.get_body(("plain",)).get_content().count("November 20") >= 1
    sent = notice(ledger, draft.id or 0)
    assert (sent.status, sent.provider_id) == ("sent", email["Message-ID"])
    with Session(ledger.engine) as session:
        promise = session.get(Promise, sent.promise_id)
        [change] = session.exec(select(DueChange)).all()
        moved = session.exec(select(Event).where(Event.kind == "promise.moved")).one()
    assert promise is not None and promise.due_at == sent.proposed_due_at
    assert promise.original_due_at == at("2026-11-20T17:00-05:00")
    assert change.client_told and change.client_told_at == at("2026-11-18T10:05-05:00")
    assert moved.payload == {  # the same rule and payload as a person's `promise move`
        "old_due_at": "2026-11-20T22:00:00+00:00", "new_due_at": change.new_due_at.isoformat(),
        "reason": f"delay notice #{draft.id} sent to the client", "client_told": True,
        "notice_lead_business_days": 2}


def test_a_refused_address_is_dead_at_once_with_the_reason(ledger: Ledger,
                                                           settings: Settings) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))
    approve(ledger, draft.id or 0)
    with smtp_server(refuse={"dana@acme.example": "550 5.1.1 no such user"}) as server:
        point_at(settings, server)
        report = Outbox(ledger).deliver(WEDNESDAY_10)
    assert draft.id in report.dead
    dead = notice(ledger, draft.id or 0)
    assert dead.status == "dead" and dead.attempts == 1
    assert "dana@acme.example" in (dead.last_error or "") and "550" in (dead.last_error or "")
    with Session(ledger.engine) as session:
        [attempt] = session.exec(select(NoticeAttempt).where(
            NoticeAttempt.notice_id == draft.id)).all()
    assert attempt.outcome == "dead" and attempt.duration_ms is None


def test_a_message_that_failed_says_why_and_what_to_do_in_deliver_and_drafts_show(
    ledger: Ledger, cli: Cli
) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))
    approve(ledger, draft.id or 0)
    with smtp_server(refuse={"dana@acme.example": "550 5.1.1 no such user"}) as server:
        env = {"RELIABILITY_SMTP__HOST": server.host, "RELIABILITY_SMTP__PORT": str(server.port)}
        os.environ.update(env)
        try:
            delivered = cli("deliver", "--once", as_of="2026-11-18T10:05-05:00")
        finally:
            for key in env:
                os.environ.pop(key)
    shown = cli("drafts", "show", str(draft.id))

    assert delivered.exit_code == 0, delivered.stderr
    assert f"#{draft.id} delay_notice to dana@acme.example: Not delivered: " in delivered.stdout
    for out in (delivered.stdout, shown.stdout):
        assert "550" in out and "It will not be tried again: check the recipient's address" in out


def test_a_message_waiting_to_be_retried_says_when_and_that_nothing_is_needed_yet(
    ledger: Ledger, settings: Settings
) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))
    approve(ledger, draft.id or 0)
    settings.smtp.host, settings.smtp.port = "127.0.0.1", free_port()
    Outbox(ledger).deliver(WEDNESDAY_10)

    words = notices.state_words(notice(ledger, draft.id or 0), "America/New_York")

    assert words.startswith("Not sent yet: ")
    assert "Tried once; it will be tried again Wed 18 Nov, " in words
    assert words.endswith("ET. Nothing to do unless it keeps failing.")


def test_while_the_mail_server_is_down_messages_wait_and_all_go_out_once_it_is_back(
    ledger: Ledger, settings: Settings
) -> None:
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    ids = queue_team_messages(ledger, 10)
    settings.smtp.host, settings.smtp.port = "127.0.0.1", free_port()
    settings.delivery.backoff_base_seconds = 60
    now = WEDNESDAY_10
    for _ in range(3):
        report = Outbox(ledger).deliver(now)
        assert report.sent == [] and sorted(report.retrying) == ids
        waits = [notice(ledger, i).next_attempt_at - now for i in ids]
        assert all(wait >= timedelta(seconds=30) for wait in waits)
        now = max(notice(ledger, i).next_attempt_at for i in ids)
    assert "Could not connect to the mail server" in (notice(ledger, ids[0]).last_error or "")
    with smtp_server() as server:
        point_at(settings, server)
        report = Outbox(ledger).deliver(now)
        assert sorted(report.sent) == ids
        assert Outbox(ledger).deliver(now + timedelta(hours=1)).claimed == 0
    assert len(server.messages) == 10
    assert all(notice(ledger, i).attempts == 4 for i in ids)


def test_after_max_attempts_a_message_is_dead_and_listed(ledger: Ledger, settings: Settings,
                                                        cli: Cli) -> None:
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    [notice_id] = queue_team_messages(ledger, 1)
    settings.smtp.host, settings.smtp.port = "127.0.0.1", free_port()
    settings.delivery.max_attempts = 3
    now = WEDNESDAY_10
    for _ in range(3):
        Outbox(ledger).deliver(now)
        now = notice(ledger, notice_id).next_attempt_at or now
    assert notice(ledger, notice_id).status == "dead"
    [listed] = json.loads(cli("drafts", "list", "--status", "dead", "--json").stdout)
    assert listed["id"] == notice_id and "Could not connect" in listed["last_error"]


def test_a_message_that_cannot_be_sent_never_holds_up_the_others(
    ledger: Ledger, settings: Settings
) -> None:
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    ids = queue_team_messages(ledger, 8)
    broken = {ids[1]: {"channel": "fax"}, ids[3]: {"recipient": "alice at example"},
              ids[5]: {"channel": "slack", "recipient": "UALICE"}}  # Slack is not set up
    with ledger.transaction() as session:
        for notice_id, values in broken.items():
            row = session.get(Notice, notice_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)
    with smtp_server() as server:
        point_at(settings, server, concurrency=2)
        report = Outbox(ledger).deliver(WEDNESDAY_10)
    good = [i for i in ids if i not in broken]
    assert sorted(report.sent) == good and len(server.messages) == len(good)
    assert sorted(report.dead) == sorted(broken)
    reasons = {i: notice(ledger, i).last_error or "" for i in broken}
    assert "no way to deliver by 'fax'" in reasons[ids[1]]
    assert "'alice at example' is not a valid email address" in reasons[ids[3]]
    assert "Slack is not set up" in reasons[ids[5]]
    assert {notice(ledger, i).status for i in broken} == {"dead"}


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    assert backoff_seconds(1, 30, 3600, rng=lambda: 1.0) == 30
    assert backoff_seconds(3, 30, 3600, rng=lambda: 1.0) == 120
    assert backoff_seconds(3, 30, 3600, rng=lambda: 0.0) == 60
    assert backoff_seconds(20, 30, 3600, rng=lambda: 1.0) == 3600


def slack_client(ledger: Ledger, settings: Settings, api) -> None:
    settings.slack = api.settings()
    ledger.add_client(name="Globex", email="ops@globex.example", channel="slack",
                      slack_channel="C0GLOBEX", timezone="America/New_York", country="US",
                      now=at("2026-09-01T09:00-04:00"), actor="t")


def globex_notice(ledger: Ledger) -> int:
    with ledger.transaction() as session:
        client = ledger.find_client(session, "Globex")
        owner = ledger.find_member(session, "alice@example.com")
        created = notices.create(
            session, ledger.settings, kind=NoticeKind.request_acknowledgement,
            key="ack:globex:1", recipient=notices.client_recipient(client), client=client,
            context=samples.sample_context("request_acknowledgement", "en"),
            now=WEDNESDAY_10, created_by="alice@example.com", reply_to=owner.email)
        assert created is not None
        notices.approve(session, created.id or 0, now=WEDNESDAY_10, actor="alice")
        return created.id or 0


def test_a_slack_message_carries_its_key_and_survives_a_rate_limit(ledger: Ledger,
                                                                   settings: Settings) -> None:
    agency_with(ledger, "en")
    with slack_api(channels=("C0GLOBEX",)) as api:
        slack_client(ledger, settings, api)
        notice_id = globex_notice(ledger)
        api.rate_limit(1, retry_after=0)
        report = Outbox(ledger).deliver(WEDNESDAY_10)
        [post] = api.posted("C0GLOBEX")
    assert report.sent == [notice_id]
    assert post["metadata"]["event_payload"]["idempotency_key"] == "ack:globex:1"
    assert notice(ledger, notice_id).provider_id.startswith("C0GLOBEX:")


def test_an_unknown_slack_channel_is_dead_at_once(ledger: Ledger, settings: Settings) -> None:
    agency_with(ledger, "en")
    with slack_api(channels=()) as api:
        slack_client(ledger, settings, api)
        notice_id = globex_notice(ledger)
        report = Outbox(ledger).deliver(WEDNESDAY_10)
    assert report.dead == [notice_id]
    assert "channel" in (notice(ledger, notice_id).last_error or "").lower()


def test_a_post_whose_worker_died_is_found_in_history_not_posted_again(
    ledger: Ledger, settings: Settings
) -> None:
    agency_with(ledger, "en")
    with slack_api(channels=("C0GLOBEX",)) as api:
        slack_client(ledger, settings, api)
        notice_id = globex_notice(ledger)
        dying = Outbox(ledger, worker="dies-after-posting")
        [claim] = dying._claim(WEDNESDAY_10)
        asyncio.run(SlackChannel(settings.slack).send(claim.message))
        later = WEDNESDAY_10 + timedelta(seconds=settings.delivery.lease_seconds + 1)
        report = Outbox(ledger, worker="next").deliver(later)
        posts = api.posted("C0GLOBEX")
    assert report.sent == [notice_id] and len(posts) == 1
    with Session(ledger.engine) as session:
        outcomes = [a.outcome for a in session.exec(
            select(NoticeAttempt).where(NoticeAttempt.notice_id == notice_id)
            .order_by(col(NoticeAttempt.id))).all()]
    assert outcomes == ["unknown", "sent"]


def test_an_email_sent_after_its_lease_ran_out_is_on_the_record_with_its_second_copy(
    ledger: Ledger, settings: Settings
) -> None:
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    [notice_id] = queue_team_messages(ledger, 1)
    later = WEDNESDAY_10 + timedelta(seconds=settings.delivery.lease_seconds + 1)
    with smtp_server() as server:
        point_at(settings, server)
        slow = Outbox(ledger, worker="slow")
        [claim] = slow._claim(WEDNESDAY_10)
        first = asyncio.run(EmailChannel(settings.smtp).send(claim.message))
        assert Outbox(ledger, worker="next").deliver(later).sent == [notice_id]
        slow._record(claim, first, later, DeliveryReport())  # the slow worker's answer
        assert len(server.messages) == 2  # SMTP cannot take the first copy back
    with Session(ledger.engine) as session:
        outcomes = [(a.worker, a.outcome) for a in session.exec(
            select(NoticeAttempt).where(NoticeAttempt.notice_id == notice_id)
            .order_by(col(NoticeAttempt.id))).all()]
        kinds = session.exec(select(Event.kind).where(Event.kind.startswith("notice.sent"))
                             ).all()
    assert outcomes == [("slow", "sent"), ("next", "sent")]
    assert sorted(kinds) == ["notice.sent", "notice.sent_again"]
    assert notice(ledger, notice_id).status == "sent"


def _worker(database_url: str, server, now, *, batch: int, extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    env.update({
        "RELIABILITY_DATABASE__URL": database_url,
        "RELIABILITY_SMTP__HOST": server.host,
        "RELIABILITY_SMTP__PORT": str(server.port),
        "RELIABILITY_SMTP__FROM_ADDRESS": "promises@example.com",
        "RELIABILITY_DELIVERY__BATCH_SIZE": str(batch),
        "RELIABILITY_DELIVERY__LEASE_SECONDS": "30",
        "RELIABILITY_DELIVERY__CONCURRENCY": "1",
        "RELIABILITY_AS_OF": now.isoformat(),
        **(extra or {}),
    })
    return subprocess.Popen([sys.executable, "-m", "reliability", "deliver"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killing_the_worker_mid_batch_20_times_loses_nothing(
    ledger: Ledger, database_url: str
) -> None:
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    ids = queue_team_messages(ledger, 60)
    chooser = random.Random(20261118)
    kills = 0
    with smtp_server() as server:
        now = WEDNESDAY_10
        while kills < 20:
            target = server.received + chooser.randint(1, 3)
            reached = threading.Event()
            server.on_message = lambda count, t=target, e=reached: count >= t and e.set()
            process = _worker(database_url, server, now, batch=10)
            if reached.wait(timeout=60) and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=60)
            now += timedelta(seconds=31)  # the dead worker's lease has expired
            if all(notice(ledger, i).status == "sent" for i in ids):
                break
        server.on_message = None
        final = _worker(database_url, server, now + timedelta(minutes=5), batch=100)
        assert final.wait(timeout=120) == 0, final.stderr.read()
        received = Counter(str(m["Message-ID"]) for m in server.messages)
    assert kills == 20
    assert all(notice(ledger, i).status == "sent" for i in ids)
    expected = {message_id_for(notice(ledger, i).idempotency_key, "example.com") for i in ids}
    assert set(received) == expected
    # A kill between the server's "250 OK" and our commit can repeat that one message; the
    # repeat carries the same Message-ID, so mail systems keep one copy.
    assert sum(received.values()) - len(expected) <= kills


def test_two_workers_racing_on_postgresql_deliver_each_message_exactly_once(
    ledger: Ledger, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the race needs a server that allows concurrent writers")
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    ids = queue_team_messages(ledger, 2000)
    with smtp_server() as server:
        workers = [_worker(database_url, server, WEDNESDAY_10, batch=50) for _ in range(2)]
        outputs = [w.communicate(timeout=300) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        received = Counter(str(m["Message-ID"]) for m in server.messages)
    assert len(received) == 2000 and set(received.values()) == {1}
    with Session(ledger.engine) as session:
        statuses = Counter(n.status for n in session.exec(
            select(Notice).where(col(Notice.id).in_(ids))).all())
    assert statuses == {"sent": 2000}


def test_deliver_prints_a_summary(cli: Cli) -> None:
    result = cli("deliver", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"claimed": 0, "sent": [], "retrying": [], "dead": []}
