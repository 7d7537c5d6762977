"""What a client reads: every letter, in every language, with the inputs people really type.

Native readers could see where a form's blanks had been filled in. These tests render each
client letter with ordinary and hostile inputs and check what a careful writer would."""

from __future__ import annotations

import html as html_module
import itertools
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reliability import compose
from reliability.calendar import zone
from reliability.config import Settings
from reliability.drafting import samples
from reliability.drafting.contexts import LOCALES
from reliability.drafting.reasons import reason_texts
from reliability.drafting.rendering import money_text, quote_title, render, zone_label
from reliability.drafting.samples import sample_context
from reliability.models import Client, Member, Mistake
from reliability.phrases import say

CLIENT_KINDS = ("delay_notice", "mistake_remediation", "promise_confirmation",
                "request_acknowledgement")
COMPANY = "Acme Logistics AB"
TEAM = "Northwind Analytics"
TITLES = [
    "Q3 report",
    "X",
    "Kvartalsrapporten",
    "第三季度业绩报告",
    'The "big" review (v2) [draft].',
    '"Q3" report',
    "“Q3 report",
    "《三季度报告》",
    "《三季度报告",
    "The Smiths' '90s retrospective",
    "Comprehensive analysis of warehouse throughput, returns handling and carrier "
    "performance across all twelve regional depots for the 2026 planning cycle",
]
# Reasons for the client in every shape owners type them: none, a bare word, a state, an
# activity, a clause without its stop, a sentence.
REASONS = {
    "en": [None, "Illness", "sick", "waiting for legal", "Waiting for legal.",
           "we underestimated it",
           "The data export we depend on arrived two days late, and it needs checking first."],
    "sv": [None, "sjukdom", "sjuk", "väntar på juristerna", "vi underskattade det",
           "Exporten kom två dagar sent."],
    "zh": [None, "生病", "等待法务审核", "我们低估了工作量", "仓储数据晚到了两天。"],
}
# A reason set in a frame it does not fit: "due to sick", "beror på vi", "由于我们".
MISFIT = {"en": re.compile(r"due to (sick|ill\b|we\b|waiting|[A-Z][a-z])"),
          "sv": re.compile(r"beror på (sjuk\b|vi\b|väntar|[A-ZÅÄÖ][a-zåäö])"),
          "zh": re.compile(r"由于我们|由于.*。。")}
# Quote marks a title may bring and none of which may reach a letter unconverted.
STRAY_MARKS = re.compile(r'["「」«»]|[“”]《[^》]*》[”“]')
# Credits in a currency other than the client's own: each must read as Babel's locale has it.
CREDITS = {"en": ("EUR", "€200.00"), "sv": ("USD", "200\xa0USD"), "zh": ("USD", "US$200.00")}
# Times a deadline may fall on: the end of a day must never read as a clock time.
DUE_TIMES = [(17, 0), (12, 0), (0, 0), (23, 59)]
MIDNIGHT_CLOCK = re.compile(r"12:00 AM|11:59 PM|kl\. 00\.00|kl\. 23\.59|）00:00|）23:59")
# English sentences give a deadline's time first: "by 5:00 PM on Tuesday, November 24".
STACKED = re.compile(r"\d, (\d{1,2}:\d{2} [AP]M|noon|end of day)")
WEEKDAY_DATE = {
    "en": r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
          r"(January|February|March|April|May|June|July|August|September|October|November|"
          r"December) \d{1,2}",
    "sv": r"(måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag) \d{1,2} "
          r"(januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|"
          r"december)",
    "zh": r"\d{1,2}月\d{1,2}日（周[一二三四五六日]）",
}
DOUBLED = re.compile(r"(?<!\.)[.,;:。，；：！？][”\"’)]?\s*[.,;:。，；：](?!\.)")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|[+-]\d{2}:\d{2}\b")
ZONE_WORDS = ("ET", "Eastern", "svensk tid", "normaltid", "北京时间", "中国标准时间")


def _year_end(context: dict[str, Any], locale: str) -> dict[str, Any]:
    tz = zone(context["timezone"])
    shifted = {**context, "now": datetime(2026, 12, 30, 10, tzinfo=tz)}
    for key in ("new_due_at", "reply_by"):
        if key in shifted:
            shifted[key] = datetime(2027, 1, 5, 17, tzinfo=tz)
    if "mistake" in shifted:
        shifted["mistake"] = {**shifted["mistake"], "fixed": False,
                              "fix_due_at": datetime(2027, 1, 5, 17, tzinfo=tz)}
    if "promise" in shifted:
        shifted["promise"] = {**shifted["promise"], "due_at": datetime(2026, 12, 31, 17, tzinfo=tz)}
    return shifted


def _variants(kind: str, locale: str) -> list[dict[str, Any]]:
    base = {**sample_context(kind, locale), "team_name": TEAM}
    variants = []
    tz = zone(base["timezone"])
    for (title, reason, contact), (hour, minute) in zip(
            itertools.product(TITLES, REASONS[locale], (None, "Dana")),
            itertools.cycle(DUE_TIMES), strict=False):
        context = {**base, "recipient_name": contact}
        due = datetime(2026, 11, 24, hour, minute, tzinfo=tz)
        if "promise" in context:
            context["promise"] = {**context["promise"], "title": title,
                                  "client_name": COMPANY}
        if kind == "delay_notice":
            context.update(reason=reason, new_due_at=due)
        if kind == "promise_confirmation":
            context["promise"]["due_at"] = due
        if kind == "mistake_remediation":
            context["mistake"] = {**context["mistake"], "about": title, "fixed": False,
                                  "fix_due_at": due}
            context["credit"] = {"amount": Decimal("200"), "currency": CREDITS[locale][0],
                                 "method": None, "basis": None} if reason else None
        if kind == "request_acknowledgement":
            context.update(request={**context["request"], "summary": title}, reply_by=due)
        variants.append(context)
    return [*variants, _year_end(variants[0], locale)]


