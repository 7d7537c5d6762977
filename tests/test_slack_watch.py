"""Watched channels, offers and the "Log as promise" shortcut, through the real endpoint:
signed Events API deliveries, the local Slack Web API server, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import test_slack_app
import yaml
from conftest import Cli
from helpers import at
from pydantic import SecretStr
from servers.slack_api import SlackApi
from servers.socket_mode import socket_mode_server
from slack_harness import SlackWorkspace, payload_body, signed_headers
from sqlmodel import Session, col, select

from reliability import phrases, slack_app, slack_views, suggestions
from reliability.access import Actor
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Event, Notice, NoticeKind, Promise, Source, Suggestion
from reliability.slack_actions import offer_from_message
from reliability.slack_commands import Log, Unwatch, Watch, parse

# The Slack app's fixtures, a workspace per test (the server, one per module, is conftest's).
api, clock, agency, slack = (test_slack_app.api, test_slack_app.clock, test_slack_app.agency,
                             test_slack_app.slack)
shown, button = test_slack_app.shown, test_slack_app.button
WATCHED, ELSEWHERE = "C0000GENERAL", "C0000OTHER"
DECK = "Thanks Dana! I'll send the revised deck by Thursday."


class Channel:
    """Slack's side of one channel: messages posted as Events API deliveries."""

    def __init__(self, slack: SlackWorkspace, channel_id: str = WATCHED) -> None:
        self.slack, self.channel_id = slack, channel_id
        self.count = 0

    def say(self, text: str, *, user: str = "UALICE", retry: int | None = None,
            ts: str | None = None, **extra: Any) -> str:
        """Deliver a message event as Slack does; its ts (the message's identity)."""
        self.count += 1
        ts = ts or f"{int(time.time())}.{self.count:06d}"
        body = json.dumps({
            "token": "legacy", "team_id": "T0000001", "api_app_id": "A0000001",
            "type": "event_callback", "event_id": f"Ev{self.channel_id}{ts}",
            "event_time": int(time.time()), "authorizations": [],
            "event": {"type": "message", "channel": self.channel_id, "user": user,
                      "text": text, "ts": ts, "channel_type": "channel",
                      "team": extra.pop("user_team", "T0000001"), **extra},
        })
        headers = {**signed_headers(body), "Content-Type": "application/json"}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        response = self.slack.post(body, headers=headers)
        assert (response.status_code, response.text) == (200, "")
        return ts


def offers(api: SlackApi, count: int, channel: str = WATCHED) -> list[dict[str, Any]]:
    """The ephemeral offers shown in a channel, waiting for at least `count`."""
    api.wait_until(lambda: len(api.ephemerals(channel)) >= count)
    return api.ephemerals(channel)


def rows(ledger: Ledger, table: Any) -> list[Any]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(table).order_by(col(table.id))).all())


@pytest.fixture
def watched(slack: SlackWorkspace, agency: Ledger, api: SlackApi) -> Channel:
    """#general watched for Acme by Alice, who ran `/promise watch Acme` there."""
    api.add_channel(ELSEWHERE)
    reply = shown(slack.answer("watch Acme"))
    assert "Watching this channel for promises to *Acme*" in reply
    return Channel(slack)


