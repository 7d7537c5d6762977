"""Email transport: sends notices over as few SMTP connections as possible.

Each message gets a Message-ID derived from its idempotency key, so a retried notice carries
the same id as the first attempt and a mail system that has seen it can recognise it.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import time
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from types import TracebackType
from typing import ClassVar, Self

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

from reliability.channels import Commit, DeliveryError, OutgoingMessage, SendResult, send_one
from reliability.config import Settings, SmtpSettings

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


class EmailChannel:
    """Sends notices by SMTP, reusing each connection for the next message.

    tls_context lets tests trust a throw-away certificate authority; production uses the
    system's trust store. The password comes only from settings and never enters a reason.
    Once the server cannot be reached, every later message in the same session fails with
    that reason at once instead of waiting for a connection of its own.
    """

    name: ClassVar[str] = "email"
    finds_sent: ClassVar[bool] = False

    def __init__(self, settings: SmtpSettings, tls_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.tls_context = tls_context
        self._idle: list[SMTP] = []
        self._busy: set[SMTP] = set()
        self._unreachable: DeliveryError | None = None

    @classmethod
    def from_settings(cls, settings: Settings, tls_context: ssl.SSLContext | None) -> Self:
        return cls(settings.smtp, tls_context)

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def __aenter__(self) -> Self:
        self._unreachable = None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for smtp in self._idle:
            await self._quit(smtp)
        for smtp in self._busy:
            smtp.close()
        self._idle, self._busy = [], set()

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one notice, raising DeliveryError when it did not go out."""
        return await send_one(self, message)

    async def prepare(
        self, message: OutgoingMessage, *, unknown_since: datetime | None = None
    ) -> Commit:
        """Build the message and name its sender and recipient on a connection; the DATA
        command that follows is the commit. SMTP cannot be asked about an earlier attempt,
        so unknown_since changes nothing: the repeat carries the same Message-ID."""
        started = time.perf_counter()
        email = build_email(message, self.settings, datetime.now(UTC))
        recipient = email["To"].addresses[0].addr_spec
        smtp = await self._addressed(recipient)

        async def commit() -> SendResult:
            try:
                await smtp.data(email.as_bytes())
            except SMTPServerDisconnected:
                self._discard(smtp)
                raise self._dropped(recipient, maybe_sent=True) from None
            except SMTPTimeoutError:
                self._discard(smtp)
                raise self._silent(maybe_sent=True) from None
            except SMTPDataError as exc:
                await self._reset(smtp)
                raise self._refused(exc, recipient) from None
            self._release(smtp)
            elapsed = (time.perf_counter() - started) * 1000
            return SendResult(provider_id=str(email["Message-ID"]), duration_ms=elapsed)

        return commit

    async def _addressed(self, recipient: str) -> SMTP:
        """A connection on which MAIL FROM and RCPT TO were accepted for this recipient.

        An idle connection the server has meanwhile closed is replaced once."""
        smtp = self._idle.pop() if self._idle else None
        for reconnect_allowed in (True, False):
            fresh = smtp is None or not smtp.is_connected
            if smtp is None or fresh:
                smtp = await self._connect()
            self._busy.add(smtp)
            try:
                await smtp.mail(self.settings.from_address)
                await smtp.rcpt(recipient)
            except SMTPServerDisconnected:
                self._discard(smtp)
                if fresh or not reconnect_allowed:
                    raise self._dropped(recipient, maybe_sent=False) from None
                smtp = None
                continue
            except SMTPTimeoutError:
                self._discard(smtp)
                raise self._silent() from None
            except SMTPResponseException as exc:
                await self._reset(smtp)
                raise self._refused(exc, recipient) from None
            return smtp
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _release(self, smtp: SMTP) -> None:
        self._busy.discard(smtp)
        self._idle.append(smtp)

    def _discard(self, smtp: SMTP) -> None:
        self._busy.discard(smtp)
        smtp.close()

    async def _connect(self) -> SMTP:
        if self._unreachable is None:
            try:
                return await self._open()
            except DeliveryError as error:
                self._unreachable = error
        raise self._unreachable

    async def _open(self) -> SMTP:
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
            raise DeliveryError(
                f"The mail server {self.server} did not accept the username and password "
                f"for {settings.username}: {exc.code} {exc.message}",
                permanent=exc.code >= 500,
            ) from exc
        except SMTPResponseException as exc:
            raise DeliveryError(
                f"The mail server {self.server} turned the connection away: "
                f"{exc.code} {exc.message}",
                permanent=exc.code >= 500,
            ) from exc
        except SMTPConnectTimeoutError as exc:
            raise self._silent() from exc
        except (SMTPException, OSError) as exc:
            raise DeliveryError(
                f"Could not connect to the mail server {self.server}: {exc}", permanent=False
            ) from exc
        return smtp

    async def _reset(self, smtp: SMTP) -> None:
        """Clear a refused transaction so the connection can carry the next message."""
        try:
            await smtp.rset()
        except (SMTPException, OSError):
            self._discard(smtp)
            return
        self._release(smtp)

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
