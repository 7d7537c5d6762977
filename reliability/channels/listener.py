"""An SMTP listener for client mail: the mail server (or the team's relay) delivers to it,
and each message is handed to the inbox before the listener says 250.

The reply waits for the message to be recorded, so a message is never accepted and lost: a
failure is a 451, and the sending server keeps the message and tries again later. A message
over the size limit is refused with 552 while it is being sent. It listens on loopback by
default: put it behind the mail server, not on the open internet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)


class _Handler:
    def __init__(self, accept: Callable[[bytes], object]) -> None:
        self.accept = accept

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.accept, raw)
        except Exception:  # the sender keeps the message and tries again
            log.exception("a message could not be recorded; the sender will try again")
            return "451 4.3.0 the message could not be recorded now, try again later"
        return "250 2.0.0 recorded"


class ListenerError(Exception):
    """The listener could not start (the port is taken, the address is not this host's)."""


class MailListener:
    """Listens for mail on host:port until stopped; use it with `with`."""

    def __init__(self, accept: Callable[[bytes], Any], *, host: str, port: int,
                 max_bytes: int) -> None:
        self.where = f"{host}:{port}"
        self._controller = Controller(_Handler(accept), hostname=host, port=port,
                                      data_size_limit=max_bytes)

    def __enter__(self) -> MailListener:
        try:
            self._controller.start()
        except (OSError, RuntimeError) as exc:
            raise ListenerError(f"cannot listen for mail on {self.where}: {exc}") from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()
