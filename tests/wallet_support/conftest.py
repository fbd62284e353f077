"""Wallet-support on real nodes: anvil for Ethereum (chain id 1) and BSC (chain id 56), tokens deployed at
start with the decimals the real ones have (USDT: 6 on Ethereum, 18 on BSC)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.settings import Settings
from services.wallet_support.chains.registry import ChainConfig, TokenConfig, load_chains
from tests.anvil import ACCOUNTS, Anvil
from tests.conftest import API_KEYS

MERCHANT = ACCOUNTS[5]
TRONGRID = "https://api.trongrid.test"


@dataclass
class Nodes:
    eth: Anvil
    bsc: Anvil
    eth_usdt: str
    eth_usdc: str
    bsc_usdt: str


@pytest.fixture(scope="session")
def anvil_bsc() -> Iterator[Anvil]:
    node = Anvil(chain_id=56)
    yield node
    node.stop()


@pytest.fixture(scope="session")
async def nodes(anvil_eth: Anvil, anvil_bsc: Anvil) -> Nodes:
    return Nodes(eth=anvil_eth, bsc=anvil_bsc, eth_usdt=await anvil_eth.deploy_token("USDT", 6),
                 eth_usdc=await anvil_eth.deploy_token("USDC", 6), bsc_usdt=await anvil_bsc.deploy_token("USDT", 18, supply=10**30))


def wallet_chains(nodes: Nodes) -> dict[str, ChainConfig]:
    chains = load_chains(environ={"RPC_URLS_ETH": nodes.eth.url, "RPC_URLS_BSC": nodes.bsc.url,
                                  "RPC_URLS_POLYGON": "http://127.0.0.1:9", "RPC_URLS_TRON": TRONGRID})
    chains["eth"].tokens["USDT"] = TokenConfig(symbol="USDT", contract=nodes.eth_usdt, decimals=6)
    chains["eth"].tokens["USDC"] = TokenConfig(symbol="USDC", contract=nodes.eth_usdc, decimals=6)
    chains["bsc"].tokens["USDT"] = TokenConfig(symbol="USDT", contract=nodes.bsc_usdt, decimals=18)
    return chains


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


def token_transfer(node: Anvil, token: str, to: str, amount: int, **tx: Any) -> dict[str, Any]:
    return {"to": token, "data": node.token_call(token, "transfer", node.w3.to_checksum_address(to), amount), **tx}


@pytest.fixture
def tron_fixture_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "chains"
