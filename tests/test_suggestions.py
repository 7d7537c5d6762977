"""Offers of promises found in conversations: one per origin, logged only on a yes, a "no"
remembered, the words forgotten once answered."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from conftest import Cli
from scenarios import at
from servers.smtp import smtp_server
from sqlmodel import select

from reliability import drafts, suggestions
from reliability.access import Actor
from reliability.commitments import Finding, FindingKind
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Notice, NoticeKind, Promise, Source, Suggestion
from reliability.outbox import Outbox

MONDAY = at("2026-11-16T09:00-05:00")
THURSDAY_5PM = at("2026-11-19T17:00-05:00")


def commitment(title: str = "Send the revised deck", due: bool = True) -> Finding:
    return Finding(kind=FindingKind.commitment, sentence=f"I'll {title.lower()} by Thursday.",
                   title=title, owner="alice@example.com", client="Acme",
                   due_at=THURSDAY_5PM if due else None, confidence=0.9)


def request(due: bool = False) -> Finding:
    return Finding(kind=FindingKind.request, sentence="Could you send the invoice copies?",
                   title="Send the invoice copies", owner="dana@acme.example", client="Acme",
                   due_at=THURSDAY_5PM if due else None, confidence=0.6)


def offered(ledger: Ledger, finding: Finding, key: str = "slack:C1:1.0",
            **kwargs: object) -> suggestions.Offer | None:
    return suggestions.offer(ledger, finding, member_email="alice@example.com",
                             source=Source.slack_watch, origin_key=key, now=MONDAY,
                             **kwargs)  # type: ignore[arg-type]


def member(ledger: Ledger, email: str) -> Actor:
    return Actor(email, next(m.id for m, _ in ledger.members() if m.email == email))


def alice(ledger: Ledger) -> Actor:
    return member(ledger, "alice@example.com")


def test_a_yes_logs_the_promise_with_its_source_client_and_forecast(agency: Ledger) -> None:
    offer = offered(agency, commitment())
    assert offer is not None and offer.client == "Acme" and offer.token is None
    logged = suggestions.accept(agency, offer.id, actor=alice(agency), now=MONDAY)
    promise = logged.view.promise
    assert (promise.title, promise.due_at, promise.source) == (
        "Send the revised deck", THURSDAY_5PM, Source.slack_watch)
    assert promise.raw_text == "I'll send the revised deck by Thursday."
    assert promise.capture_p_late is not None
    assert logged.acknowledgement is None


def test_the_same_message_is_offered_once_however_often_it_arrives(agency: Ledger) -> None:
    assert offered(agency, commitment()) is not None
    assert offered(agency, commitment()) is None
    with agency.session() as session:
        assert len(session.exec(select(Suggestion)).all()) == 1


def test_a_no_forgets_the_words_and_is_not_asked_again_for_the_same_deliverable(
        agency: Ledger) -> None:
    offer = offered(agency, commitment())
    assert offer is not None
    suggestions.decline(agency, offer.id, actor=alice(agency), now=MONDAY)
    with agency.session() as session:
        row = session.get(Suggestion, offer.id)
        assert row is not None and row.status == "declined" and row.sentence is None
    again = offered(agency, commitment("Send the revised deck!"), key="slack:C1:2.0")
    assert again is None
    other = offered(agency, commitment("Send the media plan"), key="slack:C1:3.0")
    assert other is not None


def test_an_answer_counts_once_even_when_two_arrive_together(agency: Ledger) -> None:
    offer = offered(agency, commitment())
    assert offer is not None
    actor = alice(agency)

    def log() -> str:
        try:
            suggestions.accept(agency, offer.id, actor=actor, now=MONDAY)
            return "logged"
        except UserError as error:
            return str(error)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: log(), range(4)))
    assert answers.count("logged") == 1
    with agency.session() as session:
        assert len(session.exec(select(Promise)).all()) == 1
    with pytest.raises(UserError, match="already answered"):
        suggestions.decline(agency, offer.id, actor=actor, now=MONDAY)


def test_a_clients_request_becomes_a_promise_to_reply_and_a_drafted_receipt(
        agency: Ledger) -> None:
    offer = offered(agency, request())
    assert offer is not None
    logged = suggestions.accept(agency, offer.id, actor=alice(agency), now=MONDAY)
    # Without a deadline of its own: the end of the next business day, the client's time.
    assert logged.view.promise.due_at == at("2026-11-17T17:00-05:00")
    assert logged.view.promise.title == "Reply: Send the invoice copies"
    assert logged.acknowledgement is not None
    assert logged.acknowledgement.kind == NoticeKind.request_acknowledgement
    with agency.session() as session:
        assert len(session.exec(select(Notice)).all()) == 1


def test_a_commitment_without_a_date_needs_one_before_it_is_logged(agency: Ledger) -> None:
    offer = offered(agency, commitment(due=False))
    assert offer is not None
    with pytest.raises(UserError, match="when is it due") as refused:
        suggestions.accept(agency, offer.id, actor=alice(agency), now=MONDAY)
    assert refused.value.field == "due"
    logged = suggestions.accept(agency, offer.id, actor=alice(agency), now=MONDAY,
                                due_at=THURSDAY_5PM + timedelta(days=1))
    assert logged.view.promise.due_at == THURSDAY_5PM + timedelta(days=1)


def test_only_the_person_asked_or_their_managers_may_answer(agency: Ledger) -> None:
    agency.add_member(email="carol@example.com", name="Carol", now=MONDAY, actor="t")
    offer = offered(agency, commitment())
    assert offer is not None
    with pytest.raises(UserError, match="no suggestion"):
        suggestions.accept(agency, offer.id, actor=member(agency, "carol@example.com"),
                           now=MONDAY)
    logged = suggestions.accept(agency, offer.id, actor=member(agency, "bob@example.com"),
                                now=MONDAY)
    assert logged.view.owner.email == "alice@example.com"


def test_a_mailed_link_works_once(agency: Ledger) -> None:
    offer = offered(agency, commitment(), with_link=True)
    assert offer is not None and offer.token
    found, actor = suggestions.offer_by_token(agency, offer.token)
    assert found.id == offer.id and actor.label == "alice@example.com"
    suggestions.accept(agency, found.id, actor=actor, now=MONDAY)
    with pytest.raises(UserError, match="already used"):
        suggestions.offer_by_token(agency, offer.token)


def test_unanswered_offers_expire_with_their_words(agency: Ledger) -> None:
    offer = offered(agency, commitment(), with_link=True)
    assert offer is not None and offer.token
    assert suggestions.expire(agency, now=MONDAY + timedelta(days=13)) == 0
    assert suggestions.expire(agency, now=MONDAY + timedelta(days=15)) == 1
    with agency.session() as session:
        row = session.get(Suggestion, offer.id)
        assert row is not None and (row.status, row.sentence, row.token_hash) == (
            "expired", None, None)
    with pytest.raises(UserError, match="already used or has expired"):
        suggestions.offer_by_token(agency, offer.token)


def test_the_report_counts_suggestions_by_source_and_how_fast_requests_were_acknowledged(
        agency: Ledger, cli: Cli) -> None:
    kept = offered(agency, commitment())
    assert kept is not None
    suggestions.accept(agency, kept.id, actor=alice(agency), now=MONDAY)
    dropped = offered(agency, commitment("Send the media plan"), key="slack:C1:2.0")
    assert dropped is not None
    suggestions.decline(agency, dropped.id, actor=alice(agency), now=MONDAY)
    receipts = []
    for key in ("mail:1", "mail:2"):
        asked = suggestions.offer(agency, request(), member_email="alice@example.com",
                                  source=Source.email, origin_key=key, now=MONDAY)
        assert asked is not None
        logged = suggestions.accept(agency, asked.id, actor=alice(agency), now=MONDAY)
        assert logged.acknowledgement is not None
        receipts.append(logged.acknowledgement.id or 0)
    with smtp_server() as server:
        agency.settings.smtp.host, agency.settings.smtp.port = server.host, server.port
        # One receipt goes out an hour after the request came; the other on Thursday.
        drafts.approve(agency, alice(agency), receipts[0], now=MONDAY)
        Outbox(agency).deliver(MONDAY + timedelta(hours=1))
        drafts.approve(agency, alice(agency), receipts[1], now=THURSDAY_5PM)
        Outbox(agency).deliver(THURSDAY_5PM)
        assert len(server.messages) == 2

    shown = cli("report", "--json", "--from", "2026-11-16", "--to", "2026-11-20",
                as_of="2026-11-20T18:00-05:00")
    assert shown.exit_code == 0, shown.stderr
    capture = json.loads(shown.stdout)["capture"]
    assert capture["suggestions"] == {
        "email": {"made": 2, "offered": 0, "accepted": 2, "declined": 0, "expired": 0},
        "slack_watch": {"made": 2, "offered": 0, "accepted": 1, "declined": 1, "expired": 0}}
    assert capture["promises_by_source"] == {"email": 2, "slack_watch": 1}
    assert capture["requests"] == {
        "received": 2, "acknowledged_within_one_business_day": 1, "acknowledged_later": 1,
        "not_acknowledged": 0, "later_business_days": [4.0]}
    text = cli("report", "--from", "2026-11-16", "--to", "2026-11-20",
               as_of="2026-11-20T18:00-05:00").stdout
    assert "promises made, by how they were captured: 2 email, 1 slack_watch" in text
    assert ("client requests: 2 received, 1 acknowledged within one business day, 1 later, "
            "0 not yet; the rest took 4 business days") in text
