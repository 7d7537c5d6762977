"""The echo of a `/promise`, composed away from the acks Slack waits 3 seconds for.

The server hands each command to a child process (`python -P -m reliability.slack_echo`) that
runs at idle priority: while the server has acks to answer the CPU is theirs, and the echoes
queue up behind each other and follow in the pauses. The hand-off costs the server one line
written to a local socket and nothing else: no thread wakes, nothing is pickled per command,
and the write never blocks (asyncio buffers it if the child is behind, up to `MAX_BEHIND`).

- The child listens on a socket in a directory only this user can open (mode 0700), created
  by the server before the child starts, so a command written while the child still boots
  waits in the socket instead of failing.
- Each connection starts with the settings (pickled once, trusted because of that directory);
  then one JSON line per command: its fields and the moment it arrived.
- The child leaves when the server does (its stdin, a pipe from the server, ends) and is
  started again if it died; a command written to a child that died before reading it is
  lost with one log line, as a Slack echo is the owner's prompt, not a client's message.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from reliability.config import Settings
from reliability.db import make_engine
from reliability.deadlines import warm
from reliability.ledger import Ledger
from reliability.slack_app import Listeners, listeners_for

log = logging.getLogger(__name__)
SOCKET = "echo.sock"
# The longest line the child reads: a command from a request of at most slack_http's
# MAX_BODY (1 MiB) is at most six times that as JSON (a control character becomes \u0001).
# A stream's default (64 kB) is less than a /promise of 14,000 Chinese characters.
LINE_LIMIT = 8 * 1024 * 1024
# Echoes waiting for the child, in bytes: at idle priority it may get no CPU for as long as
# the server is busy, and a burst beyond this is dropped (one log line each), not held in
# the server's memory.
MAX_BEHIND = 64 * 1024 * 1024


class Child:
    """The echo process of this server and the socket it listens on."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="reliability-echo-"))  # mode 0700
        self.path = str(self.folder / SOCKET)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(64)
        # -P: `-m` would otherwise put the working folder first on the module path.
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "reliability.slack_echo", str(listener.fileno()),
             self.path],
            stdin=subprocess.PIPE, pass_fds=(listener.fileno(),))
        listener.close()  # the child holds it now

    def alive(self) -> bool:
        return self.process.poll() is None


_CHILD: list[Child] = []
_CHILD_LOCK = threading.Lock()


def child() -> Child:
    """This server's echo process, started on first use and again if it died."""
    with _CHILD_LOCK:
        if _CHILD and not _CHILD[0].alive():
            log.warning("the Slack echo process had stopped (exit code %s); starting it again",
                        _CHILD[0].process.returncode)
            shutil.rmtree(_CHILD.pop().folder, ignore_errors=True)
        if not _CHILD:
            _CHILD.append(Child())
        return _CHILD[0]


class Echoes:
    """The server's side: one connection to the child per event loop, written without
    waiting."""

    def __init__(self, settings: Settings) -> None:
        self.settings_line = base64.b64encode(pickle.dumps(settings)) + b"\n"
        self.writer: asyncio.StreamWriter | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.child: Child | None = None
        self.waiting: list[bytes] = []
        self.connecting: asyncio.Task[None] | None = None
        child()  # booted now, not on the first echo

    def send(self, command: dict[str, Any], now: datetime) -> None:
        """Queue the echo of `command` as it reads at `now` (in the event loop)."""
        line = json.dumps({"command": command, "now": now.isoformat()}).encode() + b"\n"
        writer = self.writer if self._connected() else None
        behind = sum(map(len, self.waiting)) + (
            writer.transport.get_write_buffer_size() if writer is not None else 0)
        if behind + len(line) > MAX_BEHIND:
            log.warning("the Slack echo process is %d bytes behind; an echo was dropped",
                        behind)
            return
        if writer is not None:
            writer.write(line)
            return
        self.waiting.append(line)
        if self.connecting is None or self.connecting.done():
            self.connecting = asyncio.get_running_loop().create_task(self._connect())

    def _connected(self) -> bool:
        return (self.writer is not None and not self.writer.is_closing()
                and self.loop is asyncio.get_running_loop()
                and self.child is not None and self.child.alive())

    async def _connect(self) -> None:
        current = child()
        try:
            _, writer = await asyncio.open_unix_connection(current.path)
        except OSError as exc:
            log.warning("could not reach the Slack echo process (%s); %d echoes not sent",
                        exc, len(self.waiting))
            self.waiting.clear()
            return
        if self.writer is not None and self.loop is asyncio.get_running_loop():
            self.writer.close()
        self.writer, self.loop, self.child = writer, asyncio.get_running_loop(), current
        writer.write(self.settings_line + b"".join(self.waiting))
        self.waiting.clear()


