"""A local Socket Mode endpoint: the WebSocket end Slack keeps open to an app without a URL.

It greets the client with "hello", hands it envelopes (a slash command, say) and keeps
the acknowledgements the client sends back, as Slack does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from servers.smtp import free_port

HOST = "127.0.0.1"


@dataclass
class SocketModeServer:
    url: str
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    answered: threading.Condition = field(default_factory=threading.Condition)
    loop: asyncio.AbstractEventLoop | None = None
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Hand the connected app an envelope; its id, to wait for the acknowledgement."""
        envelope_id = uuid.uuid4().hex
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": True, "retry_attempt": 0, "retry_reason": ""}
        assert self.loop is not None and self.sockets, "no Socket Mode client is connected"
        asyncio.run_coroutine_threadsafe(self.sockets[-1].send_str(json.dumps(message)),
                                         self.loop).result(5)
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        with self.answered:
            if not self.answered.wait_for(lambda: envelope_id in self.acks, timeout):
                raise TimeoutError(f"no acknowledgement for envelope {envelope_id}")
            return self.acks[envelope_id]


@contextmanager
def socket_mode_server() -> Iterator[SocketModeServer]:
    port = free_port()
    state = SocketModeServer(url=f"ws://{HOST}:{port}/link")
    ready = threading.Event()

    async def link(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        state.sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                          "debug_info": {"host": "local"}}))
        state.connected.set()
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            if "envelope_id" in body:
                with state.answered:
                    state.acks[body["envelope_id"]] = body
                    state.answered.notify_all()
        return socket

    def run() -> None:
        loop = asyncio.new_event_loop()
        state.loop = loop
        app = web.Application()
        app.router.add_get("/link", link)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, HOST, port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="socket-mode", daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield state
    finally:
        assert state.loop is not None
        state.loop.call_soon_threadsafe(state.loop.stop)
        thread.join(5)
