"""RFC 9457 problem details: one base class that carries its HTTP status, one renderer."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def _allowed_methods(request: Request) -> str:
    """Every method of every route at this path (Starlette names only the first matching route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(request.url.path):
            methods |= set(route_methods)
    if "GET" not in methods:
        methods.discard("HEAD")
    return ", ".join(sorted(methods - {"HEAD"}))


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
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        err = ProblemError(str(exc.detail), headers=headers)
        err.status = exc.status_code
        err.title = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}.get(
            exc.status_code, "Error")
        err.type_slug = err.title.lower().replace(" ", "-")
        return problem_response(err, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Reached only when ErrorBoundary is not installed (it answers first and logs once, with the request id).
        problem = classify(exc)
        if problem is None:
            log_unexpected(exc, request.url.path)
            problem = internal_error()
        return problem_response(problem, request)


def internal_error() -> ProblemError:
    err = ProblemError("An unexpected error happened; it has been logged.")
    err.status, err.title, err.type_slug = 500, "Internal server error", "internal"
    return err


class DatabaseUnavailable(ServiceUnavailable):
    type_slug = "database-unavailable"

    def __init__(self) -> None:
        super().__init__("The database is not answering; nothing was changed. Try again shortly.", retry_after=5)


class ValueNotStorable(InvalidInput):
    type_slug = "value-not-storable"


# SQLSTATE classes: 08 connection, 53 resources, 57P operator intervention (shutdown), 40 rollbacks (retry).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "40", "55P03")
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "disk is full", "readonly", "read-only")


def _sqlstate(exc: BaseException) -> str:
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def classify(exc: BaseException) -> ProblemError | None:
    """The answer for a failure of a dependency rather than of our code: the database down or busy is a 503
    with retry advice, a value the database cannot hold is a 422. None means a bug (a 500)."""
    if isinstance(exc, ProblemError):
        return exc
    state = _sqlstate(exc)
    if isinstance(exc, sa_exc.DBAPIError):
        if state.startswith("22"):
            return ValueNotStorable("A value does not fit what the database can store; nothing was changed.")
        if exc.connection_invalidated or state.startswith(_UNAVAILABLE_SQLSTATES):
            return DatabaseUnavailable()
        if type(exc.orig).__module__.startswith("sqlite3"):
            # SQLite's OperationalError is also "no such table" or a syntax error: only these are the file's state.
            text = str(exc.orig).lower()
            return DatabaseUnavailable() if any(m in text for m in _SQLITE_UNAVAILABLE) else None
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and not state.startswith("42"):
            return DatabaseUnavailable()
        return None
    if isinstance(exc, sa_exc.TimeoutError | ConnectionError | TimeoutError):
        return DatabaseUnavailable()
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return DatabaseUnavailable()
    module = type(exc).__module__
    if module.startswith("asyncpg") and (state.startswith(_UNAVAILABLE_SQLSTATES)
                                         or type(exc).__name__ in {"ConnectionDoesNotExistError",
                                                                   "InterfaceError", "InternalClientError"}):
        return DatabaseUnavailable()
    return None


# Personal data in text that may reach a log or a job record: e-mail addresses, phone numbers, the values
# of SQL statements and PostgreSQL's "Key (column)=(value)" details.
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\[parameters: .*?\](?=\n|$)", re.S), "[parameters: hidden]"),
    (re.compile(r"\)=\((.*?)\)( already exists| is not present|\.)"), r")=(…)\2"),
    (re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"(?<![\w.])\+?\d[\d ()\-]{5,}\d(?![\w.])"), "<number>"),
)


def scrub(text: str, limit: int = 2000) -> str:
    """Text without e-mail addresses, phone-like numbers or SQL parameter values, at most `limit` characters.

    For log records and stored error notes (a job's last_error): `f"{type(exc).__name__}: {scrub(str(exc))}"`.
    """
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text[:limit]