def _title_words(title: str) -> str:
    """What of a title must survive quoting: everything but the marks around it."""
    return re.sub(r'["“”«»「」《》.]', "", title).split("(")[0].strip()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_every_client_letter_reads_as_written_by_hand_whatever_is_filled_in(
    kind: str, locale: str
) -> None:
    for context in _variants(kind, locale):
        message = render(kind, locale, context)
        lines = message.text.strip().splitlines()
        everything = "\n".join([message.subject, message.text])

        assert COMPANY not in lines[0], lines[0]
        assert lines[-1] == TEAM and lines[-2] == context["sender_name"]
        assert message.blocks is not None and TEAM in message.blocks[-1]["elements"][0]["text"]
        assert not ISO.search(everything), everything
        assert re.search(WEEKDAY_DATE[locale], message.text), message.text
        assert not DOUBLED.search(everything), DOUBLED.search(everything)
        assert not any(word in message.text for word in ZONE_WORDS), message.text
        assert "None" not in everything and "  " not in message.text
        # 1. a reason of any shape reads as a sentence a native writer would send
        assert not MISFIT[locale].search(message.text), MISFIT[locale].search(message.text)
        if context.get("reason"):
            assert ".。" not in message.text and "..." not in message.text
        # 2. a title keeps every mark it carries and gets exactly one pair of quotes
        for part in ("promise", "mistake", "request"):
            title = (context.get(part) or {}).get({"mistake": "about",
                                                   "request": "summary"}.get(part, "title"))
            if title and len(title) < 60:
                assert _title_words(title).replace('"', "")[:12] in re.sub(
                    r"[‘’“”]", "", everything), (title, everything)
        assert not STRAY_MARKS.search(everything), STRAY_MARKS.search(everything)
        title = str((context.get("promise") or context.get("mistake") or {}).get(
            "title", (context.get("mistake") or {}).get("about", "")))
        if "'" in title:
            assert "Smiths' '90s" in everything
        if title.startswith("《"):
            assert "《三季度报告》" in everything and "《三季度报告》》" not in everything
        # 3. deadlines: the time first in English, the end of a day never a clock time
        assert not MIDNIGHT_CLOCK.search(everything), MIDNIGHT_CLOCK.search(everything)
        assert not STACKED.search(everything), STACKED.search(everything)
        # 4. a credit in another currency, written as the client's locale writes it
        if context.get("credit"):
            assert CREDITS[locale][1] in message.text
            assert not re.search(r"\d\.\d [A-Z]{3}", message.text)


@pytest.mark.parametrize(
    ("locale", "year_end"),
    [("en", "Tuesday, January 5, 2027"), ("sv", "tisdag 5 januari 2027"),
     ("zh", "2027年1月5日（周二）")],
)
def test_a_new_date_across_the_year_end_names_the_year(locale: str, year_end: str) -> None:
    context = _year_end(sample_context("delay_notice", locale), locale)

    assert year_end in render("delay_notice", locale, context).text


@pytest.mark.parametrize(
    ("locale", "moment"),
    [("en", "5:00 PM on Tuesday, November 24"), ("sv", "tisdag 24 november kl. 17.00"),
     ("zh", "11月24日（周二）17:00")],
)
def test_a_time_in_the_readers_own_zone_carries_no_zone_label(locale: str, moment: str) -> None:
    text = render("delay_notice", locale, sample_context("delay_notice", locale)).text

    assert moment + ("," if locale == "en" else "。" if locale == "zh" else ".") in text


@pytest.mark.parametrize(
    ("locale", "reader_zone", "labelled"),
    [("en", "Europe/Stockholm", "5:00 PM ET on Thursday, November 19"),
     ("sv", "Asia/Shanghai", "torsdag 19 november kl. 17.00 svensk tid"),
     ("zh", "Europe/Stockholm", "11月19日（周四）17:00（北京时间）")],
)
def test_a_time_in_another_zone_is_named_the_way_the_locale_does(
    tmp_path: Any, locale: str, reader_zone: str, labelled: str
) -> None:
    own = {"en": "America/New_York", "sv": "Europe/Stockholm", "zh": "Asia/Shanghai"}[locale]
    (tmp_path / "delay_notice" / locale).mkdir(parents=True)
    (tmp_path / "delay_notice" / locale / "body.txt.j2").write_text(
        f'{{{{ new_due_at|datetime("{own}") }}}}\n', encoding="utf-8")
    context = {**sample_context("delay_notice", locale), "timezone": reader_zone,
               "new_due_at": datetime(2026, 11, 19, 17, tzinfo=zone(own))}

    assert render("delay_notice", locale, context, overrides=tmp_path).text.strip() == labelled


@pytest.mark.parametrize(
    ("locale", "opening"),
    [("en", "Hello,"), ("sv", "Hej,"), ("zh", "您好！")],
)
def test_a_letter_without_a_contact_opens_with_the_neutral_greeting(
    locale: str, opening: str
) -> None:
    client = Client(name=COMPANY, name_key="acme", email="ops@acme.example", locale=locale,
                    timezone="Europe/Stockholm")
    context = _delay_context(client)

    assert context["recipient_name"] is None
    assert render("delay_notice", locale, context).text.startswith(opening + "\n")


@pytest.mark.parametrize(
    ("locale", "contact", "greeting", "opening"),
    [("en", "Dana Reed", None, "Hi Dana,"), ("sv", "Karin Berg", None, "Hej Karin,"),
     ("en", "Dana Reed", "Dr Reed", "Hi Dr Reed,"), ("zh", "王伟", "王经理", "王经理，您好！")],
)
def test_a_contact_is_greeted_by_first_name_or_the_greeting_form_set_for_them(
    locale: str, contact: str, greeting: str | None, opening: str
) -> None:
    client = Client(name=COMPANY, name_key="acme", email="ops@acme.example", locale=locale,
                    timezone="Europe/Stockholm", contact_name=contact, greeting=greeting)

    assert render("delay_notice", locale, _delay_context(client)).text.startswith(opening)


