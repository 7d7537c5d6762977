"""The managers' daily digest: what needs a decision, what is at risk, once per business day."""

import json
import sqlite3
from typing import Any

import pytest
from conftest import Cli
from helpers import at
from scenarios import START, agency_with, wednesday_draft
from sqlalchemy import event
from sqlmodel import Session, col, select, update

from reliability.digest import build_digest, digest_now, queue_due_digests, to_json
from reliability.drafting import rendering
from reliability.ledger import Ledger
from reliability.models import Member, Notice, Promise

WEDNESDAY_9 = at("2026-11-18T09:00-05:00")


def digests(ledger: Ledger) -> list[Notice]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(Notice).where(Notice.kind == "digest")
                                 .order_by(col(Notice.id))).all())


def member(ledger: Ledger, email: str) -> Member:
    with Session(ledger.engine) as session:
        return session.exec(select(Member).where(Member.email == email)).one()


@pytest.fixture
def wednesday(ledger: Ledger) -> Ledger:
    wednesday_draft(agency_with(ledger, "en"))
    return ledger


@pytest.fixture
def quiet_team(ledger: Ledger) -> Ledger:
    """Bob manages Alice in New York, with US holidays, and nothing is going on."""
    ledger.add_member(email="bob@example.com", name="Bob", role="manager", country="US",
                      timezone="America/New_York", now=START, actor="t")
    ledger.add_member(email="alice@example.com", name="Alice", manager_email="bob@example.com",
                      timezone="America/New_York", country="US", now=START, actor="t")
    return ledger


def test_bobs_wednesday_digest_lists_alices_q3_report_at_risk_with_the_draft_to_approve(
    wednesday: Ledger,
) -> None:
    [queued] = queue_due_digests(wednesday, now=WEDNESDAY_9)
    [notice] = digests(wednesday)
    assert notice.id == queued
    assert (notice.recipient, notice.status, notice.idempotency_key) == (
        "bob@example.com", "queued", f"digest:{member(wednesday, 'bob@example.com').id}:2026-11-18")
    text = notice.text
    decision = text.index("NEEDS A DECISION TODAY")
    risk = text.index("AT RISK AND OVERDUE")
    assert decision < risk
    approve = "Approve the delay notice to Acme, “New delivery date for ‘Q3 report’"
    assert approve in text[decision:risk]
    assert "“Q3 report” for Acme (Alice): due Friday, November 20" in text[risk:]
    assert "Waiting on the ad account data" in text[risk:]
    assert ".;" not in text
    assert "Reliability digest for Wednesday, November 18: 1 decision today" in notice.subject


@pytest.mark.parametrize(
    ("locale", "greeting", "said"),
    [("sv", "Hej Sara,", "Alice sa i går att det ligger i riskzonen: ”Waiting on "
                         "the ad account data”."),
     ("zh", "Sara Lind，您好！",
      "Alice昨天报告有延误风险：“Waiting on the ad account data”")],
)
def test_a_manager_reads_the_digest_and_its_reasons_in_their_own_language(
    wednesday: Ledger, locale: str, greeting: str, said: str
) -> None:
    wednesday.add_member(email="sara@example.com", name="Sara Lind", role="admin",
                         timezone="Europe/Stockholm", locale=locale, now=START, actor="t")

    queue_due_digests(wednesday, now=WEDNESDAY_9)

    [sara] = [n for n in digests(wednesday) if n.recipient == "sara@example.com"]
    assert sara.locale == locale
    assert sara.text.startswith(greeting)
    assert said in sara.text


def test_the_digest_context_carries_p_late_reasons_and_the_drafts_send_by_time(
    wednesday: Ledger,
) -> None:
    with Session(wednesday.engine) as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        context = build_digest(session, wednesday.settings, bob, WEDNESDAY_9)
    [risk] = context["at_risk"]
    assert risk["promise"]["title"] == "Q3 report" and not risk["overdue"]
    assert 0 < risk["p_late"] < 1
    assert any("ad account data" in reason for reason in risk["reasons"])
    [draft] = context["decisions"]["drafts"]
    assert draft["kind"] == "delay_notice" and draft["client_name"] == "Acme"
    assert draft["send_by"] == at("2026-11-18T17:00-05:00")
    assert context["due_soon"] == []  # the Q3 report is listed once, as at risk
    assert context["all_clear"] is False


def test_exactly_one_digest_per_manager_per_business_day(wednesday: Ledger) -> None:
    assert len(queue_due_digests(wednesday, now=WEDNESDAY_9)) == 1
    assert queue_due_digests(wednesday, now=at("2026-11-18T09:01-05:00")) == []
    assert queue_due_digests(wednesday, now=at("2026-11-18T16:00-05:00")) == []
    assert [n.recipient for n in digests(wednesday)] == ["bob@example.com"]


def test_members_without_a_team_get_no_digest(wednesday: Ledger) -> None:
    queue_due_digests(wednesday, now=WEDNESDAY_9)
    assert "alice@example.com" not in [n.recipient for n in digests(wednesday)]


