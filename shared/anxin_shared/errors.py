"""Errors: one base class, rendered as RFC 9457 problem details by one handler.

Hierarchy::

    AnxinError                      status, type, title
    ├── BadRequest                  400  malformed path, body or parameters
    ├── Unauthenticated             401  missing, expired or forged token
    ├── Forbidden                   403  a policy decision said no (carries decision_id)
    ├── NotFound                    404
    ├── MethodNotAllowed            405  carries the allowed methods
    ├── Conflict                    409
    ├── PayloadTooLarge             413
    ├── ValidationFailed            422
    ├── RateLimited                 429  carries retry_after
    └── DependencyUnavailable       503  policy engine, a peer service or the database is down

Problem bodies never contain stack traces, SQL, secrets or the rejected input:
validation errors report where and why, not the value.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from anxin_shared.context import current_request_id, current_trace_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://anxin.example/problems/"
logger = logging.getLogger("anxin.errors")


class AnxinError(Exception):
    """Base of every expected failure; `status` and `type` decide the response."""

    status: int = 500
    type: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def headers(self) -> dict[str, str]:
        """Extra response headers for this problem."""
        return {}


class BadRequest(AnxinError):
    status, type, title = 400, "bad-request", "Bad request"


class Unauthenticated(AnxinError):
    status, type, title = 401, "unauthenticated", "Authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="anxin"'}


class Forbidden(AnxinError):
    status, type, title = 403, "forbidden", "Forbidden by policy"
    # The request's session still commits the denial's audit event (see db.py).
    keeps_audit = True

    def __init__(self, detail: str | None = None, *, decision_id: str, **extra: Any) -> None:
        super().__init__(detail, decision_id=decision_id, **extra)
        self.decision_id = decision_id


class NotFound(AnxinError):
    status, type, title = 404, "not-found", "Not found"


class MethodNotAllowed(AnxinError):
    status, type, title = 405, "method-not-allowed", "Method not allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"allowed methods: {', '.join(sorted(allowed))}")
        self.allowed = sorted(allowed)

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class Conflict(AnxinError):
    status, type, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AnxinError):
    status, type, title = 413, "payload-too-large", "Payload too large"


class ValidationFailed(AnxinError):
    status, type, title = 422, "validation-failed", "Validation failed"


class RateLimited(AnxinError):
    status, type, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class DependencyUnavailable(AnxinError):
    status, type, title = 503, "dependency-unavailable", "A dependency is unavailable"


def problem_body(status: int, type_: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The RFC 9457 body, with the request id and trace id every problem carries."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    trace_id = current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def problem_response(error: AnxinError) -> JSONResponse:
    """Render an `AnxinError` as a problem-details response."""
    return JSONResponse(
        problem_body(error.status, error.type, error.title, error.detail, **error.extra),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=error.headers(),
    )


_STATUS_TO_ERROR: dict[int, type[AnxinError]] = {
    400: BadRequest,
    401: Unauthenticated,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: BadRequest,
    503: DependencyUnavailable,
}


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": error.get("msg", "")}
        for error in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error on `app` a problem-details response; never a stack trace."""

    @app.exception_handler(AnxinError)
    async def _anxin_error(_: Request, exc: AnxinError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = ValidationFailed("the request does not match the schema")
        error.extra["errors"] = _validation_detail(exc)
        return problem_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return problem_response(MethodNotAllowed([m.strip() for m in allowed.split(",") if m]))
        error_type = _STATUS_TO_ERROR.get(exc.status_code, AnxinError)
        error = error_type.__new__(error_type)
        AnxinError.__init__(error, None)
        error.status = exc.status_code
        return problem_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled %s (request %s)", type(exc).__name__, current_request_id())
        return problem_response(AnxinError("an unexpected error occurred"))
