"""What both services share at the edge: error handlers, middleware, health, readiness, metrics."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import (
    ErrorBoundary,
    ProblemError,
    document_problems,
    install_error_handlers,
    problem_response,
)
from services.common.idempotency import IdempotencyMiddleware
from services.common.observability import RequestContextMiddleware, metrics_response
from services.common.settings import Settings

ReadinessCheck = Callable[[], Awaitable[dict[str, object]]]

MAX_PATH_CHARS = 2048
MAX_QUERY_BYTES = 8192


class BadRequestLine(ProblemError):
    status, title, type_slug = 400, "Bad request", "bad-request"


class UriTooLong(ProblemError):
    status, title, type_slug = 414, "URI too long", "uri-too-long"


def _request_problem(scope: Scope) -> ProblemError | None:
    """What no route can take: header bytes that are not UTF-8, a NUL in the path or the query, a huge URI."""
    for name, value in scope.get("headers", []):
        if value.isascii() and name.isascii():
            continue  # ASCII is UTF-8: the decoding below is for the rare other header
        try:
            value.decode("utf-8")
            name.decode("ascii")
        except UnicodeDecodeError:
            return BadRequestLine(f"Header {name.decode('latin-1')[:64]} is not valid UTF-8 text.")
    path = scope.get("path", "")
    query = scope.get("query_string", b"")
    if len(path) > MAX_PATH_CHARS or len(query) > MAX_QUERY_BYTES:
        return UriTooLong(f"The path may be {MAX_PATH_CHARS} characters and the query {MAX_QUERY_BYTES} bytes.")
    if "\x00" in path:
        return BadRequestLine("The path contains a NUL character.")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return BadRequestLine(f"Query parameter {name[:64]!r} contains a NUL character.")
    return None


class InputGuard:
    """Outermost: refuse, before anything reads them, requests whose bytes no route could store or log.

    It is the whole edge in one middleware layer (each layer costs every request a call, and those that wrap
    `send` two more): InputGuard → request id, size, metrics, admission (RequestContextMiddleware) →
    ErrorBoundary → [Idempotency-Key, POST only] → routes. A request that is not a POST never enters the
    idempotency middleware, which acts on POSTs only.
    """

    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = RequestContextMiddleware(ErrorBoundary(app), service=service, max_body_bytes=max_body_bytes,
                                            post_app=ErrorBoundary(IdempotencyMiddleware(app)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _request_problem(scope)
            if problem is not None:
                safe = dict(scope, headers=[(k, v) for k, v in scope.get("headers", [])
                                            if k in (b"host",) and v.isascii()])
                await problem_response(problem, Request(safe))(safe, receive, send)
                return
        await self.app(scope, receive, send)


def install_edge(app: FastAPI, *, service: str, settings: Settings, readiness: ReadinessCheck) -> None:
    install_error_handlers(app)
    # InputGuard → request id, size, metrics → ErrorBoundary → Idempotency-Key (POST) → routes, as one layer.
    app.add_middleware(InputGuard, service=service, max_body_bytes=settings.max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    # A service may wrap it to add what its routes cannot declare (services/orders/main.py's raw bodies).
    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["operations"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Ready to serve: its dependencies answer (503 with what is missing otherwise)."""
        checks = await readiness()
        ready = all(v is True or (isinstance(v, dict) and v.get("ok")) for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                            status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "5"})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics: requests and latencies by route."""
        return metrics_response()


def tune_gc() -> None:
    """Move everything loaded at start-up out of the collector's sight and collect young objects less often.

    A request that parses a 500-event batch allocates tens of thousands of objects; with the default
    thresholds each allocation burst triggers collections that walk the whole imported heap (web3, pydantic
    schemas...), which tripled the cost of validating a batch in bench/ingest.py.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
