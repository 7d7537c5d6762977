"""Slack's side of the conversation for the Slack app tests and the benchmark.

The product's web app runs in uvicorn on a loopback port (in a thread); `SlackWorkspace`
sends it what Slack would (signed slash commands, button clicks, modal submissions) and
reads what the app did through the local fake Slack Web API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


class Swappable:
    """An ASGI app whose target each test sets, so one server serves the whole run."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app on a free loopback port; the socket listens before this returns, so
    requests simply wait in the backlog until uvicorn accepts them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                           access_log=False, backlog=1024))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              name="uvicorn", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def signed_headers(body: str, secret: str = SIGNING_SECRET,
                   timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}",
            "Content-Type": "application/x-www-form-urlencoded"}


def command_body(text: str, *, user: str, response_url: str, trigger: str = "1.2.3") -> str:
    return urlencode({
        "token": "legacy", "team_id": "T0000001", "team_domain": "example",
        "channel_id": "C0000GENERAL", "channel_name": "general", "user_id": user,
        "user_name": user.lower(), "command": "/promise", "text": text,
        "api_app_id": "A0000001", "response_url": response_url, "trigger_id": trigger,
    })


def payload_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


class SlackWorkspace:
    """Sends signed requests to the app's /slack/events, as Slack does."""

    def __init__(self, url: str, api: Any) -> None:
        self.url = url + "/slack/events"
        self.api = api
        self.http = httpx.Client(timeout=10)
        self._clicks = 0

    def post(self, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(self.url, content=body.encode(),
                              headers=signed_headers(body) if headers is None else headers)

    def command(self, text: str, *, user: str = "UALICE") -> tuple[httpx.Response, str]:
        """`/promise text`: the app's answer and the response_url it may post to later."""
        self._clicks += 1
        url = self.api.response_url(f"c{self._clicks}")
        return self.post(command_body(text, user=user, response_url=url)), url

    def answer(self, text: str, *, user: str = "UALICE") -> dict[str, Any]:
        """What the person sees after `/promise text`: the ack itself, or, when the ack is
        empty (a promise's echo, a sub-command), the first post to the response_url."""
        response, url = self.command(text, user=user)
        assert response.status_code == 200, response.text
        if response.content:
            return dict(response.json())
        [reply] = self.api.replies(url)
        return reply

    def click(self, action_id: str, value: str, *, user: str = "UALICE",
              message: dict[str, Any] | None = None,
              container: dict[str, Any] | None = None) -> tuple[httpx.Response, str]:
        self._clicks += 1
        url = self.api.response_url(f"b{self._clicks}")
        payload = {
            "type": "block_actions", "team": {"id": "T0000001"},
            "user": {"id": user, "team_id": "T0000001"}, "api_app_id": "A0000001",
            "trigger_id": f"trigger.{self._clicks}", "response_url": url,
            "container": container or {"type": "message"}, "message": message or {},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                         "value": value, "action_ts": "1"}],
        }
        return self.post(payload_body(payload)), url

    def submit(self, modal: dict[str, Any], values: dict[str, Any], *,
               user: str = "UALICE") -> httpx.Response:
        """Submit a modal the app opened; `values` maps block_id to the typed value."""
        state = {block: {"value": _element_state(modal, block, value)}
                 for block, value in values.items()}
        payload = {
            "type": "view_submission", "team": {"id": "T0000001"},
            "user": {"id": user, "team_id": "T0000001"}, "api_app_id": "A0000001",
            "view": {**modal, "state": {"values": state}},
        }
        return self.post(payload_body(payload))


def _element_state(modal: dict[str, Any], block_id: str, value: Any) -> dict[str, Any]:
    [block] = [b for b in modal["blocks"] if b.get("block_id") == block_id]
    kind = block["element"]["type"]
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "static_select":
        return {"type": kind, "selected_option": {"value": value}}
    return {"type": kind, "value": value}
