"""Block Kit for the Slack app: replies, the draft-review message and the modals.

Pure builders from plain values, so what a person sees in Slack can be checked without a
workspace. Action ids here are the ones `reliability.slack_app` listens for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from reliability.drafting.rendering import mrkdwn, slack_text

Block = dict[str, Any]
SECTION_LIMIT = 2900  # Slack allows 3,000 characters in a section's text
LEVEL_MARKS = {"on_track": ":large_green_circle: on track", "watch": ":large_yellow_circle: watch",
               "at_risk": ":large_orange_circle: at risk", "overdue": ":red_circle: overdue"}
CHECKIN_WORDS = {"on_track": "on track", "at_risk": "at risk", "blocked": "blocked",
                 "done": "done"}
# A check-in's answer in the member's language, and the words around it.
CHECKIN_SAID: dict[str, dict[str, str]] = {
    "en": {**CHECKIN_WORDS, "said": "You said *{status}* {when}.", "noted": "Add a note",
           "recorded": "Check-in recorded: {status}",
           "reply": "Check-in on #{id} *{title}*: {status}{progress}.",
           "progress": ", {percent} done"},
    "sv": {"on_track": "går enligt plan", "at_risk": "riskerar att bli sent",
           "blocked": "står still", "done": "klart", "said": "Du svarade *{status}* {when}.",
           "noted": "Lägg till en kommentar", "recorded": "Avstämning sparad: {status}",
           "reply": "Avstämning för #{id} *{title}*: {status}{progress}.",
           "progress": ", {percent} klart"},
    "zh": {"on_track": "进展正常", "at_risk": "有延误风险", "blocked": "受阻", "done": "已完成",
           "said": "你的回答：*{status}*（{when}）。", "noted": "补充说明",
           "recorded": "进度已记录：{status}",
           "reply": "#{id} *{title}* 进度已记录：{status}{progress}。",
           "progress": "，已完成{percent}"},
}
DRAFT_ACTIONS = ("draft_send", "draft_edit", "draft_snooze", "draft_cancel")


@dataclass(frozen=True)
class Reply:
    """An ephemeral answer or a message update: text for notifications, blocks to show."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    failed: bool = False

    def message(self) -> dict[str, Any]:
        return {"text": slack_text(self.text), "blocks": self.blocks or [section(self.text)]}


def section(text: str) -> Block:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {"type": "button", "action_id": action_id, "value": value,
                      "text": {"type": "plain_text", "text": text}}
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def text_reply(text: str) -> Reply:
    return Reply(text, [section(text)])


def failure(text: str) -> Reply:
    """What could not be done and why; it never replaces the message the person acted on."""
    return Reply(text, [section(text)], failed=True)


# -- /promise -----------------------------------------------------------------------------


def preview(*, title: str, client: str, due: str, owner_user_id: str, sealed: str,
            ambiguous: str | None = None, forecast: list[str] | None = None,
            suggested: tuple[str, str] | None = None) -> Reply:
    """The echo of a new promise; `forecast` in plain sentences, and `suggested` (a day and
    its sealed proposal) offered as a second way to confirm."""
    lines = [f"*{mrkdwn(title)}* for *{mrkdwn(client)}*", f"Due *{due}*",
             f"Owner <@{owner_user_id}>"]
    blocks = [section("Is this right?\n" + "\n".join(lines))]
    if forecast:
        blocks.append(context(mrkdwn(" ".join(forecast))))
    if ambiguous:
        blocks.append(context(ambiguous))
    offer = ([button(f"Promise {suggested[0]} instead", "promise_confirm_suggested",
                     suggested[1])] if suggested else [])
    blocks.append(actions(
        "promise_preview",
        button("Looks right", "promise_confirm", sealed, "primary"),
        *offer,
        button("Change date", "promise_change_date", sealed),
        button("Cancel", "promise_cancel", "cancel"),
    ))
    return Reply(f"{title} for {client}, due {due}: looks right?", blocks)


def unknown_client(*, name: str, title: str, due: str, sealed: str) -> Reply:
    text = (f"*{mrkdwn(name)}* is not one of your clients yet. Add it, and I'll log "
            f"*{mrkdwn(title)}*, due {due} (in the new client's time zone).")
    return Reply(f"{name} is not a client yet", [
        section(text),
        actions("promise_new_client",
                button(f"Add {name[:60]} as a client", "client_add", sealed, "primary"),
                button("Cancel", "promise_cancel", "cancel")),
    ])


def help_reply(help_text: str, note: str = "") -> Reply:
    blocks = [section(note)] if note else []
    return Reply(note or help_text, [*blocks, section(help_text)])


