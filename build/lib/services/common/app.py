"""What both services share at the edge: error handlers, middleware, health, readiness, metrics."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from services.common.errors import install_error_handlers
from services.common.observability import RequestContextMiddleware, metrics_response
from services.common.settings import Settings

ReadinessCheck = Callable[[], Awaitable[dict[str, object]]]


def install_edge(app: FastAPI, *, service: str, settings: Settings, readiness: ReadinessCheck) -> None:
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=service, max_body_bytes=settings.max_body_bytes)

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