def test_nothing_goes_out_before_the_digest_time(quiet_team: Ledger) -> None:
    assert queue_due_digests(quiet_team, now=at("2026-11-18T08:29-05:00")) == []
    assert len(queue_due_digests(quiet_team, now=at("2026-11-18T08:30-05:00"))) == 1


def test_after_downtime_todays_digest_goes_out_once_and_yesterdays_never(
    quiet_team: Ledger,
) -> None:
    # The worker was down from Monday evening until Wednesday afternoon.
    assert queue_due_digests(quiet_team, now=at("2026-11-16T18:00-05:00")) != []
    assert len(queue_due_digests(quiet_team, now=at("2026-11-18T15:00-05:00"))) == 1
    assert queue_due_digests(quiet_team, now=at("2026-11-18T15:01-05:00")) == []
    keys = [n.idempotency_key.rsplit(":", 1)[1] for n in digests(quiet_team)]
    assert keys == ["2026-11-16", "2026-11-18"]


@pytest.mark.parametrize("day", ["2026-11-21T09:00-05:00",  # Saturday
                                 "2026-11-26T09:00-05:00"])  # Thanksgiving in the US
def test_no_digest_on_a_weekend_or_a_public_holiday(quiet_team: Ledger, day: str) -> None:
    assert queue_due_digests(quiet_team, now=at(day)) == []
    assert digests(quiet_team) == []


def test_the_digest_time_is_the_managers_own(ledger: Ledger) -> None:
    ledger.add_member(email="sara@example.com", name="Sara", role="manager",
                      timezone="Europe/Stockholm", now=START, actor="t")
    # 08:30 in Stockholm is 02:30 in New York.
    assert queue_due_digests(ledger, now=at("2026-11-18T08:29+01:00")) == []
    assert len(queue_due_digests(ledger, now=at("2026-11-18T02:31-05:00"))) == 1


def test_a_quiet_day_sends_a_one_line_all_clear(quiet_team: Ledger) -> None:
    queue_due_digests(quiet_team, now=WEDNESDAY_9)
    [notice] = digests(quiet_team)
    assert notice.status == "queued"
    assert "All clear today" in notice.text
    assert "RELIABILITY THIS MONTH" not in notice.text


def test_a_quiet_day_sends_nothing_when_configured_so_and_decides_once(
    quiet_team: Ledger,
) -> None:
    quiet_team.settings.digest.quiet_day = "nothing"
    assert queue_due_digests(quiet_team, now=WEDNESDAY_9) == []
    assert queue_due_digests(quiet_team, now=at("2026-11-18T09:01-05:00")) == []
    [notice] = digests(quiet_team)
    assert notice.status == "cancelled" and notice.cancel_reason.startswith("quiet day")


def test_a_manager_does_not_see_another_teams_promises(wednesday: Ledger) -> None:
    wednesday.add_member(email="carol@example.com", name="Carol", role="manager",
                         timezone="America/New_York", now=START, actor="t")
    with Session(wednesday.engine) as session:
        carol = session.exec(select(Member).where(Member.email == "carol@example.com")).one()
        context = build_digest(session, wednesday.settings, carol, WEDNESDAY_9)
    assert context["at_risk"] == [] and context["decisions"]["drafts"] == []
    assert context["all_clear"] is True


def test_an_admin_digest_covers_everyone(wednesday: Ledger) -> None:
    wednesday.add_member(email="erin@example.com", name="Erin", role="admin",
                         timezone="America/New_York", now=START, actor="t")
    with Session(wednesday.engine) as session:
        erin = session.exec(select(Member).where(Member.email == "erin@example.com")).one()
        context = build_digest(session, wednesday.settings, erin, WEDNESDAY_9)
    assert [item["promise"]["title"] for item in context["at_risk"]] == ["Q3 report"]


def test_the_digest_renders_in_every_format(wednesday: Ledger) -> None:
    with Session(wednesday.engine) as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        context = build_digest(session, wednesday.settings, bob, WEDNESDAY_9)
    message = rendering.render("digest", "en", dict(context))
    assert "Q3 report" in message.html and message.blocks
    assert "Q3 report" in json.dumps(message.blocks)


def test_digest_command_prints_bobs_digest_as_json(cli: Cli, wednesday: Ledger) -> None:
    result = cli("digest", "--manager", "bob@example.com", "--json",
                 as_of="2026-11-18T09:00-05:00")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    [risk] = document["at_risk"]
    assert risk["promise"]["title"] == "Q3 report"
    assert document["decisions"]["drafts"][0]["send_by"] == "2026-11-18T22:00:00+00:00"
    assert digests(wednesday) == []  # printing is not sending


