"""Signing in and out: single-use links, rate limits, revocable sessions, members leaving.

Links arrive at a real local SMTP server; the log test runs a real uvicorn server.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from alembic import command
from conftest import Cli
from fastapi import FastAPI
from fastapi.testclient import TestClient
from servers.smtp import SmtpServer, smtp_server
from sqlmodel import Session, select
from web_helpers import WEDNESDAY_10, app_for, csrf_of, signed_in, token_for, wednesday_agency

from reliability.db import _alembic_config, make_engine, upgrade
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.members import calendar_token
from reliability.models import Event, Member
from reliability.signins import admit_link_request
from reliability.web.auth import safe_next
from reliability.web.logs import redact

LINK = re.compile(r"http://127\.0\.0\.1:8000(/sign-in/link/\S+)")


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    return wednesday_agency(ledger)


@pytest.fixture
def mail(agency: Ledger) -> Iterator[SmtpServer]:
    with smtp_server() as server:
        agency.settings.smtp = server.settings()
        yield server


def ask_for_link(client: TestClient, email: str, next: str = "/") -> httpx.Response:
    token = csrf_of(client.get("/sign-in").text)
    return client.post("/sign-in/email", data={"email": email, "next": next,
                                               "csrf_token": token})


def link_in(mail: SmtpServer, index: int = -1) -> str:
    found = LINK.search(mail.messages[index].get_content())
    assert found, "the email has no sign-in link"
    return found.group(1)


def follow(client: TestClient, path: str) -> httpx.Response:
    """Open the link and press its button, as a person does."""
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_of(page.text)})


def member(ledger: Ledger, email: str) -> Member:
    with Session(ledger.engine) as session:
        return session.exec(select(Member).where(Member.email == email)).one()


def sign_in_with(app: FastAPI, token: str) -> TestClient:
    """A browser of its own, signed in with a personal token."""
    client = TestClient(app)
    client.post("/sign-in/token", data={"token": token,
                                        "csrf_token": csrf_of(client.get("/sign-in").text)})
    assert is_signed_in(client)
    return client


def is_signed_in(client: TestClient) -> bool:
    return client.get("/board", follow_redirects=False).status_code == 200


# -- single-use links ---------------------------------------------------------------------


def test_a_sign_in_link_works_once_and_then_offers_to_send_a_new_one(
    agency: Ledger, mail: SmtpServer,
) -> None:
    app = app_for(agency)
    ask_for_link(TestClient(app), "Bob@example.com", next="/drafts")
    assert mail.messages[0]["To"].addresses[0].addr_spec == "bob@example.com"
    path = link_in(mail)
    bob = TestClient(app)
    opened = bob.get(path)
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert not is_signed_in(bob)  # opening it (as a mail scanner would) spends nothing
    assert "Drafts awaiting approval" in follow(bob, path).text
    for again in (TestClient(app), bob):
        refused = follow(again, path)
        assert refused.status_code == 410
        assert "already been used" in refused.text
        assert 'href="/sign-in">Ask for a new sign-in link' in refused.text
    assert not is_signed_in(TestClient(app))


def test_an_unused_link_stops_working_when_the_member_signs_out(
    agency: Ledger, mail: SmtpServer,
) -> None:
    app = app_for(agency)
    client = TestClient(app)
    ask_for_link(client, "bob@example.com")
    ask_for_link(client, "bob@example.com")
    first, second = link_in(mail, 0), link_in(mail, 1)
    bob = TestClient(app)
    follow(bob, first)
    bob.post("/sign-out", data={"csrf_token": csrf_of(bob.get("/board").text)})
    refused = follow(TestClient(app), second)
    assert refused.status_code == 410 and "signed out" in refused.text


def test_a_sign_in_link_expires_after_15_minutes(agency: Ledger, mail: SmtpServer) -> None:
    ask_for_link(TestClient(app_for(agency)), "bob@example.com")
    ask_for_link(TestClient(app_for(agency)), "bob@example.com")
    in_time = follow(TestClient(app_for(agency, WEDNESDAY_10 + timedelta(minutes=14))),
                     link_in(mail, 0))
    assert in_time.url.path == "/board"  # home
    late = follow(TestClient(app_for(agency, WEDNESDAY_10 + timedelta(minutes=15))),
                  link_in(mail, 1))
    assert late.status_code == 410 and "expired" in late.text


def test_a_made_up_link_is_not_valid(app_and_agency: tuple[FastAPI, Ledger]) -> None:
    app, _ = app_and_agency
    response = TestClient(app).get("/sign-in/link/not-a-real-link")
    assert response.status_code == 404 and "not valid" in response.text


@pytest.fixture
def app_and_agency(agency: Ledger) -> tuple[FastAPI, Ledger]:
    return app_for(agency), agency


# -- where the link leads -----------------------------------------------------------------


def test_next_never_reaches_the_email_and_only_a_local_path_is_followed(
    agency: Ledger, mail: SmtpServer,
) -> None:
    planted = "/drafts\n\nYour account is locked: call +1 555 0100 or visit https://evil.example"
    ask_for_link(TestClient(app_for(agency)), "bob@example.com", next=planted)
    body = mail.messages[0].get_content()
    assert "evil" not in body and "locked" not in body and "next=" not in body
    assert follow(TestClient(app_for(agency)), link_in(mail)).url.path == "/board"  # home


@pytest.mark.parametrize("target", [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
    "javascript:alert(1)", "/\t/evil.example", "/ /evil.example", "/drafts\r\nX: y",
    "evil.example", "", "/" + "a" * 2001,
])
def test_next_that_is_not_a_local_path_falls_back_to_the_home_page(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/drafts", "/promises?status=open&q=Q3%20report",
                                    "/promises/1#timeline"])
def test_next_that_is_a_local_path_is_kept(target: str) -> None:
    assert safe_next(target) == target


# -- rate limits ----------------------------------------------------------------------------


def test_one_address_gets_five_links_an_hour_then_a_page_saying_when_to_try_again(
    agency: Ledger, mail: SmtpServer,
) -> None:
    client = TestClient(app_for(agency))
    for _ in range(5):
        assert "on its way" in ask_for_link(client, "bob@example.com").text
    refused = ask_for_link(client, "bob@example.com")
    assert refused.status_code == 429
    assert "Try again in 60 minutes (after 16:00 UTC)" in refused.text
    assert refused.headers["retry-after"] == "3600"
    assert len(mail.messages) == 5
    later = TestClient(app_for(agency, WEDNESDAY_10 + timedelta(hours=1)))
    assert "on its way" in ask_for_link(later, "bob@example.com").text
    assert len(mail.messages) == 6


def test_the_address_limit_counts_strangers_too_and_holds_across_processes(
    agency: Ledger, mail: SmtpServer,
) -> None:
    agency.settings.sign_in.links_per_address = 2
    first, second = TestClient(app_for(agency)), TestClient(app_for(agency))
    assert ask_for_link(first, "nobody@example.com").status_code == 200
    assert ask_for_link(second, "nobody@example.com").status_code == 200
    assert ask_for_link(first, "nobody@example.com").status_code == 429
    assert ask_for_link(second, "NOBODY@example.com").status_code == 429


def test_requests_at_the_same_moment_from_many_workers_never_pass_the_limit(
    agency: Ledger,
) -> None:
    agency.settings.sign_in.links_per_address = 3
    workers = 8
    start = threading.Barrier(workers)

    def ask(index: int) -> datetime | None:
        start.wait()
        return admit_link_request(agency, email="bob@example.com", ip=f"192.0.2.{index}",
                                  now=WEDNESDAY_10)

    with ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(ask, range(workers)))
    assert answers.count(None) == 3


def test_one_client_ip_gets_twenty_links_an_hour_whatever_the_addresses(
    agency: Ledger, mail: SmtpServer,
) -> None:
    app = app_for(agency)
    sender = TestClient(app, client=("203.0.113.7", 50000))
    for index in range(20):
        assert ask_for_link(sender, f"person{index}@example.com").status_code == 200
    assert ask_for_link(sender, "bob@example.com").status_code == 429
    assert mail.messages == []
    elsewhere = TestClient(app, client=("198.51.100.9", 50000))
    assert "on its way" in ask_for_link(elsewhere, "bob@example.com").text
    assert len(mail.messages) == 1


def test_an_address_that_is_not_one_gets_one_clear_message(
    app_and_agency: tuple[FastAPI, Ledger],
) -> None:
    app, _ = app_and_agency
    page = ask_for_link(TestClient(app), "not an address")
    assert page.status_code == 200 and 'class="flash error"' in page.text
    assert "Enter the email address" in page.text


# -- the same answer for everyone -----------------------------------------------------------


def test_members_and_strangers_get_the_same_answer_when_the_mail_server_is_down(
    agency: Ledger, caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        agency.settings.smtp.port = probe.getsockname()[1]
    agency.settings.smtp.host, agency.settings.smtp.timeout_seconds = "127.0.0.1", 2
    app = app_for(agency)
    answers = []
    for email in ("bob@example.com", "stranger@example.com"):
        response = ask_for_link(TestClient(app), email)
        page = response.text.replace(email, "EMAIL").replace(csrf_of(response.text), "CSRF")
        answers.append((response.status_code, response.url.path, page))
    assert answers[0] == answers[1]
    assert "on its way" in answers[0][2]
    [warning] = [r for r in caplog.records if r.name == "reliability.web.signin"]
    assert "bob@example.com not sent" in warning.getMessage()


# -- no secrets in the logs -----------------------------------------------------------------


def test_the_access_log_of_a_real_server_shows_no_link_feed_or_token(
    agency: Ledger, mail: SmtpServer, caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_for(agency)
    ask_for_link(TestClient(app), "bob@example.com")
    link = link_in(mail)
    feed = calendar_token(agency, member(agency, "bob@example.com").id, now=WEDNESDAY_10,
                          actor="test")
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=True))
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    # The socket listens before the thread starts, so the requests wait in its backlog.
    listening.listen()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]})
    thread.start()
    try:
        with httpx.Client(base_url=base) as client:
            client.get(link)
            assert client.get(f"/calendar/{feed}.ics").status_code == 200
            assert client.get(f"/calendar/{feed}/team.ics?x=1").status_code == 200
    finally:
        server.should_exit = True
        thread.join()
        listening.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 3
    logged = "\n".join(lines)
    secret = link.removeprefix("/sign-in/link/").split("?")[0]
    assert secret not in logged and feed not in logged
    assert "/sign-in/link/[redacted]" in logged
    assert "/calendar/[redacted].ics" in logged and "/calendar/[redacted]/team.ics" in logged


def test_the_access_log_redacts_a_feed_or_link_token_in_any_path_or_query_shape(
    agency: Ledger, caplog: pytest.LogCaptureFixture,
) -> None:
    feed = calendar_token(agency, member(agency, "bob@example.com").id, now=WEDNESDAY_10,
                          actor="test")
    shapes = [f"/calendar/{feed}", f"//calendar/{feed}.ics", f"/calendar/x.ics?token={feed}",
              f"/sign-in//link/{feed}", f"/x?api_key={feed}&a=1", f"/calendar///{feed}/team.ics"]
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app_for(agency), log_config=None, access_log=True))
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    listening.listen()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]})
    thread.start()
    try:
        for shape in shapes:  # raw requests: an HTTP client would tidy the odd paths
            with socket.create_connection(listening.getsockname(), timeout=10) as raw:
                raw.sendall(f"GET {shape} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            .encode())
                while raw.recv(65536):
                    pass
    finally:
        server.should_exit = True
        thread.join()
        listening.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == len(shapes)
    logged = "\n".join(lines)
    assert feed not in logged, logged
    assert "/calendar/[redacted] " in logged and "ics?token=[redacted] " in logged
    assert "/sign-in//link/[redacted]" in logged and "api_key=[redacted]&a=1" in logged
    assert "/calendar///[redacted]/team.ics" in logged


def test_our_own_log_lines_lose_bearer_and_personal_tokens() -> None:
    assert redact("Authorization: Bearer abc.def-123 sent") == (
        "Authorization: Bearer [redacted] sent")
    assert redact("token rel_AbC-12_x was wrong") == "token [redacted] was wrong"
    assert redact("GET /promises/1 HTTP/1.1") == "GET /promises/1 HTTP/1.1"


# -- sessions ------------------------------------------------------------------------------


def test_signing_out_ends_the_session_for_good_even_for_a_copied_cookie(
    app_and_agency: tuple[FastAPI, Ledger],
) -> None:
    app, agency = app_and_agency
    bob = signed_in(app, agency, "bob@example.com")
    copied = dict(bob.cookies)
    bob.post("/sign-out", data={"csrf_token": csrf_of(bob.get("/board").text)})
    assert not is_signed_in(bob)
    replayed = TestClient(app, cookies=copied)
    assert not is_signed_in(replayed)
    assert replayed.get("/api/at-risk").status_code == 401


def test_a_new_personal_token_ends_the_members_browser_sessions(
    app_and_agency: tuple[FastAPI, Ledger], cli: Cli,
) -> None:
    app, agency = app_and_agency
    bob, alice = signed_in(app, agency, "bob@example.com"), signed_in(app, agency,
                                                                        "alice@example.com")
    assert cli("member", "token", "bob@example.com").exit_code == 0
    assert not is_signed_in(bob)
    assert is_signed_in(alice)


def test_sign_out_everywhere_ends_every_session_of_that_member_and_is_recorded(
    app_and_agency: tuple[FastAPI, Ledger],
) -> None:
    app, agency = app_and_agency
    token = token_for(agency, "bob@example.com")
    phone, laptop = sign_in_with(app, token), sign_in_with(app, token)
    alice = signed_in(app, agency, "alice@example.com")
    page = phone.get("/board").text
    assert 'formaction="/sign-out/everywhere"' in page
    done = phone.post("/sign-out/everywhere", data={"csrf_token": csrf_of(page)})
    assert "signed out on every device" in done.text
    assert not is_signed_in(phone) and not is_signed_in(laptop)
    assert is_signed_in(alice)
    with Session(agency.engine) as session:
        event = session.exec(select(Event).where(
            Event.kind == "member.signed_out_everywhere")).one()
    assert (event.actor, event.payload["member_id"]) == ("bob@example.com",
                                                         member(agency, "bob@example.com").id)


# -- roles and removal ----------------------------------------------------------------------


def test_a_role_change_is_validated_recorded_and_ends_the_members_sessions(
    app_and_agency: tuple[FastAPI, Ledger], cli: Cli,
) -> None:
    app, agency = app_and_agency
    alice = signed_in(app, agency, "alice@example.com")
    wrong = cli("member", "role", "alice@example.com", "boss")
    assert wrong.exit_code == 2 and "use one of member, manager, admin" in wrong.stderr
    assert cli("member", "role", "alice@example.com", "member").exit_code == 2
    changed = cli("member", "role", "alice@example.com", "manager")
    assert changed.exit_code == 0 and "now manager" in changed.stdout
    assert member(agency, "alice@example.com").role == "manager"
    assert not is_signed_in(alice)
    with Session(agency.engine) as session:
        event = session.exec(select(Event).where(Event.kind == "member.role_changed")).one()
    assert (event.payload["previous"], event.payload["role"]) == ("member", "manager")


def test_a_member_who_owns_open_promises_cannot_be_removed(
    agency: Ledger, cli: Cli,
) -> None:
    refused = cli("member", "remove", "alice@example.com")
    assert refused.exit_code == 2
    assert "still owns" in refused.stderr and "complete or cancel them first" in refused.stderr
    assert member(agency, "alice@example.com").removed_at is None


def test_a_removed_member_cannot_sign_in_use_a_token_or_a_calendar_feed(
    agency: Ledger, mail: SmtpServer, cli: Cli,
) -> None:
    app = app_for(agency)
    carol_id = member(agency, "carol@example.com").id
    feed = calendar_token(agency, carol_id, now=WEDNESDAY_10, actor="test")
    token = token_for(agency, "carol@example.com")
    carol = sign_in_with(app, token)
    ask_for_link(TestClient(app), "carol@example.com")
    unused_link = link_in(mail)
    removed = cli("member", "remove", "carol@example.com")
    assert removed.exit_code == 0 and "history are kept" in removed.stdout
    stranger = TestClient(app)
    assert not is_signed_in(carol)
    assert stranger.get("/api/at-risk", headers={"Authorization": f"Bearer {token}"}
                        ).status_code == 401
    assert stranger.get(f"/calendar/{feed}.ics").status_code == 404
    assert follow(stranger, unused_link).status_code == 410
    ask_for_link(stranger, "carol@example.com")
    assert len(mail.messages) == 1  # no new link for a removed member
    with pytest.raises(UserError, match="was removed"):
        token_for(agency, "carol@example.com")
    with pytest.raises(UserError, match="was removed"):  # nor come back through Slack
        agency.link_slack_user(email="carol@example.com", slack_user_id="U0CAROL", name="Carol",
                               timezone=None, now=WEDNESDAY_10, actor="slack:U0CAROL")
    assert "removed" in cli("member", "list").stdout
    assert cli("member", "role", "carol@example.com", "admin").exit_code == 2


def test_removing_a_manager_leaves_their_reports_without_one(agency: Ledger, cli: Cli) -> None:
    for view in agency.promises(owner_email="bob@example.com", status="open"):
        agency.complete(view.promise.id, now=WEDNESDAY_10, actor="test")
    assert cli("member", "remove", "bob@example.com").exit_code == 0
    assert member(agency, "alice@example.com").manager_id is None
    with Session(agency.engine) as session:
        event = session.exec(select(Event).where(Event.kind == "member.removed")).one()
    assert (event.payload["role"], event.payload["reports"]) == ("manager",
                                                                 ["alice@example.com"])


# -- storage --------------------------------------------------------------------------------


def test_members_stored_before_sessions_were_revocable_start_at_generation_zero(
    tmp_path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0006")
        connection.exec_driver_sql(
            "INSERT INTO member (email, name, timezone, role, digest_channel, created_at) "
            "VALUES ('a@x.example', 'A', 'UTC', 'member', 'email', '2026-11-01 00:00:00')")
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT session_generation, removed_at FROM member")).one()
    assert tuple(row) == (0, None)
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0006")
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        columns = [c["name"] for c in sa.inspect(connection).get_columns("member")]
    assert "sign_in_link" not in tables and "session_generation" not in columns
    engine.dispose()
