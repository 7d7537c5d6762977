"""A real local HTTP server speaking the part of the Slack Web API the product uses.

It checks the bearer token, keeps the messages posted to each channel (with their metadata),
records the modals opened and what apps post to a command's response_url (`response_url()`),
pages conversations.history with cursors, and fails on demand the way Slack does: 429 with
Retry-After, 5xx, a connection closed without an answer, no answer at all, or an error code.
Used by the Slack channel tests, the delivery benchmark and the demo.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from reliability.config import SlackSettings

HOST = "127.0.0.1"
TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-app-token"
BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
FaultKind = Literal["ratelimited", "server_error", "drop", "lose_answer", "hang", "error"]


@dataclass
class Fault:
    kind: FaultKind
    remaining: int
    method: str | None
    retry_after: int = 0
    status: int = 500
    error: str = ""


@dataclass
class Channel:
    id: str
    member: bool = True
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)  # each with its `user`
    people: set[str] | None = None  # who is in it; None: anyone


@dataclass
class SlackApi:
    """State of the fake workspace plus the knobs a test turns."""

    base_url: str = ""
    token: str = TOKEN
    app_token: str = APP_TOKEN
    socket_url: str = ""  # what apps.connections.open hands a Socket Mode client
    channels: dict[str, Channel] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    post_seconds: float = 0  # how long chat.postMessage takes, as under load at Slack
    views: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)  # first post, time.time()
    stopping: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def settings(self, token: str | None = None) -> SlackSettings:
        """Slack settings that point the channel at this server."""
        return SlackSettings(bot_token=SecretStr(token or self.token), base_url=self.base_url)

    def add_channel(self, channel_id: str, *, member: bool = True, archived: bool = False,
                    people: set[str] | None = None) -> None:
        with self._lock:
            self.channels[channel_id] = Channel(channel_id, member=member, archived=archived,
                                                people=people)

    def ephemerals(self, channel_id: str) -> list[dict[str, Any]]:
        """Messages shown to one person in a channel (chat.postEphemeral), oldest first."""
        with self._lock:
            channel = self.channels.get(channel_id)
            return [dict(message) for message in channel.ephemerals] if channel else []

    def add_user(
        self, user_id: str, name: str, *, email: str | None = None, tz: str = "UTC",
        locale: str = "en-US",
    ) -> None:
        with self._lock:
            self.users[user_id] = {
                "id": user_id,
                "name": name.lower().replace(" ", "."),
                "real_name": name,
                "tz": tz,
                "locale": locale,
                "is_bot": False,
                "deleted": False,
                "profile": {"real_name": name, "display_name": name, "email": email},
            }

    def posted(self, channel_id: str) -> list[dict[str, Any]]:
        """Messages in a channel, oldest first."""
        with self._lock:
            channel = self.channels.get(channel_id)
            return [dict(message) for message in channel.messages] if channel else []

    def response_url(self, name: str = "1") -> str:
        """A response_url for one slash command or button click; its posts are kept."""
        return self.base_url.removesuffix("/api/") + f"/response/{name}"

    def wait_until(self, ready: Callable[[], Any], timeout: float = 5) -> Any:
        """Block until `ready()` is truthy after some request (an app's work after its ack)."""
        with self.changed:
            found = self.changed.wait_for(ready, timeout)
        assert found, "the app did not call the Slack API as expected in time"
        return found

    def replies(self, url: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        """The first `count` posts to a response_url, waiting for them to arrive."""
        name = url.rsplit("/response/", 1)[-1]
        self.wait_until(lambda: len(self.responses.get(name, [])) >= count, timeout)
        with self._lock:
            return list(self.responses[name])

    def opened(self, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        """The modals opened so far, waiting for at least `count`."""
        self.wait_until(lambda: len(self.views) >= count, timeout)
        with self._lock:
            return list(self.views)

    def calls_to(self, method: str) -> int:
        with self._lock:
            return sum(1 for name, _ in self.calls if name == method)

    def rate_limit(
        self, count: int = 1, *, retry_after: int = 0, method: str | None = None
    ) -> None:
        """Answer the next calls with 429 ratelimited and a Retry-After header."""
        self._add(Fault("ratelimited", count, method, retry_after=retry_after))

    def server_error(self, count: int = 1, *, status: int = 500, method: str | None = None) -> None:
        """Answer the next calls with an HTTP 5xx (the call is not carried out)."""
        self._add(Fault("server_error", count, method, status=status))

    def drop(self, count: int = 1, *, method: str | None = None) -> None:
        """Close the connection without answering (the call is not carried out)."""
        self._add(Fault("drop", count, method))

    def lose_answer(self, count: int = 1, *, method: str | None = None) -> None:
        """Carry out the call, then close the connection before the answer goes out."""
        self._add(Fault("lose_answer", count, method))

    def hang(self, count: int = 1, *, method: str | None = None) -> None:
        """Never answer (until the server stops); the client's timeout must fire."""
        self._add(Fault("hang", count, method))

    def fail_with(self, error: str, count: int = 1, *, method: str | None = None) -> None:
        """Answer the next calls with ok=false and this Slack error code."""
        self._add(Fault("error", count, method, error=error))

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.method in (None, method):
                    fault.remaining -= 1
                    return fault
            return None

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._seq):06d}"

    def handle(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Carry out one API call; the answer is Slack's JSON body."""
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        with self._lock:
            return handler(self, args)


def _error(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _post_message(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    channel = api.channels.get(str(args.get("channel", "")))
    if channel is None:
        return _error("channel_not_found")
    if channel.archived:
        return _error("is_archived")
    if not channel.member:
        return _error("not_in_channel")
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not args.get("text") and not blocks:
        return _error("no_text")
    metadata = args.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER,
        "bot_id": BOT_ID,
        "text": args.get("text", ""),
        "ts": api._next_ts(),
    }
    if blocks:
        message["blocks"] = blocks
    if metadata:
        message["metadata"] = metadata
    channel.messages.append(message)
    return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}


def _post_ephemeral(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    channel = api.channels.get(str(args.get("channel", "")))
    user = str(args.get("user", ""))
    if channel is None:
        return _error("channel_not_found")
    if not channel.member:
        return _error("not_in_channel")
    if user not in api.users:
        return _error("user_not_found")
    if channel.people is not None and user not in channel.people:
        return _error("user_not_in_channel")
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not args.get("text") and not blocks:
        return _error("no_text")
    message = {"type": "message", "user": user, "text": args.get("text", ""),
               "blocks": blocks or [], "ts": api._next_ts()}
    channel.ephemerals.append(message)
    return {"ok": True, "message_ts": message["ts"]}


def _update(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    channel = api.channels.get(str(args.get("channel", "")))
    if channel is None:
        return _error("channel_not_found")
    for message in channel.messages:
        if message["ts"] == args.get("ts"):
            message["text"] = args.get("text", message["text"])
            if args.get("blocks"):
                blocks = args["blocks"]
                message["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
            return {"ok": True, "channel": channel.id, "ts": message["ts"], "text": message["text"]}
    return _error("message_not_found")


def _open(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    users = [user for user in str(args.get("users", "")).split(",") if user]
    if len(users) != 1:
        return _error("not_enough_users" if not users else "too_many_users")
    if users[0] not in api.users:
        return _error("user_not_found")
    channel_id = "D" + users[0][1:]
    api.channels.setdefault(channel_id, Channel(channel_id))
    return {"ok": True, "channel": {"id": channel_id, "is_im": True, "user": users[0]}}


def _history(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    channel = api.channels.get(str(args.get("channel", "")))
    if channel is None:
        return _error("channel_not_found")
    if not channel.member:
        return _error("not_in_channel")
    oldest = float(args.get("oldest") or 0)
    latest = float(args.get("latest") or "inf")
    limit = max(1, min(int(args.get("limit") or 100), 999))
    start = int(args.get("cursor") or 0)
    with_metadata = _truthy(args.get("include_all_metadata"))
    newest_first = [
        message for message in reversed(channel.messages) if oldest < float(message["ts"]) < latest
    ]
    page = []
    for message in newest_first[start : start + limit]:
        shown = dict(message)
        if not with_metadata:
            shown.pop("metadata", None)
        page.append(shown)
    more = start + limit < len(newest_first)
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def _views_open(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    if not args.get("trigger_id"):
        return _error("invalid_trigger_id")
    view = args.get("view")
    view = json.loads(view) if isinstance(view, str) else view
    if not isinstance(view, dict) or view.get("type") != "modal":
        return _error("invalid_arguments")
    shown = {**view, "id": f"V{next(api._seq):08d}"}
    api.views.append(shown)
    return {"ok": True, "view": shown}


def _views_update(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    for index, shown in enumerate(api.views):
        if shown["id"] == args.get("view_id"):
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            api.views[index] = {**view, "id": shown["id"]}
            return {"ok": True, "view": api.views[index]}
    return _error("not_found")


def _user_info(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    user = api.users.get(str(args.get("user", "")))
    if not user:
        return _error("user_not_found")
    # As Slack does: the user's language only when asked for with include_locale.
    asked = str(args.get("include_locale", "")).lower() in ("true", "1")
    return {"ok": True, "user": user if asked else {k: v for k, v in user.items()
                                                    if k != "locale"}}


def _auth_test(api: SlackApi, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": "https://example.slack.com/",
        "team": "Example",
        "user": "reliability",
        "team_id": "T0000001",
        "user_id": BOT_USER,
        "bot_id": BOT_ID,
    }


_METHODS: dict[str, Callable[[SlackApi, dict[str, Any]], dict[str, Any]]] = {
    "chat.postMessage": _post_message,
    "chat.postEphemeral": _post_ephemeral,
    "chat.update": _update,
    "conversations.open": _open,
    "conversations.history": _history,
    "users.info": _user_info,
    "auth.test": _auth_test,
    "views.open": _views_open,
    "views.update": _views_update,
    "apps.connections.open": lambda api, args: {"ok": True, "url": api.socket_url},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test run should not print one line per request."""

    def _serve(self) -> None:
        try:
            self._answer_request()
        finally:
            with self.server.api.changed:
                self.server.api.changed.notify_all()

    def _answer_request(self) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        if url.path.startswith("/response/"):
            self._keep_response(url.path.removeprefix("/response/"))
            return
        method = url.path.rsplit("/", 1)[-1]
        args = self._arguments(url.query)
        with api._lock:
            api.calls.append((method, args))
        fault = api._take_fault(method)
        if fault is not None and fault.kind in ("drop", "hang"):
            if fault.kind == "hang":
                api.stopping.wait(10)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "ratelimited":
            self._answer(429, _error("ratelimited"), {"Retry-After": str(fault.retry_after)})
            return
        if fault is not None and fault.kind == "server_error":
            self._answer(fault.status, _error("internal_error"))
            return
        if fault is not None and fault.kind == "error":
            self._answer(200, _error(fault.error))
            return
        expected = api.app_token if method == "apps.connections.open" else api.token
        if self._token(args) != expected:
            self._answer(200, _error("not_authed" if not self._token(args) else "invalid_auth"))
            return
        if method == "chat.postMessage" and api.post_seconds:
            api.stopping.wait(api.post_seconds)
        body = api.handle(method, args)
        if fault is not None and fault.kind == "lose_answer":
            self.close_connection = True
            return
        self._answer(200, body)

    def _keep_response(self, name: str) -> None:
        """What an app posts to a response_url; Slack answers a plain "ok"."""
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.server.api._lock:
            self.server.api.responses.setdefault(name, []).append(body)
            self.server.api.answered_at.setdefault(name, time.time())
        payload = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _arguments(self, query: str) -> dict[str, Any]:
        args: dict[str, Any] = {key: values[-1] for key, values in parse_qs(query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        if raw and kind.startswith("application/json"):
            args.update(json.loads(raw))
        elif raw:
            form = parse_qs(raw.decode("utf-8"))
            args.update({key: values[-1] for key, values in form.items()})
        return args

    def _token(self, args: dict[str, Any]) -> str:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ")
        return str(args.get("token", ""))

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: SlackApi) -> None:
        super().__init__((HOST, 0), _Handler)
        self.api = api


@contextmanager
def slack_api(
    *, channels: tuple[str, ...] = ("C0000GENERAL",), token: str = TOKEN
) -> Iterator[SlackApi]:
    """Run the Slack API server for the duration of the block."""
    api = SlackApi(token=token)
    for channel_id in channels:
        api.add_channel(channel_id)
    server = _Server(api)
    api.base_url = f"http://{HOST}:{server.server_address[1]}/api/"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="slack-api", daemon=True
    )
    thread.start()
    try:
        yield api
    finally:
        api.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