def test_digest_send_queues_it_once(cli: Cli, wednesday: Ledger) -> None:
    first = cli("digest", "--manager", "bob@example.com", "--send",
                as_of="2026-11-18T07:00-05:00")
    assert first.exit_code == 0 and "queued as message" in first.stderr
    assert "NEEDS A DECISION TODAY" in first.stdout
    again = cli("digest", "--manager", "bob@example.com", "--send",
                as_of="2026-11-18T07:05-05:00")
    assert again.exit_code == 0 and "already queued" in again.stderr
    assert queue_due_digests(wednesday, now=WEDNESDAY_9) == []
    assert len(digests(wednesday)) == 1


def test_digest_for_an_unknown_manager_is_one_clear_error(cli: Cli, wednesday: Ledger) -> None:
    result = cli("digest", "--manager", "nobody@example.com")
    assert result.exit_code == 2
    assert "unknown member" in result.stderr


def test_a_busy_digest_lists_the_worst_first_and_says_how_many_more_and_where(
    wednesday: Ledger,
) -> None:
    """Each section lists `[digest] items_per_section` and counts the rest: a daily message
    a person reads, with the page that lists them all."""
    made = at("2026-11-09T09:00-05:00")
    for index, due in enumerate(["2026-11-13T17:00-05:00", "2026-11-16T17:00-05:00",
                                 "2026-11-17T17:00-05:00"]):
        wednesday.add_promise(title=f"Late {index}", client_name="Acme",
                              owner_email="alice@example.com", due_at=at(due), now=made,
                              actor="t")
    for index, p_late in enumerate([0.99, 0.01]):
        view = wednesday.add_promise(title=f"Shaky {index}", client_name="Acme",
                                     owner_email="alice@example.com",
                                     due_at=at("2026-11-19T17:00-05:00"), now=made, actor="t")
        with Session(wednesday.engine) as session:
            session.exec(update(Promise).where(Promise.id == view.promise.id)
                         .values(level="at_risk", p_late=p_late))
            session.commit()
    for day in (23, 19, 20, 24):
        wednesday.add_promise(title=f"Soon {day}", client_name="Acme",
                              owner_email="alice@example.com",
                              due_at=at(f"2026-11-{day}T12:00-05:00"), now=made, actor="t")
    wednesday.settings.digest.items_per_section = 2
    with Session(wednesday.engine) as session:
        bob = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
        context = build_digest(session, wednesday.settings, bob, WEDNESDAY_9)

    assert [item["promise"]["title"] for item in context["at_risk"]] == ["Late 0", "Late 1"]
    assert context["more"]["at_risk"] == {"count": 4, "url": "http://127.0.0.1:8000/board"}
    # at risk, not due soon: the Q3 report and the shaky ones are not counted twice
    assert [p["title"] for p in context["due_soon"]] == ["Soon 19", "Soon 20"]
    assert context["more"]["due_soon"] == {"count": 2, "url": "http://127.0.0.1:8000/promises"}
    assert context["more"]["drafts"]["count"] == 0
    text = rendering.render("digest", "en", dict(context)).text
    risk = text[text.index("AT RISK AND OVERDUE"):text.index("DUE IN THE NEXT")]
    assert risk.rstrip().endswith("- and 4 more: http://127.0.0.1:8000/board")
    assert "- and 2 more: http://127.0.0.1:8000/promises" in text
    assert to_json(dict(context))["more"]["due_soon"]["count"] == 2
    wednesday.settings.digest.items_per_section = 10
    with Session(wednesday.engine) as session:
        everything = build_digest(session, wednesday.settings, bob, WEDNESDAY_9)
    assert [item["promise"]["title"] for item in everything["at_risk"]] == [
        "Late 0", "Late 1", "Late 2", "Shaky 0", "Q3 report", "Shaky 1"]
    assert everything["more"]["at_risk"]["count"] == 0
    assert " more: http" not in rendering.render("digest", "en", dict(everything)).text


def test_a_digest_is_built_without_keeping_a_writer_waiting_on_sqlite(
    wednesday: Ledger,
) -> None:
    """An admin's digest reads for seconds at a large team: it is built in a read session
    and only stored under SQLite's write lock, by the scheduler and by `digest --send`."""
    if wednesday.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never hold writers off")
    writer = sqlite3.connect(str(wednesday.engine.url.database), timeout=0.2,
                             isolation_level=None)
    wrote: list[bool] = []

    def write_meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM mistake JOIN client" in statement:  # a section half-way through the build
            try:
                writer.execute("BEGIN IMMEDIATE")
                writer.execute("UPDATE client SET name = name")
                writer.execute("COMMIT")
                wrote.append(True)
            except sqlite3.OperationalError:
                wrote.append(False)

    event.listen(wednesday.engine, "before_cursor_execute", write_meanwhile)
    try:
        [queued] = queue_due_digests(wednesday, now=WEDNESDAY_9)
        sent = digest_now(wednesday, "bob@example.com", now=WEDNESDAY_9, actor="t", send=True)
    finally:
        event.remove(wednesday.engine, "before_cursor_execute", write_meanwhile)
        writer.close()
    assert wrote and all(wrote)
    assert sent.queued is None and [n.id for n in digests(wednesday)] == [queued]
