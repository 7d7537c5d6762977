"""A real SMTP server (aiosmtpd) on a free loopback port, failing the ways mail servers do.

Used by the email channel tests, the delivery benchmark and the demo, so it speaks real SMTP
over real sockets: STARTTLS or implicit TLS with a certificate made at start-up (trustme),
AUTH, refused recipients, temporary failures, and connections dropped in the middle of DATA.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from reliability.config import SmtpSettings

HOST = "127.0.0.1"
Security = Literal["none", "starttls", "tls"]


@dataclass
class SmtpServer:
    """What a test can see of the running server: where it listens and what it received."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None
    ca: trustme.CA | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    connections: int = 0
    drops_left: int = 0
    messages_per_connection: int | None = None
    count_only: bool = False
    received: int = 0
    # Called with the running count after each accepted message, before the reply (fault
    # tests kill a worker when the server has seen a chosen number of messages).
    on_message: Callable[[int], None] | None = None
    # Seconds the server takes to accept each message, as a remote server does.
    accept_seconds: float = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client_tls_context(self) -> ssl.SSLContext | None:
        """A client context that trusts this server's throw-away certificate authority."""
        if self.ca is None:
            return None
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def settings(self, **overrides: Any) -> SmtpSettings:
        """SMTP settings that point the email channel at this server."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "password": SecretStr(self.password) if self.password is not None else None,
            "from_address": "promises@example.com",
            "from_name": "Acme Delivery Team",
            "timeout_seconds": 5,
        }
        values.update(overrides)
        return SmtpSettings(**values)

    def _record(self, envelope: Envelope) -> None:
        with self._lock:
            self.received += 1
            if not self.count_only:
                content = envelope.original_content or b""
                parsed = email.message_from_bytes(content, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                self.messages.append(parsed)
                self.recipients.append(list(envelope.rcpt_tos))
            count = self.received
        if self.on_message is not None:
            self.on_message(count)

    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drops_left <= 0:
                return False
            self.drops_left -= 1
            return True


class _Recorder:
    """aiosmtpd handler: refuses the configured recipients, records every accepted message."""

    def __init__(
        self, state: SmtpServer, refuse: Mapping[str, str], rcpt_reply: str | None
    ) -> None:
        self.state = state
        self.refuse = dict(refuse)
        self.rcpt_reply = rcpt_reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_reply or self.refuse.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.state.accept_seconds:
            await asyncio.sleep(self.state.accept_seconds)
        self.state._record(envelope)
        if isinstance(server, _SMTP):
            server.accepted_here += 1
        return "250 2.0.0 queued"


class _SMTP(SMTP):
    """aiosmtpd's server, able to hang up halfway through a message or after a few."""

    def __init__(self, handler: _Recorder, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.state = handler.state
        self.accepted_here = 0

    async def smtp_DATA(self, arg: str) -> None:
        if self.envelope is not None and self.envelope.rcpt_tos and self.state._take_drop():
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readline()
            self._hang_up()
            return
        await super().smtp_DATA(arg)
        limit = self.state.messages_per_connection
        if limit is not None and self.accepted_here >= limit:
            self._hang_up()

    def _hang_up(self) -> None:
        assert self.transport is not None
        self.transport.close()
        self.transport = None  # ends aiosmtpd's command loop, leaving the rest unread


class _Controller(Controller):
    """Counts client connections: the factory runs once per accepted socket."""

    def __init__(self, handler: _Recorder, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.state = handler.state

    def factory(self) -> SMTP:
        self.state._count_connection()
        return _SMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    """A loopback port nobody listens on (also handy for "server down" tests)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(
    *,
    security: Security = "none",
    username: str | None = None,
    password: str | None = None,
    refuse: Mapping[str, str] | None = None,
    rcpt_reply: str | None = None,
    drop_during_data: int = 0,
    messages_per_connection: int | None = None,
    count_only: bool = False,
) -> Iterator[SmtpServer]:
    """Run an SMTP server for the duration of the block.

    refuse: address -> reply line for that RCPT (e.g. "550 5.1.1 no such user").
    rcpt_reply: one reply line for every RCPT (e.g. "451 4.3.0 try later" or "421 closing").
    drop_during_data: how many of the next messages get the connection cut after the first
    line of their content, before any reply.
    messages_per_connection: hang up after accepting this many messages on one connection,
    as providers with per-connection limits do.
    count_only: count messages without parsing them (for benchmarks).
    """
    state = SmtpServer(
        host=HOST,
        port=free_port(),
        security=security,
        username=username,
        password=password,
        drops_left=drop_during_data,
        messages_per_connection=messages_per_connection,
        count_only=count_only,
    )
    handler = _Recorder(state, refuse or {}, rcpt_reply)
    smtp_kwargs: dict[str, Any] = {}
    ssl_context = None
    if security != "none":
        state.ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        state.ca.issue_cert(HOST, "localhost").configure_cert(server_context)
        if security == "tls":
            ssl_context = server_context
        else:
            smtp_kwargs.update(tls_context=server_context, require_starttls=True)
    if username is not None:

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (
                data.login.decode(),
                data.password.decode(),
            ) == (username, password)
            if ok:
                state.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        smtp_kwargs.update(
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=security != "none",
        )
    controller = _Controller(
        handler, hostname=HOST, port=state.port, ssl_context=ssl_context, **smtp_kwargs
    )
    controller.start()
    state.connections = 0  # the controller's own readiness probe is not a client
    try:
        yield state
    finally:
        controller.stop()
