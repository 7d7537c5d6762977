"""`/slack/events` from an attacker's side: size, signature and shape are checked before any
work, bad requests get one clear answer, and nothing Slack-formatted leaks into a channel."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlencode

import httpx
import pytest
import test_slack_app
from helpers import at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios import agency_with
from servers.slack_api import SlackApi, slack_api
from slack_harness import SIGNING_SECRET, SlackWorkspace, command_body, signed_headers
from test_slack_app import shown

from reliability import notices, slack_echo
from reliability.config import Settings
from reliability.drafting import rendering, samples
from reliability.ledger import Ledger
from reliability.models import NoticeKind
from reliability.outbox import Outbox
from reliability.slack_http import MAX_BODY, form

# The Slack app's fixtures, a workspace per test (the server, one per module, is conftest's).
api, clock, agency, slack = (test_slack_app.api, test_slack_app.clock, test_slack_app.agency,
                             test_slack_app.slack)
INJECTED = "<!channel> <@U123> <https://evil.example|click> Q3 report"
RAW = ("<!channel>", "<@U123>", "<https://evil.example|click>")


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of the run, uvicorn's own errors included (it does not propagate)."""
    server_log = logging.getLogger("uvicorn")
    server_log.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        server_log.removeHandler(caplog.handler)


def no_traceback_and_no_body(logged: pytest.LogCaptureFixture, marker: str = "") -> None:
    for record in logged.records:
        assert record.exc_info is None, record.getMessage()
        if marker:
            assert marker not in record.getMessage()
    assert sum(len(record.getMessage()) for record in logged.records) < 10_000


def signed_bytes(body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}",
            "Content-Type": "application/x-www-form-urlencoded"}


# -- size, signature, shape: answered before any work, without a traceback -------------------


@pytest.mark.parametrize(("how", "status"), [
    ("non-UTF-8 body", 401),
    ("unsigned payload=notjson", 401),
    ("signed payload=notjson", 400),
    ("signed JSON array payload", 400),
    ("signed JSON array body", 400),
    ("signed JSON string body", 400),
    ("non-numeric timestamp", 401),
    ("non-ASCII timestamp", 401),
    ("no signature", 401),
])
def test_a_malformed_request_gets_one_clear_answer_and_no_traceback(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture, how: str, status: int) -> None:
    body, headers = {
        "non-UTF-8 body": (b"text=\xff\xfe", signed_bytes(b"text=\xff\xfe")),
        "unsigned payload=notjson": (b"payload=notjson", {}),
        "signed payload=notjson": (b"payload=notjson", signed_bytes(b"payload=notjson")),
        "signed JSON array payload": (b"payload=%5B1%2C2%5D", signed_bytes(b"payload=%5B1%2C2%5D")),
        "signed JSON array body": (b"[1, 2]", {**signed_bytes(b"[1, 2]"),
                                              "Content-Type": "application/json"}),
        "signed JSON string body": (b'"x"', {**signed_bytes(b'"x"'),
                                            "Content-Type": "application/json"}),
        "non-numeric timestamp": (b"text=x", {**signed_bytes(b"text=x"),
                                              "X-Slack-Request-Timestamp": "soon"}),
        "non-ASCII timestamp": (b"text=x", {**signed_bytes(b"text=x"),  # type: ignore[dict-item]
                                            "X-Slack-Request-Timestamp": "١٢٣".encode()}),
        "no signature": (b"text=x", {"X-Slack-Request-Timestamp": str(int(time.time()))}),
    }[how]
    response = slack.http.post(slack.url, content=body, headers=headers)
    assert response.status_code == status
    assert response.text.endswith(".") and "Traceback" not in response.text
    no_traceback_and_no_body(logged)


DEEP = '{"type":"event_callback","event":' + "[" * 50_000 + "]" * 50_000 + "}"


