"""Block Kit for the Slack app: replies, the draft-review message and the modals.

Pure builders from plain values, so what a person sees in Slack can be checked without a
workspace. Action ids here are the ones `reliability.slack_app` listens for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reliability.drafting.rendering import mrkdwn, slack_text
from reliability.phrases import say, words

Block = dict[str, Any]
SECTION_LIMIT = 2900  # Slack allows 3,000 characters in a section's text
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
    """What could not be done and why; it never replaces the message the person acted on.
    Its words may carry what others typed (the known clients' names, a member added one), so
    only the mentions of Slack users by id, which the app writes itself, stay live."""
    shown = _MENTION.sub(r"<@\1>", slack_text(text))
    return Reply(shown, [section(shown)], failed=True)


_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


# -- /promise -----------------------------------------------------------------------------


def preview(*, title: str, client: str, due: str, owner_user_id: str, sealed: str,
            locale: str, ambiguous: str | None = None, forecast: list[str] | None = None,
            suggested: tuple[str, str] | None = None) -> Reply:
    """The echo of a new promise; `forecast` in plain sentences, and `suggested` (a day and
    its sealed proposal) offered as a second way to confirm."""
    said = words(locale)
    lines = [said["echo_what"].format(title=mrkdwn(title), client=mrkdwn(client)),
             said["echo_due"].format(due=due), said["echo_owner"].format(user=owner_user_id)]
    blocks = [section(said["echo_question"] + "\n" + "\n".join(lines))]
    if forecast:  # Chinese sets sentences side by side, without a space
        blocks.append(context(mrkdwn(("" if locale == "zh" else " ").join(forecast))))
    if ambiguous:
        blocks.append(context(ambiguous))
    offer = ([button(said["promise_instead"].format(day=suggested[0]),
                     "promise_confirm_suggested", suggested[1])] if suggested else [])
    blocks.append(actions(
        "promise_preview",
        button(said["looks_right"], "promise_confirm", sealed, "primary"),
        *offer,
        button(said["change_date"], "promise_change_date", sealed),
        button(said["cancel"], "promise_cancel", "cancel"),
    ))
    return Reply(said["echo_text"].format(title=title, client=client, due=due), blocks)


def unknown_client(*, name: str, title: str, due: str, sealed: str, locale: str) -> Reply:
    said = words(locale)
    text = said["unknown_client"].format(name=mrkdwn(name), title=mrkdwn(title), due=due)
    return Reply(said["unknown_client_text"].format(name=name), [
        section(text),
        actions("promise_new_client",
                button(said["add_client"].format(name=name[:60]), "client_add", sealed,
                       "primary"),
                button(said["cancel"], "promise_cancel", "cancel")),
    ])


def help_reply(locale: str, note: str = "") -> Reply:
    """`/promise help` in the reader's language, after `note` (why a line was not used)."""
    help_text = say(locale, "help")
    blocks = [section(note)] if note else []
    return Reply(note or help_text, [*blocks, section(help_text)])


def promise_lines(rows: list[tuple[int, str, str, str, str, str | None]],
                  locale: str) -> list[str]:
    """rows: (id, title, client, due, level, owner mention or None)."""
    said = words(locale)
    return [said["list_line"].format(id=pid, title=mrkdwn(title), client=mrkdwn(client),
                                     due=due, level=said.get(f"level_{level}", level))
            + (f" · {owner}" if owner else "")
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
    table = words(locale)
    shown = table.get(f"checkin_{status}", status)
    said = ":white_check_mark: " + table["checkin_said"].format(status=shown, when=when)
    if note:
        said += f"\n> {mrkdwn(note)}"
    blocks = [section(question), section(said)]
    if status != "done":
        blocks.append(actions(f"checkin_note:{promise_id}",
                              button(table["checkin_noted"], "checkin_note",
                                     f"{promise_id}:{status}")))
    return Reply(table["checkin_recorded"].format(status=shown), blocks)


def checkin_note_modal(*, promise_id: int, status: str, title: str, meta: dict[str, Any],
                       locale: str) -> Block:
    said = words(locale)
    return {
        "type": "modal", "callback_id": "checkin_note",
        "private_metadata": json.dumps({**meta, "promise_id": promise_id, "status": status}),
        "title": {"type": "plain_text", "text": said["note_title"]},
        "submit": {"type": "plain_text", "text": said["save"]},
        "close": {"type": "plain_text", "text": said["cancel"]},
        "blocks": [
            section(f"*{mrkdwn(title[:200])}*: {said.get(f'checkin_{status}', status)}"),
            _input("note", said["note_news"],
                   {"type": "plain_text_input", "action_id": "value", "multiline": True,
                    "max_length": 2000}, optional=True),
            _input("client_reason", said["note_client"],
                   {"type": "plain_text_input", "action_id": "value", "multiline": True,
                    "max_length": 1000}, optional=True),
            _input("progress", said["note_progress"],
                   {"type": "number_input", "action_id": "value", "is_decimal_allowed": False,
                    "min_value": "0", "max_value": "100"}, optional=True),
        ],
    }


# -- drafts waiting for their owner ---------------------------------------------------------


def draft_review(*, notice_id: int, kind: str, client: str, title: str | None, due: str | None,
                 proposed: str | None, text: str, approver_note: str | None, locale: str,
                 status_line: str | None = None) -> Reply:
    said = words(locale)
    named = said.get(f"kind_{kind}", kind.replace("_", " "))
    about = said["draft_about"].format(title=mrkdwn(title)) if title else ""
    head = said["draft_head"].format(kind=named, client=mrkdwn(client)) + about
    facts = [said["draft_due"].format(due=due)] if due else []
    if proposed:
        facts.append(said["draft_proposed"].format(due=proposed))
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
            button(said["send"], "draft_send", value, "primary"),
            button(said["edit"], "draft_edit", value),
            button(said["snooze"], "draft_snooze", value),
            button(said["not_needed"], "draft_cancel", value, "danger"),
        ))
    return Reply(said["draft_waits"].format(kind=named, client=client), blocks)