def test_a_commitment_in_a_watched_channel_is_offered_once_and_log_stores_it_for_the_client(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    ts = watched.say(DECK)
    [offer] = offers(api, 1)
    assert offer["user"] == "UALICE"
    assert offer["text"] == "Log this promise to Acme, due Thu 19 Nov 17:00?"
    assert [e["text"]["text"] for e in offer["blocks"][-1]["elements"]] == [
        "Log", "Change", "Not a promise"]
    # Slack redelivers (no answer in time, it thought): nothing new is offered or stored.
    watched.say(DECK, ts=ts, retry=1)
    watched.say("I'll send the media plan by Friday.")  # a marker that comes after it
    assert [shown(o).splitlines()[0] for o in offers(api, 2)] == [
        "Log this promise to Acme, due Thu 19 Nov 17:00?",
        "Log this promise to Acme, due Fri 20 Nov 17:00?"]
    assert len(rows(agency, Suggestion)) == 2

    _, url = slack.click("suggestion_log", button(offer, "suggestion_log"))
    [logged] = api.replies(url)
    assert shown(logged).startswith(
        ":white_check_mark: Logged #1: *Send the revised deck* for Acme, due Thu 19 Nov 17:00.")
    assert logged["replace_original"] is True
    [promise] = rows(agency, Promise)
    assert (promise.title, promise.client_id, promise.source, promise.due_at) == (
        "Send the revised deck", 1, Source.slack_watch, at("2026-11-19T17:00-05:00"))
    assert promise.raw_text == "I'll send the revised deck by Thursday."  # the sentence


def test_the_same_words_in_a_channel_nobody_watches_produce_nothing(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    Channel(slack, ELSEWHERE).say(DECK)
    watched.say("I'll send the media plan by Friday.")
    offers(api, 1)
    assert api.ephemerals(ELSEWHERE) == []
    assert [s.title for s in rows(agency, Suggestion)] == ["Send the media plan"]


def test_bots_edits_deletions_and_thread_broadcasts_are_not_read(
        watched: Channel, agency: Ledger, api: SlackApi) -> None:
    watched.say(DECK, bot_id="B0OTHER")
    watched.say(DECK, subtype="message_changed")
    watched.say(DECK, subtype="thread_broadcast")
    watched.say("I'll send the media plan by Friday.")
    assert len(offers(api, 1)) == 1
    assert [s.title for s in rows(agency, Suggestion)] == ["Send the media plan"]


def test_not_a_promise_is_remembered_and_a_similar_message_is_not_offered_again(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    watched.say(DECK)
    [offer] = offers(api, 1)
    _, url = slack.click("suggestion_decline", button(offer, "suggestion_decline"))
    assert shown(api.replies(url)[0]).startswith(
        "Noted: not a promise. I won't suggest *Send the revised deck* to you again.")
    watched.say("Sure, I'll send the revised deck by Friday.")
    watched.say("I'll send the media plan by Wednesday.")
    assert [shown(o).splitlines()[0] for o in offers(api, 2)] == [
        "Log this promise to Acme, due Thu 19 Nov 17:00?",
        "Log this promise to Acme, due Wed 18 Nov 17:00?"]
    assert [(s.title, s.status, s.sentence) for s in rows(agency, Suggestion)] == [
        ("Send the revised deck", "declined", None),
        ("Send the media plan", "offered", "I'll send the media plan by Wednesday.")]
    assert rows(agency, Promise) == []


def test_a_clients_request_in_a_slack_connect_channel_goes_to_the_watcher_and_log_drafts_a_receipt(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    watched.say("Hi team! Could you send the invoice copies by Friday?", user="UDANA",
                user_team="T0000ACME")
    [offer] = offers(api, 1)
    assert offer["user"] == "UALICE"
    assert offer["blocks"][0]["text"]["text"] == (
        "Acme asked for *Send the invoice copies*. Log a promise to reply by Fri 20 Nov 17:00 "
        "and draft an acknowledgement for them?")
    _, url = slack.click("suggestion_log", button(offer, "suggestion_log"))
    logged = shown(api.replies(url)[0])
    assert "Logged #1: *Reply: Send the invoice copies* for Acme" in logged
    assert "The acknowledgement to Acme is drafted (#1) and waits for your approval." in logged
    [notice] = rows(agency, Notice)
    assert (notice.kind, notice.status, notice.recipient) == (
        NoticeKind.request_acknowledgement, "draft", "dana@acme.example")
    assert rows(agency, Promise)[0].source == Source.slack_watch


def test_a_colleague_new_to_the_app_is_matched_by_email_and_asked_about_their_own_promise(
        watched: Channel, agency: Ledger, api: SlackApi) -> None:
    watched.say(DECK, user="UBOB")
    [offer] = offers(api, 1)
    assert (offer["user"], offer["text"]) == (
        "UBOB", "Log this promise to Acme, due Thu 19 Nov 17:00?")
    assert test_slack_app.member(agency, "bob@example.com").slack_user_id == "UBOB"


def test_someone_not_in_the_channel_any_more_is_asked_by_dm(
        watched: Channel, agency: Ledger, api: SlackApi) -> None:
    api.channels[WATCHED].people = {"UBOB"}
    watched.say(DECK)
    api.wait_until(lambda: api.posted("DALICE"))
    [offer] = api.posted("DALICE")
    assert offer["text"] == "Log this promise to Acme, due Thu 19 Nov 17:00?"
    assert api.ephemerals(WATCHED) == []


def test_slacks_url_check_of_the_events_address_is_answered_with_its_challenge(
        slack: SlackWorkspace) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "legacy", "challenge": challenge, "type": "url_verification"})
    response = slack.post(body, headers={**signed_headers(body),
                                         "Content-Type": "application/json"})
    assert response.status_code == 200
    assert challenge in response.text


def test_change_opens_the_offer_prefilled_and_logs_it_as_changed(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    watched.say(DECK)
    [offer] = offers(api, 1)
    slack.click("suggestion_change", button(offer, "suggestion_change"))
    [modal] = api.opened()
    assert [b["element"].get("initial_value") for b in modal["blocks"]] == [
        "Send the revised deck", "Acme", "2026-11-19 17:00"]
    refused = slack.submit(modal, {"what": "Send the revised deck", "client": "Acme",
                                   "when": "someday"})
    assert "when" in refused.json()["errors"]
    assert slack.submit(modal, {"what": "Send the revised deck v2", "client": "Acme",
                                "when": "Friday"}).status_code == 200
    api.wait_until(lambda: rows(agency, Promise))
    [promise] = rows(agency, Promise)
    assert (promise.title, promise.due_at, promise.source) == (
        "Send the revised deck v2", at("2026-11-20T17:00-05:00"), Source.slack_watch)


def test_the_shortcut_opens_the_log_form_filled_from_the_message_and_logs_it(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    url = api.response_url("shortcut")
    payload = {
        "type": "message_action", "callback_id": slack_views.SHORTCUT,
        "trigger_id": "trigger.s", "team": {"id": "T0000001"},
        "user": {"id": "UALICE", "team_id": "T0000001"}, "channel": {"id": WATCHED},
        "message": {"type": "message", "user": "UALICE", "ts": "1.1", "text": DECK},
        "response_url": url, "message_ts": "1.1", "api_app_id": "A0000001",
    }
    assert slack.post(payload_body(payload)).status_code == 200
    [modal] = api.opened()
    assert [b["element"].get("initial_value") for b in modal["blocks"]] == [
        "Send the revised deck", "Acme", "2026-11-19 17:00"]
    assert slack.submit(modal, {"what": "Send the revised deck", "client": "Acme",
                                "when": "2026-11-19 17:00"}).status_code == 200
    assert "Logged #1: *Send the revised deck* for Acme" in shown(api.replies(url)[0])
    [promise] = rows(agency, Promise)
    assert (promise.source, promise.raw_text) == (Source.slack_shortcut, DECK)


def test_watch_without_a_client_asks_which_and_unwatch_stops_the_reading(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace) -> None:
    assert "watched for *Acme*" in shown(slack.answer("watch"))
    assert "Stopped watching this channel for *Acme*" in shown(slack.answer("unwatch"))
    assert "Which client is this channel with? Say `/promise watch Acme`" in shown(
        slack.answer("watch"))
    assert "not watched; nothing changed" in shown(slack.answer("unwatch"))
    with Session(agency.engine) as session:
        kinds = session.exec(select(Event.kind).where(
            col(Event.kind).startswith("channel.")).order_by(col(Event.id))).all()
    assert kinds == ["channel.watched", "channel.unwatched"]


def test_socket_mode_reads_a_watched_channel_like_the_events_api(
        agency: Ledger, api: SlackApi, clock: test_slack_app.Clock) -> None:
    alice = agency.link_slack_user(email="alice@example.com", slack_user_id="UALICE",
                                   name="Alice", timezone=None, now=clock.now, actor="t")
    suggestions.watch(agency, channel_id=WATCHED, client_name="Acme",
                      actor=Actor.of(alice), now=clock.now)
    with socket_mode_server() as socket:
        api.socket_url = socket.url
        agency.settings.slack.app_token = SecretStr(api.app_token)

        async def deliver() -> dict[str, Any]:
            handler = slack_app.socket_mode_handler(agency, clock=clock)
            await handler.connect_async()
            try:
                await asyncio.to_thread(socket.connected.wait, 10)
                envelope = await asyncio.to_thread(socket.send, "events_api", {
                    "token": "legacy", "team_id": "T0000001", "api_app_id": "A0000001",
                    "type": "event_callback", "event_id": "EvSOCKET", "event_time": 1,
                    "event": {"type": "message", "channel": WATCHED, "user": "UALICE",
                              "text": DECK, "ts": "1700000000.000100",
                              "channel_type": "channel"}})
                acked = await asyncio.to_thread(socket.ack, envelope)
                await asyncio.to_thread(offers, api, 1)
                return acked
            finally:
                await handler.close_async()

        acked = asyncio.run(deliver())
    assert "envelope_id" in acked
    [offer] = api.ephemerals(WATCHED)
    assert (offer["user"], offer["text"]) == (
        "UALICE", "Log this promise to Acme, due Thu 19 Nov 17:00?")


# -- the service underneath both transports --------------------------------------------------


def alice_on_slack(ledger: Ledger) -> Actor:
    alice = ledger.link_slack_user(email="alice@example.com", slack_user_id="UALICE",
                                   name="Alice", timezone=None, now=test_slack_app.MONDAY_10,
                                   actor="t")
    return Actor.of(alice)


def message(text: str = DECK, ts: str = "1.000100", user: str = "UALICE",
            channel: str = WATCHED) -> suggestions.SlackMessage:
    return suggestions.SlackMessage("T0000001", channel, ts, user, text)


def test_a_message_delivered_twice_at_once_is_offered_once(agency: Ledger) -> None:
    suggestions.watch(agency, channel_id=WATCHED, client_name="Acme",
                      actor=alice_on_slack(agency), now=test_slack_app.MONDAY_10)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: offer_from_message(
            agency, message(), now=test_slack_app.MONDAY_10), range(4)))
    assert sum(offered is not None for offered in found) == 1
    assert len(rows(agency, Suggestion)) == 1


def test_only_a_member_watches_and_never_a_direct_message(agency: Ledger) -> None:
    alice = alice_on_slack(agency)
    with pytest.raises(UserError, match="only a channel can be watched"):
        suggestions.watch(agency, channel_id="D0000ALICE", client_name="Acme", actor=alice,
                          now=test_slack_app.MONDAY_10)
    with pytest.raises(UserError, match="only a member of the team"):
        suggestions.watch(agency, channel_id=WATCHED, client_name="Acme",
                          actor=Actor("slack:stranger"), now=test_slack_app.MONDAY_10)
    with pytest.raises(UserError, match="Acme"):
        suggestions.watch(agency, channel_id=WATCHED, client_name="Zeta", actor=alice,
                          now=test_slack_app.MONDAY_10)
    assert suggestions.watched_client(agency, WATCHED) is None


@pytest.mark.parametrize(("locale", "question", "buttons", "logged", "declined"), [
    ("sv", "Logga löftet till Acme med leverans tors 19 nov. kl. 17.00?",
     ["Logga", "Ändra", "Inget löfte"],
     ":white_check_mark: Loggat #1: *Send the revised deck* till Acme, leverans "
     "tors 19 nov. kl. 17.00.",
     "Noterat: inget löfte. Jag föreslår inte *Send the media plan* för dig igen."),
    ("zh", "要记录这项对Acme的承诺吗？11月19日（周四）17:00截止。", ["记录", "修改", "不是承诺"],
     ":white_check_mark: 已记录 #1：Acme的*Send the revised deck*，11月19日（周四）17:00截止。",
     "好的，不算承诺。以后不会再就*Send the media plan*提醒您。"),
])
def test_a_member_is_offered_a_promise_and_answered_in_their_language(
        watched: Channel, agency: Ledger, api: SlackApi, slack: SlackWorkspace, locale: str,
        question: str, buttons: list[str], logged: str, declined: str) -> None:
    user = test_slack_app.reader(agency, api, locale)
    watched.say(DECK, user=user)
    watched.say("I'll send the media plan by Friday.", user=user)
    deck, plan = sorted(offers(api, 2), key=lambda offer: "media plan" in shown(offer))
    assert (deck["user"], deck["text"]) == (user, question)
    assert [e["text"]["text"] for e in deck["blocks"][-1]["elements"]] == buttons

    _, url = slack.click("suggestion_log", button(deck, "suggestion_log"), user=user)
    assert shown(api.replies(url)[0]).startswith(logged)
    _, url = slack.click("suggestion_decline", button(plan, "suggestion_decline"), user=user)
    assert shown(api.replies(url)[0]).startswith(declined)


def test_every_locale_has_every_sentence() -> None:
    assert set(phrases.WORDS["sv"]) == set(phrases.WORDS["en"]) == set(phrases.WORDS["zh"])


def test_the_manifest_asks_for_the_message_events_history_scopes_and_the_shortcut(
        cli: Cli) -> None:
    result = cli("slack", "manifest", "--base-url", "https://promises.agency.example")
    manifest = yaml.safe_load(result.stdout)
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"] == "https://promises.agency.example/slack/events"
    assert set(events["bot_events"]) == {"message.channels", "message.groups"}
    assert {"channels:history", "groups:history", "chat:write", "commands"} <= set(
        manifest["oauth_config"]["scopes"]["bot"])
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", slack_views.SHORTCUT)


@pytest.mark.parametrize(("line", "read"), [
    ("watch", Watch(None)),
    ("watch Acme Corp", Watch("Acme Corp")),
    ("bevaka Acme", Watch("Acme")),
    ("unwatch", Unwatch()),
    ("watch the launch demo for Acme by Friday",
     Log("watch the launch demo for Acme by Friday", None)),
])
def test_watch_is_read_only_in_a_shape_that_cannot_be_a_promise(line: str, read: object) -> None:
    assert parse(line) == read
