"""`/slack/events`: size, signature and shape are checked before anything reads the request.

The endpoint sits in front of the web app's sessions and routing (an ASGI middleware), so a
request from Slack costs what its answer costs and no more. In order:

1. only POST; 503 while Slack is not configured;
2. at most `MAX_BODY` bytes, refused from Content-Length or while the body streams in (413);
3. the signature over the raw bytes with slack-sdk's `SignatureVerifier` (constant-time, the
   timestamp within 5 minutes); anything else, a non-numeric timestamp or a body that is not
   UTF-8 included, gets 401;
4. a body Slack could have sent: a form, a form whose `payload` is a JSON object, or a JSON
   object, nested at most `MAX_DEPTH` deep, whose fields have Slack's types and which has
   what Bolt and our listeners read for its kind (`REQUIRED`; 400 otherwise).

Refusals are one short sentence; no body is logged and no traceback written. Only a request
that passed all four reaches the app; one that still breaks a listener is answered 400 with
one warning line naming the error's type. `/promise <a promise>` is acknowledged at once with
an empty 200 and its echo follows through the command's response_url (ack first, as Netflix
Dispatch does: no database work and no Slack Web API call before the answer), composed in a
process of its own at idle priority (`slack_echo`), so a burst of echoes never slows the
answers;
`/promise help` is answered in the ack; everything else goes to Bolt, which never calls
`auth.test` either (see `slack_app.build`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reliability.ledger import Ledger
from reliability.slack_app import (
    NOT_CONFIGURED,
    build,
    listeners_for,
    utc_now,
)
from reliability.slack_commands import Help, Log
from reliability.slack_commands import parse as parse_command
from reliability.slack_echo import Echoes

log = logging.getLogger(__name__)
PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's own payloads stay far below this
MAX_DEPTH = 32  # Slack's deepest (rich text in a view's blocks) stay far below this
NOT_SIGNED = "This request is not signed by Slack (or is more than 5 minutes old)."
TOO_LARGE = f"A Slack request is at most {MAX_BODY} bytes."
MALFORMED = "This is not a request Slack sends: expected a form or a JSON object."
JSON = "application/json;charset=utf-8"


class Refused(Exception):
    """A request answered with a status and one sentence, before any work is done."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain;charset=utf-8"
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def refusal(cls, refused: Refused) -> Answer:
        allow = ((b"allow", b"POST"),) if refused.status == 405 else ()
        return cls(refused.status, refused.message.encode(), headers=allow)

    async def send(self, send: Send) -> None:
        headers = [(b"content-type", self.content_type.encode()),
                   (b"content-length", str(len(self.body)).encode()), *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class SlackEvents:
    """ASGI middleware that answers `/slack/events` and passes every other path on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] != "POST":
                raise Refused(405, "Slack posts its requests here.")
            endpoint = _endpoint(scope["app"])
            headers = _headers(scope)
            body = await read_body(headers, receive)
            answer = await endpoint.answer(headers, body)
        except Refused as refused:
            answer = Answer.refusal(refused)
        await answer.send(send)


async def read_body(headers: dict[str, str], receive: Receive) -> bytes:
    """The body, refused as soon as it is known to be larger than `MAX_BODY`."""
    declared = headers.get("content-length", "0")
    if not declared.isdigit():
        raise Refused(400, "Content-Length must be a number.")
    if int(declared) > MAX_BODY:
        raise Refused(413, TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "The request ended early.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, TOO_LARGE)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def verify(verifier: SignatureVerifier, headers: dict[str, str], body: bytes) -> str:
    """The body as text if Slack signed it; `Refused(401)` for anything else."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
            and signature.isascii()):
        raise Refused(401, NOT_SIGNED)
    try:
        text = body.decode("utf-8")  # Slack signs UTF-8; other bytes cannot carry its signature
    except UnicodeDecodeError:
        raise Refused(401, NOT_SIGNED) from None
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise Refused(401, NOT_SIGNED)
    return text


