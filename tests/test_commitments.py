"""Promises made in passing: which sentences become suggestions, with what owner and due date."""

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from commitment_corpus import LANGUAGES, PARTS, load, read

from reliability.calendar import BusinessCalendar
from reliability.commitments import Finding, Person, detect, sentences

NEW_YORK = BusinessCalendar(timezone="America/New_York", country="US")
STOCKHOLM = BusinessCalendar(timezone="Europe/Stockholm", country="SE")
SHANGHAI = BusinessCalendar(timezone="Asia/Shanghai", country="CN")
TEAM = (Person("alice@example.com", "Alice Moss", "U123"), Person("erik@example.com", "Erik"),
        Person("liwei@example.com", "李伟"))  # fmt: skip


def monday(calendar: BusinessCalendar) -> datetime:
    return datetime(2026, 11, 16, 9, 0, tzinfo=ZoneInfo(calendar.timezone))


def found(text: str, calendar: BusinessCalendar = NEW_YORK, *, member: bool = True,
          client_names: tuple[str, ...] = ()) -> list[Finding]:
    return detect(text, author="bob@example.com" if member else "dana@acme.example",
                  author_is_member=member, client="Acme", now=monday(calendar),
                  calendar=calendar, members=TEAM, client_names=client_names)  # fmt: skip


def friday_5pm(calendar: BusinessCalendar) -> datetime:
    return datetime(2026, 11, 20, 17, 0, tzinfo=ZoneInfo(calendar.timezone))


def test_a_member_promising_a_deliverable_by_a_deadline_is_a_commitment() -> None:
    [finding] = found("Thanks Dana! I'll send the revised deck by Friday.")
    assert finding.to_json() == {
        "kind": "commitment", "sentence": "I'll send the revised deck by Friday.",
        "title": "Send the revised deck", "owner": "bob@example.com", "client": "Acme",
        "due_at": "2026-11-20T17:00:00-05:00", "confidence": 0.9,
    }


def test_a_client_named_in_the_sentence_is_the_client_and_leaves_the_title() -> None:
    [finding] = found("We'll deliver the audit to Globex by Friday.", client_names=("Globex",))
    assert (finding.client, finding.title) == ("Globex", "Deliver the audit")


def test_swedish_present_tense_with_a_deadline_is_a_commitment_in_the_clients_calendar() -> None:
    [finding] = found("vi skickar rapporten senast fredag", STOCKHOLM)
    assert (finding.kind, finding.title, finding.due_at) == (
        "commitment", "Skickar rapporten", friday_5pm(STOCKHOLM))


def test_swedish_verb_second_order_is_a_commitment() -> None:
    [finding] = found("Senast fredag skickar vi den nya tidplanen.", STOCKHOLM)
    assert finding.due_at == friday_5pm(STOCKHOLM)


def test_a_chinese_commitment_is_titled_by_what_is_handed_over() -> None:
    [finding] = found("我们周五前把报告发给您。", SHANGHAI)
    assert (finding.kind, finding.title, finding.due_at) == (
        "commitment", "报告", friday_5pm(SHANGHAI))


@pytest.mark.parametrize(("text", "owner"), [
    ("Erik will send the invoice by Friday.", "erik@example.com"),
    ("Alice is going to share the test results by Friday.", "alice@example.com"),
    ("<@U123> will upload the photos by Friday.", "alice@example.com"),
    ("<@U123> can you send the deck by Friday?", "alice@example.com"),
    ("Erik skickar fakturan senast fredag.", "erik@example.com"),
    ("李伟周五前把发票发给您。", "liwei@example.com"),
])  # fmt: skip
def test_a_named_or_mentioned_member_owns_the_promise(text: str, owner: str) -> None:
    [finding] = found(text)
    assert (finding.kind, finding.owner) == ("commitment", owner)


