"""A guard in front of every request: control characters never reach a handler or a database.

PostgreSQL refuses a NUL byte in text where SQLite stores it, so without this a NUL in an
address, a query string or a form field would be a 500 on one backend and stored junk on
the other. Here it is one 400 with a plain message, the same on both. A JSON body is parsed
here once, bounded: nesting deeper than MAX_JSON_DEPTH, a number no float holds, NaN, and
a lone surrogate (no UTF-8 text has one) are 400s too, never a 500 further in. Field bounds (length,
line breaks) are the service layer's, through reliability.limits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reliability.limits import _stray_byte, control_character, describe

# Bodies are forms and small JSON documents; the longest field (a message) is 20,000 chars.
MAX_BODY_BYTES = 1024 * 1024
FORM = "application/x-www-form-urlencoded"
# No form or API document nests this deep; Python's parser would overflow its stack far below
# what fits in MAX_BODY_BYTES.
MAX_JSON_DEPTH = 32
# Slack signs the exact bytes it sends and answers each person in Slack's own words.
UNGUARDED_BODIES = ("/slack/",)


class InputGuard:
    """ASGI middleware: 400 for a control character in the path, the query string or a
    form/JSON field (line breaks and tabs are fine in fields), 413 for a huge body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")
        problem = _address_problem(scope)
        if problem is None and not scope["path"].startswith(UNGUARDED_BODIES):
            body, too_large = await _read_body(receive)
            if too_large:
                await _refuse(scope, receive, send, api, 413,
                              f"the request body is over {MAX_BODY_BYTES:,} bytes")
                return
            problem = _body_problem(_content_type(scope), body)
            receive = _replay(body, receive)
        if problem is not None:
            await _refuse(scope, receive, send, api, 400, problem)
            return
        await self.app(scope, receive, send)


def _address_problem(scope: Scope) -> str | None:
    query = unquote(scope.get("query_string", b"").decode("latin-1"), errors="replace")
    for part, value in (("address", scope["path"]), ("query string", query)):
        if (char := control_character(value)) is not None:
            return (f"the {part} contains a control character, {describe(char)}: remove it "
                    "and try again")
    return None


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _body_problem(content_type: str, body: bytes) -> str | None:
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    if content_type == FORM:
        fields: Iterator[tuple[str, str]] = iter(parse_qsl(text, keep_blank_values=True))
    elif content_type == "application/json":
        try:
            fields = _json_strings(json.loads(text, parse_constant=_too_large,
                                              parse_float=_finite), "", 0)
            fields = iter(list(fields))
        except (RecursionError, TooDeep):
            return f"the JSON body is nested more than {MAX_JSON_DEPTH} deep"
        except OutOfRange:
            return "the JSON body holds a number too large for any field"
        except ValueError:
            return None  # FastAPI answers malformed JSON with its own 422
    else:
        return None
    for name, value in fields:
        for piece, what in ((name, "name"), (value, "value")):
            if (char := control_character(piece, multiline=what == "value")) is not None:
                return (f"the field {name!r} contains a control character, {describe(char)}: "
                        "remove it and send plain text (line breaks and tabs are fine)")
            if (char := _stray_byte(piece)) is not None:
                return (f"the field {name!r} is not UTF-8 text (a stray byte at character "
                        f"{piece.index(char) + 1}): send it as UTF-8")
    return None


class TooDeep(Exception):
    """A JSON document nested deeper than MAX_JSON_DEPTH."""


class OutOfRange(Exception):
    """A JSON number no float holds (1e999999), or NaN/Infinity, which JSON does not have."""


def _too_large(constant: str) -> float:
    raise OutOfRange(constant)


def _finite(number: str) -> float:
    value = float(number)
    if math.isinf(value):
        raise OutOfRange(number)
    return value


def _json_strings(document: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    """(field path, string) for every string in a JSON document, keys included."""
    if depth > MAX_JSON_DEPTH:
        raise TooDeep
    if isinstance(document, str):
        yield path or "body", document
    elif isinstance(document, dict):
        for key, value in document.items():
            name = f"{path}.{key}" if path else str(key)
            yield name, ""
            yield from _json_strings(value, name, depth + 1)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _json_strings(value, f"{path}[{index}]", depth + 1)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, original: Receive) -> Receive:
    """The body read once, then the connection's own messages: a response that listens for
    the client going away (a file response does) must not hear a disconnect that did not
    happen, or it sends headers and no body."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _refuse(scope: Scope, receive: Receive, send: Send, api: bool, status: int,
                  message: str) -> None:
    response: Response = (JSONResponse({"detail": message}, status_code=status) if api
                          else PlainTextResponse(message, status_code=status))
    await response(scope, receive, send)
