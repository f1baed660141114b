"""RFC 9457 problem details: the one error format of every service.

Bad JSON is 400, a well-formed body with wrong fields is 422 with each field's path, auth is
401/403, unknown or invisible resources are 404, conflicts 409, and a dependency that is down is
503 with ``Retry-After``. Only a bug is a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:engage:problem:"
RETRY_AFTER_SECONDS = 5
# PostgreSQL's refusals of a character in text (NUL, in text or in JSON): the request's value,
# valid JSON and valid to every schema, is the caller's error rather than a bug.
UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
# SQLSTATE classes of a server that cannot serve now but will: connection exceptions (08),
# insufficient resources such as too many connections (53), an operator's shutdown or a server
# still starting (57P). The caller is told to come back (503), not that we failed (500).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise anywhere below a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or kind)
        self.status = status
        self.kind = kind
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


class NotFoundError(ProblemError):
    def __init__(self, what: str, identifier: object) -> None:
        super().__init__(404, "not-found", f"{what} {identifier} was not found", resource=what)


class ConflictError(ProblemError):
    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(409, "conflict", detail, **extensions)


class DependencyUnavailableError(ProblemError):
    def __init__(self, dependency: str, detail: str | None = None) -> None:
        super().__init__(
            503,
            "dependency-unavailable",
            detail or f"{dependency} is not reachable; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            dependency=dependency,
        )


def problem_response(
    request: Request,
    status: int,
    kind: str,
    detail: str | None = None,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + kind,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "instance": request.url.path,
    }
    if detail is not None:
        body["detail"] = detail
    body.update({key: value for key, value in extensions.items() if value is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def field_path(location: Sequence[int | str]) -> str:
    """Where a field is, as problems name it: ``body.channels.1``."""
    return ".".join(str(part) for part in location)


def validation_problem(errors: Sequence[FieldError]) -> ProblemError:
    """The 422 the kernel answers for a request with invalid fields, for the checks a schema
    cannot make (another record's organisation, a field only some kinds need)."""
    return ProblemError(
        422,
        "validation-error",
        "The request has invalid fields.",
        title="Validation failed",
        errors=[error.model_dump() for error in errors],
    )


async def _on_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem_response(
        request,
        error.status,
        error.kind,
        error.detail,
        title=error.title,
        headers=error.headers,
        **error.extensions,
    )


async def _on_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = list(error.errors())
    malformed = [item for item in details if item.get("type") == "json_invalid"]
    if malformed:
        reason = malformed[0].get("ctx", {}).get("error", "the body is not valid JSON")
        return problem_response(request, 400, "malformed-json", f"Malformed JSON: {reason}")
    errors = [
        FieldError(
            field=field_path(item.get("loc", ())),
            message=str(item.get("msg", "invalid")),
            type=str(item.get("type", "invalid")),
        )
        for item in details
    ]
    return await _on_problem(request, validation_problem(errors))


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
    detail = error.detail if isinstance(error.detail, str) else None
    return problem_response(
        request, error.status_code, kind, detail, headers=dict(error.headers or {})
    )


def _unavailable(request: Request, dependency: str) -> JSONResponse:
    return problem_response(
        request,
        503,
        "dependency-unavailable",
        f"{dependency} is not reachable; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        dependency=dependency,
    )


async def _on_database_down(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in UNSTORABLE_TEXT:
        return problem_response(
            request,
            422,
            "unstorable-text",
            "A text value holds a character that cannot be stored, such as NUL (U+0000).",
        )
    sqlstate = str(getattr(getattr(error, "orig", None), "sqlstate", None) or "")
    if isinstance(error, DBAPIError) and not (
        error.connection_invalidated
        or isinstance(error, OperationalError)
        or sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES)
    ):
        return await _on_unexpected(request, error)
    log.warning("database unavailable: %s", error)
    return _unavailable(request, "database")


def _unavailable_handler(
    dependency: str,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, error: Exception) -> JSONResponse:
        log.warning("%s unavailable: %s", dependency, error)
        return _unavailable(request, dependency)

    return handler


async def _on_temporal_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RPCError)
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return _unavailable(request, "temporal")
    return await _on_unexpected(request, error)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(request, 500, "internal-error", "An unexpected error occurred.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DBAPIError, _on_database_down)
    app.add_exception_handler(OSError, _unavailable_handler("database"))
    app.add_exception_handler(NatsError, _unavailable_handler("nats"))
    app.add_exception_handler(httpx.TransportError, _unavailable_handler("service"))
    app.add_exception_handler(RPCError, _on_temporal_error)
    app.add_exception_handler(Exception, _on_unexpected)


def _problem_doc(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Malformed JSON"),
    401: _problem_doc("Missing, invalid or expired token"),
    403: _problem_doc("The principal lacks the required role"),
    404: _problem_doc("Not found, or not visible to the caller"),
    409: _problem_doc("Conflict with the current state"),
    422: _problem_doc("Validation failed; each error names its field"),
    503: _problem_doc("A dependency is unavailable; see Retry-After"),
}