def promise_lines(rows: list[tuple[int, str, str, str, str, str | None]]) -> list[str]:
    """rows: (id, title, client, due, level, owner mention or None)."""
    return [f"#{pid} *{mrkdwn(title)}* · {mrkdwn(client)} · due {due} · "
            f"{LEVEL_MARKS.get(level, level)}" + (f" · {owner}" if owner else "")
            for pid, title, client, due, level, owner in rows]


def listing(heading: str, lines: list[str], empty: str) -> Reply:
    if not lines:
        return text_reply(empty)
    blocks, chunk = [section(f"*{heading}*")], ""
    for line in lines:
        if len(chunk) + len(line) + 1 > SECTION_LIMIT:
            blocks.append(section(chunk))
            chunk = ""
        chunk += line + "\n"
    blocks.append(section(chunk))
    return Reply(f"{heading}: {len(lines)}", blocks[:50])


# -- check-ins ----------------------------------------------------------------------------


def checkin_recorded(*, question: str, status: str, when: str, promise_id: int,
                     note: str | None = None, locale: str = "en") -> Reply:
    """The answer to a check-in button, in the member's language; `when` is worded already."""
    words = CHECKIN_SAID.get(locale, CHECKIN_SAID["en"])
    shown = words.get(status, status)
    said = ":white_check_mark: " + words["said"].format(status=shown, when=when)
    if note:
        said += f"\n> {mrkdwn(note)}"
    blocks = [section(question), section(said)]
    if status != "done":
        blocks.append(actions(f"checkin_note:{promise_id}",
                              button(words["noted"], "checkin_note", f"{promise_id}:{status}")))
    return Reply(words["recorded"].format(status=shown), blocks)


def checkin_note_modal(*, promise_id: int, status: str, title: str, meta: dict[str, Any]) -> Block:
    return {
        "type": "modal", "callback_id": "checkin_note",
        "private_metadata": json.dumps({**meta, "promise_id": promise_id, "status": status}),
        "title": {"type": "plain_text", "text": "Check-in note"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"*{mrkdwn(title[:200])}*: {CHECKIN_WORDS.get(status, status)}"),
            _input("note", "What's the news? (the client never sees this)",
                   {"type": "plain_text_input", "action_id": "value", "multiline": True,
                    "max_length": 2000}, optional=True),
            _input("client_reason", "What may the client be told? (goes into the delay letter)",
                   {"type": "plain_text_input", "action_id": "value", "multiline": True,
                    "max_length": 1000}, optional=True),
            _input("progress", "Roughly how far along (% done)?",
                   {"type": "number_input", "action_id": "value", "is_decimal_allowed": False,
                    "min_value": "0", "max_value": "100"}, optional=True),
        ],
    }


# -- drafts waiting for their owner ---------------------------------------------------------


def draft_review(*, notice_id: int, kind: str, client: str, title: str | None, due: str | None,
                 proposed: str | None, text: str, approver_note: str | None,
                 status_line: str | None = None) -> Reply:
    about = f" about *{mrkdwn(title)}*" if title else ""
    head = f"*Draft {kind.replace('_', ' ')} to {mrkdwn(client)}*{about}"
    facts = [f"Due now: {due}"] if due else []
    if proposed:
        facts.append(f"Proposed new date: *{proposed}*")
    blocks = [section(head + ("\n" + "\n".join(facts) if facts else ""))]
    if approver_note:
        blocks.append(section(f":warning: {mrkdwn(approver_note)}"))
    blocks.append(section(">" + mrkdwn(text).replace("\n", "\n>")))
    if status_line:
        blocks.append(section(status_line))
    else:
        value = str(notice_id)
        blocks.append(actions(
            f"draft:{notice_id}",
            button("Send", "draft_send", value, "primary"),
            button("Edit", "draft_edit", value),
            button("Snooze", "draft_snooze", value),
            button("Not needed", "draft_cancel", value, "danger"),
        ))
    return Reply(f"Draft {kind.replace('_', ' ')} to {client} waits for you", blocks)


