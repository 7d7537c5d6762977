"""Slack transport: posts notices to a channel or a person's DM, and finds ones already posted.

Every post carries message metadata with the notice's idempotency key, so when an attempt
ends without a clear answer (server error, connection lost) the post can be looked up in
the conversation instead of being sent a second time.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from reliability.channels import Commit, DeliveryError, OutgoingMessage, SendResult
from reliability.config import Settings, SlackSettings
from reliability.drafting.rendering import slack_text

EVENT_TYPE = "reliability_notice"
HISTORY_PAGE_SIZE = 200

# Slack error codes that no retry can fix, in words for the person reading the outbox.
PERMANENT_ERRORS: dict[str, str] = {
    "invalid_auth": "Slack did not accept the bot token; check RELIABILITY_SLACK__BOT_TOKEN",
    "not_authed": "No Slack bot token is configured (RELIABILITY_SLACK__BOT_TOKEN)",
    "account_inactive": "The Slack app's bot user has been deactivated; reinstall the app",
    "token_revoked": "The Slack bot token was revoked; reinstall the app",
    "token_expired": "The Slack bot token has expired; reinstall the app",
    "missing_scope": "The Slack app lacks a permission it needs; reinstall it with the new scopes",
    "no_permission": "The Slack app is not allowed to do this in the workspace",
    "team_access_not_granted": "The Slack app is not installed where {recipient} lives",
    "channel_not_found": "Slack has no channel {recipient} that the bot can see",
    "not_in_channel": "The bot is not a member of Slack channel {recipient}; invite it first",
    "is_archived": "Slack channel {recipient} is archived",
    "restricted_action": "A workspace setting stops the bot from posting in {recipient}",
    "user_not_found": "Slack has no user {recipient}",
    "user_disabled": "Slack user {recipient} has been deactivated",
    "cannot_dm_bot": "{recipient} is a bot, and Slack does not allow messages to bots",
    "msg_too_long": "The message is too long for Slack",
    "no_text": "The message has no text",
    "invalid_blocks": "Slack rejected the layout (blocks) of the message",
    "invalid_blocks_format": "Slack rejected the layout (blocks) of the message",
    "invalid_metadata_format": "Slack rejected the message metadata",
    "invalid_metadata_schema": "Slack rejected the message metadata",
    "ekm_access_denied": "The workspace's encryption keys are revoked; Slack refuses messages",
}

T = TypeVar("T")


class _BoundedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out a 429 only when Slack asks for a short pause.

    A longer Retry-After comes back to the outbox as retry_after, so a worker does not sit
    on its lease while other notices wait.
    """

    def __init__(self, max_wait_seconds: float, max_retry_count: int = 2) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response.headers)
        return wait is not None and wait <= self.max_wait_seconds


def _retry_after(headers: Any) -> float | None:
    """Retry-After from headers that may be a multidict, a dict of str or a dict of lists."""
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def _carries(item: dict[str, Any], key: str) -> bool:
    metadata = item.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(metadata.get("event_type") == EVENT_TYPE and payload.get("idempotency_key") == key)


def _worth_checking(exc: Exception) -> bool:
    """A failed post that Slack may nonetheless have carried out."""
    if isinstance(exc, SlackApiError):
        return exc.response.status_code >= 500
    return isinstance(exc, aiohttp.ClientError) and not isinstance(
        exc, aiohttp.ClientConnectorError
    )