def _ssl_check(body: bytes) -> bool:
    """Slack's certificate check (`ssl_check=1&token=…`), which may come unsigned: an empty
    200 and nothing else, as Bolt answers it; any other field makes it an ordinary request."""
    if len(body) > 200:
        return False
    fields = form(body.decode("latin-1"))
    return fields.get("ssl_check") == "1" and fields.keys() <= {"ssl_check", "token"}


def form(text: str) -> dict[str, str]:
    """A urlencoded form's fields, read as `dict(parse_qsl(text, keep_blank_values=True))`
    reads them (the last of a repeated name wins), in half its time: most of Slack's fields
    have nothing to decode."""
    fields: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            fields[_decoded(name)] = _decoded(value)
    return fields


def _decoded(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def parse(text: str, content_type: str) -> dict[str, Any]:
    """The request as Bolt will read it (the same rule), refused unless it is an object."""
    try:
        if content_type.startswith("application/json") or text.startswith("{"):
            found: Any = json.loads(text)
        else:
            fields = form(text)
            found = json.loads(fields["payload"]) if "payload" in fields else fields
    except (ValueError, KeyError, RecursionError):
        raise Refused(400, MALFORMED) from None
    if not (_shallow(found) and _shaped(found) and _complete(found)):
        raise Refused(400, MALFORMED)
    return found


def _shallow(found: Any) -> bool:
    """Nested at most MAX_DEPTH deep (looked at without recursion)."""
    level = [found]
    for _ in range(MAX_DEPTH):
        level = [child for value in level
                 for child in (value.values() if isinstance(value, dict)
                               else value if isinstance(value, list) else ())]
        if not level:
            return True
    return False


def _text(found: Any, *names: str) -> bool:
    return isinstance(found, dict) and all(isinstance(found.get(name), str) for name in names)


# What Bolt and our listeners index for each kind of request, beyond the types `_shaped`
# checks: without it a signed but incomplete request is a KeyError or IndexError in them.
REQUIRED = {
    "block_actions": lambda found: (  # our actions are all buttons, each with a value
        _text(found, "trigger_id") and _text(found.get("user"), "id")
        and isinstance(found.get("actions"), list) and bool(found["actions"])
        and all(_text(a, "action_id", "value") for a in found["actions"])),
    "view_submission": lambda found: (
        _text(found.get("user"), "id") and _text(found.get("view"), "type", "callback_id")
        and isinstance(found["view"].get("private_metadata", ""), str)),
    "shortcut": lambda found: (_text(found, "callback_id", "trigger_id")
                               and _text(found.get("user"), "id")),
    "event_callback": lambda found: _text(found.get("event"), "type"),
}
REQUIRED["view_closed"] = REQUIRED["view_submission"]
REQUIRED["message_action"] = REQUIRED["shortcut"]


def _complete(found: dict[str, Any]) -> bool:
    """Has what its kind needs; a slash command its name and who ran it."""
    if (command := found.get("command")) is not None and not (
            command.startswith("/") and _text(found, "user_id")):
        return False
    return REQUIRED.get(found.get("type") or "", lambda _: True)(found)


# The fields Bolt reads before a listener runs, by the types Slack gives them; any other
# shape would break Bolt itself (and log a traceback), so it is refused here.
IDS = frozenset((
    "id", "team_id", "enterprise_id", "user_id", "channel_id", "type", "callback_id",
    "action_id", "block_id", "value", "user_team", "execution_id", "command", "text",
    "response_url", "trigger_id", "api_app_id", "token", "ssl_check", "challenge", "thread_ts",
    "function_execution_id", "bot_access_token", "app_installed_team_id", "context_team_id",
    "context_enterprise_id", "private_metadata"))
NESTED = frozenset(("user", "team", "enterprise", "channel", "container", "view", "message",
                    "event", "previous_message", "item", "assistant_thread", "function_data",
                    "state"))
LISTS = frozenset(("actions", "authorizations"))
WHO = frozenset(("user", "team", "enterprise", "channel"))


def _shaped(found: Any, depth: int = 0) -> bool:
    """Slack's field types: ids and words are text, parts are objects, lists hold objects.
    One pass over the fields present: an ack pays for what the request holds."""
    if not isinstance(found, dict) or depth > 4:
        return False
    for name, value in found.items():
        if name in IDS:
            if not (value is None or isinstance(value, str)):
                return False
        elif name in NESTED:
            named = name in WHO and (value is None or isinstance(value, str))  # short forms
            if not (named or value == "" or _shaped(value, depth + 1)):
                return False
        elif name in LISTS and not (isinstance(value, list)
                                    and all(_shaped(item, depth + 1) for item in value)):
            return False
    return True


class Endpoint:
    """The verifier and the app for one ledger: the echo answered here, the rest by Bolt."""

    def __init__(self, ledger: Ledger, clock: Any) -> None:
        slack = ledger.settings.slack
        assert slack.signing_secret is not None
        self.verifier = SignatureVerifier(slack.signing_secret.get_secret_value())
        self.ledger = ledger
        self.clock = clock
        self.listeners = listeners_for(ledger, clock)
        self.bolt: AsyncApp = build(ledger, clock=clock, listeners=self.listeners)
        self.bolt.error(_unhandled)
        self.echoes = Echoes(ledger.settings)

    async def answer(self, headers: dict[str, str], body: bytes) -> Answer:
        if _ssl_check(body):
            return Answer(200)
        text = verify(self.verifier, headers, body)
        request = parse(text, headers.get("content-type", ""))
        if request.get("command") == "/promise":
            command = parse_command(str(request.get("text") or ""))
            if isinstance(command, Log):
                self._later(request)
                return Answer(200)
            if isinstance(command, Help):
                return await self._help(request)
        return await self._bolt(request, headers)  # what reads or changes the ledger

    async def _help(self, command: dict[str, Any]) -> Answer:
        """Help is fixed words: it is the answer itself."""
        said: dict[str, Any] = {}

        async def ack(**reply: Any) -> None:
            said.update(reply)

        await self.listeners.ack_command(ack, command)
        return Answer(200, json.dumps(said, ensure_ascii=False).encode(), JSON)

    def _later(self, command: dict[str, Any]) -> None:
        """Hand the echo to the echo process, with the moment the command arrived."""
        self.echoes.send(command, self.clock())

    async def _bolt(self, checked: dict[str, Any], headers: dict[str, str]) -> Answer:
        """Bolt gets the request as checked here, as JSON: its own reading of a form takes
        any body holding the word "payload" (a channel, a user, a client so named) for an
        interaction and finds nothing in it."""
        try:
            request = AsyncBoltRequest(body=json.dumps(checked),
                                       headers={**headers, "content-type": "application/json"})
        except Exception as exc:  # a signed body whose fields have shapes Bolt cannot read
            log.warning("a signed Slack request could not be read: %s", type(exc).__name__)
            raise Refused(400, MALFORMED) from None
        response = await self.bolt.async_dispatch(request)
        content_type = (response.headers.get("content-type") or ["text/plain;charset=utf-8"])[0]
        return Answer(response.status, response.body.encode(), content_type)


async def _unhandled(error: Exception) -> BoltResponse:
    """Bolt's own handler would log a traceback (and maybe the body) for a signed request a
    listener could not handle; here it is one line and a 400."""
    log.warning("a signed Slack request could not be handled: %s", type(error).__name__)
    return BoltResponse(status=400, body=MALFORMED)


def _endpoint(app: Any) -> Endpoint:
    """Built on first use for the app's ledger, so a team without Slack loses nothing."""
    ledger: Ledger = app.state.ledger
    cached = getattr(app.state, "slack_endpoint", None)
    if cached is not None and cached[0] is ledger:
        return cached[1]
    slack = ledger.settings.slack
    if slack.signing_secret is None or slack.bot_token is None:
        raise Refused(503, NOT_CONFIGURED)
    endpoint = Endpoint(ledger, getattr(app.state, "clock", utc_now))
    app.state.slack_endpoint = (ledger, endpoint)
    return endpoint


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]}