# In the child.

_LEDGERS: dict[bytes, Ledger] = {}


def _ledger(settings_line: bytes) -> Ledger:
    """The ledger (and its connection pool) of the settings last seen: a server has one, and
    a new one (a test's own database) closes the old pool's connections."""
    if settings_line not in _LEDGERS:
        for old in _LEDGERS.values():
            old.engine.dispose()
        _LEDGERS.clear()
        settings: Settings = pickle.loads(base64.b64decode(settings_line))
        _LEDGERS[settings_line] = Ledger(make_engine(settings.database.url), settings)
    return _LEDGERS[settings_line]


async def _connection(one_at_a_time: asyncio.Lock, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    """Echo each line in turn; a line that cannot be read or echoed costs that echo only,
    never the connection and the echoes queued behind it."""
    try:
        settings_line = (await reader.readline()).strip()
        while line := await _line(reader):
            try:
                message = json.loads(line)
                now = datetime.fromisoformat(message["now"])
                async with one_at_a_time:
                    await echo(listeners_for(_ledger(settings_line), lambda now=now: now),
                               message["command"])
            except Exception:
                log.exception("an echo for Slack failed")
    finally:
        writer.close()


async def _line(reader: asyncio.StreamReader) -> bytes:
    """The next line; one longer than LINE_LIMIT is skipped with a log line."""
    while True:
        try:
            return await reader.readline()
        except ValueError:
            log.warning("an echo for Slack was longer than %d bytes; skipped", LINE_LIMIT)


async def echo(listeners: Listeners, command: dict[str, Any]) -> None:
    """Compose the echo of a promise and post it to the command's response_url."""
    said: dict[str, Any] = {}

    async def ack(**reply: Any) -> None:
        said.update(reply)

    await listeners.ack_command(ack, command)
    url = str(command.get("response_url") or "")
    if not url.startswith(("https://", "http://")):
        log.warning("a /promise from Slack came without a response_url; no echo sent")
        return
    try:
        await AsyncWebhookClient(url).send(**said)
    except (OSError, aiohttp.ClientError) as exc:
        log.warning("could not post the echo of a /promise to Slack: %s", exc)


def _idle_priority() -> None:
    """Run only when nothing else on the machine wants the CPU (Linux); elsewhere, the
    lowest niceness."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19 - os.nice(0))


async def _serve(fileno: int) -> None:
    """Echo what every connection sends, one echo at a time, until the server is gone."""
    loop = asyncio.get_running_loop()
    server = await asyncio.start_unix_server(
        functools.partial(_connection, asyncio.Lock()), sock=socket.socket(fileno=fileno),
        limit=LINE_LIMIT)
    ended = loop.create_future()

    def watch_server() -> None:
        sys.stdin.buffer.read()  # ends when the server closes its end: it stopped or died
        loop.call_soon_threadsafe(ended.set_result, None)

    threading.Thread(target=watch_server, daemon=True).start()
    await ended
    server.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    warm()  # the rules and dateparser loaded at normal priority: an echo costs only itself
    _idle_priority()
    try:
        asyncio.run(_serve(int(sys.argv[1])))
    finally:
        shutil.rmtree(Path(sys.argv[2]).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