def test_the_signature_names_the_team_or_a_placeholder_never_the_mail_servers_name() -> None:
    settings = Settings()
    settings.smtp.from_name = "Alice"
    client = Client(name=COMPANY, name_key="acme", email="ops@acme.example", locale="en",
                    timezone="Europe/Stockholm", contact_name="Dana Reed")

    unset = render("delay_notice", "en", _delay_context(client, settings)).text
    settings.team.name = TEAM
    named = render("delay_notice", "en", _delay_context(client, settings)).text

    assert unset.rstrip().endswith("Priya Raman\n[team name]")
    assert named.rstrip().endswith(f"Priya Raman\n{TEAM}")
    assert "Alice" not in unset + named


def test_without_a_reason_the_letter_states_what_is_known_not_a_vague_excuse() -> None:
    context = {**sample_context("delay_notice", "en"), "reason": None, "progress": 0.6}

    text = render("delay_notice", "en", context).text

    assert "About 60% of the work is done" in text
    assert "to be done properly" not in text


@pytest.mark.parametrize(
    ("locale", "reason", "said"),
    [("en", "Illness", "The delay is due to illness. About 60% of the work is done already."),
     ("en", "sick", "The delay is due to illness."),
     ("en", "Waiting for legal.", "We've been held up waiting for legal. About 60%"),
     ("en", "we underestimated the import", "\n\nWe underestimated the import.\n\n"),
     ("en", "the vendor shipped the wrong files", "\n\nThe vendor shipped the wrong files.\n"),
     ("en", "IT outage", "The delay is due to an IT outage."),
     ("en", "server outage", "The delay is due to a server outage."),
     ("en", "bug in the export", "The delay is due to a bug in the export."),
     ("en", "staffing problems", "The delay is due to staffing problems."),
     ("en", "awaiting approval", "We've been held up awaiting approval."),
     ("sv", "sjukdom i teamet", "Förseningen beror på sjukdom i teamet. Ungefär 60 %"),
     ("sv", "Sjuk", "Förseningen beror på sjukdom."),
     ("sv", "IT-haveri", "Förseningen beror på ett IT-haveri. Ungefär 60 %"),
     ("sv", "väntar på juristerna", "Vi väntar på juristerna. Ungefär 60 %"),
     ("sv", "vi underskattade importen", "\n\nVi underskattade importen.\n\n"),
     ("sv", "leverantören skickade fel filer", "\n\nLeverantören skickade fel filer.\n\n"),
     ("zh", "项目成员生病", "此次延期是因为项目成员生病。目前工作已完成约60%。"),
     ("zh", "生病", "此次延期是因为项目人员生病。"),
     ("zh", "等待法务审核。", "此次延期是因为我们仍在等待法务审核。"),
     ("zh", "还在等贵方确认素材", "此次延期是因为我们仍在等贵方确认素材。"),
     ("zh", "我们低估了工作量", "\n\n此次延期是因为我们低估了工作量。目前工作已完成约60%。"),
     ("zh", "数据晚到了两天，退货部分还需核实", "\n\n数据晚到了两天，退货部分还需核实。\n\n")],
)
def test_a_reason_of_any_shape_reads_as_a_native_writer_would_put_it(
    locale: str, reason: str, said: str
) -> None:
    context = {**sample_context("delay_notice", locale), "reason": reason}

    assert said.replace(" %", "\xa0%") in render("delay_notice", locale, context).text


@pytest.mark.parametrize(
    ("locale", "asks", "conditional"),
    [("en", "we still need the October returns figures from you", "depends on it"),
     ("sv", "behöver vi fortfarande oktobers returdata från er", "förutsätter att vi får det"),
     ("zh", "还需要贵方提供十月份的退货数据", "为前提")],
)
def test_when_the_client_holds_up_the_work_the_letter_asks_and_makes_the_date_depend_on_it(
    locale: str, asks: str, conditional: str
) -> None:
    waiting = {"en": "the October returns figures", "sv": "oktobers returdata",
               "zh": "十月份的退货数据"}[locale]
    context = {**sample_context("delay_notice", locale), "waiting_for": waiting}

    text = render("delay_notice", locale, context).text

    assert asks in text and conditional in text


@pytest.mark.parametrize(("waiting", "asks"), [
    ("ert godkännande av utkastet", "fortfarande ert godkännande av utkastet, helst"),
    ("filerna från er leverantör", "fortfarande filerna från er leverantör, helst"),
    ("oktobers returdata", "fortfarande oktobers returdata från er, helst"),
])
def test_a_swedish_letter_says_from_you_only_where_the_owner_did_not(
    waiting: str, asks: str
) -> None:
    context = {**sample_context("delay_notice", "sv"), "waiting_for": waiting}

    assert asks in render("delay_notice", "sv", context).text


@pytest.mark.parametrize(
    ("locale", "fixed", "says", "never"),
    [("en", None, "working on correcting the error", "have corrected"),
     ("sv", None, "arbetar med att rätta felet", "är nu rättat"),
     ("zh", None, "正在着手更正", "现已更正"),
     ("en", True, "We have corrected the error.", "working on")],
)
def test_a_mistake_is_called_corrected_only_when_someone_said_so(
    locale: str, fixed: bool | None, says: str, never: str
) -> None:
    context = sample_context("mistake_remediation", locale)
    context["mistake"] = {**context["mistake"], "fixed": fixed, "fix_due_at": None}

    text = render("mistake_remediation", locale, context).text

    assert says in text and never not in text


def test_compose_leaves_the_fix_unsaid_when_nobody_said_it_was_done() -> None:
    mistake = Mistake(client_id=1, owner_id=1, summary="Wrong logo.", prevention="Checklist.",
                      fixed=False)
    client = Client(name=COMPANY, name_key="acme", email="a@acme.example", locale="en",
                    timezone="Europe/Stockholm")
    owner = Member(name="Priya Raman", email="priya@example.com", timezone="Europe/Stockholm")

    context = compose.mistake_remediation(Settings(), mistake=mistake, client=client,
                                          owner=owner, fix_due_at=None,
                                          now=datetime(2026, 11, 18, tzinfo=zone("UTC")))

    assert context["mistake"]["fixed"] is None


