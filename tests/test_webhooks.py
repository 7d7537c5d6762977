"""Signed outgoing webhooks: every event reaches a real HTTP receiver once, signed, through
the outbox's claims, retries and leases; a failing endpoint is switched off and the admins
are emailed."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import Cli
from fastapi.testclient import TestClient
from freezegun import freeze_time
from helpers import at
from scenarios import START, agency_with, tick, wednesday_draft
from servers.smtp import smtp_server
from servers.webhook_receiver import Receiver, webhook_receiver
from sqlmodel import Session, col, select
from web_helpers import app_for, csrf_of, signed_in

from reliability import notices, webhooks
from reliability.access import Actor
from reliability.channels import DeliveryError, OutgoingMessage, SendResult
from reliability.channels.webhook import WebhookChannel, address_refusal
from reliability.config import Settings
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import Event, Notice, NoticeAttempt, WebhookEndpoint
from reliability.outbox import DeliveryReport, Outbox
from reliability.webhook_events import webhook_type

WEDNESDAY_10 = at("2026-11-18T10:00-05:00")
OPERATOR = Actor("cli:test")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def documented_verify() -> Callable[..., bool]:
    """The verify function exactly as docs/api.md prints it for receivers."""
    text = DOCS.read_text("utf-8")
    section = text[text.index("### Verifying the signature"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    scope: dict[str, object] = {}
    exec(compile(code.group(1), str(DOCS), "exec"), scope)
    verify = scope["verify_signature"]
    assert callable(verify)
    return verify  # type: ignore[return-value]


verify_signature = documented_verify()


@pytest.fixture
def open_settings(settings: Settings) -> Settings:
    """A receiver on this machine: plain http to a loopback address is allowed here."""
    settings.webhooks.allow_http = True
    settings.webhooks.allow_private_addresses = True
    return settings


def register(ledger: Ledger, receiver: Receiver, events: list[str] | None = None,
             now: datetime = START) -> webhooks.Registered:
    return webhooks.add_endpoint(ledger, OPERATOR, url=receiver.url, events=events or ["all"],
                                 now=now)


def deliver_all(ledger: Ledger, now: datetime, worker: str = "w") -> list[DeliveryReport]:
    """Delivery rounds until nothing is left to claim (a sent message is an event too)."""
    reports = []
    while (report := Outbox(ledger, worker=worker).deliver(now)).claimed:
        reports.append(report)
    return reports


def events(receiver: Receiver) -> list[dict]:
    return [json.loads(request.body) for request in receiver.requests]


def deliveries(ledger: Ledger) -> list[Notice]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(Notice).where(Notice.kind == "webhook")
                                 .order_by(col(Notice.id))).all())


def attempts(ledger: Ledger, notice_id: int) -> list[NoticeAttempt]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(NoticeAttempt).where(
            NoticeAttempt.notice_id == notice_id).order_by(col(NoticeAttempt.id))).all())


def endpoint(ledger: Ledger, endpoint_id: int) -> WebhookEndpoint:
    with Session(ledger.engine) as session:
        found = session.get(WebhookEndpoint, endpoint_id)
        assert found is not None
        return found


def test_every_event_type_reaches_the_receiver_exactly_once_with_a_valid_signature(
    ledger: Ledger, open_settings: Settings
) -> None:
    with webhook_receiver() as receiver, smtp_server(
            refuse={"alice@example.com": "550 5.1.1 no such user"}) as mail:
        open_settings.smtp = mail.settings()
        secret = register(agency_with(ledger, "en"), receiver).secret
        draft = wednesday_draft(ledger)  # made, done, at risk; check-ins to Alice
        with ledger.transaction() as session:
            notices.approve(session, draft.id or 0, now=WEDNESDAY_10, actor="bob@example.com")
        deliver_all(ledger, WEDNESDAY_10)  # the delay notice is sent and moves the date;
        # Alice's check-in requests are refused by the mail server: dead
        deck = ledger.add_promise(title="Deck", client_name="Acme",
                                  owner_email="alice@example.com",
                                  due_at=at("2026-11-19T12:00-05:00"), now=WEDNESDAY_10,
                                  actor="alice@example.com").promise.id or 0
        log_mistake(ledger, client_name="Acme", summary="Wrong invoice total.",
                    prevention="A second person checks every invoice.", now=WEDNESDAY_10,
                    actor="bob@example.com", owner_email="alice@example.com")
        tick(ledger, at("2026-11-19T15:00-05:00"))  # the deck is overdue
        ledger.complete(deck, now=at("2026-11-19T16:00-05:00"), actor="alice@example.com")
        deliver_all(ledger, at("2026-11-19T16:00-05:00"))
        received = events(receiver)
        requests = list(receiver.requests)
    with Session(ledger.engine) as session:
        expected = Counter(kind for event in session.exec(select(Event)).all()
                           if (kind := webhook_type(event.kind, event.payload)) is not None)
    assert set(expected) == set(webhooks.EVENTS)
    assert Counter(event["type"] for event in received) == expected
    assert len({event["id"] for event in received}) == len(received)
    for request, event in zip(requests, received, strict=True):
        assert request.headers["Reliability-Event-Id"] == event["id"]
        assert request.headers["Reliability-Event-Type"] == event["type"]
        assert verify_signature(secret, request.headers["Reliability-Signature"], request.body)
        assert not verify_signature("whsec_wrong", request.headers["Reliability-Signature"],
                                    request.body)
        assert not verify_signature(secret, request.headers["Reliability-Signature"],
                                    request.body + b" ")
    overdue = next(event for event in received if event["type"] == "promise.overdue")
    assert overdue["data"]["promise"]["title"] == "Deck"
    assert overdue["data"]["promise"]["level"] == "overdue"
    assert all(n.status == "sent" for n in deliveries(ledger))


def test_a_change_that_rolls_back_sends_nothing(ledger: Ledger, open_settings: Settings) -> None:
    with webhook_receiver() as receiver:
        register(agency_with(ledger, "en"), receiver)
        with pytest.raises(UserError):
            ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                               due_at=at("2026-11-01T12:00-05:00"), now=WEDNESDAY_10,
                               actor="t")  # due in the past: refused after nothing is kept
        assert deliveries(ledger) == []


def test_an_endpoint_gets_only_the_events_it_asked_for(ledger: Ledger,
                                                       open_settings: Settings) -> None:
    with webhook_receiver() as receiver:
        register(agency_with(ledger, "en"), receiver, ["promise.done"])
        view = ledger.add_promise(title="Deck", client_name="Acme",
                                  owner_email="alice@example.com",
                                  due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10,
                                  actor="t")
        ledger.complete(view.promise.id or 0, now=WEDNESDAY_10, actor="t")
        deliver_all(ledger, WEDNESDAY_10)
        assert [event["type"] for event in events(receiver)] == ["promise.done"]


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_try_after_backoff(
    ledger: Ledger, open_settings: Settings
) -> None:
    with webhook_receiver(answers=[500, 500, 500]) as receiver:
        secret = register(agency_with(ledger, "en"), receiver, ["promise.created"]).secret
        ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                           due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10, actor="t")
        [delivery] = deliveries(ledger)
        now, tries = WEDNESDAY_10, []
        for _ in range(4):
            with freeze_time(now, real_asyncio=True):
                early = Outbox(ledger).deliver(now - timedelta(seconds=1))
                report = Outbox(ledger).deliver(now)
                assert early.claimed == 0 and report.claimed == 1
                tries.append((now, report))
                stored = deliveries(ledger)[0]
                verified = verify_signature(secret,
                                            receiver.requests[-1].headers["Reliability-Signature"],
                                            receiver.requests[-1].body)
                assert verified  # signed at each try's own moment
            if stored.next_attempt_at is not None:
                now = stored.next_attempt_at
        bodies = {request.body for request in receiver.requests}
    assert [len(r.retrying) for _, r in tries] == [1, 1, 1, 0]
    assert tries[-1][1].sent == [delivery.id]
    waits = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(tries)]
    base = open_settings.delivery.backoff_base_seconds
    assert [base * 0.5 <= waits[0] <= base, base <= waits[1] <= 2 * base,
            2 * base <= waits[2] <= 4 * base] == [True, True, True]
    assert len(bodies) == 1  # the same event, the same id, every time
    assert [a.outcome for a in attempts(ledger, delivery.id or 0)] == [
        "retry", "retry", "retry", "sent"]


def _worker(database_url: str, now: datetime) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    env.update({
        "RELIABILITY_DATABASE__URL": database_url,
        "RELIABILITY_WEBHOOKS__ALLOW_HTTP": "true",
        "RELIABILITY_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES": "true",
        "RELIABILITY_DELIVERY__LEASE_SECONDS": "30",
        "RELIABILITY_AS_OF": now.isoformat(),
    })
    return subprocess.Popen([sys.executable, "-m", "reliability", "deliver"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_delivery_leaves_it_to_the_next_with_the_same_event_id(
    ledger: Ledger, open_settings: Settings, database_url: str
) -> None:
    with webhook_receiver() as receiver:
        register(agency_with(ledger, "en"), receiver, ["promise.created"])
        ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                           due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10, actor="t")
        [delivery] = deliveries(ledger)
        receiver.release.clear()  # hold the request open: the worker waits for the answer
        dying = _worker(database_url, WEDNESDAY_10)
        assert receiver.arrived.wait(timeout=120), dying.communicate(timeout=10)
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=30)
        receiver.release.set()
        assert deliveries(ledger)[0].status == "sending"  # claimed, outcome never recorded
        # Before the lease runs out nobody else may take it; after, the next worker does.
        assert Outbox(ledger, worker="next").deliver(WEDNESDAY_10).claimed == 0
        later = WEDNESDAY_10 + timedelta(seconds=31)
        assert Outbox(ledger, worker="next").deliver(later).sent == [delivery.id]
        ids = [request.headers["Reliability-Event-Id"] for request in receiver.requests]
        received = events(receiver)
    assert len(ids) == 2 and len(set(ids)) == 1  # the receiver drops the repeat by its id
    assert received[0] == received[1]
    outcomes = [(a.worker, a.outcome) for a in attempts(ledger, delivery.id or 0)]
    assert [outcome for _, outcome in outcomes] == ["unknown", "sent"]
    assert outcomes[1][0] == "next" and outcomes[0][0] != "next"
    assert deliveries(ledger)[0].status == "sent"


def test_an_endpoint_failing_past_the_limit_is_switched_off_and_the_admins_are_emailed(
    ledger: Ledger, open_settings: Settings
) -> None:
    open_settings.delivery.max_attempts = 1
    open_settings.delivery.batch_size = 1  # one delivery per round, so the third waits
    open_settings.webhooks.disable_after = 2
    agency_with(ledger, "en")
    ledger.add_member(email="erin@example.com", name="Erin Admin", role="admin",
                      timezone="Europe/Stockholm", now=START, actor="t")
    with webhook_receiver(answers=[500] * 10) as receiver:
        hook = register(ledger, receiver, ["promise.created"]).endpoint
        for title in ("Deck", "Plan", "Memo"):
            ledger.add_promise(title=title, client_name="Acme",
                               owner_email="alice@example.com",
                               due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10,
                               actor="t")
        with smtp_server() as mail:
            open_settings.smtp = mail.settings()
            deliver_all(ledger, WEDNESDAY_10)  # two fail; the third is called off; the
            # admin's email goes out
            emails = list(mail.messages)
    off = endpoint(ledger, hook.id)
    assert not off.enabled and off.failures_in_a_row == 2
    assert "2 deliveries in a row failed" in (off.disabled_reason or "")
    assert "HTTP 500" in (off.disabled_reason or "")
    assert sorted(n.status for n in deliveries(ledger)) == ["cancelled", "dead", "dead"]
    assert len(receiver.requests) == 2
    [email] = emails
    assert email["To"].addresses[0].addr_spec == "erin@example.com"
    assert receiver.url in email["Subject"]
    assert "/webhooks" in email.get_body(("plain",)).get_content()
    with Session(ledger.engine) as session:
        [disabled] = session.exec(select(Event).where(Event.kind == "webhook.disabled")).all()
    assert disabled.payload["endpoint_id"] == hook.id
    # Switched back on, it starts counting again and gets new events.
    webhooks.set_enabled(ledger, OPERATOR, hook.id, True, now=WEDNESDAY_10)
    assert endpoint(ledger, hook.id).failures_in_a_row == 0


def test_only_admins_register_and_only_public_https_addresses(ledger: Ledger,
                                                              settings: Settings) -> None:
    agency_with(ledger, "en")
    with Session(ledger.engine) as session:
        bob = ledger.find_member(session, "bob@example.com")
    with pytest.raises(UserError, match="only an admin"):
        webhooks.add_endpoint(ledger, Actor.of(bob), url="https://93.184.215.14/hook",
                              events=["all"], now=START)
    refused = {
        "http://93.184.215.14/hook": "plain http",
        "https://127.0.0.1/hook": "loopback",
        "https://10.1.2.3/hook": "private",
        "https://169.254.169.254/latest/meta-data": "link-local",
        "https://[::1]/hook": "loopback",
        "ftp://93.184.215.14/hook": "not an http",
        "https://no-such-host.invalid/hook": "could not be resolved",
    }
    for url, why in refused.items():
        with pytest.raises(UserError, match=why) as caught:
            webhooks.add_endpoint(ledger, OPERATOR, url=url, events=["all"], now=START)
        assert caught.value.field == "url"
    with pytest.raises(UserError, match=r"unknown event 'promise\.eaten'") as caught:
        webhooks.add_endpoint(ledger, OPERATOR, url="https://93.184.215.14/hook",
                              events=["promise.eaten"], now=START)
    assert caught.value.hint is not None and "promise.at_risk" in caught.value.hint
    settings.webhooks.allow_private_addresses = True
    with pytest.raises(UserError, match="link-local"):
        webhooks.add_endpoint(ledger, OPERATOR, url="https://169.254.169.254/", events=["all"],
                              now=START)
    with Session(ledger.engine) as session:
        assert session.exec(select(WebhookEndpoint)).all() == []


def test_the_cli_adds_lists_rotates_switches_and_removes_an_endpoint(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELIABILITY_WEBHOOKS__ALLOW_HTTP", "true")
    monkeypatch.setenv("RELIABILITY_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true")
    added = cli("webhook", "add", "http://127.0.0.1:9/hook", "--event", "promise.done",
                "--event", "promise.at_risk", "--json")
    assert added.exit_code == 0, added.stderr
    first = json.loads(added.stdout)
    assert first["secret"].startswith("whsec_")
    assert first["events"] == ["promise.at_risk", "promise.done"]
    listed = cli("webhook", "list")
    assert "http://127.0.0.1:9/hook" in listed.stdout and first["secret"] not in listed.stdout
    rotated = json.loads(cli("webhook", "rotate-secret", str(first["id"]), "--json").stdout)
    assert rotated["secret"] != first["secret"]
    assert "is off" in cli("webhook", "disable", str(first["id"])).stdout
    assert "is on" in cli("webhook", "enable", str(first["id"])).stdout
    assert "removed" in cli("webhook", "remove", str(first["id"])).stdout
    assert cli("webhook", "list", "--json").stdout.strip() == "[]"
    wrong = cli("webhook", "add", "http://127.0.0.1:9/hook", "--event", "nope")
    assert wrong.exit_code != 0 and "unknown event 'nope'" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_the_webhooks_page_shows_deliveries_to_admins_and_switches_an_endpoint(
    ledger: Ledger, open_settings: Settings
) -> None:
    open_settings.web.secret_key = None
    agency_with(ledger, "en")
    ledger.add_member(email="erin@example.com", name="Erin", role="admin",
                      timezone="Europe/Stockholm", now=START, actor="t")
    app = app_for(ledger)
    with webhook_receiver(answers=[500]) as receiver:
        admin = signed_in(app, ledger, "erin@example.com")
        page = admin.get("/webhooks")
        added = admin.post("/webhooks", data={
            "url": receiver.url, "events": ["promise.created", "promise.done"],
            "csrf_token": csrf_of(page.text)})
        assert added.status_code == 200 and added.headers["cache-control"] == "no-store"
        [secret] = re.findall(r"<code>(whsec_[^<]+)</code>", added.text)
        ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                           due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10, actor="t")
        Outbox(ledger, worker="w1").deliver(WEDNESDAY_10)
        [request] = receiver.requests
        assert verify_signature(secret, request.headers["Reliability-Signature"], request.body)
        shown = admin.get("/webhooks").text
        assert receiver.url in shown and "promise.created" in shown
        assert "HTTP 500" in shown and "w1" in shown and secret not in shown
        [hook] = ledger.read(webhooks.endpoints, OPERATOR)
        off = admin.post(f"/webhooks/{hook.id}/disable",
                         data={"csrf_token": csrf_of(shown)}, follow_redirects=True)
        assert "is off" in off.text and "Switch on" in off.text
        forged = admin.post(f"/webhooks/{hook.id}/enable", data={"csrf_token": "forged"})
        assert forged.status_code in (400, 403)
        assert not endpoint(ledger, hook.id).enabled
        bad = admin.post("/webhooks", data={"url": "ftp://x", "events": ["all"],
                                            "csrf_token": csrf_of(shown)})
        assert bad.status_code == 422 and "cannot receive events" in bad.text
    member = signed_in(app, ledger, "alice@example.com")
    assert member.get("/webhooks").status_code == 403
    assert TestClient(app).get("/webhooks", follow_redirects=False).status_code == 303


def test_an_imported_endpoint_sends_nothing_until_it_has_a_new_secret(
    ledger: Ledger, open_settings: Settings
) -> None:
    with webhook_receiver() as receiver:
        hook = register(agency_with(ledger, "en"), receiver, ["promise.created"]).endpoint
        with ledger.transaction() as session:  # as `import` leaves it: the secret withheld
            imported = session.get(WebhookEndpoint, hook.id)
            assert imported is not None
            imported.secret = ""
            session.add(imported)
        ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                           due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10, actor="t")
        assert Outbox(ledger).deliver(WEDNESDAY_10).dead
        assert "rotate-secret" in (deliveries(ledger)[0].last_error or "")
        secret = webhooks.rotate_secret(ledger, OPERATOR, hook.id, now=WEDNESDAY_10).secret
        ledger.add_promise(title="Plan", client_name="Acme", owner_email="alice@example.com",
                           due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10, actor="t")
        Outbox(ledger).deliver(WEDNESDAY_10)
        [request] = receiver.requests
    assert verify_signature(secret, request.headers["Reliability-Signature"], request.body)
    assert json.loads(request.body)["data"]["promise"]["title"] == "Plan"


def test_each_admin_is_told_of_a_switched_off_endpoint_in_their_own_language(
        ledger: Ledger, open_settings: Settings) -> None:
    open_settings.delivery.max_attempts = 1
    open_settings.webhooks.disable_after = 1
    open_settings.team.locale = "sv"  # the language of an admin who has none of their own
    agency_with(ledger, "en")
    for email, name, locale in [("erin@example.com", "Erin Admin", None),
                                ("dana@example.com", "Dana Reed", "en"),
                                ("chen@example.com", "陈梅", "zh")]:
        ledger.add_member(email=email, name=name, role="admin", locale=locale,
                          timezone="Europe/Stockholm", now=START, actor="t")
    url = "http://127.0.0.1:9/hook"  # nothing listens: every delivery fails at once
    webhooks.add_endpoint(ledger, OPERATOR, url=url, events=["promise.created"], now=START)
    ledger.add_promise(title="Deck", client_name="Acme", owner_email="alice@example.com",
                       due_at=at("2026-11-20T12:00-05:00"), now=WEDNESDAY_10, actor="t")
    Outbox(ledger, worker="w").deliver(WEDNESDAY_10)
    with Session(ledger.engine) as session:
        told = {n.recipient: n for n in session.exec(
            select(Notice).where(Notice.kind == "webhook_disabled")).all()}
    assert {email: (n.locale, n.subject) for email, n in told.items()} == {
        "erin@example.com": ("sv", f"Webhook avstängd: {url}"),
        "dana@example.com": ("en", f"Webhook switched off: {url}"),
        "chen@example.com": ("zh", f"Webhook 已停用：{url}"),
    }
    assert told["erin@example.com"].text.startswith(
        f"Hej Erin,\n\nVi har slutat skicka händelser till {url}")
    assert told["dana@example.com"].text.startswith(
        f"Hi Dana,\n\nWe stopped sending events to {url}")
    assert told["chen@example.com"].text.startswith(f"陈梅，您好！\n\n我们已停止向 {url} 发送事件")


# -- where a delivery connects ----------------------------------------------------------


class Resolver:
    """A DNS server's answers for one name, one list per lookup (the last repeats): a
    rebinding attacker's server answers a checked address first and another one after."""

    def __init__(self, name: str, *answers: list[str]) -> None:
        self.name, self.answers, self.asked = name, list(answers), 0

    async def __call__(self, host: str, port: int) -> list[str]:
        if host != self.name:
            raise OSError(f"no such host {host!r}")
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def deliver_once(settings: Settings, url: str, resolver: Resolver,
                 receiver: Receiver) -> SendResult:
    """One event through the webhook channel, as the outbox sends it."""
    channel = WebhookChannel(settings.webhooks, receiver.client_context(), resolver)
    message = OutgoingMessage(idempotency_key="k", recipient=url, subject="",
                              text=json.dumps({"id": "evt_1", "type": "promise.created"}),
                              signing_key="whsec_test")

    async def run() -> SendResult:
        async with channel:
            commit = await channel.prepare(message)
            assert callable(commit)
            return await commit()

    return asyncio.run(run())