def describe(exc: BaseException) -> str:
    """An exception as one line without personal data: its type and its scrubbed message."""
    return f"{type(exc).__name__}: {scrub(str(exc), 500)}"


def frames(exc: BaseException) -> list[str]:
    """Where it happened (file:line in function), without the values: a traceback safe to log."""
    return [f"{f.filename.rsplit('/services/', 1)[-1]}:{f.lineno} in {f.name}"
            for f in traceback.extract_tb(exc.__traceback__)][-15:]


def log_unexpected(exc: BaseException, path: str) -> None:
    log.error("unhandled error", extra={"path": path, "error": describe(exc), "frames": frames(exc)})


class ScrubFilter(logging.Filter):
    """On the service's log handler: a record's message and traceback lose personal data (SQL parameters,
    e-mail addresses, phone numbers), whoever logged it (our code, uvicorn, SQLAlchemy, the worker)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub("".join(traceback.format_exception(record.exc_info[1])), 20_000)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, 20_000)
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg, record.args = scrub(message, 20_000), None
        return True


class ErrorBoundary:
    """Innermost edge middleware (inside the request-id middleware): a failure not answered by a handler is
    classified (database down → 503 with Retry-After), or logged once with its request id and answered as a
    500 problem; a client that went away mid-request is neither (nobody to answer, nothing wrong here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.info("client disconnected before the request was read", extra={"path": scope.get("path")})
            return
        except Exception as exc:
            problem = classify(exc)
            if problem is None or (problem.status >= 500 and not isinstance(problem, ServiceUnavailable)):
                log_unexpected(exc, scope.get("path", ""))
                problem = internal_error()
            else:
                log.warning("request failed on a dependency", extra={"path": scope.get("path"),
                                                                     "error": describe(exc),
                                                                     "status": problem.status})
            if started:
                return  # the response is under way: the client sees a cut connection, the log has the cause
            await problem_response(problem, Request(scope))(scope, receive, send)


_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
           413: "Payload too large", 414: "URI too long", 422: "Invalid input", 429: "Too many requests",
           503: "Service unavailable"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_READINESS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["status", "checks"],
    "properties": {"status": {"type": "string", "enum": ["ready", "not_ready"]},
                   "checks": {"type": "object", "additionalProperties": True}},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the problems a route can answer with."""
    return {code: {"description": _TITLES.get(code, "Error"), "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
            for code in codes}


# What any route can answer besides its own: malformed JSON or bad header bytes (400), no or a bad key (401),
# another role's route (403), a body or URI too large (413, 414), invalid input (422), the database down (503).
_EVERY_ROUTE = (400, 401, 403, 413, 414, 422, 503)


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI say what the service answers: problem+json for every 4xx/5xx a route can produce
    (FastAPI's default 422 schema is replaced), and the Problem schema itself."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    spec["components"]["schemas"].pop("HTTPValidationError", None)
    spec["components"]["schemas"].pop("ValidationError", None)
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = set(_EVERY_ROUTE)
            if "{" in path or method == "post":
                codes.add(404)
            if method in ("post", "patch"):
                codes.add(409)  # a conflicting state, or an Idempotency-Key still in use
            if path in ("/healthz", "/metrics", "/readyz"):
                codes = set()
                if path == "/readyz":  # not ready is its answer: the same JSON body as ready, with a 503
                    operation["responses"]["503"] = {
                        "description": "Not ready: what is missing",
                        "headers": {"Retry-After": {"schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": _READINESS_SCHEMA}}}
                    operation["responses"]["200"]["content"] = {"application/json": {"schema": _READINESS_SCHEMA}}
                    continue
            for code in sorted(codes):
                entry = operation["responses"].get(str(code))
                operation["responses"][str(code)] = {
                    "description": (entry or {}).get("description") or _TITLES.get(code, "Error"),
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
            for code, entry in operation["responses"].items():
                if code.startswith(("4", "5")) and isinstance(entry, dict):
                    entry["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    return spec
