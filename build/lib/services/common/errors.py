"""RFC 9457 problem details: one base class that carries its HTTP status, one renderer."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("order_support.errors")


class ProblemError(Exception):
    """An expected failure that becomes a problem+json response with its own status."""

    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers
        self.extra = extra or {}

    def to_body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://order-support.dev/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class NotFound(ProblemError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(ProblemError):
    status, title, type_slug = 409, "Conflict", "conflict"


class Unauthorized(ProblemError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class InvalidInput(ProblemError):
    status, title, type_slug = 422, "Invalid input", "invalid-input"


class ServiceUnavailable(ProblemError):
    status, title, type_slug = 503, "Service unavailable", "unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 30) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after})


def problem_response(error: ProblemError, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        error.to_body(request.url.path if request else None),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


def _validation_errors(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        loc = [str(p) for p in err.get("loc", ())]
        entry: dict[str, Any] = {"field": ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header")
                                                   else loc),
                                 "location": loc[0] if loc else "body",
                                 "message": err.get("msg", "invalid"),
                                 "type": err.get("type", "value_error")}
        errors.append(entry)
    if malformed:
        return 400, "The request body is not valid JSON.", errors
    fields = ", ".join(sorted({e["field"] or e["location"] for e in errors}))
    return 422, f"Invalid request: check {fields}.", errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, errors = _validation_errors(exc)
        title = "Malformed JSON" if status == 400 else "Invalid input"
        err = ProblemError(detail, errors=errors)
        err.status, err.title, err.type_slug = status, title, "malformed-json" if status == 400 else "invalid-input"
        return problem_response(err, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        err = ProblemError(str(exc.detail), headers=dict(exc.headers) if exc.headers else None)
        err.status = exc.status_code
        err.title = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}.get(
            exc.status_code, "Error")
        err.type_slug = err.title.lower().replace(" ", "-")
        return problem_response(err, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        err = ProblemError("An unexpected error happened; it has been logged.")
        err.status, err.title, err.type_slug = 500, "Internal server error", "internal"
        return problem_response(err, request)


_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
           413: "Payload too large", 422: "Invalid input", 503: "Service unavailable"}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the problems a route can answer with."""
    return {code: {"description": _TITLES.get(code, "Error"), "content": {PROBLEM_JSON: {}}} for code in codes}
