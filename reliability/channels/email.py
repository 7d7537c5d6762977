"""Email transport: sends a batch of notices over as few SMTP connections as possible.

Each message gets a Message-ID derived from its idempotency key, so a retried notice carries
the same id as the first attempt and a mail system that has seen it can recognise it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectTimeoutError,
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from reliability.channels import DeliveryError, OutgoingMessage, SendResult
from reliability.config import SmtpSettings

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry builds a new class for every header it parses; build each once."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._built:
            self._built[key] = super().__getitem__(name)
        return self._built[key]


# policy.SMTP (CRLF line ends; refuses CR/LF inside header values), with faster headers.
# Lines may run to RFC 5322's 998 characters: at 78 the stdlib folds a long subject right
# after "Subject:", and some clients then show it with a leading space.
_POLICY = policy.SMTP.clone(header_factory=_HeaderClasses(), max_line_length=998)


def message_id_for(key: str, domain: str) -> str:
    """The Message-ID of a notice: the same key always gives the same id."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def one_line(value: str) -> str:
    """User text placed in a header must stay one header: every line break becomes a space."""
    return " ".join(_CONTROL.sub(" ", value).split())


def parse_address(value: str, display_name: str = "") -> Address:
    """An address for a header, or a permanent DeliveryError naming the bad value."""
    try:
        address = Address(display_name=one_line(display_name), addr_spec=value)
    except (ValueError, IndexError, MessageError):
        address = None
    if address is None or not address.username or not address.domain:
        raise DeliveryError(f"{value!r} is not a valid email address", permanent=True)
    return address


def build_email(message: OutgoingMessage, settings: SmtpSettings, now: datetime) -> EmailMessage:
    """The MIME message for one notice: plain text, plus an HTML alternative when there is one."""
    sender = parse_address(settings.from_address, settings.from_name)
    email = EmailMessage(policy=_POLICY)
    email["From"] = sender
    email["To"] = parse_address(message.recipient, message.recipient_name or "")
    if message.reply_to:
        email["Reply-To"] = parse_address(message.reply_to)
    email["Subject"] = one_line(message.subject)
    email["Date"] = format_datetime(now.astimezone(UTC))
    email["Message-ID"] = message_id_for(message.idempotency_key, sender.domain)
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    return email


ResultHook = Callable[[int, SendResult | DeliveryError], None]


def _ignore(index: int, result: SendResult | DeliveryError) -> None:
    """The default result hook: the caller reads the returned list instead."""