@pytest.mark.parametrize(
    ("method", "basis", "says"),
    [("credit_note", "overcharge",
      "We'll issue a credit note for the $200.00 you were overcharged."),
     ("refund", "goodwill", "by way of apology, we'll refund you $200.00."),
     ("reissued_invoice", None, "We'll reissue the invoice with $200.00 taken off."),
     (None, None, "We're crediting you $200.00, and I'll confirm separately how it will reach")],
)
def test_a_credit_says_how_the_money_comes_back_and_what_it_is_for(
    method: str | None, basis: str | None, says: str
) -> None:
    context = {**sample_context("mistake_remediation", "en"),
               "credit": {"amount": Decimal("200"), "currency": "USD", "method": method,
                          "basis": basis}}

    assert says in render("mistake_remediation", "en", context).text


@pytest.mark.parametrize(
    ("locale", "amount"),
    [("en", "$200.00"), ("sv", "200\xa0USD"), ("zh", "US$200.00")],
)
def test_a_credit_reads_the_same_in_the_letter_and_on_the_web(locale: str, amount: str) -> None:
    assert money_text(200.0, "usd", locale) == amount
    assert money_text(Decimal("1250"), "SEK", "en") == "SEK\xa01,250.00"


@pytest.mark.parametrize(
    ("locale", "subject"),
    [("en", "Our mistake with “Q3 performance report”, and how we're putting it right"),
     ("sv", "Ett fel från vår sida i ”Kvartalsrapport Q3” och hur vi rättar det"),
     ("zh", "关于“第三季度业绩报告”中我方差错的说明及处理方案")],
)
def test_subjects_name_the_deliverable(locale: str, subject: str) -> None:
    message = render("mistake_remediation", locale, sample_context("mistake_remediation", locale))
    assert message.subject == subject
    request = render("request_acknowledgement", locale,
                     sample_context("request_acknowledgement", locale))
    summary = sample_context("request_acknowledgement", locale)["request"]["summary"]
    assert summary[:10] in request.subject


def test_chinese_letters_address_the_client_formally_and_close_for_business() -> None:
    for kind in CLIENT_KINDS:
        text = render(kind, "zh", sample_context(kind, "zh")).text

        assert "你" not in text, kind
        assert "顺祝商祺！" in text and "祝好" not in text


def test_swedish_letters_say_ni_to_the_client() -> None:
    for kind in CLIENT_KINDS:
        text = render(kind, "sv", sample_context(kind, "sv")).text

        assert not re.search(r"\b(du|dig|din|ditt|dina)\b", text), kind


# What a client set to du reads where a ni-client reads ni, er, ert or era.
DU_FORMS = {
    "delay_notice": ["ställer till problem för dig", "vad du behöver få först"],
    "mistake_remediation": ["får du gärna höra av dig direkt till mig"],
    "promise_confirmation": ["du får ”Kvartalsrapport Q3”", "hör du det från mig"],
    "request_acknowledgement": ["Tack för din förfrågan"],
}
NI_FORMS = re.compile(r"\b(ni|er|ert|era)\b", re.IGNORECASE)


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_swedish_letters_say_du_to_a_client_set_to_du_in_every_branch(kind: str) -> None:
    for context in samples.variants(kind, "sv"):
        # The sample's own texts (what the owner typed) say ni: the letter's words are tested.
        context = {**context, "address": "du", "reason": None, "interim": None}
        if kind == "mistake_remediation":
            context["mistake"] = {**context["mistake"],
                                  "summary": "Oktoberfakturan tog med timmar från fel projekt."}
        message = render(kind, "sv", context)

        assert not NI_FORMS.search(message.subject + message.text), NI_FORMS.search(
            message.subject + message.text)
    first = render(kind, "sv", {**samples.variants(kind, "sv")[0], "address": "du"})
    for form in DU_FORMS[kind]:
        assert form in first.text, (form, first.text)


def test_a_swedish_request_to_a_du_client_is_theirs_from_the_subject_on() -> None:
    context = {**sample_context("request_acknowledgement", "sv"), "address": "du"}

    assert render("request_acknowledgement", "sv", context).subject.startswith("Din förfrågan ”")


@pytest.mark.parametrize(("address", "waiting_for", "asked"), [
    ("du", "exporten", "behöver vi fortfarande exporten från dig,"),
    ("ni", "exporten", "behöver vi fortfarande exporten från er,"),
    ("du", "ditt godkännande", "behöver vi fortfarande ditt godkännande,"),
    ("du", "dina siffror för oktober", "behöver vi fortfarande dina siffror för oktober,"),
    ("du", "filerna från din leverantör", "fortfarande filerna från din leverantör,"),
])
def test_what_a_swedish_client_must_send_is_from_them_once_in_their_form(
        address: str, waiting_for: str, asked: str) -> None:
    context = {**sample_context("delay_notice", "sv"), "address": address,
               "waiting_for": waiting_for}

    assert asked in render("delay_notice", "sv", context).text


@pytest.mark.parametrize(("kind", "field"), [("promise_confirmation", "due_at"),
                                             ("request_acknowledgement", "reply_by")])
def test_a_chinese_deadline_at_the_end_of_a_day_is_never_read_as_the_day_before(
        kind: str, field: str) -> None:
    """"20日前" reads as "by the 19th": "前" only follows a clock time."""
    context = sample_context(kind, "zh")
    end_of_day = datetime(2026, 11, 21, 0, 0, tzinfo=zone(context["timezone"]))
    if field == "due_at":
        context["promise"] = {**context["promise"], "due_at": end_of_day}
    else:
        context["reply_by"] = end_of_day
    message = render(kind, "zh", context)

    for shown in (message.subject, message.text):
        assert "11月20日（周五）" in shown and "11月20日（周五）前" not in shown
    if kind == "promise_confirmation":
        timed = render(kind, "zh", sample_context(kind, "zh")).text
        assert "11月20日（周五）17:00前交付给贵方" in timed


@pytest.mark.parametrize(("locale", "late", "early"), [
    ("en", "and that you're only hearing about it now", "ahead of"),
    ("sv", "Vi är tyvärr inte klara med", "redan nu"),
    ("zh", "目前尚未完成，未能及早告知，敬请谅解", "提前告知"),
])
def test_a_delay_letter_drafted_on_or_after_the_due_day_never_claims_to_be_early(
        locale: str, late: str, early: str) -> None:
    sample = sample_context("delay_notice", locale)
    due = sample["promise"]["due_at"]
    for now in (due - timedelta(hours=2), due + timedelta(days=1)):
        text = render("delay_notice", locale, {**sample, "now": now}).text
        assert late in text and early not in text
    ahead = render("delay_notice", locale, {**sample, "now": due - timedelta(days=2)}).text
    assert early in ahead and late not in ahead


