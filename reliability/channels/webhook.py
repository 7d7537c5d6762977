"""Webhook delivery: one signed HTTP POST of one event to one endpoint, through httpx.

The body is the event's JSON document as stored; the signature covers the moment of
sending and that exact body (`Reliability-Signature: t=<unix>,v1=<hex>`), as Stripe's
does, so a receiver can refuse a replay and a body changed on the way. Any 2xx answer
means delivered; anything else, or no answer, is a failure the outbox retries. Redirects
are not followed: the endpoint's registered URL is the only place an event goes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import httpx

from reliability.channels import Commit, DeliveryError, OutgoingMessage, SendResult
from reliability.config import Settings, WebhookSettings

SIGNATURE_HEADER = "Reliability-Signature"
EVENT_ID_HEADER = "Reliability-Event-Id"
EVENT_TYPE_HEADER = "Reliability-Event-Type"
USER_AGENT = "Reliability-Webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for `body` signed at `timestamp` (Unix seconds) with `secret`:
    HMAC-SHA256, keyed by the secret's UTF-8 bytes, over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def address_refusal(address: str, *, allow_private: bool) -> str | None:
    """Why an IP address is no place to send events to, or None when it is fine: private,
    loopback, link-local (cloud metadata), multicast and reserved ranges are inside
    someone's network, and reaching them from the worker is how SSRF works."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global:
        return None
    if allow_private and (ip.is_private or ip.is_loopback) and not ip.is_link_local:
        return None
    what = ("a link-local address" if ip.is_link_local else "a loopback address"
            if ip.is_loopback else "a private address" if ip.is_private else
            "not a public address")
    return f"{ip} is {what}"


def url_refusal(url: str, settings: WebhookSettings) -> str | None:
    """Why `url` may not receive events under these settings (scheme, host), else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "it is not an http(s) address with a host"
    if parts.scheme == "http" and not settings.allow_http:
        return "it is plain http; events go only over https ([webhooks] allow_http is off)"
    if parts.username or parts.password:
        return "it carries a user name or password; the signature is how a receiver knows us"
    return None


async def resolve_refusal(url: str, settings: WebhookSettings) -> str | None:
    """Why the addresses `url`'s host resolves to may not receive events, else None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"its host {host!r} could not be resolved ({exc})"
    return addresses_refusal(host, infos, settings)


def addresses_refusal(host: str, infos: Sequence[tuple[Any, ...]],
                      settings: WebhookSettings) -> str | None:
    """Why any of the addresses a host resolved to (getaddrinfo's answer) is refused."""
    for info in infos:
        refusal = address_refusal(str(info[4][0]), allow_private=settings.allow_private_addresses)
        if refusal is not None:
            return f"its host {host!r} resolves to {refusal}"
    return None


class WebhookChannel:
    name: ClassVar[str] = "webhook"
    # An HTTP receiver cannot be asked what it got: a crash repeats at most one delivery,
    # with the same event id, which receivers use to drop the repeat.
    finds_sent: ClassVar[bool] = False

    def __init__(self, settings: WebhookSettings, tls_context: ssl.SSLContext | None) -> None:
        self.settings = settings
        self.tls_context = tls_context
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, tls_context: ssl.SSLContext | None) -> Self:
        return cls(settings.webhooks, tls_context)

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout_seconds, follow_redirects=False, trust_env=False,
            verify=self.tls_context if self.tls_context is not None else True)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def prepare(self, message: OutgoingMessage, *,
                      unknown_since: datetime | None = None) -> Commit | SendResult:
        if message.signing_key is None:
            raise DeliveryError("the endpoint is switched off, removed, or has no secret "
                                "(give it one with `reliability webhook rotate-secret`)",
                                permanent=True)
        url = message.recipient
        refusal = url_refusal(url, self.settings) or await resolve_refusal(url, self.settings)
        if refusal is not None:
            raise DeliveryError(f"{url} cannot receive events: {refusal}", permanent=False)
        body = message.text.encode()
        event = json.loads(body)
        client = self._client
        assert client is not None, "use the channel inside `async with`"
        key = message.signing_key

        async def commit() -> SendResult:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                EVENT_ID_HEADER: str(event["id"]),
                EVENT_TYPE_HEADER: str(event["type"]),
                SIGNATURE_HEADER: signature(key, int(time.time()), body),
            }
            started = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise DeliveryError(f"could not connect to {url} ({exc})",
                                    permanent=False) from None
            except httpx.HTTPError as exc:
                raise DeliveryError(f"{url} gave no answer ({type(exc).__name__}: {exc})",
                                    permanent=False, maybe_sent=True) from None
            duration_ms = (time.perf_counter() - started) * 1000
            if response.is_success:
                return SendResult(f"HTTP {response.status_code}", duration_ms)
            raise DeliveryError(f"{url} answered HTTP {response.status_code}", permanent=False,
                                retry_after=_retry_after(response))

        return commit


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