@pytest.mark.parametrize(("how", "payload"), [
    ("a view_submission whose view has no type",
     {"type": "view_submission", "user": {"id": "UALICE"}, "view": {"callback_id": "x"}}),
    ("a view_closed whose private_metadata is a number",
     {"type": "view_closed", "user": {"id": "UALICE"},
      "view": {"type": "modal", "callback_id": "x", "private_metadata": 7}}),
    ("block_actions without actions", {"type": "block_actions", "user": {"id": "x"},
                                       "actions": []}),
    ("block_actions whose action has no action_id",
     {"type": "block_actions", "user": {"id": "x"}, "trigger_id": "t",
      "actions": [{"value": "1"}]}),
    ("block_actions whose button has no value",
     {"type": "block_actions", "user": {"id": "x"}, "trigger_id": "t",
      "actions": [{"action_id": "promise_change_date"}]}),
    ("block_actions without a trigger_id",
     {"type": "block_actions", "user": {"id": "x"},
      "actions": [{"action_id": "promise_change_date", "value": "v"}]}),
    ("a shortcut without a callback_id", {"type": "shortcut", "user": {"id": "x"}}),
    ("an event_callback without an event", {"type": "event_callback"}),
])
def test_a_signed_payload_missing_what_bolt_reads_is_a_400_without_a_traceback(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture, how: str,
        payload: dict[str, object]) -> None:
    for body, kind in ((urlencode({"payload": json.dumps(payload)}).encode(), None),
                       (json.dumps(payload).encode(), "application/json")):
        headers = signed_bytes(body) | ({"Content-Type": kind} if kind else {})
        response = slack.http.post(slack.url, content=body, headers=headers)
        assert response.status_code == 400, (how, response.text)
    no_traceback_and_no_body(logged)


def test_a_signed_request_a_listener_cannot_handle_is_a_400_with_one_line_and_no_body(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture) -> None:
    payload = {"type": "view_submission", "user": {"id": "UALICE"},
               "view": {"type": "modal", "callback_id": "client_add",
                        "state": {"values": {"name": "Acme Secret"}}}}  # a block is an object
    body = urlencode({"payload": json.dumps(payload)}).encode()
    logged.clear()
    response = slack.http.post(slack.url, content=body, headers=signed_bytes(body))
    assert response.status_code == 400, response.text
    no_traceback_and_no_body(logged, marker="Acme Secret")
    warnings = [r.getMessage() for r in logged.records if r.levelno >= logging.WARNING]
    assert "a signed Slack request could not be handled: AttributeError" in warnings


@pytest.mark.parametrize("body", [DEEP.encode(), urlencode({"payload": DEEP}).encode()])
def test_a_signed_body_nested_50000_deep_is_a_400_without_a_traceback(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture, body: bytes) -> None:
    headers = signed_bytes(body)
    if body.startswith(b"{"):
        headers["Content-Type"] = "application/json"
    response = slack.http.post(slack.url, content=body, headers=headers)
    assert response.status_code == 400, response.text
    no_traceback_and_no_body(logged)


def test_a_10_mb_body_is_refused_from_its_length_and_never_logged(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture) -> None:
    body = b"payload=" + b"A" * (10 * 1024 * 1024)
    response = slack.http.post(slack.url, content=body, headers={"X-Slack-Signature": "v0=00"})
    assert response.status_code == 413
    assert str(MAX_BODY) in response.text
    no_traceback_and_no_body(logged, marker="AAAAAAAA")


def test_a_streamed_body_is_refused_once_it_passes_the_limit(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture) -> None:
    """Chunked, so no Content-Length warns; the limit holds while it streams in."""
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB in 64 KiB pieces, if nobody stops it
            sent.append(1)
            yield b"A" * 65536

    try:
        response = slack.http.post(slack.url, content=chunks(), headers=signed_headers("x"))
    except httpx.HTTPError:  # the server may close before the client has written it all
        pass
    else:
        assert response.status_code == 413
    no_traceback_and_no_body(logged, marker="AAAAAAAA")


