"""What an owner approves and a client reads: rendered messages in three languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reliability.drafting.contexts import CHECKIN_STATUSES, CONTEXTS, KINDS, LOCALES
from reliability.drafting.rendering import (
    BUILTIN_DIR,
    SLACK_SECTION_LIMIT,
    TemplateError,
    check,
    choose_locale,
    render,
    template_files,
)
from reliability.drafting.samples import sample_context

HOSTILE = 'He said "ship it"\n<script>alert(1)</script> & co'


def write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def delay_notice(locale: str = "en", **changes: Any) -> dict[str, Any]:
    return {**sample_context("delay_notice", locale), **changes}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_locale_with_all_four_parts(kind: str, locale: str) -> None:
    message = render(kind, locale, sample_context(kind, locale))

    assert message.subject and "\n" not in message.subject
    assert message.text.strip()
    assert message.html.startswith("<!DOCTYPE html>")
    assert message.blocks and all("type" in block for block in message.blocks)


def test_a_message_for_email_has_no_slack_blocks_and_one_for_slack_no_html() -> None:
    email = render("delay_notice", "en", delay_notice(), channel="email")
    slack = render("delay_notice", "en", delay_notice(), channel="slack")

    assert email.html is not None and email.html.startswith("<!DOCTYPE html>")
    assert email.blocks is None
    assert slack.blocks and slack.html is None
    assert (email.subject, email.text) == (slack.subject, slack.text)


def test_a_broken_slack_layout_does_not_stop_an_email(tmp_path: Path) -> None:
    write(tmp_path, "delay_notice/en/blocks.json.j2", "[{{ promise.title }]")

    assert render("delay_notice", "en", delay_notice(), overrides=tmp_path, channel="email").html
    with pytest.raises(TemplateError, match=r"blocks\.json\.j2"):
        render("delay_notice", "en", delay_notice(), overrides=tmp_path, channel="slack")


def test_built_in_templates_pass_the_check_including_optional_branches() -> None:
    assert check() == []


@pytest.mark.parametrize("kind", KINDS)
def test_sample_context_fills_exactly_the_documented_context(kind: str) -> None:
    for locale in LOCALES:
        assert set(sample_context(kind, locale)) == CONTEXTS[kind].__required_keys__


def test_delay_notice_names_promise_original_date_reason_and_new_date() -> None:
    message = render("delay_notice", "en", sample_context("delay_notice", "en"))

    assert "“Q3 performance report” won't be ready" in message.text
    assert "Friday, November 20" in message.text
    assert "by 5:00 PM on Tuesday, November 24," in message.text
    assert "two days late" in message.text
    assert "one-page summary" in message.text
    assert message.subject == (
        "New delivery date for “Q3 performance report”: Tuesday, November 24"
    )


def test_delay_notice_without_interim_leaves_the_interim_sentence_out() -> None:
    message = render("delay_notice", "en", delay_notice(interim=None))

    assert "one-page" not in message.text + message.html + json.dumps(message.blocks)


@pytest.mark.parametrize(
    ("locale", "friday"),
    [("en", "Friday, November 20"), ("sv", "fredag 20 november"), ("zh", "11月20日（周五）")],
)
def test_friday_20_november_2026_reads_in_the_clients_language(locale: str, friday: str) -> None:
    message = render("delay_notice", locale, sample_context("delay_notice", locale))

    assert friday in message.text
    assert friday in message.html
    assert friday in json.dumps(message.blocks, ensure_ascii=False)


def test_dates_are_shown_in_the_recipients_timezone() -> None:
    late_evening_utc = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    context = delay_notice("zh", timezone="Asia/Shanghai", new_due_at=late_evening_utc)

    message = render("delay_notice", "zh", context)

    assert "11月21日（周六）07:30" in message.text
    assert "北京时间" not in message.text and "中国标准时间" not in message.text


def test_a_date_in_another_year_than_today_shows_the_year() -> None:
    january = datetime(2027, 1, 8, 17, tzinfo=UTC)

    message = render("delay_notice", "sv", delay_notice("sv", new_due_at=january))

    assert "fredag 8 januari 2027" in message.text


def test_missing_variable_fails_naming_the_file_and_line() -> None:
    context = delay_notice()
    del context["reason"]

    with pytest.raises(TemplateError) as caught:
        render("delay_notice", "en", context)

    assert caught.value.path.endswith("_letters/delay_notice/en.j2")
    assert caught.value.line == 3
    assert "_letters/delay_notice/en.j2:3" in str(caught.value)
    assert "reason" in str(caught.value)


def test_printing_an_absent_optional_value_fails_instead_of_writing_none(tmp_path: Path) -> None:
    write(tmp_path, "delay_notice/en/body.txt.j2", "Meanwhile: {{ interim }}\n")

    with pytest.raises(TemplateError, match="None"):
        render("delay_notice", "en", delay_notice(interim=None), overrides=tmp_path)


def test_html_escapes_user_text_while_text_and_subject_keep_it_verbatim() -> None:
    context = delay_notice(reason=HOSTILE)
    context["promise"] = {**context["promise"], "title": "<script>x</script> R&D"}

    message = render("delay_notice", "en", context)

    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in message.html
    assert " ".join(HOSTILE.split()) + "." in message.text
    assert message.subject.startswith("New delivery date for “<script>x</script> R&D”:")


def test_slack_blocks_escape_user_text_and_stay_valid_json() -> None:
    message = render("delay_notice", "en", delay_notice(reason=HOSTILE))

    reason_block = message.blocks[2]["text"]["text"]
    assert reason_block == ('He said "ship it" &lt;script&gt;alert(1)&lt;/script&gt; &amp; co.')


def test_plain_slack_fields_are_not_mrkdwn_escaped() -> None:
    context = sample_context("escalation", "en")
    context["risk"] = {**context["risk"], "draft_url": "https://app.example/d?id=7&tab=1"}

    message = render("escalation", "en", context)

    buttons = message.blocks[-1]["elements"]
    assert buttons[0]["url"] == "https://app.example/d?id=7&tab=1"


def test_subject_stays_on_one_line_when_user_text_has_line_breaks() -> None:
    context = delay_notice()
    context["promise"] = {**context["promise"], "title": "Q3\r\nreport"}

    assert render("delay_notice", "en", context).subject.startswith(
        "New delivery date for “Q3 report”:"
    )


@pytest.mark.parametrize(
    ("locale", "credit_line"),
    [("en", "$1,250.00"), ("sv", "1\xa0250\xa0kr"), ("zh", "¥1,250.00")],
)
def test_credit_line_appears_only_when_a_credit_was_approved(locale: str, credit_line: str) -> None:
    context = sample_context("mistake_remediation", locale)
    currency = {"en": "USD", "sv": "SEK", "zh": "CNY"}[locale]
    with_credit = {**context, "credit": {"amount": Decimal("1250"), "currency": currency,
                                         "method": None, "basis": None}}

    credited = render("mistake_remediation", locale, with_credit)
    uncredited = render("mistake_remediation", locale, {**context, "credit": None})

    assert credit_line in credited.text and credit_line in credited.html
    assert credit_line in json.dumps(credited.blocks, ensure_ascii=False)
    assert credit_line not in uncredited.text + uncredited.html
    assert currency not in uncredited.text


def test_mistake_not_yet_fixed_says_when_it_will_be() -> None:
    context = sample_context("mistake_remediation", "en")
    context["mistake"] = {
        **context["mistake"],
        "fixed": False,
        "fix_due_at": datetime(2026, 11, 20, 17, tzinfo=UTC),
    }

    text = render("mistake_remediation", "en", context).text

    assert "put right by noon on Friday, November 20." in text
    assert "have corrected" not in text


def test_checkin_request_offers_one_button_per_status_for_the_promise() -> None:
    message = render("checkin_request", "sv", sample_context("checkin_request", "sv"))

    actions = next(block for block in message.blocks if block["type"] == "actions")
    assert [button["action_id"] for button in actions["elements"]] == [
        f"checkin_{status}" for status in CHECKIN_STATUSES
    ]
    assert {button["value"] for button in actions["elements"]} == {"42"}
    assert "Enligt plan" in json.dumps(actions, ensure_ascii=False)


def test_escalation_for_a_repeated_mistake_says_how_often_it_happened() -> None:
    context = {**sample_context("escalation", "en"), "risk": None}
    context["mistake"] = {
        "summary": "Wrong currency on the invoice.",
        "client_name": "Acme Logistics",
        "owner_name": "Priya Raman",
        "occurrences": 3,
        "first_at": datetime(2026, 6, 2, 11, tzinfo=UTC),
        "url": "https://app.example/mistakes/12",
    }

    message = render("escalation", "en", context)

    assert message.subject == "Repeated mistake for Acme Logistics (3 times)"
    assert "3 times" in message.text and "Wrong currency on the invoice." in message.text


def test_escalation_gives_p_late_reasons_and_the_notice_deadline() -> None:
    text = render("escalation", "en", sample_context("escalation", "en")).text

    assert "72%" in text
    assert "- Priya Raman reported it at risk yesterday\n" in text
    assert "waiting for approval" in text
    assert "by 5:00 PM ET on Wednesday, November 18" in text


def test_digest_lists_sections_in_decision_first_order() -> None:
    text = render("digest", "en", sample_context("digest", "en")).text

    headings = [
        "NEEDS A DECISION TODAY",
        "AT RISK AND OVERDUE",
        "DUE IN THE NEXT 5 BUSINESS DAYS",
        "CHECK-INS WITHOUT AN ANSWER",
        "MISTAKES THIS WEEK",
        "RELIABILITY THIS MONTH",
    ]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert "[REPEAT]" in text
    assert "Delivered on time: 91% (85%)" in text


def test_digest_omits_empty_sections() -> None:
    context = sample_context("digest", "en")
    context["decisions"] = {"drafts": [], "escalations": [], "dead_deliveries": []}
    context["mistakes"] = []

    message = render("digest", "en", context)

    assert "NEEDS A DECISION" not in message.text
    assert "MISTAKES THIS WEEK" not in message.text
    assert "AT RISK AND OVERDUE" in message.text
    assert "decision" not in message.subject
    assert "Needs a decision" not in json.dumps(message.blocks)


def test_quiet_day_digest_is_a_one_line_all_clear() -> None:
    context = {**sample_context("digest", "zh"), "all_clear": True}

    message = render("digest", "zh", context)

    body = message.text.splitlines()
    assert body[2].startswith("今天一切正常")
    assert "【" not in message.text
    assert message.subject.endswith("一切正常")


def test_a_subject_folds_its_line_breaks_but_keeps_a_no_break_space(tmp_path: Path) -> None:
    """Swedish writes 8 153 with a no-break space, which holds the number on one line."""
    write(tmp_path, "digest/sv/subject.txt.j2",
          "Daglig\n  sammanställning: {{ 8153|number }} beslut")

    message = render("digest", "sv", sample_context("digest", "sv"), overrides=tmp_path)

    assert message.subject == "Daglig sammanställning: 8\u00a0153 beslut"


def test_override_folder_wins_and_missing_parts_fall_back_to_built_ins(tmp_path: Path) -> None:
    subject = write(tmp_path, "delay_notice/en/subject.txt.j2", "Heads-up: {{ promise.title }}")

    message = render("delay_notice", "en", delay_notice(), overrides=tmp_path)
    files = template_files("delay_notice", "en", tmp_path)

    assert message.subject == "Heads-up: Q3 performance report"
    assert "I'm writing ahead of Friday, November 20" in message.text
    assert files["subject"] == subject.resolve()
    assert files["text"] == BUILTIN_DIR / "delay_notice/en/body.txt.j2"


def test_overrides_are_sandboxed(tmp_path: Path) -> None:
    path = write(tmp_path, "delay_notice/en/body.txt.j2", "Hi\n{{ ''.__class__.__mro__ }}\n")

    with pytest.raises(TemplateError) as caught:
        render("delay_notice", "en", delay_notice(), overrides=tmp_path)

    assert caught.value.path == str(path.resolve())
    assert caught.value.line == 2
    assert "unsafe" in str(caught.value)


def test_syntax_error_in_an_override_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "digest/sv/body.txt.j2", "Hej\n\n{% if all_clear %}\nAllt lugnt\n")

    problems = check(tmp_path)

    assert len(problems) == 1
    assert problems[0].path.endswith("digest/sv/body.txt.j2")
    assert "syntax error" in str(problems[0])


def test_blocks_that_are_not_json_fail_naming_the_blocks_file(tmp_path: Path) -> None:
    write(tmp_path, "delay_notice/en/blocks.json.j2", '[{"type": "section", }]')

    with pytest.raises(TemplateError) as caught:
        render("delay_notice", "en", delay_notice(), overrides=tmp_path)

    assert caught.value.path.endswith("delay_notice/en/blocks.json.j2")
    assert "not valid JSON" in str(caught.value)


def test_check_reports_override_files_the_product_never_renders(tmp_path: Path) -> None:
    write(tmp_path, "delay_notise/en/subject.txt.j2", "typo in the kind")
    write(tmp_path, "_shared/footer.txt.j2", "shared snippets are fine")

    problems = check(tmp_path)

    assert [Path(problem.path).parts[-3] for problem in problems] == ["delay_notise"]


def test_an_overlong_slack_section_goes_on_in_the_next_sections_keeping_every_line() -> None:
    """Ten at-risk promises with their reasons pass Slack's 3,000 characters; cutting the
    section would drop the last items and the line that says how many more."""
    context = sample_context("digest", "en")
    many = [context["due_soon"][0]] * 60
    more = {**context["more"], "due_soon": {"count": 7, "url": "https://r.example/promises"}}

    message = render("digest", "en", {**context, "due_soon": many, "more": more})

    texts = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert all(len(text) <= SLACK_SECTION_LIMIT for text in texts)
    assert not any(text.endswith("…") for text in texts)
    start = next(i for i, text in enumerate(texts) if text.startswith(":calendar:"))
    end = next(i for i, text in enumerate(texts) if i > start and not text.startswith("• "))
    due = texts[start:end]
    assert len(due) > 1
    assert sum(text.count("\n• ") + text.startswith("• ") for text in due) == 61
    assert due[-1].endswith("\n• <https://r.example/promises|and 7 more>")


def test_a_slack_message_past_50_blocks_has_its_long_sections_trimmed_instead() -> None:
    context = sample_context("digest", "en")
    many = [context["due_soon"][0]] * 1500

    message = render("digest", "en", {**context, "due_soon": many})

    assert len(message.blocks) <= 50
    texts = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert all(len(text) <= SLACK_SECTION_LIMIT for text in texts)
    assert any(text.endswith("\n…") for text in texts)


@pytest.mark.parametrize(("locale", "one", "many", "subject"), [
    ("en", ["and 1 more draft to approve", "and 1 more alert sent to you since the last digest",
            "and 1 more message that could not be delivered", "and 1 more"],
     ["and 8,153 more drafts to approve", "and 8,153 more alerts sent to you since the last "
      "digest", "and 8,153 more messages that could not be delivered", "and 8,153 more"],
     "24,462 decisions today"),
    ("sv", ["och 1 till att godkänna", "och ytterligare 1 varning till dig sedan förra "
            "sammanställningen", "och 1 meddelande till som inte kunde levereras", "och 1 till"],
     ["och 8\u00a0153 till att godkänna", "och ytterligare 8\u00a0153 varningar till dig sedan "
      "förra sammanställningen", "och 8\u00a0153 meddelanden till som inte kunde levereras",
      "och 8\u00a0153 till"],
     "24\u00a0462 beslut i dag"),
    ("zh", ["还有1份草稿待批准", "上次简报后还向您发送了1条提醒", "还有1条消息未能送达",
            "还有1项"],
     ["还有8,153份草稿待批准", "上次简报后还向您发送了8,153条提醒", "还有8,153条消息未能送达",
      "还有8,153项"],
     "今天有24,462项需要您决定"),
])
def test_a_busy_digest_says_how_many_more_in_the_readers_words_and_numbers(
    locale: str, one: list[str], many: list[str], subject: str,
) -> None:
    """The three kinds that need a decision share one list, so each "more" line says what it
    counts; every part says the same, with the locale's plural and thousands separator."""
    context = sample_context("digest", locale)

    for count, lines in ((1, one), (8153, many)):
        more = {section: {"count": count, "url": "https://r.example/all"}
                for section in context["more"]}
        message = render("digest", locale, {**context, "more": more})
        parts = [message.text, message.html or "", json.dumps(message.blocks, ensure_ascii=False)]
        for line in lines:
            assert all(line in part for part in parts)
        if locale != "en":
            assert not any(" more" in part for part in parts)
    assert message.subject.endswith(subject)