class _Unreachable(Exception):
    """No SMTP session could be opened; the worker stops taking messages."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.reason)
        self.error = error


class EmailChannel:
    """Sends notices by SMTP, reusing connections across a batch.

    tls_context lets tests trust a throw-away certificate authority; production uses the
    system's trust store. The password comes only from settings and never enters a reason.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        tls_context: ssl.SSLContext | None = None,
        *,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.settings = settings
        self.tls_context = tls_context
        self.concurrency = concurrency

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one notice, raising DeliveryError when it did not go out."""
        (result,) = await self.send_batch([message])
        if isinstance(result, DeliveryError):
            raise result
        return result

    async def send_batch(
        self, messages: Sequence[OutgoingMessage], on_result: ResultHook | None = None
    ) -> list[SendResult | DeliveryError]:
        """One result per message, in order; a failure of one message never stops the others.

        on_result(index, result) is called as each message's outcome is known, so the
        caller can record a send before the next one starts."""
        results: list[SendResult | DeliveryError | None] = [None] * len(messages)
        hook = on_result or _ignore
        jobs = iter(enumerate(messages))
        workers = min(self.concurrency, len(messages))
        outcomes = await asyncio.gather(
            *(self._work(jobs, results, hook) for _ in range(workers))
        )
        unreachable = next((error for error in outcomes if error is not None), None)
        delivered: list[SendResult | DeliveryError] = []
        for index, result in enumerate(results):
            if result is None:  # every worker stopped at an unreachable server before this one
                assert unreachable is not None
                result = unreachable
                hook(index, result)
            delivered.append(result)
        return delivered

    async def _work(
        self,
        jobs: Iterator[tuple[int, OutgoingMessage]],
        results: list[SendResult | DeliveryError | None],
        hook: ResultHook,
    ) -> DeliveryError | None:
        """Deliver messages over one connection until none are left or the server is unreachable."""
        smtp: SMTP | None = None
        try:
            for index, message in jobs:
                try:
                    smtp, results[index] = await self._deliver(smtp, message)
                except _Unreachable as exc:
                    results[index] = exc.error
                    hook(index, exc.error)
                    return exc.error
                hook(index, results[index])  # type: ignore[arg-type]
            return None
        finally:
            if smtp is not None:
                await self._quit(smtp)

    async def _deliver(
        self, smtp: SMTP | None, message: OutgoingMessage
    ) -> tuple[SMTP | None, SendResult | DeliveryError]:
        started = time.perf_counter()
        try:
            email = build_email(message, self.settings, datetime.now(UTC))
        except DeliveryError as error:
            return smtp, error
        recipient = email["To"].addresses[0].addr_spec
        for reconnect_allowed in (True, False):
            fresh = smtp is None or not smtp.is_connected
            if fresh:
                smtp = await self._connect()
            assert smtp is not None
            try:
                await smtp.mail(self.settings.from_address)
                await smtp.rcpt(recipient)
            except SMTPServerDisconnected:
                smtp = None
                if fresh or not reconnect_allowed:
                    return None, self._dropped(recipient, maybe_sent=False)
                continue
            except SMTPTimeoutError:
                return None, self._silent()
            except SMTPResponseException as exc:
                return await self._reset(smtp), self._refused(exc, recipient)
            break
        assert smtp is not None
        try:
            await smtp.data(email.as_bytes())
        except SMTPServerDisconnected:
            return None, self._dropped(recipient, maybe_sent=True)
        except SMTPTimeoutError:
            return None, self._silent(maybe_sent=True)
        except SMTPDataError as exc:
            return await self._reset(smtp), self._refused(exc, recipient)
        elapsed = (time.perf_counter() - started) * 1000
        return smtp, SendResult(provider_id=str(email["Message-ID"]), duration_ms=elapsed)

    async def _connect(self) -> SMTP:
        settings = self.settings
        smtp = SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            timeout=settings.timeout_seconds,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            tls_context=self.tls_context,
        )
        try:
            await smtp.connect()
        except SMTPAuthenticationError as exc:
            raise _Unreachable(
                DeliveryError(
                    f"The mail server {self.server} did not accept the username and password "
                    f"for {settings.username}: {exc.code} {exc.message}",
                    permanent=exc.code >= 500,
                )
            ) from exc
        except SMTPResponseException as exc:
            raise _Unreachable(
                DeliveryError(
                    f"The mail server {self.server} turned the connection away: "
                    f"{exc.code} {exc.message}",
                    permanent=exc.code >= 500,
                )
            ) from exc
        except SMTPConnectTimeoutError as exc:
            raise _Unreachable(self._silent()) from exc
        except (SMTPException, OSError) as exc:
            raise _Unreachable(
                DeliveryError(
                    f"Could not connect to the mail server {self.server}: {exc}", permanent=False
                )
            ) from exc
        return smtp

    async def _reset(self, smtp: SMTP) -> SMTP | None:
        """Clear a refused transaction so the connection can carry the next message."""
        if not smtp.is_connected:
            return None
        try:
            await smtp.rset()
        except (SMTPException, OSError):
            smtp.close()
            return None
        return smtp

    async def _quit(self, smtp: SMTP) -> None:
        if not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (SMTPException, OSError):
            smtp.close()

    def _refused(self, exc: SMTPResponseException, recipient: str) -> DeliveryError:
        reply = f"{exc.code} {exc.message}"
        permanent = exc.code >= 500
        if isinstance(exc, SMTPRecipientRefused):
            what = "refused the address" if permanent else "cannot take mail for"
            reason = f"The mail server {what} {recipient}: {reply}"
        elif isinstance(exc, SMTPSenderRefused):
            reason = f"The mail server refused the sender {self.settings.from_address}: {reply}"
        else:
            reason = f"The mail server did not accept the message to {recipient}: {reply}"
        if not permanent:
            reason += " (temporary; will retry)"
        return DeliveryError(reason, permanent=permanent)

    def _dropped(self, recipient: str, *, maybe_sent: bool) -> DeliveryError:
        when = "while receiving the message" if maybe_sent else "before the message was sent"
        return DeliveryError(
            f"The mail server {self.server} closed the connection {when} to {recipient}",
            permanent=False,
            maybe_sent=maybe_sent,
        )

    def _silent(self, *, maybe_sent: bool = False) -> DeliveryError:
        return DeliveryError(
            f"The mail server {self.server} did not answer within "
            f"{self.settings.timeout_seconds:g} s",
            permanent=False,
            maybe_sent=maybe_sent,
        )