def test_an_english_delay_letter_drafted_late_apologises_once_and_says_today_on_the_day() -> None:
    sample = sample_context("delay_notice", "en")
    due = sample["promise"]["due_at"]

    on_the_day = render("delay_notice", "en", {**sample, "now": due - timedelta(hours=2)}).text
    after = render("delay_notice", "en", {**sample, "now": due + timedelta(days=1)}).text

    assert "due today, won't be ready in time" in on_the_day
    assert "due Friday, November 20, isn't ready yet" in after
    assert on_the_day.count("sorry") == after.count("sorry") == 1


def test_an_english_letter_names_a_deadline_on_the_readers_own_day_as_today() -> None:
    sample = sample_context("request_acknowledgement", "en")
    tonight = sample["now"].replace(hour=23, minute=59)

    message = render("request_acknowledgement", "en", {**sample, "reply_by": tonight})

    assert message.subject.endswith("we'll reply today")
    assert "I'll get back to you by end of day today," in message.text
    assert "Wednesday" not in message.subject + message.text


def test_an_english_credit_never_cuts_a_pending_fix_off_from_its_promise_to_write_again() -> None:
    sample = sample_context("mistake_remediation", "en")
    pending = {**sample, "mistake": {**sample["mistake"], "fixed": False,
                                     "fix_due_at": sample["now"] + timedelta(days=2)}}

    text = render("mistake_remediation", "en", pending).text

    assert "I'll write again as soon as it is.\n\nWe'll issue a credit note" in text


def test_english_confirmation_sets_the_scope_apart_as_written_not_in_quotes() -> None:
    sample = sample_context("promise_confirmation", "en")

    text = render("promise_confirmation", "en", sample).text

    assert "your own notes:\n\nCovers July to September" in text and "Q4”" not in text


def test_english_subjects_shorten_a_long_title_but_the_letter_keeps_it_whole() -> None:
    title = ("Comprehensive analysis of warehouse throughput, returns handling and carrier "
             "performance across all twelve regional depots for the 2026 planning cycle")
    for kind in ("delay_notice", "promise_confirmation"):
        sample = sample_context(kind, "en")
        message = render(kind, "en", {**sample, "promise": {**sample["promise"], "title": title}})

        assert "returns…”" in message.subject and "planning cycle" not in message.subject
        assert title in message.text


def test_a_swedish_late_letter_drafted_on_the_due_day_says_it_was_due_today() -> None:
    sample = sample_context("delay_notice", "sv")
    due = sample["promise"]["due_at"]

    on_the_day = render("delay_notice", "sv", {**sample, "now": due - timedelta(hours=2)}).text
    after = render("delay_notice", "sv", {**sample, "now": due + timedelta(days=1)}).text

    assert "som skulle levereras i dag," in on_the_day
    assert "som skulle levereras fredag 20 november," in after


@pytest.mark.parametrize("kind", ["request_acknowledgement", "promise_confirmation"])
def test_a_swedish_quote_that_ends_in_a_question_mark_takes_no_full_stop_after_it(
    kind: str,
) -> None:
    asked = "Går det att flytta lanseringen till vecka 3?"
    context = sample_context(kind, "sv")
    if kind == "request_acknowledgement":
        context["request"] = {**context["request"], "summary": asked}
    else:
        context["details"] = asked

    asking = render(kind, "sv", context).text
    stating = render(kind, "sv", sample_context(kind, "sv")).text

    assert "vecka 3?”" in asking and "?”." not in asking
    assert re.search(r"(Q4|leveransprecision)”\.\s", stating), stating


def test_the_delay_letter_has_no_label_colon_fragments() -> None:
    for locale in LOCALES:
        text = render("delay_notice", locale, sample_context("delay_notice", locale)).text
        assert not re.search(r"(In the meantime|Under tiden|在此期间)[:：]", text)


def _delay_context(client: Client, settings: Settings | None = None) -> dict[str, Any]:
    owner = Member(name="Priya Raman", email="priya@example.com", timezone="Europe/Stockholm")
    sample = sample_context("delay_notice", "en")
    promise = compose.Promise(id=42, title="Q3 report", client_id=1, owner_id=1,
                              due_at=sample["promise"]["due_at"],
                              original_due_at=sample["promise"]["due_at"],
                              made_at=sample["now"], raw_text="Q3 report")
    return compose.delay_notice(settings or Settings(), promise=promise, client=client,
                                owner=owner, new_due_at=sample["new_due_at"], reason=None,
                                interim=None, now=sample["now"])


@pytest.mark.parametrize("locale", LOCALES)
def test_a_letter_from_a_member_with_a_signature_ends_with_it_everywhere(locale: str) -> None:
    client = Client(name=COMPANY, name_key="acme", email="ops@acme.example", locale=locale,
                    timezone="Europe/Stockholm", contact_name="Karin Lind")
    owner = Member(name="Priya Raman", email="priya@example.com", timezone="Europe/Stockholm",
                   signature="Priya Raman\nAccount Director, Northwind & <Analytics>")
    sample = sample_context("delay_notice", locale)
    promise = compose.Promise(id=42, title="Q3 report", client_id=1, owner_id=1,
                              due_at=sample["promise"]["due_at"],
                              original_due_at=sample["promise"]["due_at"],
                              made_at=sample["now"], raw_text="Q3 report")
    context = compose.delay_notice(Settings(team={"name": TEAM}), promise=promise,
                                   client=client, owner=owner, new_due_at=sample["new_due_at"],
                                   reason=None, interim=None, now=sample["now"])
    message = render("delay_notice", locale, context)

    assert message.text.strip().splitlines()[-2:] == [
        "Priya Raman", "Account Director, Northwind & <Analytics>"]
    assert TEAM not in message.text
    assert ("<br>Priya Raman<br>Account Director, Northwind &amp; &lt;Analytics&gt;</p>"
            in message.html)
    assert message.blocks is not None and message.blocks[-1]["elements"][0]["text"] == (
        "Priya Raman · Account Director, Northwind &amp; &lt;Analytics&gt;")


