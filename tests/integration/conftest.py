"""Both services in one process on a real chain: orders (SQLite or PostgreSQL) with wallet-support mounted,
its Ethereum on anvil and TRON on recorded TronGrid answers. The worker is driven by the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.common.auth import load_keyring
from services.common.settings import Settings
from services.orders.worker import Worker
from tests.chain_env import MERCHANT, Nodes, wallet_chains
from tests.conftest import AGENT, make_settings


@pytest.fixture(scope="session")
async def hooked_app(settings: Settings, nodes: Nodes, tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[FastAPI]:
    from services.orders.main import create_app as create_orders
    from services.wallet_support.main import create_app as create_wallet

    config = make_settings(settings.database_url, tmp_path_factory.mktemp("hooked"), GC_TUNING=False,
                           REORG_WATCH_SECONDS=60)
    keyring = load_keyring(config)
    wallet = create_wallet(config, keyring=keyring, chains=wallet_chains(nodes))
    wallet.state.wallet.merchants.update({"eth": MERCHANT})
    app = create_orders(config, wallet_app=wallet, keyring=keyring, embedded=True)
    app.state.merchant_addresses.update({"eth": MERCHANT, "tron": "TUikLT3nTTjTkXPAuC4xUGj84vfSERCWRn"})
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def api(hooked_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hooked_app), base_url="http://orders",
                                 headers={"Authorization": f"Bearer {AGENT}"}) as client:
        yield client


@pytest.fixture
def worker(hooked_app: FastAPI) -> Worker:
    state = hooked_app.state
    return Worker(sessionmaker=state.sessionmaker, wallet=state.wallet_client, settings=state.settings,
                  merchant_addresses=state.merchant_addresses)


@pytest.fixture(autouse=True)
def endpoints_closed(hooked_app: FastAPI) -> None:
    """A test that simulates an outage leaves its endpoints' breakers open for a cool-down; each test starts with
    every breaker closed (as a fresh process would)."""
    wallet = hooked_app.state.wallet_client.http._transport.app.state.wallet
    for client in wallet.clients.values():
        for transport in (getattr(client, "transport", None), getattr(client, "rest", None)):
            if transport is not None and hasattr(transport, "pool"):
                transport.pool.reset()


async def forget_transfer(app: FastAPI, tx_hash: str) -> None:
    """Recorded real txs are reused across tests on one database: a test that claims one starts with it unused."""
    from sqlalchemy import delete, update

    from services.orders.models import Payment, PaymentSettlement

    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(delete(PaymentSettlement).where(PaymentSettlement.tx_hash == tx_hash.lower()))
        await session.execute(update(Payment).where(Payment.tx_hash == tx_hash).values(tx_hash=None))
