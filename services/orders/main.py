"""The orders service application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.app import install_edge, tune_gc
from services.common.auth import KeyRing, load_keyring
from services.common.db import database_ready, make_engine, make_sessionmaker
from services.common.observability import configure_logging
from services.common.settings import Settings, get_settings
from services.orders.router import router
from services.orders.service import policy_from
from services.orders.support_router import router as support_router
from services.orders.tracking.router import router as tracking_router

log = logging.getLogger("order_support.orders")


def create_app(settings: Settings | None = None, *, wallet_app: FastAPI | None = None,
               keyring: KeyRing | None = None, embedded: bool = False) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_tuning:
            tune_gc()
        # Starlette does not run a mounted app's lifespan; the embedded wallet app's runs inside ours.
        if wallet_app is not None:
            async with wallet_app.router.lifespan_context(wallet_app):
                yield
        else:
            yield
        await engine.dispose()

    app = FastAPI(title="order-support: orders", version="0.1.0", lifespan=lifespan,
                  description="Orders, payments, shipments, carrier tracking, diagnosis, returns, tickets.")
    app.state.settings = settings
    app.state.embedded = embedded
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.keyring = keyring or load_keyring(settings)
    app.state.merchant_addresses = settings.per_chain("MERCHANT_ADDRESS_")
    app.state.policy = policy_from(settings)
    app.state.ticket_hooks = []

    async def readiness() -> dict[str, object]:
        return {"database": await database_ready(engine)}

    install_edge(app, service="orders", settings=settings, readiness=readiness)
    app.include_router(router)
    app.include_router(tracking_router)
    app.include_router(support_router)
    if wallet_app is not None:
        app.mount("/wallet", wallet_app)
    return app