def test_one_instant_reads_in_each_readers_own_zone_in_the_same_process() -> None:
    instant = datetime(2026, 11, 24, 22, tzinfo=zone("UTC"))
    new_york = {**sample_context("delay_notice", "en"), "new_due_at": instant}
    stockholm = {**new_york, "timezone": "Europe/Stockholm"}

    assert "5:00 PM on Tuesday, November 24" in render("delay_notice", "en", new_york).text
    assert "11:00 PM on Tuesday, November 24" in render("delay_notice", "en", stockholm).text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", ["delay_notice", "mistake_remediation"])
def test_the_finished_letters_in_the_docs_are_what_the_templates_write(
    kind: str, locale: str
) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "templates.md").read_text("utf-8")
    context = {**sample_context(kind, locale)}
    if kind == "delay_notice":
        context["waiting_for"] = None
    message = render(kind, locale, context)

    assert f"Subject: {message.subject}\n\n{message.text.strip()}\n```" in docs


# -- what the team reads -------------------------------------------------------------------

INTERNAL_KINDS = ("checkin_request", "escalation", "digest")
NOTES = [None, "Waiting on data.", 'They said "soon"; we\'ll see…', "数据还没到。"]
OWNERS = ["Erik", "陈梅", "Anna-Karin O'Neil"]
OPENING = {"en": re.compile(r"Hi [^ ,]+,\n"), "sv": re.compile(r"Hej [^ ,]+,\n"),
           "zh": re.compile(r"\S+，您好！\n")}
# Chinese sets digits against its characters: "最近8项", never "最近 8 项".
SPACED_DIGITS = re.compile(r"[\u4e00-\u9fff] \d|\d [\u4e00-\u9fff]")


def _reasons(locale: str, context: dict[str, Any], owner: str, note: str | None) -> list[str]:
    now = context["now"]
    return reason_texts([
        {"code": "reported_status", "owner": owner, "status": "blocked",
         "at": (now - timedelta(days=1)).isoformat(), "days_ago": None, "note": note},
        {"code": "track_record", "whose": "owner", "owner": owner, "count": 8, "late": 2,
         "broken": 1, "median_late_hours": 2.0, "hours_per_day": 8.0},
        {"code": "little_history", "owner": owner, "count": 1, "team_count": 1,
         "slip_rate": 0.25},
        {"code": "past_due", "due_at": (now - timedelta(days=9)).isoformat()},
        {"code": "no_answer", "asked_at": now.replace(hour=12, minute=0).isoformat()},
    ], locale, timezone=context["timezone"], now=now)


def _internal_variants(kind: str, locale: str) -> list[dict[str, Any]]:
    variants = []
    for base, title, owner, note in itertools.product(
            samples.variants(kind, locale), TITLES, OWNERS, NOTES):
        context = {**base, "team_name": TEAM}
        reasons = _reasons(locale, context, owner, note)
        if "promise" in context:
            context["promise"] = {**context["promise"], "title": title, "owner_name": owner}
        if context.get("risk"):
            context["risk"] = {**context["risk"], "reasons": reasons,
                               "promise": {**context["risk"]["promise"], "title": title}}
        if context.get("at_risk"):
            context["at_risk"] = [{**item, "reasons": reasons,
                                   "promise": {**item["promise"], "title": title}}
                                  for item in context["at_risk"]]
        if context.get("decisions"):
            context.update(_hostile_decisions(context, locale, title))
        variants.append(context)
    return variants


# What a digest lists is other messages' subjects and errors, which carry their own colons,
# brackets and dates: "At risk: “Q3 report” for Acme, notice due …", "“…”交付日期调整为…（周二）".
SUBJECTS = {"en": "New delivery date for {title}: Tuesday, November 24 (revised)",
            "sv": "Nytt leveransdatum för {title}: tisdag 24 november (reviderat)",
            "zh": "{title}交付日期调整为11月24日（周二）"}
ESCALATIONS = {"en": "At risk: {title} for Acme (Erik), notice due Wednesday, November 18",
               "sv": "Risk för försening: {title} för Acme (Erik), besked senast onsdag",
               "zh": "延误风险：华东物流的{title}，需在11月18日（周三）前通知客户"}
ERRORS = {"en": "SMTP 550 (mailbox unavailable): user unknown",
          "sv": "SMTP 550 (mailbox unavailable): user unknown",
          "zh": "SMTP 550（邮箱不可用）：用户不存在"}


def _hostile_decisions(context: dict[str, Any], locale: str, title: str) -> dict[str, Any]:
    decisions = context["decisions"]
    quoted = quote_title(title, locale)
    subject = SUBJECTS[locale].format(title=quoted)
    return {
        "decisions": {
            "drafts": [{**item, "subject": subject} for item in decisions["drafts"]],
            "escalations": [{**item, "summary": ESCALATIONS[locale].format(title=quoted)}
                            for item in decisions["escalations"]],
            "dead_deliveries": [{**item, "subject": subject, "error": ERRORS[locale]}
                                for item in decisions["dead_deliveries"]],
        },
        "mistakes": [{**item, "summary": "Billed at the wrong rate: 120/h (not 100/h)."}
                     for item in context["mistakes"]],
    }


QUOTED = re.compile(r":[a-z_]+:|“[^”]*”|”[^”]*”|‘[^’]*’|《[^》]*》|https?://\S+")
CLOCK = {"en": re.compile(r"(\d{1,2}:\d{2} [AP]M|noon|end of day)(?P<after>.{0,24})"),
         "sv": re.compile(r"kl\. \d{2}\.\d{2}(?P<after>.{0,24})"),
         "zh": re.compile(r"\d{2}:\d{2}(?P<after>.{0,24})")}


def _deepest_brackets(line: str) -> int:
    depth = deepest = 0
    for char in line:
        depth += char in "(（"
        depth -= char in ")）"
        deepest = max(deepest, depth)
    return deepest