def edit_draft_modal(*, notice_id: int, text: str, proposed_day: date | None,
                     meta: dict[str, Any]) -> Block:
    blocks = [_input("text", "The message",
                     {"type": "plain_text_input", "action_id": "value", "multiline": True,
                      "initial_value": text[:3000], "max_length": 3000})]
    if proposed_day is not None:
        blocks.append(_input("date", "Proposed new date (end of that business day)",
                             {"type": "datepicker", "action_id": "value",
                              "initial_date": proposed_day.isoformat()}))
    return {
        "type": "modal", "callback_id": "draft_edit",
        "private_metadata": json.dumps({**meta, "notice_id": notice_id}),
        "title": {"type": "plain_text", "text": "Edit the draft"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


# -- modals for /promise ----------------------------------------------------------------------


def change_date_modal(*, title: str, current: str, meta: dict[str, Any]) -> Block:
    return {
        "type": "modal", "callback_id": "promise_change_date",
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Change the date"},
        "submit": {"type": "plain_text", "text": "Use this date"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"*{mrkdwn(title[:200])}*, now due {current}"),
            _input("when", "When is it due?",
                   {"type": "plain_text_input", "action_id": "value", "max_length": 200,
                    "placeholder": {"type": "plain_text",
                                    "text": "next Tuesday 3pm, Dec 5, in 3 business days"}}),
        ],
    }


def new_client_modal(*, name: str, timezone: str, meta: dict[str, Any]) -> Block:
    locales = [("English", "en"), ("中文", "zh"), ("Svenska", "sv")]
    options = [{"text": {"type": "plain_text", "text": label}, "value": value}
               for label, value in locales]
    return {
        "type": "modal", "callback_id": "client_add",
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "New client"},
        "submit": {"type": "plain_text", "text": "Add client"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("name", "Client name", {"type": "plain_text_input", "action_id": "value",
                                            "initial_value": name[:200], "max_length": 200}),
            _input("email", "Where client messages go (email)",
                   {"type": "plain_text_input", "action_id": "value", "max_length": 320}),
            _input("contact", "Who we write to", {"type": "plain_text_input",
                                                  "action_id": "value", "max_length": 200},
                   optional=True),
            _input("locale", "Language of messages",
                   {"type": "static_select", "action_id": "value", "options": options,
                    "initial_option": options[0]}),
            _input("timezone", "Time zone (IANA, e.g. America/New_York)",
                   {"type": "plain_text_input", "action_id": "value",
                    "initial_value": timezone, "max_length": 64}),
            _input("country", "Country for public holidays (e.g. US, SE, CN)",
                   {"type": "plain_text_input", "action_id": "value", "max_length": 8},
                   optional=True),
        ],
    }


def _input(block_id: str, label: str, element: Block, *, optional: bool = False) -> Block:
    return {"type": "input", "block_id": block_id, "optional": optional,
            "label": {"type": "plain_text", "text": label}, "element": element}


def submitted(view: dict[str, Any], block_id: str) -> str | None:
    """The value a person gave in one input of a submitted modal (None when left empty)."""
    value = ((view.get("state") or {}).get("values") or {}).get(block_id, {}).get("value", {})
    found = (value.get("value") or value.get("selected_date")
             or (value.get("selected_option") or {}).get("value"))
    return str(found).strip() or None if found is not None else None


# -- promises found in conversations: the offer, the log form --------------------------------

# Every sentence the offers and their answers show, by the reader's language (Member.locale):
# one place to translate. Placeholders: {client}, {due}, {title}, {id}.
OFFER_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "commitment": "Log this promise to {client}, due {due}?",
        "commitment_undated": "Log this promise to {client}? It names no date: use *Change*.",
        "request": "{client} asked for *{title}*. Log a promise to reply by {due} and draft "
                   "an acknowledgement for them?",
        "request_undated": "{client} asked for *{title}*. Log a promise to reply by the end "
                           "of the next business day and draft an acknowledgement for them?",
        "log": "Log", "change": "Change", "decline": "Not a promise",
        "logged": ":white_check_mark: Logged #{id}: *{title}* for {client}, due {due}.",
        "drafted": "The acknowledgement to {client} is drafted (#{id}) and waits for your "
                   "approval.",
        "declined": "Noted: not a promise. I won't suggest *{title}* to you again.",
        "form_title": "Log a promise", "form_submit": "Log it", "form_cancel": "Cancel",
        "form_what": "What is promised", "form_client": "To which client",
        "form_when": "Due (e.g. Friday 5pm, 2026-12-04 17:00, in 3 business days)",
    },
    "sv": {
        "commitment": "Logga det här löftet till {client}, klart {due}?",
        "commitment_undated": "Logga det här löftet till {client}? Inget datum nämns: "
                              "välj *Ändra*.",
        "request": "{client} bad om *{title}*. Logga ett löfte att svara senast {due} och "
                   "skriv ett utkast till bekräftelse?",
        "request_undated": "{client} bad om *{title}*. Logga ett löfte att svara före nästa "
                           "arbetsdags slut och skriv ett utkast till bekräftelse?",
        "log": "Logga", "change": "Ändra", "decline": "Inget löfte",
        "logged": ":white_check_mark: Loggat #{id}: *{title}* till {client}, klart {due}.",
        "drafted": "Bekräftelsen till {client} är skriven (#{id}) och väntar på ditt "
                   "godkännande.",
        "declined": "Noterat: inget löfte. Jag föreslår inte *{title}* för dig igen.",
        "form_title": "Logga ett löfte", "form_submit": "Logga", "form_cancel": "Avbryt",
        "form_what": "Vad som är lovat", "form_client": "Till vilken kund",
        "form_when": "Klart (t.ex. fredag 17:00, 2026-12-04 17:00, om 3 arbetsdagar)",
    },
    "zh": {
        "commitment": "把这个承诺记录给 {client}，截止 {due}？",
        "commitment_undated": "把这个承诺记录给 {client}？没有提到日期：请点 *修改*。",
        "request": "{client} 请求：*{title}*。记录一个在 {due} 前回复的承诺，并起草一封确认函？",
        "request_undated": "{client} 请求：*{title}*。记录一个在下一个工作日结束前回复的承诺，"
                           "并起草一封确认函？",
        "log": "记录", "change": "修改", "decline": "不是承诺",
        "logged": ":white_check_mark: 已记录 #{id}：给 {client} 的 *{title}*，截止 {due}。",
        "drafted": "给 {client} 的确认函已起草（#{id}），等待你的批准。",
        "declined": "已记下：不是承诺。我不会再向你建议 *{title}*。",
        "form_title": "记录承诺", "form_submit": "记录", "form_cancel": "取消",
        "form_what": "承诺的内容", "form_client": "客户",
        "form_when": "截止（例如 周五 17:00、2026-12-04 17:00、3个工作日内）",
    },
}
_WHEN_PATTERNS = {"en": "EEE d MMM HH:mm", "sv": "EEE d MMM HH:mm", "zh": "M月d日EEE HH:mm"}
SUGGESTION_ACTIONS = ("suggestion_log", "suggestion_change", "suggestion_decline")
LOG_FORM = "promise_log"
SHORTCUT = "log_as_promise"  # the message shortcut's callback id (slack-app-manifest.yml)


