"""`Idempotency-Key` on every API POST, as Stripe's API has it: the same key and request
(from the same member or service token) within 24 hours gets the first answer, status and
body, and nothing is done twice; the same key with another request is a 409.

The answer is recorded whatever it was, a success or a refusal; an unexpected failure
(a 500) rolls its action back and frees the key for a retry. A copy that arrives while the
first is still running waits for its answer (up to WAIT_SECONDS, then a 409 to retry on).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from reliability import idempotency
from reliability.errors import UserError
from reliability.web import problems
from reliability.web.auth import Viewer, api_viewer, api_writer, ledger_of

WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
REPLAYED = "Idempotent-Replayed"
KEY_HEADER = Header(
    None, alias="Idempotency-Key", max_length=255,
    description="Any unique string (a UUID): a retry with the same key and body within 24 "
                "hours returns the first answer and does nothing twice; the same key with "
                "another body is a 409.",
    examples=["3f1c9a52-8a0e-4c1e-9b1e-1d2f5c7a9e10"])


@dataclass(frozen=True)
class Once:
    """One POST, run at most once per idempotency key."""

    request: Request
    viewer: Viewer
    key: str | None
    request_hash: str

    def run(self, action: Callable[[], BaseModel], status_code: int = 200,
            withheld: frozenset[str] = frozenset()) -> Response:
        """Run `action` (or give the answer a copy of this request already had). Fields in
        `withheld` are secrets shown once: the answer kept for copies has them as null."""
        if self.key is None:
            return _respond(action, status_code)
        ledger = ledger_of(self.request)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                held = idempotency.claim(ledger, caller=self.viewer.caller, key=self.key,
                                         request_hash=self.request_hash,
                                         now=self.request.app.state.clock())
            except UserError as refused:
                return problems.user_error(refused)
            if isinstance(held, idempotency.Answer):
                return Response(held.body, status_code=held.status_code,
                                media_type="application/json", headers={REPLAYED: "true"})
            if isinstance(held, idempotency.Claim):
                break
            if time.monotonic() > deadline:
                return problems.response(
                    409, "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still being processed",
                    field="Idempotency-Key", hint="retry in a few seconds with the same key")
            time.sleep(POLL_SECONDS)
        try:
            answer = _respond(action, status_code)
        except BaseException:
            idempotency.release(ledger, held)
            raise
        kept = bytes(answer.body).decode()
        if withheld and answer.status_code < 300:
            kept = json.dumps({name: None if name in withheld else value
                               for name, value in json.loads(kept).items()})
        idempotency.record(ledger, held, status_code=answer.status_code, body=kept)
        return answer


def _respond(action: Callable[[], BaseModel], status_code: int) -> Response:
    try:
        result = action()
    except UserError as refused:
        return problems.user_error(refused)
    except HTTPException as refused:
        return problems.http_error(refused)
    return JSONResponse(result.model_dump(mode="json"), status_code=status_code)


async def _request_hash(request: Request) -> str:
    """The method, address and body (JSON compared by meaning, not spacing or key order)."""
    raw = await request.body()
    try:
        content = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    except ValueError:
        content = raw.decode("utf-8", errors="replace")
    target = f"{request.method} {request.url.path}?{request.url.query}\n{content}"
    return hashlib.sha256(target.encode()).hexdigest()


async def writing(request: Request, viewer: Viewer = Depends(api_writer),
                  idempotency_key: str | None = KEY_HEADER) -> Once:
    """A change, by someone who may write."""
    return Once(request, viewer, idempotency_key, await _request_hash(request))


async def reading(request: Request, viewer: Viewer = Depends(api_viewer),
                  idempotency_key: str | None = KEY_HEADER) -> Once:
    """A POST that changes nothing (parsing a text), open to read-only tokens too."""
    return Once(request, viewer, idempotency_key, await _request_hash(request))