def _shape_faults(text: str, reasons: list[str]) -> list[str]:
    """Lines of a message to the team with brackets inside brackets, or two colons."""
    faults = []
    for line in text.splitlines():
        outside = QUOTED.sub("", line)
        for reason in reasons:
            outside = outside.replace(reason, "")
        if _deepest_brackets(line) > 1 or "）（" in line or ")(" in line:
            faults.append(f"nested brackets: {line}")
        if len(re.findall(r":(?!\d)|：", outside)) > 1:
            faults.append(f"two colons: {line}")
    return faults


def _unlabelled_times(text: str, locale: str, timezone: str, reasons: list[str]) -> list[str]:
    """Clock times in a message to the team without the reader's zone named beside them
    (the risk reasons, worded by drafting.reasons, are left to their own tests)."""
    label = zone_label(timezone, locale)
    for reason in reasons:
        text = text.replace(reason, "")
    return [match[0] for match in CLOCK[locale].finditer(text)
            if not match["after"].lstrip(" （").startswith(label)]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", INTERNAL_KINDS)
def test_every_message_to_the_team_reads_cleanly_in_the_members_language(
    kind: str, locale: str
) -> None:
    for context in _internal_variants(kind, locale):
        message = render(kind, locale, context)
        everything = "\n".join([message.subject, message.text])

        assert OPENING[locale].match(message.text), message.text[:80]
        assert not ISO.search(everything), ISO.search(everything)
        assert not DOUBLED.search(everything), DOUBLED.search(everything)
        assert "None" not in everything and not re.search(r"\S  ", message.text)
        assert "prior" not in everything
        if locale == "zh":
            assert not SPACED_DIGITS.search(everything), SPACED_DIGITS.search(everything)
        reasons = [why.rstrip("。.") for why in _listed_reasons(context)]
        # 5. no brackets inside brackets and no second colon, whatever the listed items carry,
        # in the email and in Slack
        slack = "\n".join(block["text"]["text"] for block in message.blocks or []
                          if isinstance(block.get("text"), dict))
        lines = re.sub(r"<br>|</li>", "\n", message.html or "")
        html = html_module.unescape(re.sub(r"<[^>]+>", "", lines))
        for shown in (everything, slack, html):
            assert not _shape_faults(shown, reasons), _shape_faults(shown, reasons)
        # 6. the reader's zone named beside every time
        assert not _unlabelled_times(everything, locale, context["timezone"], reasons), (
            _unlabelled_times(everything, locale, context["timezone"], reasons))
        ours = everything
        for reason in reasons:
            ours = ours.replace(reason, "")
        assert STRAY_MARKS.search(ours) is None, STRAY_MARKS.search(ours)


def _listed_reasons(context: dict[str, Any]) -> list[str]:
    risk = context.get("risk") or {}
    return [*risk.get("reasons", []),
            *(why for item in context.get("at_risk") or [] for why in item["reasons"])]


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "Erik has no track record yet, nor has the team; we assume one promise in four "
            "slips"),
     ("sv", "Erik har ingen historik ännu, och inte teamet heller; vi räknar med att ett "
            "löfte av fyra blir försenat"),
     ("zh", "Erik还没有记录，团队的记录也不足；我们假设每四项承诺中有一项会延误")],
)
def test_a_risk_reason_is_worded_for_a_manager_in_each_language(locale: str, said: str) -> None:
    reason = {"code": "little_history", "owner": "Erik", "count": 0, "team_count": 0,
              "slip_rate": 0.25}
    now = datetime(2026, 11, 18, 10, tzinfo=zone("UTC"))

    assert reason_texts([reason], locale, timezone="Europe/Stockholm", now=now) == [said]


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "Two of 陈梅's last eight promises were late (one never delivered), typically by "
            "3 business hours"),
     ("sv", "Två av 陈梅s senaste åtta löften blev försenade (ett levererades aldrig), oftast "
            "med 3 arbetstimmar"),
     ("zh", "陈梅最近8项承诺中有2项延误（1项未交付），通常晚3个工作小时")],
)
def test_a_track_record_reads_naturally_in_each_language(locale: str, said: str) -> None:
    reason = {"code": "track_record", "whose": "owner", "owner": "陈梅", "count": 8, "late": 2,
              "broken": 1, "median_late_hours": 3.0, "hours_per_day": 8.0}
    now = datetime(2026, 11, 18, 10, tzinfo=zone("UTC"))

    assert reason_texts([reason], locale, timezone="Asia/Shanghai", now=now) == [said]


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "No answer yet to the check-in request sent yesterday at noon"),
     ("sv", "Inget svar ännu på avstämningen som skickades i går kl. 12.00"),
     ("zh", "昨天12:00发出的进度询问尚未回复")],
)
def test_a_reasons_moment_is_in_the_readers_zone_and_words(locale: str, said: str) -> None:
    stockholm = zone("Europe/Stockholm")
    reason = {"code": "no_answer", "asked_at": datetime(2026, 11, 17, 12, tzinfo=stockholm)
              .astimezone(zone("UTC")).isoformat()}
    now = datetime(2026, 11, 18, 10, tzinfo=stockholm)

    assert reason_texts([reason], locale, timezone="Europe/Stockholm", now=now) == [said]


@pytest.mark.parametrize(
    ("locale", "name", "greeted"),
    [("en", "Alice Smith", "Alice"), ("sv", "Karin Berg", "Karin"), ("zh", "陈梅", "陈梅"),
     ("zh", "Alice Smith", "Alice Smith")],
)
def test_colleagues_are_greeted_by_first_name_and_in_chinese_by_full_name(
    locale: str, name: str, greeted: str
) -> None:
    member = Member(name=name, email="m@example.com", timezone="Europe/Stockholm",
                    locale=locale)
    assert compose.member_greeting_name(Settings(), member) == greeted


def test_a_repeat_mistake_happened_twice_not_two_times() -> None:
    context = samples.variants("escalation", "en")[1]
    context = {**context, "mistake": {**context["mistake"], "occurrences": 2}}

    message = render("escalation", "en", context)

    assert "twice" in message.subject and "2 times" not in message.text


