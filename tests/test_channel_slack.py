"""Slack notices against a real local HTTP server speaking the Slack Web API, failures included."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from servers.slack_api import SlackApi, slack_api
from slack_sdk.web.async_client import AsyncWebClient

from reliability.channels import DeliveryError, OutgoingMessage, SendResult
from reliability.channels.slack import EVENT_TYPE, SlackChannel

CHANNEL = "C0000GENERAL"
T = TypeVar("T")


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with slack_api(channels=(CHANNEL,)) as server:
        server.add_user("U0000ANNA", "Anna Berg", email="anna@team.example", tz="Europe/Stockholm")
        yield server


def channel_for(api: SlackApi, token: str | None = None) -> SlackChannel:
    return SlackChannel(api.settings(token), timeout_seconds=0.5, retry_backoff_seconds=0)


def notice(
    key: str = "delay_notice:42:2026-11-20T22:00:00Z", recipient: str = CHANNEL
) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        recipient=recipient,
        subject="Q3 report delayed",
        text="The Q3 report for *Acme* moves to Monday &lt;sorry&gt;",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Q3 report: Monday"}}],
    )


def run(call: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(call)


def send(api: SlackApi, message: OutgoingMessage) -> SendResult:
    async def go() -> SendResult:
        async with channel_for(api) as slack:
            return await slack.send(message)

    return run(go())


def failure(api: SlackApi, message: OutgoingMessage, token: str | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        run(channel_for(api, token).send(message))
    return caught.value


def test_channel_post_carries_the_notice_key_in_its_metadata(api: SlackApi) -> None:
    result = send(api, notice())

    (posted,) = api.posted(CHANNEL)
    assert result.provider_id == f"{CHANNEL}:{posted['ts']}"
    assert posted["metadata"] == {
        "event_type": EVENT_TYPE,
        "event_payload": {"idempotency_key": "delay_notice:42:2026-11-20T22:00:00Z"},
    }
    assert posted["text"] == "The Q3 report for *Acme* moves to Monday &lt;sorry&gt;"
    assert posted["blocks"][0]["text"]["text"] == "Q3 report: Monday"


def test_message_to_a_person_goes_to_their_dm_which_is_opened_once(api: SlackApi) -> None:
    async def two_notices() -> list[SendResult]:
        async with channel_for(api) as slack:
            return [
                await slack.send(notice("a", recipient="U0000ANNA")),
                await slack.send(notice("b", recipient="U0000ANNA")),
            ]

    first, second = run(two_notices())

    assert first.provider_id.startswith("D0000ANNA:")
    assert second.provider_id.startswith("D0000ANNA:")
    assert len(api.posted("D0000ANNA")) == 2
    assert api.calls_to("conversations.open") == 1


def test_rate_limited_post_is_posted_once_after_the_pause_slack_asked_for(api: SlackApi) -> None:
    api.rate_limit(1, retry_after=0, method="chat.postMessage")

    result = send(api, notice())

    assert api.calls_to("chat.postMessage") == 2
    assert [f"{CHANNEL}:{m['ts']}" for m in api.posted(CHANNEL)] == [result.provider_id]


def test_long_rate_limit_comes_back_as_retry_after_without_waiting(api: SlackApi) -> None:
    api.rate_limit(1, retry_after=30, method="chat.postMessage")

    error = failure(api, notice())

    assert not error.permanent
    assert error.retry_after == 30
    assert "try again in 30 s" in error.reason
    assert api.posted(CHANNEL) == []


def test_server_error_then_success_posts_the_notice_once(api: SlackApi) -> None:
    api.server_error(1, method="chat.postMessage")

    result = send(api, notice())

    assert [f"{CHANNEL}:{m['ts']}" for m in api.posted(CHANNEL)] == [result.provider_id]


def test_post_whose_answer_was_lost_is_found_and_not_posted_twice(api: SlackApi) -> None:
    api.lose_answer(1, method="chat.postMessage")

    result = send(api, notice())

    (posted,) = api.posted(CHANNEL)
    assert result.provider_id == f"{CHANNEL}:{posted['ts']}"
    assert api.calls_to("chat.postMessage") == 1


def test_dropped_connection_before_slack_acted_is_posted_on_the_second_try(api: SlackApi) -> None:
    api.drop(1, method="chat.postMessage")

    send(api, notice())

    assert len(api.posted(CHANNEL)) == 1
    assert api.calls_to("chat.postMessage") == 2


def test_slack_failing_twice_is_retryable_and_flagged_as_maybe_posted(api: SlackApi) -> None:
    api.server_error(2, status=503, method="chat.postMessage")

    error = failure(api, notice())

    assert not error.permanent
    assert error.maybe_sent
    assert error.reason == "Slack had a server error (HTTP 503)"


def test_slack_that_never_answers_is_retryable_and_flagged_as_maybe_posted(api: SlackApi) -> None:
    api.hang(1, method="chat.postMessage")

    error = failure(api, notice())

    assert not error.permanent
    assert error.maybe_sent
    assert error.reason == "Slack did not answer within 0.5 s"


def test_unknown_channel_is_permanent_in_plain_words(api: SlackApi) -> None:
    error = failure(api, notice(recipient="C0000GONE"))

    assert error.permanent
    assert error.reason == (
        "Slack has no channel C0000GONE that the bot can see (Slack error channel_not_found)"
    )


def test_channel_the_bot_was_not_invited_to_is_permanent(api: SlackApi) -> None:
    api.add_channel("C0000PRIVATE", member=False)

    error = failure(api, notice(recipient="C0000PRIVATE"))

    assert error.permanent
    assert "not a member of Slack channel C0000PRIVATE" in error.reason


def test_unknown_person_is_permanent(api: SlackApi) -> None:
    error = failure(api, notice(recipient="U0000NOBODY"))

    assert error.permanent
    assert error.reason.startswith("Slack has no user U0000NOBODY")


def test_wrong_bot_token_is_permanent_and_posts_nothing(api: SlackApi) -> None:
    error = failure(api, notice(), token="xoxb-revoked")

    assert error.permanent
    assert "bot token" in error.reason
    assert "xoxb-revoked" not in error.reason
    assert api.posted(CHANNEL) == []


def test_find_sent_is_empty_before_the_post_and_finds_it_after(api: SlackApi) -> None:
    async def before_and_after() -> tuple[SendResult | None, SendResult, SendResult | None]:
        async with channel_for(api) as slack:
            before = await slack.find_sent(notice())
            sent = await slack.send(notice())
            return before, sent, await slack.find_sent(notice())

    before, sent, after = run(before_and_after())

    assert before is None
    assert after is not None
    assert after.provider_id == sent.provider_id


def test_find_sent_pages_back_through_a_busy_channel(api: SlackApi) -> None:
    send(api, notice("the-one"))
    for n in range(450):
        api.handle("chat.postMessage", {"channel": CHANNEL, "text": f"chatter {n}"})

    found = run(channel_for(api).find_sent(notice("the-one")))
    missing = run(channel_for(api).find_sent(notice("never-sent")))

    assert found is not None
    assert found.provider_id == f"{CHANNEL}:{api.posted(CHANNEL)[0]['ts']}"
    assert missing is None
    assert api.calls_to("conversations.history") == 6


def test_local_slack_api_answers_the_other_calls_the_app_makes(api: SlackApi) -> None:
    async def calls() -> tuple[Any, Any, Any]:
        client = AsyncWebClient(token=api.token, base_url=api.base_url)
        posted = await client.chat_postMessage(channel=CHANNEL, text="draft ready")
        updated = await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="approved")
        return await client.auth_test(), await client.users_info(user="U0000ANNA"), updated

    me, anna, updated = run(calls())

    assert me["user_id"] == "UBOT0001"
    assert anna["user"]["tz"] == "Europe/Stockholm"
    assert anna["user"]["profile"]["email"] == "anna@team.example"
    assert updated["text"] == "approved"
    assert [message["text"] for message in api.posted(CHANNEL)] == ["approved"]
