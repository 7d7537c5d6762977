"""send_all, the one way every transport is used: failures stay with their message."""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

import pytest

from reliability.channels import (
    Commit,
    DeliveryError,
    OutgoingMessage,
    SendResult,
    send_all,
)
from reliability.channels.registry import TRANSPORTS, channel_for
from reliability.config import Settings


class MemoryTransport:
    """A transport kept in memory, with a bug for one recipient: what a new transport, or a
    regression in an old one, may do."""

    name: ClassVar[str] = "memory"
    finds_sent: ClassVar[bool] = False

    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, traceback: TracebackType | None) -> None:
        return None

    async def prepare(self, message: OutgoingMessage, *,
                      unknown_since: datetime | None = None) -> Commit:
        if message.recipient == "breaks-on-render":
            raise KeyError("subject")
        if message.recipient == "refused":
            raise DeliveryError("refused", permanent=True)

        async def commit() -> SendResult:
            if message.recipient == "breaks-on-send":
                raise RuntimeError("socket in a bad state")
            self.delivered.append(message.recipient)
            return SendResult(provider_id=message.idempotency_key, duration_ms=0)

        return commit


def message(recipient: str) -> OutgoingMessage:
    return OutgoingMessage(idempotency_key=f"key:{recipient}", recipient=recipient,
                           subject="s", text="t")


def test_a_bug_in_one_message_fails_that_message_alone_and_says_what_happened() -> None:
    transport = MemoryTransport()
    names = ["a", "breaks-on-render", "b", "refused", "breaks-on-send", "c"]
    results = asyncio.run(send_all(transport, [message(n) for n in names], concurrency=3))

    assert transport.delivered == ["a", "b", "c"]
    assert [type(result).__name__ for result in results] == [
        "SendResult", "DeliveryError", "SendResult", "DeliveryError", "DeliveryError",
        "SendResult"]
    render, refused, send = results[1], results[3], results[4]
    assert isinstance(render, DeliveryError) and "KeyError" in render.reason
    assert not render.permanent and not render.maybe_sent
    assert isinstance(refused, DeliveryError) and refused.permanent
    assert isinstance(send, DeliveryError) and "socket in a bad state" in send.reason
    assert send.maybe_sent  # it failed after the point of no return


def test_transports_are_found_by_the_name_a_message_carries() -> None:
    settings = Settings()
    settings.slack.bot_token = None
    assert sorted(TRANSPORTS) == ["email", "slack", "webhook"]
    assert channel_for("email", settings).name == "email"
    with pytest.raises(DeliveryError, match="Slack is not set up") as not_set_up:
        channel_for("slack", settings)
    with pytest.raises(DeliveryError, match="no way to deliver by 'fax'") as unknown:
        channel_for("fax", settings)
    assert not_set_up.value.permanent and unknown.value.permanent
