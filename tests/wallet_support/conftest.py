"""Wallet-support's app on the shared nodes (see tests/chain_env.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.common.settings import Settings
from tests.chain_env import MERCHANT, TRONGRID, Nodes, token_transfer, wallet_chains
from tests.conftest import API_KEYS

__all__ = ["MERCHANT", "TRONGRID", "Nodes", "token_transfer", "wallet_chains"]


@pytest.fixture(scope="session")
async def wallet_app(nodes: Nodes, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    from services.wallet_support.main import create_app

    settings = Settings(API_KEYS=API_KEYS, API_KEY_FILE=tmp_path_factory.mktemp("w") / "k",  # type: ignore[call-arg]
                        LOG_LEVEL="WARNING", TRON_API_KEY="tron-test-key", GC_TUNING=False)
    app = create_app(settings, chains=wallet_chains(nodes))
    app.state.wallet.merchants.update({"eth": MERCHANT, "bsc": MERCHANT})
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def wallet(wallet_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wallet_app), base_url="http://wallet",
                                 headers={"Authorization": "Bearer agent-key-0001"}) as client:
        yield client


@pytest.fixture(autouse=True)
def _breakers_closed(request: pytest.FixtureRequest) -> None:
    """Each test starts with every endpoint of the shared app healthy: a fault one test injects (a 429, a hang)
    opens that endpoint's circuit breaker for a cool-down, which must not leak into the next test."""
    if "wallet_app" not in request.fixturenames and "wallet" not in request.fixturenames:
        return
    app: FastAPI = request.getfixturevalue("wallet_app")
    for client in app.state.wallet.clients.values():
        for attribute in ("transport", "api"):  # EVM and TRON clients; the other families' HTTP APIs
            pool = getattr(getattr(client, attribute, None), "pool", None)
            if pool is not None:
                pool.reset()
