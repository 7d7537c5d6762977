"""Drafts: the Wednesday delay notice in the client's language, edits, approval, mistakes."""

import json
from pathlib import Path

import pytest
from conftest import Cli
from helpers import at
from scenarios import (
    START,
    agency_with,
    notices_of,
    past_promises,
    q3_report,
    tick,
    wednesday_draft,
)
from sqlmodel import Session, col, select

from reliability import notices
from reliability.ledger import Ledger
from reliability.mistakes import Credit, log_mistake
from reliability.models import Event, Notice, Promise


@pytest.mark.parametrize(
    ("locale", "friday", "weekday_words"),
    [
        ("en", "Friday, November 20", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")),
        ("sv", "fredag 20 november", ("måndag", "tisdag", "onsdag", "torsdag", "fredag")),
        ("zh", "11月20日（周五）", ("周一", "周二", "周三", "周四", "周五")),
    ],
)
def test_the_wednesday_draft_is_in_the_clients_language(
    ledger: Ledger, locale: str, friday: str, weekday_words: tuple[str, ...]
) -> None:
    draft = wednesday_draft(agency_with(ledger, locale))
    assert (draft.locale, draft.recipient, draft.status) == (locale, "dana@acme.example",
                                                             "draft")
    assert friday in draft.text
    proposed = draft.proposed_due_at
    assert proposed is not None and proposed > at("2026-11-20T17:00-05:00")
    assert proposed.astimezone(at("2026-11-20T17:00-05:00").tzinfo).weekday() < 5
    assert any(word in draft.text.split(friday)[1] for word in weekday_words)
    assert draft.channel == "email" and "<p>" in (draft.html or "") and draft.blocks is None


def test_the_owners_check_in_note_reaches_the_approver_not_the_client(ledger: Ledger) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))

    assert "Waiting on the ad account data." not in draft.text + (draft.html or "")
    assert "Waiting on the ad account data." in (draft.approver_note or "")
    assert "more time than we planned to be done properly" not in draft.text
    assert "“Q3 report” won't be ready" in draft.text


def test_a_sent_notice_never_goes_out_without_approval_unless_auto_send(ledger: Ledger) -> None:
    draft = wednesday_draft(agency_with(ledger, "en"))
    assert draft.next_attempt_at is None and draft.approved_at is None


@pytest.fixture
def drafted(cli: Cli, ledger: Ledger) -> Cli:
    wednesday_draft(agency_with(ledger, "en"))
    return cli


def test_drafts_list_shows_the_draft_for_the_owner_to_approve(drafted: Cli) -> None:
    [draft] = json.loads(drafted("drafts", "list", "--status", "draft", "--json").stdout)
    assert {k: draft[k] for k in ("kind", "client", "locale", "status")} == {
        "kind": "delay_notice", "client": "Acme", "locale": "en", "status": "draft"}
    assert "November 20" in draft["text"]


def test_editing_a_draft_keeps_the_earlier_wording_in_its_history(
    drafted: Cli, ledger: Ledger, tmp_path: Path
) -> None:
    [draft] = json.loads(drafted("drafts", "list", "--status", "draft", "--json").stdout)
    body = tmp_path / "body.txt"
    body.write_text("Hi Dana,\n\nThe report moves to Tuesday. <Sorry> & thanks.\n\nAlice")
    edited = drafted("drafts", "edit", str(draft["id"]), "--due", "2026-11-24T17:00-05:00",
                     "--json", as_of="2026-11-18T10:00-05:00")
    assert "Tuesday, November 24" in json.loads(edited.stdout)["text"]
    edited = drafted("drafts", "edit", str(draft["id"]), "--text-file", str(body), "--json",
                     as_of="2026-11-18T10:05-05:00")
    record = json.loads(edited.stdout)
    assert record["text"].startswith("Hi Dana,")
    assert record["proposed_due_at"] == "2026-11-24T17:00:00-05:00"
    with Session(ledger.engine) as session:
        notice = session.get(Notice, draft["id"])
        edits = session.exec(select(Event).where(Event.kind == "notice.edited")
                             .order_by(col(Event.id))).all()
    assert notice is not None and "&lt;Sorry&gt; &amp;" in (notice.html or "")
    assert "November 20" in edits[0].payload["before"]["text"]
    assert edits[1].payload["after"]["text"].startswith("Hi Dana,")


def test_approving_queues_the_draft_and_a_second_approval_is_refused(drafted: Cli) -> None:
    [draft] = json.loads(drafted("drafts", "list", "--status", "draft", "--json").stdout)
    approved = json.loads(drafted("drafts", "approve", str(draft["id"]), "--json").stdout)
    assert approved["status"] == "queued" and approved["approved_by"].startswith("cli:")
    again = drafted("drafts", "approve", str(draft["id"]))
    assert again.exit_code == 2 and "it is queued" in again.stderr