@pytest.mark.parametrize("member", [True, False])
def test_a_mail_line_of_unclosed_mentions_is_read_in_linear_time(member: bool) -> None:
    """Whoever writes as a client is read by the inbox: 40 kB of `<@a|` took seconds to read
    (each scanned to the end of the line), and a 10 MB mail would hold the inbox for hours."""
    started = time.perf_counter()
    found("Could you send the report by Friday " + "<@a|" * 10_000 + "?", member=member)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("text", [
    "Should we send the deck by Friday?",  # a question
    "If we get the data by Tuesday, we'll send the report by Friday.",  # a condition
    "Once legal signs off, I'll send the contract by Friday.",
    "We sent the revised deck on Friday.",  # the past
    "Last week I promised to send the photos by Friday.",
    "We won't have the report ready by Friday.",  # a negation
    "We could probably send the draft by Friday.",  # a hedge
    "I'll try to send the photos by Friday.",
    "Acme will send us the logo files by Friday.",  # a third party
    "Dana said she'll share the brand book by Friday.",
    "I'll be out of office until Friday.",  # no deliverable
    "I'll send the deck soon.",  # no deadline
    "I will upload the raw footage by tomorrow evening.",  # a deadline the resolver refuses
    "Om vi får underlaget på tisdag skickar vi rapporten senast fredag.",
    "Vi hinner inte bli klara med rapporten till fredag.",
    "Vi skickade rapporten i fredags.",
    "如果周二能拿到数据，我们周五前把报告发给您。",
    "我们已经把报告发给您了。",
    "我尽量周五前把照片发给您。",
    "印刷厂周五前交付宣传册。",
])  # fmt: skip
def test_what_is_not_a_commitment_is_never_suggested(text: str) -> None:
    assert found(text, STOCKHOLM if "vi " in text.lower() else NEW_YORK) == []


def test_an_email_is_read_down_to_the_message_it_answers() -> None:
    reply = ("Hi Dana, I'll send the contract by Friday.\n\n-----Original Message-----\n"
             "From: Erik\nWe'll send the invoice by Friday.")
    assert [f.title for f in found(reply)] == ["Send the contract"]


def test_two_promises_joined_in_one_sentence_are_two_commitments() -> None:
    both = found("As discussed, I'll send the deck by Thursday and Erik will share the budget "
                 "by Friday.")
    assert [(f.title, f.owner, f.due_at.day if f.due_at else None) for f in both] == [
        ("Send the deck", "bob@example.com", 19), ("Share the budget", "erik@example.com", 20)]


def test_a_condition_still_holds_when_the_sentence_has_several_clauses() -> None:
    text = "If the data arrives, we'll send the report by Friday and the deck by Monday."
    assert found(text) == []


def test_notes_that_name_the_owner_first_give_them_the_promise() -> None:
    [finding] = found("Erik: skickar offerten senast fredag", STOCKHOLM)
    assert (finding.owner, finding.title) == ("erik@example.com", "Skickar offerten")


def test_a_quoted_earlier_message_is_not_promised_again() -> None:
    text = ("On Mon, Dana wrote:\n> We'll send the brief by Friday.\n> I'll call you Friday.\n"
            "Thanks!")
    assert found(text) == []


def test_a_client_asking_for_something_by_a_deadline_is_a_request() -> None:
    [finding] = found("Could you send us the updated quote by Friday?", member=False)
    assert (finding.kind, finding.title, finding.owner, finding.due_at) == (
        "request", "Send us the updated quote", "dana@acme.example", friday_5pm(NEW_YORK))


def test_a_clients_question_awaits_an_answer_without_a_due_date() -> None:
    [finding] = found("新网站进展如何？", SHANGHAI, member=False)
    assert (finding.kind, finding.due_at) == ("request", None)


@pytest.mark.parametrize("text", [
    "We'll send you the brief by Friday.", "Vi skickar briefen till er senast fredag.",
    "我们周五前把需求文档发给你们。",
])  # fmt: skip
def test_a_clients_own_promise_is_neither_a_commitment_nor_a_request(text: str) -> None:
    assert found(text, member=False) == []


def test_meeting_notes_are_read_line_by_line_and_sentence_by_sentence() -> None:
    notes = ("Weekly sync, Acme\n- Action: Erik to send the media plan by Friday. Budget is fine.\n"
             "* Alice will share the test results by Friday")  # fmt: skip
    assert sentences(notes) == ["Weekly sync, Acme", "Erik to send the media plan by Friday.",
                                "Budget is fine.", "Alice will share the test results by Friday"]
    assert [f.owner for f in found(notes)] == ["erik@example.com", "alice@example.com"]


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_labelled_corpus_meets_the_precision_and_recall_targets(language: str,
                                                                    part: str) -> None:
    cases = load(language, part)
    guesses = [(case.kind == "commitment",
                any(f.kind == "commitment" for f in detect(case.text, **read(case))))
               for case in cases]  # fmt: skip
    right = sum(truth and guess for truth, guess in guesses)
    assert right / sum(guess for _t, guess in guesses) >= 0.9
    assert right / sum(truth for truth, _g in guesses) >= 0.8