def test_a_body_of_exactly_the_limit_is_read_and_checked(slack: SlackWorkspace) -> None:
    body = urlencode({"text": "x" * (MAX_BODY - 5)})
    assert len(body) == MAX_BODY
    assert slack.post(body).status_code == 404  # read whole, signed, and no listener for it
    assert slack.post(body + "x").status_code == 413


def test_slacks_unsigned_certificate_check_gets_an_empty_200_and_nothing_more(
        slack: SlackWorkspace, api: SlackApi) -> None:
    check = slack.http.post(slack.url, content=b"ssl_check=1&token=legacy",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (check.status_code, check.content) == (200, b"")
    smuggled = command_body("list", user="UALICE", response_url=api.response_url("smuggled"))
    forged = slack.http.post(slack.url, content=f"ssl_check=1&{smuggled}".encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert forged.status_code == 401 and api.calls == []


def test_the_endpoint_takes_only_post(slack: SlackWorkspace) -> None:
    response = slack.http.get(slack.url)
    assert response.status_code == 405 and response.headers["allow"] == "POST"


JUNK_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
SLACKISH = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["block_actions", "view_submission", "event_callback",
                             "url_verification", "shortcut", "x"]),
    "command": st.sampled_from(["/promise", "/other", ""]),
    "text": st.text(max_size=40), "user": JUNK_JSON, "user_id": JUNK_JSON, "team": JUNK_JSON,
    "actions": JUNK_JSON, "view": JUNK_JSON, "event": JUNK_JSON, "challenge": JUNK_JSON,
    "container": JUNK_JSON, "response_url": st.just("http://127.0.0.1:9/response/x"),
})
BODIES = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5)
    .map(lambda form: urlencode(form).encode()),
    st.one_of(JUNK_JSON, SLACKISH).map(lambda p: urlencode({"payload": json.dumps(p)}).encode()),
    st.one_of(JUNK_JSON, SLACKISH).map(lambda p: json.dumps(p).encode()),
    st.integers(MAX_BODY - 2, MAX_BODY + 2).map(lambda size: b"a" * size),
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
    str.strip)  # what HTTP allows in a header value


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=BODIES, signing=st.sampled_from(["valid", "stale", "junk", "none"]),
       content_type=st.one_of(st.none(), HEADER_TEXT, st.sampled_from([
           "application/x-www-form-urlencoded", "application/json", "text/plain"])),
       timestamp=HEADER_TEXT, signature=HEADER_TEXT)
