"""The orders service application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.common.app import install_edge, tune_gc
from services.common.auth import KeyRing, load_keyring
from services.common.db import database_ready, make_engine, make_sessionmaker
from services.common.observability import configure_logging
from services.common.settings import Settings, get_settings
from services.orders.channels.router import router as channels_router
from services.orders.clients.wallet import WalletClient
from services.orders.console.router import install_console
from services.orders.router import router
from services.orders.schemas import TrackingBatch
from services.orders.service import policy_from
from services.orders.support_router import router as support_router
from services.orders.tracking.router import router as tracking_router
from services.orders.worker import Worker

log = logging.getLogger("order_support.orders")


def _document_raw_bodies(app: FastAPI) -> None:
    """Routes that validate their body from raw bytes (the ingest hot path) still show it in OpenAPI."""
    base = app.openapi  # install_edge's: the routes' document with the problem responses

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = base()  # which keeps it as app.openapi_schema: completed here in place, once
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            schema = TrackingBatch.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components["TrackingBatch"] = schema
            return spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_wallet_client(settings: Settings, *, wallet_app: FastAPI | None,
                        keyring: KeyRing | None) -> WalletClient | None:
    """WALLET_SUPPORT_URL when set; else the embedded wallet app over an ASGI transport (no network)."""
    if settings.wallet_support_url:
        if not settings.wallet_support_api_key:
            log.error("WALLET_SUPPORT_URL is set but WALLET_SUPPORT_API_KEY is not: chain checks will fail")
        return WalletClient(base_url=settings.wallet_support_url, api_key=settings.wallet_support_api_key or "",
                            timeout=settings.rpc_timeout_seconds * 3)
    if wallet_app is not None and keyring is not None:
        return WalletClient(base_url="http://wallet-support", api_key=keyring.issue("service"),
                            transport=httpx.ASGITransport(app=wallet_app), timeout=settings.rpc_timeout_seconds * 3)
    log.warning("no WALLET_SUPPORT_URL: crypto payments cannot be checked on chain by this process")
    return None


def create_app(settings: Settings | None = None, *, wallet_app: FastAPI | None = None,
               keyring: KeyRing | None = None, embedded: bool = False) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_tuning:
            tune_gc()
        worker_task = None
        if embedded and settings.run_worker_in_process:
            worker = Worker(sessionmaker=app.state.sessionmaker, wallet=app.state.wallet_client, settings=settings,
                            merchant_addresses=app.state.merchant_addresses)
            worker_task = asyncio.create_task(worker.run_forever(settings.worker_interval_seconds))
        # Starlette does not run a mounted app's lifespan; the embedded wallet app's runs inside ours.
        if wallet_app is not None:
            async with wallet_app.router.lifespan_context(wallet_app):
                yield
        else:
            yield
        if worker_task is not None:
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
        if app.state.wallet_client is not None:
            await app.state.wallet_client.aclose()
        await engine.dispose()

    app = FastAPI(title="order-support: orders", version="0.1.0", lifespan=lifespan,
                  description="Orders, payments, shipments, carrier tracking, diagnosis, returns, tickets.")
    app.state.settings = settings
    app.state.embedded = embedded
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.keyring = keyring or load_keyring(settings)
    app.state.wallet_client = build_wallet_client(settings, wallet_app=wallet_app, keyring=app.state.keyring)
    app.state.merchant_addresses = settings.per_chain("MERCHANT_ADDRESS_")
    app.state.policy = policy_from(settings)

    async def readiness() -> dict[str, object]:
        return {"database": await database_ready(engine)}

    install_edge(app, service="orders", settings=settings, readiness=readiness)
    _document_raw_bodies(app)
    # Routes are matched in this order, one candidate at a time: the desk's hot reads (order, diagnosis) first.
    app.include_router(router)
    app.include_router(support_router)
    app.include_router(tracking_router)
    app.include_router(channels_router)  # e-mail in, events, attachments, account changes, help center
    install_console(app)  # the agent console at /console (pages and their static files)
    if wallet_app is not None:
        app.mount("/wallet", wallet_app)
    return app