@pytest.mark.parametrize(
    ("locale", "title", "quoted"),
    [("en", 'The "big" review (v2) [draft].', "“The ‘big’ review (v2) [draft]”"),
     ("sv", 'The "big" review (v2) [draft].', "”The ’big’ review (v2) [draft]”"),
     ("zh", 'The "big" review (v2) [draft].', "“The ‘big’ review (v2) [draft]”"),
     ("en", '"Q3" report', "“‘Q3’ report”"),
     ("en", 'Report "final', "“Report ‘final”"),
     ("en", "“Q3 report", "that “Q3 report” won't"),
     ("sv", "The Smiths' '90s review", "”The Smiths' '90s review”"),
     ("zh", "《三季度报告》", "交付的《三季度报告》，"),
     ("zh", "《三季度报告", "交付的《三季度报告》，"),
     ("en", "「Q3 report」", "that “Q3 report” won't")],
)
def test_a_title_keeps_its_own_marks_and_gets_one_pair_of_the_locales_quotes(
    locale: str, title: str, quoted: str
) -> None:
    context = sample_context("delay_notice", locale)
    context["promise"] = {**context["promise"], "title": title}

    assert quoted in render("delay_notice", locale, context).text


@pytest.mark.parametrize(
    ("locale", "kind", "hour", "minute", "said"),
    [("en", "delay_notice", 0, 0, "by end of day on Monday, November 23,"),
     ("en", "delay_notice", 23, 59, "by end of day on Tuesday, November 24,"),
     ("sv", "delay_notice", 0, 0, "senast måndag 23 november."),
     ("zh", "delay_notice", 23, 59, "新的交付时间为11月24日（周二）。"),
     ("en", "checkin_request", 0, 0, "is due by end of day ET on Monday, November 23."),
     ("sv", "checkin_request", 0, 0, "ska levereras måndag 23 november svensk tid."),
     ("zh", "checkin_request", 0, 0, "截止时间为11月23日（周一，北京时间），")],
)
def test_a_deadline_at_the_end_of_a_day_is_said_as_the_locale_says_it(
    locale: str, kind: str, hour: int, minute: int, said: str
) -> None:
    context = sample_context(kind, locale)
    due = datetime(2026, 11, 24, hour, minute, tzinfo=zone(context["timezone"]))
    if kind == "delay_notice":
        context = {**context, "new_due_at": due, "now": due - timedelta(days=10)}
    else:
        context = {**context, "promise": {**context["promise"], "due_at": due}}

    assert said in render(kind, locale, context).text


def test_english_says_noon_and_swedish_whole_amounts_have_no_ore() -> None:
    context = sample_context("delay_notice", "en")
    context["new_due_at"] = context["new_due_at"].replace(hour=12)

    assert "by noon on Tuesday, November 24" in render("delay_notice", "en", context).text
    assert money_text(Decimal("1250"), "SEK", "sv") == "1\xa0250\xa0kr"
    assert money_text(Decimal("1250.50"), "SEK", "sv") == "1\xa0250,50\xa0kr"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_check_in_buttons_use_the_words_of_the_reply_after_a_click(locale: str) -> None:
    message = render("checkin_request", locale, sample_context("checkin_request", locale))
    [buttons] = [block["elements"] for block in message.blocks if block["type"] == "actions"]

    assert {b["action_id"]: b["text"]["text"].casefold() for b in buttons} == {
        b["action_id"]: say(locale, b["action_id"]).casefold() for b in buttons}


@pytest.mark.parametrize("locale", LOCALES)
def test_a_digest_promises_reasons_sit_indented_under_it_in_plain_text(locale: str) -> None:
    context = sample_context("digest", locale)
    text = render("digest", locale, context).text
    first = context["at_risk"][0]["reasons"][0].rstrip("。.")

    [line] = [line for line in text.splitlines() if first in line]
    assert line.startswith("  " + first), line


@pytest.mark.parametrize(("locale", "subject_end", "said"), [
    ("sv", "svar senast i dag", "jag återkommer senast i dag,"),
    ("zh", "最晚今天答复", "最晚将于今天答复您"),
])
def test_a_deadline_on_the_readers_own_day_is_today_in_swedish_and_chinese_too(
        locale: str, subject_end: str, said: str) -> None:
    sample = sample_context("request_acknowledgement", locale)
    tonight = sample["now"].replace(hour=23, minute=59)

    message = render("request_acknowledgement", locale, {**sample, "reply_by": tonight})

    assert message.subject.endswith(subject_end)
    assert said in message.text
    assert tonight.strftime("%-d") + (" november" if locale == "sv" else "日") not in (
        message.subject + message.text.split("\n\n", 2)[2])


@pytest.mark.parametrize(("locale", "limit"), [("sv", 60), ("zh", 30)])
def test_swedish_and_chinese_subjects_shorten_a_long_title_but_the_letter_keeps_it_whole(
        locale: str, limit: int) -> None:
    title = ("Webbplatslansering: vårkampanjens landningssidor, mallar för produktsidor och "
             "omgjort kassaflöde, fas 2 av 3" if locale == "sv" else
             "华东物流有限公司官方网站全面改版项目第二阶段：首页、产品页与结算流程重新设计及配套的用户体验测试与数据分析报告")
    for kind in ("delay_notice", "promise_confirmation"):
        sample = sample_context(kind, locale)
        message = render(kind, locale, {**sample, "promise": {**sample["promise"], "title": title}})

        assert "…" in message.subject and title not in message.subject
        assert len(message.subject) <= limit + 45
        assert title in message.text


@pytest.mark.parametrize("locale", LOCALES)
def test_a_shortened_subject_ends_its_cut_title_without_a_stray_comma(locale: str) -> None:
    title = ("Kvartalsgenomgång av returer, leveransprecision per depå, fraktkostnader och "
             "prognos för nästa år")
    sample = sample_context("delay_notice", locale)
    message = render("delay_notice", locale, {**sample, "promise": {**sample["promise"],
                                                                      "title": title}})
    assert "…" in message.subject
    assert not re.search(r"[,;:]…", message.subject), message.subject
