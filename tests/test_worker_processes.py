"""Real `reliability worker` processes side by side on PostgreSQL, and what a crash costs.

Each test starts its workers with the test's database, SMTP server and Slack Web API server,
and stops every one of them, also when it fails.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import at
from scenarios import agency_with, wednesday_draft
from servers.slack_api import SlackApi, slack_api
from servers.smtp import SmtpServer, smtp_server
from sqlmodel import Session, col, func, select
from test_outbox import queue_team_messages

from reliability.channels.email import message_id_for
from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import Member, Notice, NoticeKind, NoticeStatus

WEDNESDAY_10 = at("2026-11-18T10:00-05:00")
DEADLINE_SECONDS = 120  # far above the ~30 s these take; only a hung worker reaches it


class Workers:
    """`reliability worker` processes with one environment; `stop()` ends every one."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.directory / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "reliability", "worker"],
                                   env=self.env, cwd=self.directory, stdout=log, stderr=log)
        log.close()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several worker processes need a server that allows concurrent writers")
    started: list[Workers] = []

    def make(**settings: str) -> Workers:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
        env.update({"RELIABILITY_DATABASE__URL": database_url,
                    "RELIABILITY_SCHEDULER__DELIVER_INTERVAL_SECONDS": "1",
                    "RELIABILITY_SCHEDULER__SCAN_INTERVAL_SECONDS": "3600",
                    "RELIABILITY_DELIVERY__LEASE_SECONDS": "5",
                    "RELIABILITY_SMTP__FROM_ADDRESS": "promises@example.com"})
        env.update({f"RELIABILITY_{name.upper()}": value for name, value in settings.items()})
        started.append(Workers(tmp_path, env))
        return started[-1]

    yield make
    for group in started:
        group.stop()


def smtp_env(server: SmtpServer) -> dict[str, str]:
    return {"smtp__host": server.host, "smtp__port": str(server.port)}


def wait_for(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def kill_when_accepted(server: SmtpServer, process: subprocess.Popen[bytes], target: int, *,
                       until: Callable[[], bool]) -> bool:
    """SIGKILL `process` as the server accepts its `target`-th message, before it replies;
    False if `until()` came true first."""
    killed = threading.Event()

    def kill(received: int) -> None:
        if received >= target and not killed.is_set():
            killed.set()
            process.send_signal(signal.SIGKILL)

    server.on_message = kill
    try:
        wait_for(lambda: killed.is_set() or until(), "the kill")
    finally:
        server.on_message = None
    return killed.is_set()


def count(ledger: Ledger, *where: object) -> int:
    with Session(ledger.engine) as session:
        return session.exec(select(func.count()).select_from(Notice).where(*where)).one()


def test_sigkilling_one_of_two_workers_loses_no_email_and_repeats_at_most_one_per_kill(
    ledger: Ledger, workers: Callable[..., Workers], capsys: pytest.CaptureFixture[str]
) -> None:
    kills_wanted, chooser = 4, random.Random()
    agency_with(ledger, "en")
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-27T17:00-05:00"), now=WEDNESDAY_10, actor="t")
    ids = queue_team_messages(ledger, 300)
    ours = col(Notice.id).in_(ids)
    with smtp_server() as server:
        server.accept_seconds = 0.08  # a remote server's pace: the run outlasts the kills
        group = workers(**smtp_env(server), delivery__batch_size="10")
        group.start()
        victim, kills = group.start(), 0
        while kills < kills_wanted and count(ledger, ours, Notice.status != "sent"):
            # Once the victim holds a lease it is mid-batch; it dies when the server next
            # accepts a message (its own or the other worker's), before the server replies.
            pid = f":{victim.pid}:"
            wait_for(lambda pid=pid: count(ledger, col(Notice.leased_by).contains(pid)) > 0
                     or not count(ledger, ours, Notice.status != "sent"), "a claim")
            killed = kill_when_accepted(server, victim, server.received + chooser.randint(1, 4),
                                        until=lambda: not count(ledger, ours,
                                                                Notice.status != "sent"))
            if killed:
                assert victim.wait(timeout=30) == -signal.SIGKILL
                kills += 1
                victim = group.start()
        wait_for(lambda: count(ledger, ours, Notice.status == "sent") == len(ids),
                 "every message to be sent")
        group.stop()
        expected = {message_id_for(f"test:{index}", "example.com") for index in range(300)}
        received = Counter(str(m["Message-ID"]) for m in server.messages
                           if str(m["Message-ID"]) in expected)
    repeats = sum(received.values()) - len(received)
    with capsys.disabled():
        print(f"\n{kills} SIGKILLs over 300 emails: {repeats} delivered twice")
    assert kills == kills_wanted
    assert set(received) == expected  # none lost
    # A kill can land on a message already repeated once (the first one the restarted worker
    # sends), so one message may come three times; the bound is on the total.
    assert repeats <= kills


def test_two_workers_with_slack_offer_each_draft_exactly_once(
    ledger: Ledger, workers: Callable[..., Workers]
) -> None:
    agency_with(ledger, "en")
    wednesday_draft(ledger)
    for n in range(5):
        log_mistake(ledger, client_name="Acme", summary=f"Sent the wrong file ({n})",
                    prevention="Check the file name", now=WEDNESDAY_10,
                    actor="alice@example.com", owner_email="alice@example.com")
    with Session(ledger.engine) as session:
        alice = session.exec(select(Member).where(Member.email == "alice@example.com")).one()
        alice.slack_user_id = "UALICE"
        session.add(alice)
        session.commit()
    with slack_api() as api, smtp_server() as server:
        api.add_user("UALICE", "Alice", email="alice@example.com", tz="America/New_York")
        api.post_seconds = 1  # a slow Slack: one worker is still offering when the other starts
        settings = {"slack__bot_token": api.token, "slack__base_url": api.base_url,
                    **smtp_env(server)}
        group = workers(**settings)
        group.start(), group.start()
        wait_for(lambda: drafts_waiting(ledger) and all_offered(ledger), "the offers")
        group.stop()
        offered = offers_posted(api)
    drafts = drafts_waiting(ledger)
    assert len(drafts) >= 6
    assert set(offered) == {f"draft_offer:{draft_id}" for draft_id in drafts}
    assert set(offered.values()) == {1}


def drafts_waiting(ledger: Ledger) -> list[int]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(Notice.id).where(
            Notice.status == NoticeStatus.draft)).all())


def all_offered(ledger: Ledger) -> bool:
    keys = {f"draft_offer:{draft_id}" for draft_id in drafts_waiting(ledger)}
    with Session(ledger.engine) as session:
        sent = set(session.exec(select(Notice.idempotency_key).where(
            Notice.kind == NoticeKind.draft_offer, Notice.status == NoticeStatus.sent)).all())
    return keys <= sent


def offers_posted(api: SlackApi) -> Counter[str]:
    keys = (post["metadata"]["event_payload"]["idempotency_key"]
            for post in api.posted("DALICE"))
    return Counter(key for key in keys if key.startswith("draft_offer:"))