def edit_draft_modal(*, notice_id: int, text: str, proposed_day: date | None,
                     meta: dict[str, Any], locale: str) -> Block:
    said = words(locale)
    blocks = [_input("text", said["edit_text"],
                     {"type": "plain_text_input", "action_id": "value", "multiline": True,
                      "initial_value": text[:3000], "max_length": 3000})]
    if proposed_day is not None:
        blocks.append(_input("date", said["edit_date"],
                             {"type": "datepicker", "action_id": "value",
                              "initial_date": proposed_day.isoformat()}))
    return {
        "type": "modal", "callback_id": "draft_edit",
        "private_metadata": json.dumps({**meta, "notice_id": notice_id}),
        "title": {"type": "plain_text", "text": said["edit_title"]},
        "submit": {"type": "plain_text", "text": said["save"]},
        "close": {"type": "plain_text", "text": said["cancel"]},
        "blocks": blocks,
    }


# -- modals for /promise ----------------------------------------------------------------------


def change_date_modal(*, title: str, current: str, meta: dict[str, Any], locale: str) -> Block:
    said = words(locale)
    return {
        "type": "modal", "callback_id": "promise_change_date",
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": said["date_title"]},
        "submit": {"type": "plain_text", "text": said["date_submit"]},
        "close": {"type": "plain_text", "text": said["cancel"]},
        "blocks": [
            section(said["date_current"].format(title=mrkdwn(title[:200]), due=current)),
            _input("when", said["date_when"],
                   {"type": "plain_text_input", "action_id": "value", "max_length": 200,
                    "placeholder": {"type": "plain_text", "text": said["date_example"]}}),
        ],
    }


def new_client_modal(*, name: str, timezone: str, meta: dict[str, Any], locale: str) -> Block:
    said = words(locale)
    locales = [("English", "en"), ("中文", "zh"), ("Svenska", "sv")]
    options = [{"text": {"type": "plain_text", "text": label}, "value": value}
               for label, value in locales]
    return {
        "type": "modal", "callback_id": "client_add",
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": said["client_title"]},
        "submit": {"type": "plain_text", "text": said["client_submit"]},
        "close": {"type": "plain_text", "text": said["cancel"]},
        "blocks": [
            _input("name", said["client_name"],
                   {"type": "plain_text_input", "action_id": "value",
                    "initial_value": name[:200], "max_length": 200}),
            _input("email", said["client_email"],
                   {"type": "plain_text_input", "action_id": "value", "max_length": 320}),
            _input("contact", said["client_contact"],
                   {"type": "plain_text_input", "action_id": "value", "max_length": 200},
                   optional=True),
            _input("locale", said["client_locale"],
                   {"type": "static_select", "action_id": "value", "options": options,
                    "initial_option": options[0]}),
            _input("timezone", said["client_timezone"],
                   {"type": "plain_text_input", "action_id": "value",
                    "initial_value": timezone, "max_length": 64}),
            _input("country", said["client_country"],
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

SUGGESTION_ACTIONS = ("suggestion_log", "suggestion_change", "suggestion_decline")
LOG_FORM = "promise_log"
SHORTCUT = "log_as_promise"  # the message shortcut's callback id (slack-app-manifest.yml)


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