class SlackChannel:
    """Posts notices with slack-sdk's AsyncWebClient and its retry handlers.

    Use `async with SlackChannel(...) as slack:` to keep one HTTP connection pool for a batch;
    without it each call opens its own. Reads retry on 429, 5xx and lost connections; posts
    retry on their own only where Slack cannot have acted (429, connection refused), and
    otherwise look for the post before trying again.
    """

    name: ClassVar[str] = "slack"
    finds_sent: ClassVar[bool] = True

    def __init__(
        self,
        settings: SlackSettings,
        *,
        timeout_seconds: float = 30,
        max_rate_limit_wait_seconds: float = 5,
        retry_backoff_seconds: float = 0.5,
        history_window: timedelta = timedelta(days=2),
        max_history_pages: int = 10,
    ) -> None:
        self.settings = settings
        self.timeout_seconds = timeout_seconds
        self.max_rate_limit_wait_seconds = max_rate_limit_wait_seconds
        self.retry_backoff_seconds = retry_backoff_seconds
        self.history_window = history_window
        self.max_history_pages = max_history_pages
        self._session: aiohttp.ClientSession | None = None
        self._dm_channels: dict[str, str] = {}
        self._reader, self._poster = self._clients()

    @classmethod
    def from_settings(cls, settings: Settings, tls_context: ssl.SSLContext | None) -> Self:
        """The bot's channel; a permanent DeliveryError when Slack is not set up."""
        if settings.slack.bot_token is None:
            raise DeliveryError("Slack is not set up: set RELIABILITY_SLACK__BOT_TOKEN",
                                permanent=True)
        return cls(settings.slack)

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_seconds)
        )
        self._reader, self._poster = self._clients()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None
        self._reader, self._poster = self._clients()

    def _clients(self) -> tuple[AsyncWebClient, AsyncWebClient]:
        token = self.settings.bot_token.get_secret_value() if self.settings.bot_token else None
        backoff = BackoffRetryIntervalCalculator(backoff_factor=self.retry_backoff_seconds)
        rate_limit = _BoundedRateLimitRetryHandler(self.max_rate_limit_wait_seconds)
        read_handlers: list[AsyncRetryHandler] = [
            rate_limit,
            AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
            AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
        ]
        post_handlers: list[AsyncRetryHandler] = [
            rate_limit,
            AsyncConnectionErrorRetryHandler(
                max_retry_count=2,
                interval_calculator=backoff,
                error_types=[aiohttp.ClientConnectorError],
            ),
        ]
        client = partial(
            AsyncWebClient,
            token=token,
            base_url=self.settings.base_url,
            timeout=self.timeout_seconds,
            session=self._session,
        )
        return client(retry_handlers=read_handlers), client(retry_handlers=post_handlers)

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Post a notice, raising DeliveryError when it did not go out."""
        commit = await self.prepare(message)
        assert not isinstance(commit, SendResult)
        return await commit()

    async def prepare(
        self, message: OutgoingMessage, *, unknown_since: datetime | None = None
    ) -> Commit | SendResult:
        """Find the conversation; after an attempt with an unknown outcome (unknown_since),
        the earlier post if Slack has it. The commit is chat.postMessage."""
        started = time.perf_counter()
        channel = await self._channel_for(message.recipient)
        if unknown_since is not None:
            found = await self.find_sent(message, since=unknown_since)
            if found is not None:
                return found
        return partial(self._send_to, channel, message, started)

    async def _send_to(self, channel: str, message: OutgoingMessage, started: float) -> SendResult:
        try:
            response = await self._post(channel, message)
        except (SlackApiError, aiohttp.ClientError) as exc:
            if isinstance(exc, TimeoutError) or not _worth_checking(exc):
                raise self._failure(exc, message.recipient, posting=True) from exc
            found = await self.find_sent(message)
            if found is not None:
                elapsed = (time.perf_counter() - started) * 1000
                return SendResult(provider_id=found.provider_id, duration_ms=elapsed)
            response = await self._guard(
                lambda: self._post(channel, message), message.recipient, posting=True
            )
        except TimeoutError as exc:
            raise self._failure(exc, message.recipient, posting=True) from exc
        elapsed = (time.perf_counter() - started) * 1000
        return SendResult(
            provider_id=f"{response['channel']}:{response['ts']}", duration_ms=elapsed
        )

    async def find_sent(
        self, message: OutgoingMessage, since: datetime | None = None
    ) -> SendResult | None:
        """The earlier post of this notice, if Slack has it; None if it was never posted.

        since: when the first attempt started (the outbox knows); without it the search
        covers history_window. At most max_history_pages pages are read.
        """
        started = time.perf_counter()
        channel = await self._channel_for(message.recipient)
        oldest = since.timestamp() if since else time.time() - self.history_window.total_seconds()
        cursor: str | None = None
        for _ in range(self.max_history_pages):
            page = await self._guard(
                lambda cursor=cursor: self._reader.conversations_history(
                    channel=channel,
                    oldest=f"{oldest - 1:.6f}",
                    limit=HISTORY_PAGE_SIZE,
                    include_all_metadata=True,
                    cursor=cursor,
                ),
                message.recipient,
            )
            for item in page.get("messages") or []:
                if _carries(item, message.idempotency_key):
                    elapsed = (time.perf_counter() - started) * 1000
                    return SendResult(provider_id=f"{channel}:{item['ts']}", duration_ms=elapsed)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _post(self, channel: str, message: OutgoingMessage) -> AsyncSlackResponse:
        return await self._poster.chat_postMessage(
            channel=channel,
            text=slack_text(message.text),
            blocks=message.blocks,
            metadata={
                "event_type": EVENT_TYPE,
                "event_payload": {"idempotency_key": message.idempotency_key},
            },
            unfurl_links=False,
            unfurl_media=False,
        )

    async def _channel_for(self, recipient: str) -> str:
        """The conversation to post in: the channel itself, or the person's DM with the bot."""
        if not recipient.startswith(("U", "W")):
            return recipient
        if recipient not in self._dm_channels:
            response = await self._guard(
                lambda: self._reader.conversations_open(users=recipient), recipient
            )
            self._dm_channels[recipient] = response["channel"]["id"]
        return self._dm_channels[recipient]

    async def _guard(
        self, call: Callable[[], Awaitable[T]], recipient: str, *, posting: bool = False
    ) -> T:
        try:
            return await call()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._failure(exc, recipient, posting=posting) from exc

    def _failure(self, exc: Exception, recipient: str, *, posting: bool) -> DeliveryError:
        """A Slack or network failure, in plain words, with whether a retry can help."""
        if isinstance(exc, TimeoutError):
            return DeliveryError(
                f"Slack did not answer within {self.timeout_seconds:g} s",
                permanent=False,
                maybe_sent=posting,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return DeliveryError(
                f"Could not reach Slack at {self.settings.base_url}: {exc}", permanent=False
            )
        if not isinstance(exc, SlackApiError):
            return DeliveryError(
                "The connection to Slack was lost before it answered",
                permanent=False,
                maybe_sent=posting,
            )
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = str(data.get("error") or "")
        if status == 429 or code == "ratelimited":
            wait = _retry_after(exc.response.headers)
            after = f"; try again in {wait:g} s" if wait is not None else ""
            return DeliveryError(
                f"Slack is limiting how fast the bot may post{after}",
                permanent=False,
                retry_after=wait,
            )
        if status >= 500:
            return DeliveryError(
                f"Slack had a server error (HTTP {status})", permanent=False, maybe_sent=posting
            )
        if code in PERMANENT_ERRORS:
            words = PERMANENT_ERRORS[code].format(recipient=recipient)
            needed = data.get("needed")
            detail = f"; needed: {needed}" if needed else ""
            return DeliveryError(f"{words} (Slack error {code}{detail})", permanent=True)
        return DeliveryError(
            f"Slack could not deliver to {recipient} (Slack error {code or status})",
            permanent=False,
        )