def test_a_delivery_connects_to_the_address_it_checked_under_the_hosts_own_name(
    open_settings: Settings
) -> None:
    """The name is looked up once; the connection goes to that checked address, never to a
    second answer, with the host's name in the Host header and TLS (SNI, certificate)."""
    with webhook_receiver(tls_for="hooks.rebind.test") as receiver:
        resolver = Resolver("hooks.rebind.test", ["127.0.0.1"], ["192.0.2.1"])
        sent = deliver_once(open_settings, receiver.url, resolver, receiver)
        [request] = receiver.requests
    assert sent.provider_id == "HTTP 200"
    assert resolver.asked == 1
    assert request.headers["Host"] == f"hooks.rebind.test:{receiver.port}"
    assert verify_signature("whsec_test", request.headers["Reliability-Signature"],
                            request.body)


def test_a_pinned_delivery_still_verifies_the_certificate_for_the_hosts_name(
    open_settings: Settings
) -> None:
    with webhook_receiver(tls_for="someone-else.test") as receiver:
        url = f"https://hooks.rebind.test:{receiver.port}/hook"
        with pytest.raises(DeliveryError, match="could not connect") as failed:
            deliver_once(open_settings, url, Resolver("hooks.rebind.test", ["127.0.0.1"]),
                         receiver)
        assert receiver.requests == []
    assert "certificate" in str(failed.value).lower()


