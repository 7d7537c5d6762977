"""`reliability inbox`: real .eml files, a real Dovecot, real SMTP and the local Slack API.

A client's mail becomes a request offered to the member who received it, a member's sent
mail a commitment offered to her; each is asked once (Slack DM or an email with single-use
links), logged only on a yes, and no message is read twice: not after a re-poll, a
restart, a lost mark, a rebuilt folder or the same message piped again.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from select import select as readable_within
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import at
from pydantic import SecretStr
from scenarios import START, q3_report
from servers.imap import DOVECOT, MISSING, ImapServer, dovecot_server
from servers.slack_api import slack_api
from servers.smtp import free_port, smtp_server
from sqlmodel import Session, col, select
from typer.testing import CliRunner
from web_helpers import csrf_of

from reliability import exchange, inbox, suggestions
from reliability.channels.imap import Mailbox, MailboxError
from reliability.channels.listener import MailListener
from reliability.cli import app as cli_app
from reliability.config import Settings
from reliability.db import make_engine
from reliability.ledger import Ledger
from reliability.limits import MAX_MAIL_BYTES
from reliability.models import (
    Notice,
    NoticeKind,
    NoticeStatus,
    ProcessedMail,
    Promise,
    Source,
    Suggestion,
    SuggestionStatus,
)
from reliability.outbox import Outbox
from reliability.web.app import create_app
from reliability.web.logs import redact

MAIL = Path(__file__).parent / "mail"
MONDAY = at("2026-11-16T09:30-05:00")
LINK = re.compile(r"http://127\.0\.0\.1:8000(/confirm/[\w-]+)\?answer=(\w+)")


def eml(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def rows(ledger: Ledger, model: type) -> list:
    with Session(ledger.engine) as session:
        return list(session.exec(select(model).order_by(col(model.id))).all())


def offers_sent(ledger: Ledger) -> list[Notice]:
    return [n for n in rows(ledger, Notice) if n.kind == NoticeKind.suggestion_offer]


@pytest.fixture
def agency(agency: Ledger) -> Ledger:
    agency.settings.web.secret_key = SecretStr("test-secret-key")
    return agency


# -- reading one message ------------------------------------------------------------------


def test_a_clients_request_is_offered_to_the_member_it_was_sent_to_by_an_email_with_links(
        agency: Ledger) -> None:
    receipt = inbox.receive(agency, eml("plain_request.eml"), now=MONDAY)
    assert receipt.outcome == "offered"
    [offer] = receipt.offers
    assert (offer.kind, offer.title, offer.client, offer.member_email) == (
        "request", "Send the invoice copies", "Acme", "alice@example.com")
    assert offer.due_at == at("2026-11-19T17:00-05:00")
    [asked] = offers_sent(agency)
    assert (asked.channel, asked.recipient, asked.status) == (
        "email", "alice@example.com", NoticeStatus.queued)
    assert "Could you send the invoice copies by Thursday?" in asked.text
    assert [answer for _, answer in LINK.findall(asked.text)] == ["log", "decline"]
    [row] = rows(agency, Suggestion)
    assert (row.source, row.origin_key) == (Source.email, "mail:plain-request-1@acme.example:0")


def test_an_export_carries_no_live_link_of_a_mailed_offer(agency: Ledger) -> None:
    inbox.receive(agency, eml("plain_request.eml"), now=MONDAY)
    [asked] = offers_sent(agency)
    [(token, _)] = LINK.findall(asked.text)[:1]
    out = io.StringIO()
    exchange.write_json_lines(agency.engine, out)
    assert token not in out.getvalue()
    assert "[withheld: it held single-use links]" in out.getvalue()


def test_a_members_sent_mail_to_a_client_offers_her_commitment(agency: Ledger) -> None:
    [offer] = inbox.receive(agency, eml("multipart_sent.eml"), now=MONDAY).offers
    assert (offer.kind, offer.title, offer.member_email, offer.due_at) == (
        "commitment", "Send the revised deck", "alice@example.com",
        at("2026-11-19T17:00-05:00"))


@pytest.mark.parametrize(("name", "title"), [("gbk_chinese.eml", "报告"),
                                             ("latin1_swedish.eml", "Skickar rapporten")])
def test_commitments_in_chinese_and_swedish_mail_are_offered_whatever_the_charset(
        agency: Ledger, name: str, title: str) -> None:
    [offer] = inbox.receive(agency, eml(name), now=MONDAY).offers
    assert (offer.kind, offer.title, offer.due_at) == (
        "commitment", title, at("2026-11-20T17:00-05:00"))


def test_an_html_only_request_is_read_as_text(agency: Ledger) -> None:
    [offer] = inbox.receive(agency, eml("html_only.eml"), now=MONDAY).offers
    assert (offer.kind, offer.title) == ("request", "Send the workshop agenda")


def test_a_forwarded_clients_mail_is_offered_to_the_member_who_forwarded_it(
        agency: Ledger) -> None:
    [offer] = inbox.receive(agency, eml("forwarded.eml"), now=MONDAY).offers
    assert (offer.kind, offer.title, offer.member_email) == (
        "request", "Share the budget figures", "alice@example.com")


def test_a_forward_from_outside_the_team_is_not_read_as_the_mail_it_quotes(
        agency: Ledger) -> None:
    """The inner headers of a forward are the forwarder's words: a stranger could write any."""
    raw = eml("forwarded.eml").replace(b"From: Alice <alice@example.com>",
                                       b"From: Mallory <mallory@evil.example>", 1)
    receipt = inbox.receive(agency, raw, now=MONDAY)
    assert (receipt.outcome, receipt.offers) == ("stranger", [])
    assert rows(agency, Suggestion) == []


