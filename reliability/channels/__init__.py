"""The contract between the outbox and the transports (email, Slack), and the one way to use it.

A notice that is lost or sent twice defeats the product, so every transport reports each
message as delivered (SendResult) or failed (DeliveryError) and says whether a retry can help.
Every transport is a `Channel`, registered by name in `reliability.channels.registry`, and
every message goes out through `send_all`, which owns the rule that keeps a crash cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered notice for one recipient; the key stays the same across retries."""

    idempotency_key: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    blocks: list[dict[str, Any]] | None = None
    reply_to: str | None = None
    recipient_name: str | None = None
    # The key a webhook delivery is signed with; the other transports have none.
    signing_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SendResult:
    """Proof of delivery: the provider's id for the message (Message-ID, or "channel:ts")."""

    provider_id: str
    duration_ms: float


class DeliveryError(Exception):
    """A message did not go out, phrased for the person who will read the outbox.

    permanent: retrying cannot help (bad address, revoked token, unknown channel).
    retry_after: seconds the provider asked us to wait, when it said so.
    maybe_sent: the provider may have accepted it before the failure (connection lost after
    the content went out), so the outbox should check before sending again.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.reason!r}, permanent={self.permanent}, "
            f"retry_after={self.retry_after}, maybe_sent={self.maybe_sent})"
        )


Commit = Callable[[], Awaitable[SendResult]]
ResultHook = Callable[[int, "SendResult | DeliveryError"], None]


class Channel(Protocol):
    """A transport, as the outbox sees it: open it, prepare each message, then commit it.

    `prepare` does everything that cannot make a message arrive (render it, connect, name
    the recipient, look for an earlier send) and returns the commit, the one step after
    which the provider may have accepted it; or the earlier send it found. Both raise
    DeliveryError. `finds_sent` says whether the transport can find an earlier send of a
    message (Slack can, by its metadata; SMTP cannot ask a server what it accepted).
    """

    name: ClassVar[str]
    finds_sent: ClassVar[bool]

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None: ...

    async def prepare(self, message: OutgoingMessage, *,
                      unknown_since: datetime | None = None) -> Commit | SendResult: ...


def _ignore(index: int, result: SendResult | DeliveryError) -> None:
    """The default result hook: the caller reads the returned list instead."""


async def send_all(
    channel: Channel,
    messages: Sequence[OutgoingMessage],
    *,
    concurrency: int = 1,
    unknown_since: Sequence[datetime | None] | None = None,
    on_result: ResultHook | None = None,
) -> list[SendResult | DeliveryError]:
    """Send through `channel`, up to `concurrency` messages at a time; one result per message.

    on_result(index, result) runs as soon as a message's outcome is known. For a transport
    that cannot find an earlier send, commits run one at a time and each message's hook
    finishes before the next commit starts: a worker that dies then leaves at most one
    message accepted by the provider but not recorded, the one a retry may send twice.
    A message that fails in any way, even by a bug, fails alone.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    hook = on_result or _ignore
    since = unknown_since or [None] * len(messages)
    results: list[SendResult | DeliveryError | None] = [None] * len(messages)
    limit = asyncio.Semaphore(concurrency)
    gate: contextlib.AbstractAsyncContextManager[Any] = (
        contextlib.nullcontext() if channel.finds_sent else asyncio.Lock())

    async def one(index: int, message: OutgoingMessage) -> None:
        async with limit:
            try:
                step = await channel.prepare(message, unknown_since=since[index])
            except Exception as exc:  # one broken message must not stop the rest
                step = _as_failure(exc, channel, message, maybe_sent=False)
            if isinstance(step, SendResult | DeliveryError):
                results[index] = step
                hook(index, step)
                return
            async with gate:
                try:
                    result: SendResult | DeliveryError = await step()
                except Exception as exc:
                    result = _as_failure(exc, channel, message, maybe_sent=True)
                results[index] = result
                hook(index, result)

    async with channel:
        await asyncio.gather(*(one(index, message) for index, message in enumerate(messages)))
    return [result for result in results if result is not None]


async def send_one(channel: Channel, message: OutgoingMessage) -> SendResult:
    """Send one message, raising DeliveryError when it did not go out."""
    (result,) = await send_all(channel, [message])
    if isinstance(result, DeliveryError):
        raise result
    return result


def _as_failure(exc: Exception, channel: Channel, message: OutgoingMessage, *,
                maybe_sent: bool) -> DeliveryError:
    if isinstance(exc, DeliveryError):
        return exc
    log.exception("sending %s by %s failed unexpectedly", message.idempotency_key, channel.name)
    return DeliveryError(f"Sending by {channel.name} failed unexpectedly "
                         f"({type(exc).__name__}: {exc}); it will be tried again",
                         permanent=False, maybe_sent=maybe_sent)