def test_a_host_resolving_to_an_ipv6_address_that_carries_a_private_ipv4_one_is_refused(
    open_settings: Settings
) -> None:
    open_settings.webhooks.allow_private_addresses = False
    with webhook_receiver(tls_for="hooks.rebind.test") as receiver:
        for address, inner in [("64:ff9b::a9fe:a9fe", "169.254.169.254 is a link-local"),
                               ("2002:a00:1::1", "10.0.0.1 is a private"),
                               ("::ffff:127.0.0.1", "127.0.0.1 is a loopback"),
                               ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1 is a private")]:
            with pytest.raises(DeliveryError, match=f"carries {inner} address"):
                deliver_once(open_settings, receiver.url,
                             Resolver("hooks.rebind.test", [address]), receiver)
        assert receiver.requests == []


@pytest.mark.parametrize(("address", "refusal"), [
    ("64:ff9b::a00:1", "64:ff9b::a00:1 carries 10.0.0.1 is a private address"),
    ("64:ff9b::7f00:1", "64:ff9b::7f00:1 carries 127.0.0.1 is a loopback address"),
    ("64:ff9b:1::a00:1", "64:ff9b:1::a00:1 is a local NAT64 address"),
    ("2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1 carries 169.254.169.254 is a link-local address"),
    ("::ffff:10.1.2.3", "::ffff:a01:203 carries 10.1.2.3 is a private address"),
    ("::10.0.0.1", "::a00:1 carries 10.0.0.1 is a private address"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe",
     "2001:0:4136:e378:8000:63bf:f5ff:fffe carries 10.0.0.1 is a private address"),
    ("::ffff:0:7f00:1", "::ffff:0:7f00:1 carries 127.0.0.1 is a loopback address"),
    ("fec0::1", "fec0::1 is a private address"),
    ("ff0e::1", "ff0e::1 is not a public address"),
    ("224.0.0.1", "224.0.0.1 is not a public address"),
    ("fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address"),
    ("64:ff9b::5db8:d70e", None),  # NAT64 of a public address
    ("2002:5db8:d70e::1", None),  # 6to4 of a public address
    ("::ffff:93.184.215.14", None),
    ("2606:2800:220:1:248:1893:25c8:1946", None),
])
def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_carries(address: str,
                                                                  refusal: str | None) -> None:
    assert address_refusal(address, allow_private=False) == refusal


@pytest.mark.parametrize("address", ["fd00:ec2::254", "169.254.169.254", "::ffff:a9fe:a9fe",
                                     "64:ff9b::a9fe:a9fe"])
def test_the_cloud_metadata_service_is_refused_even_where_private_addresses_are_allowed(
        address: str) -> None:
    assert address_refusal(address, allow_private=True) is not None
    assert address_refusal("fd00::1", allow_private=True) is None


def test_a_receiver_answering_with_an_endless_body_is_delivered_without_reading_it(
    open_settings: Settings
) -> None:
    """The status is the answer: a receiver that streams a body without end cannot fill the
    worker's memory."""
    with webhook_receiver(tls_for="hooks.rebind.test") as receiver:
        receiver.endless_body = 256 * 1024 * 1024
        sent = deliver_once(open_settings, receiver.url,
                            Resolver("hooks.rebind.test", ["127.0.0.1"]), receiver)
    assert sent.provider_id == "HTTP 200"
    assert receiver.sent < 16 * 1024 * 1024


def test_a_receiver_dripping_its_answer_is_given_up_on_after_the_timeout(
    open_settings: Settings
) -> None:
    """Each byte within the read timeout is not an answer within `timeout_seconds`: a
    receiver cannot hold a worker by answering a byte at a time."""
    open_settings.webhooks.timeout_seconds = 1
    with webhook_receiver(tls_for="hooks.rebind.test") as receiver:
        receiver.drip = 0.2  # the whole answer would take about 25 seconds
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="gave no answer"):
            deliver_once(open_settings, receiver.url,
                         Resolver("hooks.rebind.test", ["127.0.0.1"]), receiver)
        assert time.monotonic() - started < 5