@pytest.mark.parametrize(("locale", "one_day", "none"), [
    ("en", "ahead of the due date: *1* business day (1.5)", "ahead of the due date: *–* (1.5)"),
    ("sv", "Besked i förväg, median: *1* arbetsdag (1,5)", "Besked i förväg, median: *–* (1,5)"),
    ("zh", "（中位数）：*1*个工作日（1.5）", "（中位数）：*–*（1.5）"),
])
def test_the_slack_digest_says_one_business_day_and_no_unit_without_a_median(
    locale: str, one_day: str, none: str,
) -> None:
    context = sample_context("digest", locale)
    month = context["reliability"]["this_month"]

    for median, said in ((1, one_day), (None, none)):
        reliability = {**context["reliability"],
                       "this_month": {**month, "median_notice_lead_days": median}}
        message = render("digest", locale, {**context, "reliability": reliability})
        assert said in json.dumps(message.blocks, ensure_ascii=False)


def test_unknown_kind_or_locale_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="delay_notice"):
        render("delay", "en", delay_notice())
    with pytest.raises(ValueError, match="sv"):
        render("delay_notice", "de", delay_notice())


def test_unknown_timezone_in_the_context_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="unknown timezone"):
        render("delay_notice", "en", delay_notice(timezone="Mars/Olympus"))


@pytest.mark.parametrize(
    ("tag", "locale"),
    [("sv-SE", "sv"), ("zh_Hans_CN", "zh"), ("en-GB", "en"), ("de-DE", "en"), (None, "en")],
)
def test_client_language_tags_map_to_a_locale_we_write_in(tag: str | None, locale: str) -> None:
    assert choose_locale(tag) == locale