def test_mail_nested_deeper_than_the_parser_reads_is_recorded_once_and_never_retried(
        agency: Ledger) -> None:
    depth = 3000
    raw = ("From: dana@acme.example\r\nTo: alice@example.com\r\n"
           "Message-ID: <deep@evil.example>\r\n"
           + "".join(f"Content-Type: multipart/mixed; boundary=b{n}\r\n\r\n--b{n}\r\n"
                     for n in range(depth))
           + "Content-Type: text/plain\r\n\r\nCan you share the budget figures by Friday?\r\n"
           + "".join(f"--b{n}--\r\n" for n in reversed(range(depth)))).encode()
    first = inbox.receive(agency, raw, now=MONDAY)
    again = inbox.receive(agency, raw, now=MONDAY, via="imap")
    assert (first.offers, again.outcome) == ([], "already read")


def test_the_promise_quoted_in_a_reply_and_the_one_in_the_signature_are_not_offered(
        agency: Ledger) -> None:
    receipt = inbox.receive(agency, eml("reply_quoted.eml"), now=MONDAY)
    assert (receipt.outcome, receipt.offers) == ("nothing found", [])
    assert rows(agency, Suggestion) == []


def test_a_commitment_naming_a_colleague_is_offered_to_that_colleague(agency: Ledger) -> None:
    raw = eml("multipart_sent.eml").replace(b"I'll send the revised deck",
                                            b"Bob will send the revised deck")
    [offer] = inbox.receive(agency, raw, now=MONDAY).offers
    assert (offer.title, offer.member_email) == ("Send the revised deck", "bob@example.com")


def test_control_characters_in_mail_are_read_as_spaces_on_both_databases(
        agency: Ledger) -> None:
    raw = eml("multipart_sent.eml").replace(b"the revised deck", b"the revised\x00deck")
    [offer] = inbox.receive(agency, raw, now=MONDAY).offers
    assert offer.sentence == "I'll send the revised deck by Thursday."


def test_a_clients_mail_cced_and_then_forwarded_as_an_attachment_is_offered_once(
        agency: Ledger) -> None:
    assert inbox.receive(agency, eml("plain_request.eml"), now=MONDAY).outcome == "offered"
    outer = EmailMessage()
    outer["From"], outer["To"] = "alice@example.com", "promises@example.com"
    outer["Message-ID"] = "<forward-of-plain@example.com>"
    outer.set_content("For the ledger.")
    outer.add_attachment(email.message_from_bytes(eml("plain_request.eml"),
                                                  policy=email.policy.default))
    receipt = inbox.receive(agency, outer.as_bytes(), now=MONDAY)
    assert (receipt.outcome, receipt.offers) == ("nothing new", [])
    assert len(offers_sent(agency)) == 1