def test_no_request_of_any_shape_gets_a_server_error_or_leaves_a_traceback(
        slack: SlackWorkspace, logged: pytest.LogCaptureFixture, body: bytes, signing: str,
        content_type: str | None, timestamp: str, signature: str) -> None:
    headers = {"valid": signed_bytes(body), "stale": signed_bytes(body, timestamp=1),
               "junk": {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature},
               "none": {}}[signing]
    headers = {key: value for key, value in headers.items() if key != "Content-Type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    logged.clear()
    response = slack.http.post(slack.url, content=body, headers=headers)
    assert response.status_code < 500, response.text
    if (signing != "valid" or len(body) > MAX_BODY) and b"ssl_check" not in body:
        assert response.status_code in (401, 413)
    no_traceback_and_no_body(logged)


@given(st.lists(st.tuples(st.text(), st.text())).map(
    lambda pairs: "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in pairs))
    | st.text(alphabet="ab=&%+2 0F"))
def test_a_form_is_read_exactly_as_parse_qsl_reads_it(text: str) -> None:
    assert form(text) == dict(parse_qsl(text, keep_blank_values=True))


# -- the ack never waits on Slack's Web API --------------------------------------------------


def test_with_slacks_web_api_unreachable_a_promise_is_acked_and_echoed(
        slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> None:
    agency.settings.slack.base_url = "http://127.0.0.1:9/api/"  # nothing listens there
    body = command_body("Q3 report for Acme by Friday", user="UALICE",
                        response_url=api.response_url("down"))
    response = slack.http.post(slack.url, content=body.encode(), headers=signed_headers(body),
                               timeout=2)
    assert (response.status_code, response.content) == (200, b"")
    [echo] = api.replies(api.response_url("down"))  # response_url is Slack's webhook host
    assert "*Q3 report* for *Acme*" in shown(echo)


def test_a_promise_is_echoed_after_the_echo_process_died(
        slack: SlackWorkspace, caplog: pytest.LogCaptureFixture) -> None:
    assert "*Q3 report* for *Acme*" in shown(slack.answer("Q3 report for Acme by Friday"))
    died = slack_echo.child().process
    died.kill()
    died.wait(10)
    echo = slack.answer("Brand audit for Acme by Friday")
    assert "*Brand audit* for *Acme*" in shown(echo)
    assert slack_echo.child().process is not died
    assert "the Slack echo process had stopped" in caplog.text


def test_with_slacks_web_api_hanging_a_button_is_answered_in_time(
        slack: SlackWorkspace, api: SlackApi) -> None:
    api.hang(count=10)  # every Web API call: auth.test, users.info, …
    echo = slack.answer("Q3 report for Acme by Friday")
    response, url = slack.click("promise_cancel", "cancel")
    assert response.status_code == 200
    assert "nothing was logged" in shown(api.replies(url)[0])
    assert "Looks right" in shown(echo)
    assert api.calls_to("auth.test") == 0


# -- text fallbacks are escaped like the blocks ----------------------------------------------


def test_an_echo_carries_no_mention_or_link_in_its_text(slack: SlackWorkspace) -> None:
    """Typed characters arrive escaped (Slack's own sequences are dropped by the parser); the
    title they spell must leave escaped again, in the text as in the blocks."""
    echo = slack.answer(rendering.mrkdwn(INJECTED) + " for Acme by Friday")
    assert "Q3 report" in echo["text"]
    for raw in RAW:
        assert raw not in echo["text"] and raw not in str(echo["blocks"])
    assert "&lt;!channel&gt;" in echo["text"]


def test_a_draft_posted_to_a_clients_channel_carries_no_mention_or_link(
        ledger: Ledger, settings: Settings) -> None:
    agency_with(ledger, "en")
    with slack_api(channels=("C0GLOBEX",)) as api:
        settings.slack = api.settings()
        moment = at("2026-11-18T10:00-05:00")
        ledger.add_client(name="Globex", email="ops@globex.example", channel="slack",
                          slack_channel="C0GLOBEX", timezone="America/New_York", country="US",
                          now=moment, actor="t")
        context = samples.sample_context("delay_notice", "en")
        context["promise"] = {**context["promise"], "title": INJECTED}
        with ledger.transaction() as session:
            client = ledger.find_client(session, "Globex")
            created = notices.create(
                session, ledger.settings, kind=NoticeKind.delay_notice, key="delay:globex:1",
                recipient=notices.client_recipient(client), client=client, context=context,
                now=moment, created_by="alice@example.com", reply_to="alice@example.com")
            assert created is not None
            notices.approve(session, created.id or 0, now=moment, actor="alice")
        assert Outbox(ledger).deliver(moment).sent == [created.id]
        [post] = api.posted("C0GLOBEX")
    assert "Q3 report" in post["text"] and "&lt;!channel&gt;" in post["text"]
    for raw in RAW:
        assert raw not in post["text"] and raw not in str(post.get("blocks"))


def test_a_promise_too_long_to_echo_is_refused_and_the_next_one_is_echoed(
        slack: SlackWorkspace, api: SlackApi, logged: pytest.LogCaptureFixture) -> None:
    """A line of 14,000 Chinese characters is 90 kB once JSON-escaped for the echo process,
    more than a stream reads as one line by default: that echo is answered (too long), and
    the connection to the echo process, with every echo queued behind it, goes on."""
    huge, url = slack.command("为Acme准备第三季度报告" * 2000 + " 周五前")
    assert huge.status_code == 200
    echo = slack.answer("Q3 report for Acme by Friday")
    assert "*Q3 report* for *Acme*" in shown(echo)
    [refused] = api.replies(url)
    assert "characters long: keep it to" in shown(refused)
    no_traceback_and_no_body(logged)


def test_the_echo_process_runs_no_module_from_the_servers_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m` puts the working folder first on the module path: a server started in a
    folder others can write to would otherwise run their `aiohttp.py` in its echo process,
    with the settings' secrets one socket line away."""
    planted = tmp_path / "aiohttp.py"
    planted.write_text("open(__file__ + '.ran', 'w').close()\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    started = slack_echo.Child()
    try:
        assert started.process.stdin is not None
        started.process.stdin.close()  # the server is gone: the child leaves once it has begun
        started.process.wait(60)
    finally:
        shutil.rmtree(started.folder, ignore_errors=True)
    assert not (tmp_path / "aiohttp.py.ran").exists()


def test_a_command_from_a_channel_named_payload_is_read_as_the_form_it_is(
        slack: SlackWorkspace, api: SlackApi) -> None:
    """Bolt reads any form holding the word "payload" as an interaction's payload and would
    find nothing in it (404): it is handed the request the endpoint checked instead."""
    url = api.response_url("payload")
    body = command_body("watch Acme", user="UALICE", response_url=url).replace(
        "channel_name=general", "channel_name=payload-team")
    response = slack.http.post(slack.url, content=body.encode(), headers=signed_headers(body))
    assert response.status_code == 200, response.text
    [reply] = api.replies(url)
    assert "Watching this channel for promises to *Acme*" in shown(reply)


def test_a_client_named_with_a_link_is_listed_as_typed_in_a_colleagues_reply(
        slack: SlackWorkspace, agency: Ledger) -> None:
    """Any member may add a client from Slack: its name, listed to a colleague who asks
    which client or says what went wrong, is text, never a link or an @channel (a user's
    mention in an answer only its reader sees notifies nobody)."""
    agency.add_client(name=INJECTED, email="ops@evil.example", now=at("2026-11-16T09:00Z"),
                      actor="t")
    for command in ("mistake", "watch nobody we know", f"mistake {INJECTED}"):
        reply = slack.answer(command)
        for raw in ("<!channel>", "<https://evil.example|click>"):
            assert raw not in str(reply), (command, reply)
    assert "&lt;https://evil.example|click&gt;" in shown(slack.answer("watch nobody we know"))


def test_echoes_the_echo_process_cannot_take_are_dropped_not_held_in_memory(
        agency: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    """At idle priority the echo process may get no CPU while the server is busy: what it is
    behind stays within 64 MiB, and each echo beyond is dropped with a log line."""
    echoes = slack_echo.Echoes(agency.settings)
    padded = {"command": "/promise", "text": "", "user_id": "UALICE", "pad": "x" * 1_000_000}
    stopped = slack_echo.child().process
    os.kill(stopped.pid, signal.SIGSTOP)

    async def flood() -> int:
        for _ in range(100):
            echoes.send(padded, at("2026-11-16T09:00Z"))
            await asyncio.sleep(0.001)  # the connection opens meanwhile
        assert echoes.writer is not None
        return echoes.writer.transport.get_write_buffer_size() + sum(map(len, echoes.waiting))

    try:
        behind = asyncio.run(flood())
    finally:
        os.kill(stopped.pid, signal.SIGCONT)
    assert behind <= 64 * 1024 * 1024  # slack_echo.MAX_BEHIND
    assert "an echo was dropped" in caplog.text