def test_cancelling_a_draft_records_why(drafted: Cli) -> None:
    [draft] = json.loads(drafted("drafts", "list", "--status", "draft", "--json").stdout)
    cancelled = json.loads(drafted("drafts", "cancel", str(draft["id"]), "--reason",
                                   "told them on the call", "--json").stdout)
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled",
                                                                 "told them on the call")


def test_a_bad_draft_id_or_empty_edit_is_refused(drafted: Cli, tmp_path: Path) -> None:
    assert "no message #99" in drafted("drafts", "approve", "99").stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    [draft] = json.loads(drafted("drafts", "list", "--status", "draft", "--json").stdout)
    result = drafted("drafts", "edit", str(draft["id"]), "--text-file", str(empty))
    assert result.exit_code == 2 and "empty" in result.stderr


def mistake(ledger: Ledger, summary: str, when: str, **extra):
    return log_mistake(ledger, client_name="Acme", summary=summary,
                       prevention="A second person checks every formula edit.",
                       category="formula", owner_email="alice@example.com", now=at(when),
                       actor="alice@example.com", **extra)


def test_a_repeated_mistake_is_flagged_and_escalated(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    first = mistake(ledger, "The totals in the October report used the wrong formula.",
                    "2026-11-02T10:00-05:00")
    second = mistake(ledger, "The November forecast had a formula error.",
                     "2026-11-18T10:00-05:00")
    assert first.repeat_count == 0 and first.escalation_id is None
    assert second.repeat_count == 1 and second.escalation_id is not None
    with Session(ledger.engine) as session:
        draft = session.get(Notice, second.draft_id)
        escalation = session.get(Notice, second.escalation_id)
        commitment = session.get(Promise, second.prevention_promise_id)
    assert draft is not None and draft.status == "draft"
    assert draft.approver_note is not None and "Repeat" in draft.approver_note
    assert "Repeat" not in draft.text
    assert escalation is not None and escalation.recipient == "bob@example.com"
    assert commitment is not None and commitment.internal and commitment.status == "open"
    assert "second person checks" in commitment.title


def test_a_credit_line_appears_only_when_a_credit_is_approved(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    without = mistake(ledger, "Wrong file sent.", "2026-11-18T10:00-05:00")
    with_credit = mistake(ledger, "Wrong file sent again.", "2026-11-18T11:00-05:00",
                          credit=Credit.parse("250", "usd"))
    with Session(ledger.engine) as session:
        plain = session.get(Notice, without.draft_id)
        credited = session.get(Notice, with_credit.draft_id)
    assert plain is not None and credited is not None
    assert "$250" not in plain.text and "$250" in credited.text


def test_mistake_cli_logs_and_lists(drafted: Cli) -> None:
    added = drafted("mistake", "add", "--client", "Acme", "--owner", "alice@example.com",
                    "--summary", "Formula error in the report", "--prevention",
                    "Second person checks formula edits", "--category", "formula",
                    "--credit", "100", "EUR", "--json", as_of="2026-11-18T10:00-05:00")
    assert added.exit_code == 0, added.stderr
    record = json.loads(added.stdout)
    assert record["credit"] == "€100.00" and record["draft_id"]
    listed = json.loads(drafted("mistake", "list", "--json").stdout)
    assert listed[0]["summary"] == "Formula error in the report"
    bad = drafted("mistake", "add", "--client", "Acme", "--owner", "alice@example.com",
                  "--summary", "x", "--prevention", "y", "--credit", "lots", "EUR")
    assert bad.exit_code == 2 and "not a number" in bad.stderr


@pytest.mark.parametrize(("amount", "currency"), [
    ("Infinity", "USD"), ("1e400", "USD"), ("NaN", "USD"), ("sNaN", "USD"), ("-5", "USD"),
    ("0", "USD"), ("0.0000000001", "USD"), ("1e-400", "USD"), ("\u0661\u0662", "USD"),
    ("99999999999999999999999999999999", "USD"), ("1000000000.01", "SEK"), ("12.345", "CNY"),
    ("0.5", "JPY"), ("1e3", "USD"), ("12,50", "EUR"), (" ", "USD"),
])
def test_a_credit_the_letter_could_not_state_exactly_is_refused_before_anything_is_written(
        amount: str, currency: str, drafted: Cli, ledger: Ledger) -> None:
    refused = drafted("mistake", "add", "--client", "Acme", "--owner", "alice@example.com",
                      "--summary", "s", "--prevention", "p", "--fixed",
                      "--credit", amount, currency)
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith(f"error: --credit: credit amount {amount!r} is not a "
                                     "number from "), refused.stderr
    assert "1,000,000,000" in refused.stderr and "e.g. 500" in refused.stderr
    assert notices_of(ledger, "mistake_remediation") == []


@pytest.mark.parametrize(("amount", "currency", "letter"), [
    ("0.01", "USD", "$0.01"), ("1000000000", "SEK", "1,000,000,000.00"),
    ("12.50", "CNY", "12.50"), ("7", "JPY", "7"),
])
def test_a_credit_from_the_smallest_unit_to_a_billion_reaches_the_letter_as_typed(
        amount: str, currency: str, letter: str, drafted: Cli, ledger: Ledger) -> None:
    added = drafted("mistake", "add", "--client", "Acme", "--owner", "alice@example.com",
                    "--summary", "s", "--prevention", "p", "--fixed",
                    "--credit", amount, currency)
    assert added.exit_code == 0, added.stderr
    [draft] = notices_of(ledger, "mistake_remediation")
    assert letter in draft.text


def test_a_cli_error_names_the_option_to_fix_and_what_would_work(drafted: Cli) -> None:
    blank = drafted("mistake", "add", "--client", "Acme", "--owner", "alice@example.com",
                    "--summary", " ", "--prevention", "Second person checks formula edits")
    assert blank.exit_code == 2
    assert blank.stderr == "error: --summary: the mistake has no summary: say what went wrong\n"
    stranger = drafted("mistake", "add", "--client", "Acme", "--owner", "zed@example.com",
                       "--summary", "x", "--prevention", "y")
    assert stranger.stderr.startswith("error: --owner: unknown member 'zed@example.com'")


def test_templates_check_fails_with_file_and_line_on_an_undefined_variable(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "mine" / "delay_notice" / "en"
    folder.mkdir(parents=True)
    (folder / "body.txt.j2").write_text("Hello {{ recipient_name }},\n\n{{ no_such_thing }}\n")
    config = tmp_path / "with-overrides.toml"
    config.write_text(f'[templates]\ndir = "{tmp_path / "mine"}"\n')
    assert cli("templates", "check").exit_code == 0
    result = cli("--config", str(config), "templates", "check")
    assert result.exit_code == 2
    assert "delay_notice/en/body.txt.j2:3" in result.stderr
    assert "no_such_thing" in result.stderr


def test_templates_preview_prints_a_swedish_rendering(cli: Cli) -> None:
    result = cli("templates", "preview", "delay_notice", "--locale", "sv")
    assert result.exit_code == 0 and "Hej" in result.stdout
    assert cli("templates", "preview", "nonsense").exit_code == 2


def test_an_at_risk_note_reaches_the_approver_and_stays_out_of_the_letter(
    ledger: Ledger,
) -> None:
    agency_with(ledger, "en")
    past_promises(ledger, late=4, on_time=1)
    promise_id = q3_report(ledger)
    tick(ledger, at("2026-11-16T09:05-05:00"))
    with Session(ledger.engine) as session:
        [draft] = session.exec(select(Notice).where(Notice.kind == "delay_notice")).all()
    assert "ad account" not in draft.text
    ledger.check_in(promise_id, status="at_risk", note="The ad account data is late.",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")
    with Session(ledger.engine) as session:
        refreshed = session.get(Notice, draft.id)
    assert refreshed is not None and "The ad account data is late." not in refreshed.text
    assert refreshed.approver_note == (
        "No reason for the client yet: the letter says only what is late and the new date. "
        "Add a sentence the client may read before sending. The owner's latest check-in note "
        "(for the team, not the client): The ad account data is late.")


def test_what_the_client_may_be_told_becomes_the_letters_reason_and_the_note_stays_inside(
    ledger: Ledger,
) -> None:
    agency_with(ledger, "en")
    past_promises(ledger, late=4, on_time=1)
    promise_id = q3_report(ledger)
    tick(ledger, at("2026-11-16T09:05-05:00"))
    ledger.check_in(promise_id, status="at_risk", note="Acme's agency is sitting on the data.",
                    client_reason="The campaign figures we need arrived later than planned.",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")
    with Session(ledger.engine) as session:
        [draft] = session.exec(select(Notice).where(Notice.kind == "delay_notice")).all()
    assert "campaign figures we need arrived later than planned" in draft.text
    assert "sitting on the data" not in draft.text and "sitting on the data" not in draft.subject
    assert draft.approver_note == ("The owner's latest check-in note (for the team, not the "
                                   "client): Acme's agency is sitting on the data.")


def test_a_draft_a_person_edited_keeps_their_words(ledger: Ledger, tmp_path: Path) -> None:
    agency_with(ledger, "en")
    past_promises(ledger, late=4, on_time=1)
    promise_id = q3_report(ledger)
    tick(ledger, at("2026-11-16T09:05-05:00"))
    with ledger.transaction() as session:
        [draft] = session.exec(select(Notice).where(Notice.kind == "delay_notice")).all()
        notices.edit(session, ledger.settings, draft.id or 0, text="Dana, my own words.",
                     now=at("2026-11-16T10:00-05:00"), actor="alice@example.com")
    ledger.check_in(promise_id, status="blocked", note="Blocked on data.",
                    now=at("2026-11-17T09:40-05:00"), actor="alice@example.com")
    with Session(ledger.engine) as session:
        kept = session.get(Notice, draft.id)
    assert kept is not None and kept.text == "Dana, my own words."


def test_a_client_who_opted_in_gets_a_confirmation_draft_for_each_promise(
    ledger: Ledger,
) -> None:
    ledger.add_client(name="Careful Co", email="ops@careful.example", confirm_promises=True,
                      timezone="Europe/Stockholm", country="SE", locale="sv", now=START,
                      actor="t")
    ledger.add_member(email="alice@example.com", name="Alice", now=START, actor="t")
    view = ledger.add_promise(title="Kvartalsrapport", client_name="Careful Co",
                              owner_email="alice@example.com",
                              due_at=at("2026-11-20T17:00+01:00"), now=at(
                                  "2026-11-16T09:00+01:00"), actor="alice@example.com")
    with Session(ledger.engine) as session:
        [confirmation] = session.exec(select(Notice).where(
            Notice.kind == "promise_confirmation")).all()
    assert confirmation.promise_id == view.promise.id and confirmation.status == "draft"
    assert "fredag 20 november" in confirmation.text


def test_acknowledging_a_request_promises_a_reply_and_drafts_the_receipt(drafted: Cli) -> None:
    result = drafted("promise", "acknowledge", "Pricing for the 2027 retainer", "--client",
                     "Acme", "--owner", "alice@example.com", "--reply-by", "tomorrow",
                     "--json", as_of="2026-11-18T11:00-05:00")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["title"] == "Reply: Pricing for the 2027 retainer"
    assert record["due_at"] == "2026-11-19T17:00:00-05:00"
    receipt = json.loads(drafted("drafts", "show", str(record["draft_id"]), "--json").stdout)
    assert receipt["kind"] == "request_acknowledgement" and receipt["status"] == "draft"
    assert "Pricing for the 2027 retainer" in receipt["text"]


@pytest.mark.parametrize(
    ("flags", "says", "never"),
    [((), "We are working on correcting the error now", "We have corrected"),
     (("--fixed",), "We have corrected the error.", "working on correcting")],
)
def test_a_mistake_note_says_corrected_only_when_the_owner_said_so(
    cli: Cli, ledger: Ledger, flags: tuple[str, ...], says: str, never: str
) -> None:
    agency_with(ledger, "en")
    logged = cli("mistake", "add", "--client", "Acme", "--owner", "alice@example.com",
                 "--summary", "The deck used last year's logo.",
                 "--prevention", "A brand checklist runs before anything is sent.",
                 "--credit", "200", "USD", "--credit-method", "refund",
                 "--credit-basis", "goodwill", *flags, "--json")
    assert logged.exit_code == 0, logged.stderr
    record = json.loads(logged.stdout)
    with Session(ledger.engine) as session:
        draft = session.get(Notice, record["draft_id"])

    assert draft is not None and says in draft.text and never not in draft.text
    assert "by way of apology, we'll refund you $200.00." in draft.text
    assert draft.text.startswith("Hi Dana,")
    assert record["credit"] == "$200.00"


def test_when_the_client_holds_the_work_up_the_untouched_draft_asks_them_for_it(
    ledger: Ledger,
) -> None:
    agency_with(ledger, "en")
    past_promises(ledger, late=4, on_time=1)
    promise_id = q3_report(ledger)
    tick(ledger, at("2026-11-16T09:05-05:00"))
    ledger.check_in(promise_id, status="blocked", note="Dana's team still hasn't sent it.",
                    waiting_for="the ad account export", now=at("2026-11-17T09:40-05:00"),
                    actor="alice@example.com")
    with Session(ledger.engine) as session:
        [draft] = session.exec(select(Notice).where(Notice.kind == "delay_notice")).all()

    assert "we still need the ad account export from you" in draft.text
    assert "The new date depends on it" in draft.text
    assert "hasn't sent it" not in draft.text and "hasn't sent it" in (draft.approver_note or "")
