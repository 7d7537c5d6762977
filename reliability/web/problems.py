"""The one shape of every error the API answers: `{"error": {"code", "message", "field",
"hint"}}`, whatever raised it (a service's UserError, an access refusal, FastAPI's request
validation, the input guard, a missing token, an idempotency conflict)."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from reliability.access import Forbidden, NotFound
from reliability.errors import UserError
from reliability.idempotency import KeyReused
from reliability.paging import BadRequest

CODES = {400: "bad_request", 401: "sign_in_required", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
         429: "too_many_requests"}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: not_found, forbidden, conflict, "
                      "invalid, bad_request, sign_in_required, idempotency_key_reused, "
                      "idempotency_key_in_use, ...", examples=["invalid"])
    message: str = Field(description="what was wrong, for people",
                         examples=["unknown client 'Zeta' (known clients: Acme)"])
    field: str | None = Field(None, description="the input at fault (a JSON key, a query "
                              "parameter or a header)", examples=["client"])
    hint: str | None = Field(None, description="what would work",
                             examples=["add the client first"])


class ErrorOut(BaseModel):
    error: ErrorDetail


# Documented on every API route, so the OpenAPI document says what an error looks like.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what} for status, what in (
        (400, "a control character or malformed JSON in the request"),
        (401, "no valid token or session"),
        (403, "not yours to do (another's member, a read-only token, no CSRF header)"),
        (404, "not there, or not yours to see"),
        (409, "not possible in the current state, or an Idempotency-Key reused"),
        (422, "an input at fault: `field` names it, `hint` says what would work"))}


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


def body(code: str, message: str, *, field: str | None = None,
         hint: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "hint": hint}}


def response(status: int, code: str, message: str, *, field: str | None = None,
             hint: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(code, message, field=field, hint=hint), status_code=status,
                        headers=headers)


def user_error(exc: UserError) -> JSONResponse:
    """404 for what is not there or not yours, 403 for what you see but may not do, 400 for a
    request that cannot be read as asked (a cursor from elsewhere, a page too large), 409 for
    what the current state does not allow, 422 for an input at fault (it has a field)."""
    if isinstance(exc, NotFound):
        status, code = 404, "not_found"
    elif isinstance(exc, Forbidden):
        status, code = 403, "forbidden"
    elif isinstance(exc, BadRequest):
        status, code = 400, "bad_request"
    elif isinstance(exc, KeyReused):
        status, code = 409, "idempotency_key_reused"
    elif exc.field is not None:
        status, code = 422, "invalid"
    else:
        status, code = 409, "conflict"
    return response(status, code, exc.message, field=exc.field, hint=exc.hint)


def http_error(exc: HTTPException) -> JSONResponse:
    return response(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail),
                    headers=dict(exc.headers) if exc.headers else None)


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, reshaped: the first problem, with the input it is about."""
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "the request is malformed"}
    location = [str(part) for part in first.get("loc", ())]
    where = location[0] if location else ""
    field = ".".join(location[1:]) if first.get("type") != "json_invalid" else ""
    field = field or None
    message = str(first.get("msg", "invalid input"))
    if first.get("type") == "missing":
        hint = f"send the {where} field {field!r}" if field else "send a JSON body"
    elif first.get("type") == "json_invalid":
        hint = "send a JSON object with Content-Type: application/json"
    else:
        hint = "the OpenAPI document (/openapi.json) shows what each field takes"
    more = len(errors) - 1
    return response(422, "invalid", message + (f" (and {more} more)" if more > 0 else ""),
                    field=field, hint=hint)