def words(locale: str | None) -> dict[str, str]:
    """The offer's sentences in the reader's language; English for any other."""
    return OFFER_WORDS.get((locale or "en").split("-")[0].split("_")[0].lower(),
                           OFFER_WORDS["en"])


def when(moment: datetime, timezone: str, locale: str | None) -> str:
    """'Thu 3 Dec 17:00', 'tors 3 dec. 17:00', '12月3日周四 17:00': in the client's zone."""
    language = (locale or "en").split("-")[0].split("_")[0].lower()
    language = language if language in _WHEN_PATTERNS else "en"
    local = moment.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return format_datetime(local, _WHEN_PATTERNS[language], locale=language)


def suggestion_offer(*, suggestion_id: int, request: bool, client: str, title: str,
                     sentence: str, due: str | None, locale: str | None) -> Reply:
    """'Log this promise to Acme, due Thu 3 Dec 17:00?' with Log / Change / Not a promise."""
    said = words(locale)
    key = ("request" if request else "commitment") + ("" if due else "_undated")
    question = said[key].format(client=mrkdwn(client), due=due or "", title=mrkdwn(title))
    value = str(suggestion_id)
    return Reply(question.replace("*", ""), [
        section(question),
        context(">" + mrkdwn(sentence[:500]).replace("\n", "\n>")),
        actions(f"suggestion:{suggestion_id}",
                button(said["log"], "suggestion_log", value, "primary"),
                button(said["change"], "suggestion_change", value),
                button(said["decline"], "suggestion_decline", value)),
    ])


def suggestion_logged(*, promise_id: int, title: str, client: str, due: str,
                      draft_id: int | None, locale: str | None) -> Reply:
    said = words(locale)
    lines = [said["logged"].format(id=promise_id, title=mrkdwn(title), client=mrkdwn(client),
                                   due=due)]
    if draft_id is not None:
        lines.append(said["drafted"].format(client=mrkdwn(client), id=draft_id))
    return text_reply("\n".join(lines))


def suggestion_declined(*, title: str, locale: str | None) -> Reply:
    return text_reply(words(locale)["declined"].format(title=mrkdwn(title)))


def log_modal(*, title: str, client: str, due: str, locale: str | None,
              meta: dict[str, Any]) -> Block:
    """The promise as found (or as the message says), each part changeable before it is
    logged: the form behind *Change* and the "Log as promise" shortcut."""
    said = words(locale)

    def field(block_id: str, label: str, value: str, limit: int) -> Block:
        element: Block = {"type": "plain_text_input", "action_id": "value", "max_length": limit}
        if value:
            element["initial_value"] = value[:limit]
        return _input(block_id, label, element)

    return {
        "type": "modal", "callback_id": LOG_FORM,
        "private_metadata": json.dumps(meta)[:3000],
        "title": {"type": "plain_text", "text": said["form_title"]},
        "submit": {"type": "plain_text", "text": said["form_submit"]},
        "close": {"type": "plain_text", "text": said["form_cancel"]},
        "blocks": [field("what", said["form_what"], title, 500),
                   field("client", said["form_client"], client, 200),
                   field("when", said["form_when"], due, 200)],
    }