def test_the_same_message_twice_is_read_once(agency: Ledger) -> None:
    first = inbox.receive(agency, eml("plain_request.eml"), now=MONDAY)
    again = inbox.receive(agency, eml("plain_request.eml"), now=MONDAY, via="imap")
    assert (first.outcome, again.outcome, again.offers) == ("offered", "already read", [])
    assert len(rows(agency, Suggestion)) == 1 and len(offers_sent(agency)) == 1
    [read] = rows(agency, ProcessedMail)
    assert (read.message_key, read.outcome, read.offers) == (
        "plain-request-1@acme.example", "offered", 1)


def test_a_message_over_the_size_limit_is_skipped_with_a_log_line_and_not_read_again(
        agency: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    raw = (b"From: dana@acme.example\r\nTo: alice@example.com\r\nMessage-ID: <big@acme>\r\n"
           b"\r\nCould you send the invoice copies by Thursday?\r\n" + b"x" * MAX_MAIL_BYTES)
    with caplog.at_level(logging.WARNING, logger="reliability.inbox"):
        assert inbox.receive(agency, raw, now=MONDAY).outcome == "too large"
    assert "mail big@acme skipped" in caplog.text and "over the inbox's limit" in caplog.text
    assert inbox.receive(agency, raw, now=MONDAY).outcome == "already read"
    assert rows(agency, Suggestion) == []


def test_mail_from_a_stranger_offers_nothing_and_says_why(
        agency: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    raw = eml("plain_request.eml").replace(b"dana@acme.example", b"someone@elsewhere.example")
    with caplog.at_level(logging.INFO, logger="reliability.inbox"):
        receipt = inbox.receive(agency, raw, now=MONDAY)
    assert receipt.outcome == "stranger"
    assert "nothing offered: the sender is neither a member nor a client" in caplog.text


def test_a_colleague_of_the_contact_is_the_client_by_domain_and_the_usual_owner_is_asked(
        agency: Ledger) -> None:
    raw = (b"From: Ops <ops@acme.example>\r\nTo: promises@example.com\r\n"
           b"Message-ID: <ops-1@acme.example>\r\n\r\n"
           b"Could you send the invoice copies by Thursday?\r\n")
    assert inbox.receive(agency, raw, now=MONDAY).outcome == "no member"
    q3_report(agency, "2026-11-16T09:00-05:00")
    [offer] = inbox.receive(agency, raw.replace(b"ops-1", b"ops-2"), now=MONDAY).offers
    assert (offer.client, offer.member_email) == ("Acme", "alice@example.com")


def offered_to_erik_in_slack(agency: Ledger,
                             raw: bytes) -> tuple[suggestions.Offer, dict[str, Any]]:
    """Erik, a member linked to Slack, receives the offer `raw` makes: the offer and his DM."""
    agency.add_member(email="erik@example.com", name="Erik", slack_user_id="UERIK",
                      timezone="America/New_York", now=START, actor="t")
    with slack_api() as api:
        api.add_user("UERIK", "Erik", email="erik@example.com")
        agency.settings.slack = api.settings()
        [offer] = inbox.receive(agency, raw, now=MONDAY).offers
        assert Outbox(agency).deliver(MONDAY).sent
        [dm] = api.posted("DERIK")
    return offer, dm


def test_a_member_in_slack_is_asked_by_a_dm_with_log_and_not_a_promise(agency: Ledger) -> None:
    raw = eml("multipart_sent.eml").replace(b"alice@example.com", b"erik@example.com")
    offer, dm = offered_to_erik_in_slack(agency, raw)
    assert "Log this promise to Acme, due Thu 19 Nov" in dm["text"]
    buttons = dm["blocks"][-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Log", "Not a promise"]
    assert all(LINK.fullmatch(b["url"]) for b in buttons)
    assert offer.member_email == "erik@example.com"


def test_a_member_with_a_slack_id_is_emailed_while_slack_is_not_set_up(agency: Ledger) -> None:
    agency.add_member(email="erik@example.com", name="Erik", slack_user_id="UERIK",
                      timezone="America/New_York", now=START, actor="t")
    raw = eml("multipart_sent.eml").replace(b"alice@example.com", b"erik@example.com")
    inbox.receive(agency, raw, now=MONDAY)
    [asked] = offers_sent(agency)
    assert (asked.channel, asked.recipient) == ("email", "erik@example.com")


# -- the link ------------------------------------------------------------------------------


def link_in(ledger: Ledger) -> str:
    [asked] = offers_sent(ledger)
    found = LINK.search(asked.text)
    assert found
    return found.group(1)


def test_the_link_shows_the_request_changes_nothing_and_log_drafts_the_acknowledgement(
        agency: Ledger) -> None:
    inbox.receive(agency, eml("plain_request.eml"), now=MONDAY)
    path = link_in(agency)
    browser = TestClient(create_app(agency, clock=lambda: MONDAY))
    page = browser.get(path + "?answer=log")
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
    assert "Send the invoice copies" in page.text and "Thu 19 Nov, 17:00" in page.text
    assert browser.get(path).status_code == 200  # a scanner's second look spends nothing
    [row] = rows(agency, Suggestion)
    assert row.status == SuggestionStatus.offered
    done = browser.post(path + "/log", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Logged" in done.text
    [promise] = rows(agency, Promise)
    assert (promise.title, promise.source) == ("Reply: Send the invoice copies", Source.email)
    [ack] = [n for n in rows(agency, Notice) if n.kind == NoticeKind.request_acknowledgement]
    assert (ack.status, ack.recipient) == (NoticeStatus.draft, "dana@acme.example")
    assert f"draft #{ack.id}" in done.text
    used = browser.post(path + "/log", data={"csrf_token": csrf_of(page.text)})
    assert used.status_code == 410 and "already used or has expired" in used.text
    assert browser.get(path).status_code == 410
    assert len(rows(agency, Promise)) == 1


def test_not_a_promise_is_remembered_and_the_same_deliverable_is_not_offered_again(
        agency: Ledger) -> None:
    inbox.receive(agency, eml("multipart_sent.eml"), now=MONDAY)
    path = link_in(agency)
    browser = TestClient(create_app(agency, clock=lambda: MONDAY))
    page = browser.get(path + "?answer=decline")
    done = browser.post(path + "/decline", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "is not a promise" in done.text
    [row] = rows(agency, Suggestion)
    assert (row.status, row.sentence) == (SuggestionStatus.declined, None)
    again = eml("multipart_sent.eml").replace(b"multipart-sent-1", b"multipart-sent-2")
    assert inbox.receive(agency, again, now=MONDAY).offers == []
    assert rows(agency, Promise) == []


@pytest.mark.parametrize("path", ["/confirm/SECRET?answer=log", "/confirm/SECRET/log",
                                  "//confirm//SECRET/decline"])
def test_the_links_token_never_reaches_a_log(path: str) -> None:
    assert "SECRET" not in redact(f'127.0.0.1:5000 - "GET {path} HTTP/1.1" 200')
    assert "confirm/" in redact(path)


def test_a_post_without_the_pages_csrf_token_changes_nothing(agency: Ledger) -> None:
    inbox.receive(agency, eml("multipart_sent.eml"), now=MONDAY)
    path = link_in(agency)
    browser = TestClient(create_app(agency, clock=lambda: MONDAY))
    assert browser.post(path + "/log", data={"csrf_token": "forged"}).status_code == 403
    assert rows(agency, Promise) == []


def test_a_link_older_than_the_offers_lifetime_is_expired_before_any_clean_up(
        agency: Ledger) -> None:
    inbox.receive(agency, eml("multipart_sent.eml"), now=MONDAY)
    later = MONDAY + suggestions.OFFER_LIFETIME
    page = TestClient(create_app(agency, clock=lambda: later)).get(link_in(agency))
    assert page.status_code == 410 and "already used or has expired" in page.text


def test_an_expired_offers_link_says_so(agency: Ledger) -> None:
    inbox.receive(agency, eml("multipart_sent.eml"), now=MONDAY)
    path = link_in(agency)
    assert suggestions.expire(agency, now=MONDAY + suggestions.OFFER_LIFETIME * 2) == 1
    page = TestClient(create_app(agency, clock=lambda: MONDAY)).get(path)
    assert page.status_code == 410 and "already used or has expired" in page.text


# -- stdin ---------------------------------------------------------------------------------


def run(database_url: str, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, ["--db", database_url, "--as-of",
                                          MONDAY.isoformat(), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_one_message_piped_on_stdin_is_offered_and_piped_again_is_not(
        agency: Ledger, database_url: str) -> None:
    code, out, _ = run(database_url, "inbox", "-", stdin=eml("plain_request.eml"))
    assert code == 0
    assert out == ("plain-request-1@acme.example: offered\n  offered request “Send the "
                   "invoice copies” (Acme) to alice@example.com\n")
    code, out, _ = run(database_url, "inbox", "--stdin", stdin=eml("plain_request.eml"))
    assert (code, out) == (0, "plain-request-1@acme.example: already read\n")


def test_the_inbox_command_says_where_mail_may_come_from(database_url: str) -> None:
    code, _, err = run(database_url, "inbox")
    assert code == 2 and "say where the mail comes from" in err and "--imap" in err
    code, _, err = run(database_url, "inbox", "-", "--loop")
    assert code == 2 and "--loop reads a mailbox" in err


# -- SMTP ----------------------------------------------------------------------------------


def deliver_by_smtp(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as relay:
        relay.sendmail("dana@acme.example", ["promises@example.com"], raw)


def test_mail_delivered_to_the_listener_is_read_before_it_is_accepted_and_only_once(
        agency: Ledger) -> None:
    agency.settings.inbox.listen_port = free_port()
    with inbox.listener(agency, clock=lambda: MONDAY):
        deliver_by_smtp(agency.settings.inbox.listen_port, eml("plain_request.eml"))
        [offer] = [s for s in rows(agency, Suggestion)]  # recorded before the 250
        deliver_by_smtp(agency.settings.inbox.listen_port, eml("plain_request.eml"))
    assert offer.title == "Send the invoice copies"
    assert len(rows(agency, Suggestion)) == 1
    assert [(m.via, m.outcome) for m in rows(agency, ProcessedMail)] == [("smtp", "offered")]


def test_the_listener_refuses_mail_over_the_limit_while_it_is_sent(agency: Ledger) -> None:
    port = free_port()
    accept = lambda raw: inbox.receive(agency, raw, now=MONDAY, via="smtp")  # noqa: E731
    with MailListener(accept, host="127.0.0.1", port=port, max_bytes=200), \
            pytest.raises(smtplib.SMTPException, match="552"):
        deliver_by_smtp(port, eml("plain_request.eml"))
    assert rows(agency, ProcessedMail) == []


def test_a_message_the_database_cannot_take_is_a_451_so_the_sender_tries_again(
        tmp_path: Path) -> None:
    broken = Ledger(make_engine(f"sqlite:///{tmp_path}/gone/none.db"), Settings())
    port = free_port()
    accept = lambda raw: inbox.receive(broken, raw, now=MONDAY, via="smtp")  # noqa: E731
    with MailListener(accept, host="127.0.0.1", port=port, max_bytes=MAX_MAIL_BYTES), \
            pytest.raises(smtplib.SMTPDataError) as refused:
        deliver_by_smtp(port, eml("plain_request.eml"))
    assert refused.value.smtp_code == 451


def test_a_taken_port_is_one_clear_line(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner(env={"RELIABILITY_INBOX__LISTEN_PORT": str(port)}).invoke(
            cli_app, ["--db", database_url, "inbox", "--smtp"])
    assert result.exit_code == 2
    assert f"cannot listen for mail on 127.0.0.1:{port}" in result.stderr


# -- IMAP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[ImapServer]:
    if DOVECOT is None:
        pytest.skip(MISSING)
    with dovecot_server() as server:
        yield server


@pytest.fixture
def folder(dovecot: ImapServer, agency: Ledger) -> str:
    name = dovecot.new_folder()
    agency.settings.inbox = dovecot.settings(name)
    return name


READ = {b"\\Seen", b"$Reliability"}


def test_a_clients_email_in_the_mailbox_becomes_a_request_and_log_drafts_the_acknowledgement(
        agency: Ledger, dovecot: ImapServer, folder: str) -> None:
    dovecot.append(folder, eml("plain_request.eml"))
    [receipt] = inbox.poll(agency, now=MONDAY)
    assert receipt.outcome == "offered"
    assert READ.issubset(dovecot.flags(folder)[0])
    with smtp_server() as smtp:
        agency.settings.smtp = smtp.settings()
        assert Outbox(agency).deliver(MONDAY).sent
    [mail] = smtp.messages
    assert mail["To"] == "Alice <alice@example.com>"
    found = LINK.search(mail.get_content())
    assert found
    browser = TestClient(create_app(agency, clock=lambda: MONDAY))
    page = browser.get(found.group(1))
    done = browser.post(found.group(1) + "/log", data={"csrf_token": csrf_of(page.text)})
    assert "Logged" in done.text
    assert [n.kind for n in rows(agency, Notice)].count(NoticeKind.request_acknowledgement) == 1


def test_a_members_sent_mail_bcced_to_the_mailbox_offers_her_commitment_once(
        agency: Ledger, dovecot: ImapServer, folder: str) -> None:
    dovecot.append(folder, eml("multipart_sent.eml"))
    dovecot.append(folder, eml("reply_quoted.eml"))
    [sent, reply] = inbox.poll(agency, now=MONDAY)
    assert (sent.outcome, reply.outcome) == ("offered", "nothing found")
    assert [o.kind for o in sent.offers] == ["commitment"]
    assert inbox.poll(agency, now=MONDAY) == []  # both marked, neither read again
    assert all(READ.issubset(flags) for flags in dovecot.flags(folder))


def test_nothing_is_offered_twice_after_a_restart_a_lost_mark_or_a_rebuilt_folder(
        agency: Ledger, dovecot: ImapServer, folder: str) -> None:
    dovecot.append(folder, eml("plain_request.eml"))
    dovecot.append(folder, eml("multipart_sent.eml"))
    assert [r.outcome for r in inbox.poll(agency, now=MONDAY)] == ["offered", "offered"]
    # The connection died before the marks were stored: read again, offered nothing.
    dovecot.clear_flags(folder, list(READ))
    assert [r.outcome for r in inbox.poll(agency, now=MONDAY)] == ["already read"] * 2
    assert all(READ.issubset(flags) for flags in dovecot.flags(folder))
    # A rebuilt folder: new UIDs, a new UIDVALIDITY; the Message-IDs are the same.
    rebuilt = dovecot.new_folder()
    dovecot.copy_all(folder, rebuilt)
    dovecot.clear_flags(rebuilt, list(READ))
    agency.settings.inbox = dovecot.settings(rebuilt)
    assert [r.outcome for r in inbox.poll(agency, now=MONDAY)] == ["already read"] * 2
    assert len(rows(agency, Suggestion)) == 2 and len(offers_sent(agency)) == 2


def test_a_connection_dropped_before_the_mark_reads_nothing_twice_after_reconnecting(
        agency: Ledger, dovecot: ImapServer, folder: str) -> None:
    dovecot.append(folder, eml("plain_request.eml"))
    box = Mailbox(agency.settings.inbox, max_bytes=MAX_MAIL_BYTES)
    with pytest.raises(MailboxError, match="failed mid-way"), box:
        [uid] = box.waiting()
        fetched = box.fetch(uid)
        assert fetched is not None and fetched.raw is not None
        assert inbox.receive(agency, fetched.raw, now=MONDAY, via="imap").outcome == "offered"
        dovecot.kick()  # the round dies between recording the message and marking it
        box.mark(uid)
    assert not READ & dovecot.flags(folder)[0]
    assert [r.outcome for r in inbox.poll(agency, now=MONDAY)] == ["already read"]
    assert READ.issubset(dovecot.flags(folder)[0])
    assert len(rows(agency, Suggestion)) == 1 and len(offers_sent(agency)) == 1


def test_the_mailbox_command_reads_one_round_then_finds_no_new_mail(
        agency: Ledger, dovecot: ImapServer, folder: str, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(folder, eml("html_only.eml"))
    settings = dovecot.settings(folder)
    for key, value in {"HOST": settings.host, "PORT": str(settings.port), "SSL": "false",
                       "USER": settings.user, "PASSWORD": "imap-test-password",
                       "FOLDER": folder}.items():
        monkeypatch.setenv(f"RELIABILITY_INBOX__{key}", str(value))
    code, out, _ = run(database_url, "inbox", "--imap", "--json")
    assert code == 0 and '"outcome": "offered"' in out and "workshop agenda" in out
    assert run(database_url, "inbox", "--imap")[:2] == (0, "(no new mail)\n")


def test_the_loop_reads_mail_as_it_arrives_and_stops_cleanly_on_ctrl_c(
        agency: Ledger, dovecot: ImapServer, folder: str, database_url: str) -> None:
    settings = dovecot.settings(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    env.update({"RELIABILITY_DATABASE__URL": database_url, "PYTHONUNBUFFERED": "1",
                "RELIABILITY_AS_OF": MONDAY.isoformat(),
                "RELIABILITY_INBOX__HOST": str(settings.host),
                "RELIABILITY_INBOX__PORT": str(settings.port), "RELIABILITY_INBOX__SSL": "0",
                "RELIABILITY_INBOX__USER": str(settings.user),
                "RELIABILITY_INBOX__PASSWORD": "imap-test-password",
                "RELIABILITY_INBOX__FOLDER": folder})
    dovecot.append(folder, eml("plain_request.eml"))
    # Ctrl-C as from a terminal, also when pytest itself runs with SIGINT ignored (started in
    # the background by a script), which the worker would otherwise inherit.
    worker = subprocess.Popen([sys.executable, "-m", "reliability", "inbox", "--imap", "--loop",
                               "--every", "5"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert "plain-request-1@acme.example: offered" in line_with(worker, "offered")
        dovecot.append(folder, eml("multipart_sent.eml"))  # read in the next round
        assert "multipart-sent-1@example.com: offered" in line_with(worker, "multipart")
    finally:
        worker.send_signal(signal.SIGINT)
        _, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors
    assert len(rows(agency, Suggestion)) == 2


def line_with(process: subprocess.Popen[str], text: str, timeout: float = 30) -> str:
    """The first line of the process's output holding `text`, waiting for it as it comes."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = readable_within([process.stdout], [], [], left)
        line = process.stdout.readline() if ready else ""
        if text in line:
            return line
        assert line or not ready, "the process ended before printing it"
    raise AssertionError(f"no line with {text!r} within {timeout} s")


def test_a_message_larger_than_the_inbox_reads_is_skipped_and_marked(
        agency: Ledger, dovecot: ImapServer, folder: str,
        caplog: pytest.LogCaptureFixture) -> None:
    dovecot.append(folder, eml("plain_request.eml"))
    small = Mailbox(agency.settings.inbox, max_bytes=100)
    with caplog.at_level(logging.WARNING, logger="reliability.inbox"):
        assert inbox.poll(agency, now=MONDAY, mailbox=small) == []
    assert "mail uid 1 skipped" in caplog.text and "over the inbox's limit of" in caplog.text
    assert READ.issubset(dovecot.flags(folder)[0])


def test_the_mailbox_is_read_over_tls_and_an_untrusted_certificate_is_refused(
        agency: Ledger, dovecot: ImapServer, folder: str) -> None:
    dovecot.append(folder, eml("plain_request.eml"))
    settings = dovecot.settings(folder, tls=True)
    with pytest.raises(MailboxError, match="certificate verify failed"):
        inbox.poll(agency, now=MONDAY, mailbox=Mailbox(settings, max_bytes=MAX_MAIL_BYTES))
    trusted = Mailbox(settings, max_bytes=MAX_MAIL_BYTES,
                      ssl_context=dovecot.client_tls_context())
    [receipt] = inbox.poll(agency, now=MONDAY, mailbox=trusted)
    assert receipt.outcome == "offered"


def test_an_unreachable_mailbox_is_one_clear_line_and_the_worker_tries_again(
        agency: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    agency.settings.inbox.host = "127.0.0.1"
    agency.settings.inbox.port = free_port()
    agency.settings.inbox.user = "promises@example.com"
    with pytest.raises(MailboxError, match=r"cannot reach the mailbox at 127\.0\.0\.1:\d+"):
        inbox.poll(agency, now=MONDAY)
    with caplog.at_level(logging.WARNING, logger="reliability.inbox"):
        assert inbox.read_mailbox(agency, now=MONDAY) == []
    assert "trying again next round" in caplog.text


def test_a_refused_login_names_the_user_never_the_password(
        agency: Ledger, dovecot: ImapServer, folder: str) -> None:
    agency.settings.inbox.password = SecretStr("wrong-password-123")
    with pytest.raises(MailboxError) as refused:
        inbox.poll(agency, now=MONDAY)
    assert "refused 'promises@example.com'" in str(refused.value)
    assert "wrong-password-123" not in str(refused.value)


@pytest.mark.parametrize(("locale", "name", "subject", "expected"), [
    ("en", "Alice Smith", "Log this promise? “Send the revised deck”",
     ["Hi Alice,", "In an email, we found: “I'll send the revised deck",
      "Log this promise to Acme, due Thu 19 Nov 17:00?", "What: “Send the revised deck”",
      "Log: http", "Not a promise: http", "they work once, for 14 days."]),
    ("sv", "Karin Berg", "Logga löftet? ”Send the revised deck”",
     ["Hej Karin!", "I ett mejl hittade vi: ”I'll send the revised deck",
      "Logga löftet till Acme med leverans tors 19 nov. kl. 17.00?",
      "Vad: ”Send the revised deck”", "Logga: http", "Inget löfte: http",
      "Varje länk kan användas en gång och gäller i 14 dagar."]),
    ("zh", "陈梅", "要记录这项承诺吗？“Send the revised deck”",
     ["陈梅，您好！", "我们在一封邮件中看到：“I'll send the revised deck",
      "要记录这项对Acme的承诺吗？11月19日（周四）17:00截止。", "内容：“Send the revised deck”",
      "记录：http", "不是承诺：http", "每个链接只能用一次，14天内有效。"]),
])
def test_a_mailed_offer_greets_the_member_by_first_name_in_their_language(
        agency: Ledger, locale: str, name: str, subject: str, expected: list[str]) -> None:
    agency.add_member(email="m@example.com", name=name, locale=locale,
                      timezone="Europe/Stockholm", now=START, actor="t")
    raw = eml("multipart_sent.eml").replace(b"alice@example.com", b"m@example.com")
    inbox.receive(agency, raw, now=MONDAY)
    [asked] = offers_sent(agency)
    assert (asked.channel, asked.locale) == ("email", locale)
    assert asked.subject == subject
    assert all(line in asked.text for line in expected), asked.text


def test_a_clients_mail_cannot_put_a_mention_or_a_link_in_the_members_slack_dm(
        agency: Ledger) -> None:
    """The sentence, title and client come from someone else's mail: in the member's DM they
    are shown as typed, never as a link, a mention or an @channel Slack would act on."""
    raw = eml("plain_request.eml").replace(b"alice@example.com", b"erik@example.com").replace(
        b"send the invoice copies",
        b"send <https://evil.example/login|the invoice copies> to <!channel> & <@UBOSS>")
    offer, dm = offered_to_erik_in_slack(agency, raw)
    assert "<https://evil.example/login|" in offer.sentence
    shown = [dm["text"], dm["blocks"][0]["text"]["text"],
             dm["blocks"][1]["elements"][0]["text"]]
    for text in shown:
        assert "<" not in text and ">" not in text, text
    assert "&lt;https://evil.example/login|the invoice copies&gt;" in shown[2]
    assert "&lt;!channel&gt; &amp; &lt;@UBOSS&gt;" in shown[2]
