"""The IMAP mailbox the team BCCs or forwards client mail to, read with `imapclient`.

A message is fetched with BODY.PEEK, so reading it marks nothing; only once the inbox has
recorded it is it flagged \\Seen and given the inbox's keyword ($Reliability), and the
next round looks only for messages without that keyword. Whether a message was read is
decided by the database (its Message-ID), not by the flags, so a lost connection, a flag
that did not stick or a folder rebuilt under a new UIDVALIDITY reads nothing twice.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from reliability.config import InboxSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
SEEN = b"\\Seen"


class MailboxError(Exception):
    """The mailbox could not be read, phrased for the operator (never with the password)."""


@dataclass(frozen=True)
class Fetched:
    """One message: its bytes, or None when it is larger than the inbox reads."""

    uid: int
    size: int
    raw: bytes | None


class Mailbox:
    """One connection to the configured folder; open it with `with`."""

    def __init__(self, settings: InboxSettings, *, max_bytes: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if not settings.host or not settings.user:
            raise MailboxError("the mailbox is not set up: set [inbox] host and user in the "
                               "config file, and RELIABILITY_INBOX__PASSWORD in the "
                               "environment")
        self.settings = settings
        self.max_bytes = max_bytes
        self.ssl_context = ssl_context
        self.keyword = settings.keyword.encode()
        self._client: IMAPClient | None = None
        self._keywords = True

    def __enter__(self) -> Self:
        settings = self.settings
        where = f"{settings.host}:{settings.port}"
        password = settings.password.get_secret_value() if settings.password else ""
        try:
            client = IMAPClient(settings.host or "", port=settings.port, ssl=settings.ssl,
                                ssl_context=self.ssl_context, timeout=settings.timeout_seconds)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"cannot reach the mailbox at {where}: {exc}") from None
        try:
            client.login(settings.user or "", password)
            selected = client.select_folder(settings.folder)
        except IMAPClientError as exc:
            _close(client)
            raise MailboxError(f"the mailbox at {where} refused {settings.user!r} or folder "
                               f"{settings.folder!r}: {_reason(exc)}") from None
        except OSError as exc:
            _close(client)
            raise MailboxError(f"the connection to {where} failed: {exc}") from None
        # A server that keeps no keywords of ours is asked for unseen messages instead.
        self._keywords = b"\\*" in selected.get(b"PERMANENTFLAGS", ())
        self._client = client
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._client is not None:
            _close(self._client)
            self._client = None

    def waiting(self) -> list[int]:
        """The UIDs of the messages not yet marked read by the inbox, oldest first."""
        criteria = ["UNKEYWORD", self.keyword] if self._keywords else ["UNSEEN"]
        return sorted(self._call(lambda client: client.search(criteria)))

    def fetch(self, uid: int) -> Fetched | None:
        """The message `uid` without marking it; None when it is gone (expunged meanwhile)."""
        sizes = self._call(lambda client: client.fetch([uid], ["RFC822.SIZE"]))
        if uid not in sizes:
            return None
        size = int(sizes[uid].get(b"RFC822.SIZE", 0))
        if size > self.max_bytes:
            return Fetched(uid, size, None)
        found = self._call(lambda client: client.fetch([uid], ["BODY.PEEK[]"]))
        raw = found.get(uid, {}).get(b"BODY[]")
        return Fetched(uid, size, bytes(raw)) if raw is not None else None

    def mark(self, uid: int) -> None:
        """Flag the message read by the inbox: \\Seen, and the keyword where kept."""
        flags = [SEEN, self.keyword] if self._keywords else [SEEN]
        self._call(lambda client: client.add_flags([uid], flags, silent=True))

    def _call(self, step: Callable[[IMAPClient], T]) -> T:
        if self._client is None:
            raise MailboxError("the mailbox is not open")
        try:
            return step(self._client)
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"the mailbox at {self.settings.host}:{self.settings.port} "
                               f"failed mid-way: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text.removeprefix("b'").removesuffix("'") or type(exc).__name__


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (IMAPClientError, OSError):
        log.debug("the mailbox connection was already closed")
