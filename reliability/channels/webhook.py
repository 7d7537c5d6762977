"""Webhook delivery: one signed HTTP POST of one event to one endpoint, through httpx.

The body is the event's JSON document as stored; the signature covers the moment of
sending and that exact body (`Reliability-Signature: t=<unix>,v1=<hex>`), as Stripe's
does, so a receiver can refuse a replay and a body changed on the way. Any 2xx answer
means delivered; anything else, or no answer, is a failure the outbox retries. Redirects
are not followed: the endpoint's registered URL is the only place an event goes.

The host is resolved once per delivery, every address it resolves to is checked, and the
request connects to a checked address itself, with the URL's host in the Host header and
as the TLS server name (SNI and certificate verification). httpx never resolves the name
again, so a DNS answer that changes between the check and the connection (DNS rebinding)
cannot send an event inside the network. Connections are not kept alive: a pooled one,
keyed by address, could otherwise carry another host's request under the first one's
certificate.
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
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self
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


# NAT64 (RFC 6052's well-known prefix; RFC 8215's local-use one, whose embedding varies).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
# AWS's IPv6 instance metadata: a private (fc00::/7) address, refused even where private
# ones are allowed, as 169.254.169.254 is by being link-local.
METADATA = frozenset({ipaddress.IPv6Address("fd00:ec2::254")})

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system's resolver gives for `host`, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and would reach: IPv4-mapped, IPv4-compatible,
    6to4, Teredo (its client) and NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or ip in IPV4_TRANSLATED or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(address: str, *, allow_private: bool) -> str | None:
    """Why an IP address is no place to send events to, or None when it is fine: private,
    loopback, link-local (cloud metadata), multicast and reserved ranges are inside
    someone's network, and reaching them from the worker is how SSRF works. An IPv6 address
    that carries an IPv4 one is judged by that IPv4 address too (a NAT64 or 6to4 gateway
    would take the request there)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip in METADATA:
        return f"{ip} is a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in LOCAL_NAT64:
            return f"{ip} is a local NAT64 address"
        inner = embedded_ipv4(ip)
        refusal = address_refusal(str(inner), allow_private=allow_private) if inner else None
        if refusal is not None:
            return f"{ip} carries {refusal}"
        if ip.ipv4_mapped is not None:
            return None  # it is that IPv4 address, judged just now
    # Site-local IPv6 (fec0::/10) is private and multicast no receiver, though this
    # Python's `is_global` says otherwise.
    private = ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    if ip.is_global and not private and not ip.is_multicast:
        return None
    if allow_private and (private or ip.is_loopback) and not ip.is_link_local:
        return None
    what = ("a link-local address" if ip.is_link_local else "a loopback address"
            if ip.is_loopback else "a private address" if private else
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


async def checked_addresses(url: str, settings: WebhookSettings,
                            resolver: Resolver) -> list[str] | str:
    """The addresses `url`'s host resolves to, resolved once here, when every one of them
    may receive events; else why not."""
    target = httpx.URL(url)
    host = target.raw_host.decode("ascii")
    try:
        addresses = await resolver(host, target.port or (443 if target.scheme == "https"
                                                          else 80))
    except (OSError, UnicodeError) as exc:
        return f"its host {host!r} could not be resolved ({exc})"
    if not addresses:
        return f"its host {host!r} resolves to no address"
    return addresses_refusal(host, addresses, settings) or addresses


def addresses_refusal(host: str, addresses: Sequence[str],
                      settings: WebhookSettings) -> str | None:
    """Why any of the addresses a host resolved to is refused."""
    for address in addresses:
        refusal = address_refusal(address, allow_private=settings.allow_private_addresses)
        if refusal is not None:
            return f"its host {host!r} resolves to {refusal}"
    return None


class WebhookChannel:
    name: ClassVar[str] = "webhook"
    # An HTTP receiver cannot be asked what it got: a crash repeats at most one delivery,
    # with the same event id, which receivers use to drop the repeat.
    finds_sent: ClassVar[bool] = False

    def __init__(self, settings: WebhookSettings, tls_context: ssl.SSLContext | None,
                 resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        self.tls_context = tls_context
        self.resolver = resolver
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, tls_context: ssl.SSLContext | None) -> Self:
        return cls(settings.webhooks, tls_context)

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout_seconds, follow_redirects=False, trust_env=False,
            verify=self.tls_context if self.tls_context is not None else True,
            limits=httpx.Limits(max_keepalive_connections=0))
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
        checked = url_refusal(url, self.settings) or await checked_addresses(
            url, self.settings, self.resolver)
        if isinstance(checked, str):
            raise DeliveryError(f"{url} cannot receive events: {checked}", permanent=False)
        target = httpx.URL(url)
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
                response = await _post_pinned(client, target, checked, body, headers,
                                              self.settings.timeout_seconds)
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


async def _post_pinned(client: httpx.AsyncClient, target: httpx.URL, addresses: list[str],
                       body: bytes, headers: dict[str, str], timeout: float) -> httpx.Response:
    """POST to the checked addresses in turn until one takes the connection, each under the
    URL's own host name (Host header, SNI, certificate). The status and headers are the
    answer: the body is never read (one without end cannot fill the worker's memory), and
    they must come within twice `timeout` (each byte within `timeout` of the last is not
    enough: a receiver dripping its answer would hold the worker)."""
    pinned = {**headers, "Host": target.netloc.decode("ascii")}
    server_name = target.raw_host.decode("ascii")

    async def post(address: str) -> httpx.Response:
        request = client.build_request("POST", target.copy_with(host=address), content=body,
                                       headers=pinned, extensions={"sni_hostname": server_name})
        try:
            async with asyncio.timeout(2 * timeout):
                response = await client.send(request, stream=True)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no whole answer within {2 * timeout:g} s",
                                    request=request) from None
        await response.aclose()
        return response

    for address in addresses[:-1]:
        try:
            return await post(address)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue
    return await post(addresses[-1])


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
