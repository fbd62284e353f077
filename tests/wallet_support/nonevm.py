"""The wallet-support app with every non-EVM chain pointed at respx hosts (no network), and the recorded
bodies under tests/data/chains/<family>/ (sources in tests/data/chains/SOURCES-non-evm.md).

Each test gets a fresh app: endpoint state (an endpoint refused for serving the wrong network, cool-downs,
identity checks) must not leak from one test to the next.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from services.common.settings import Settings
from services.wallet_support.chains.registry import load_chains
from tests.conftest import API_KEYS

DATA = Path(__file__).resolve().parents[1] / "data" / "chains"
ESPLORA, ESPLORA_B = "https://esplora-a.test/api", "https://esplora-b.test/api"
SOLANA, SOLANA_B = "https://solana-a.test", "https://solana-b.test"
APTOS, APTOS_B = "https://aptos-a.test/v1", "https://aptos-b.test/v1"
SUBSCAN_DOT, SUBSCAN_DOT_B, SUBSCAN_KSM = "https://dot-a.test", "https://dot-b.test", "https://ksm.test"
EOS, EOS_B = "https://eos-a.test", "https://eos-b.test"
TRONGRID = "https://api.trongrid.test"
ENDPOINTS = {"RPC_URLS_BTC": f"{ESPLORA},{ESPLORA_B}", "RPC_URLS_SOLANA": f"{SOLANA},{SOLANA_B}",
             "RPC_URLS_APTOS": f"{APTOS},{APTOS_B}", "RPC_URLS_DOT": f"{SUBSCAN_DOT},{SUBSCAN_DOT_B}",
             "RPC_URLS_KSM": SUBSCAN_KSM, "RPC_URLS_EOS": f"{EOS},{EOS_B}", "RPC_URLS_TRON": TRONGRID}
BTC_MAINNET_GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
BTC_TESTNET3_GENESIS = "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"


def offline(mock: respx.MockRouter) -> None:
    """Every host not mocked so far is unreachable (the lookups on other chains answer `unknown`). Call last."""
    mock.route().mock(side_effect=httpx.ConnectError("offline in tests"))


def load(family: str, name: str) -> Any:
    return json.loads((DATA / family / name).read_text())


@pytest.fixture
async def chains_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    from services.wallet_support.main import create_app

    settings = Settings(API_KEYS=API_KEYS, API_KEY_FILE=tmp_path / "k", LOG_LEVEL="WARNING",  # type: ignore[call-arg]
                        GC_TUNING=False, SUBSCAN_API_KEY="subscan-test-key")
    app = create_app(settings, chains=load_chains(environ=ENDPOINTS))
    for client in app.state.wallet.clients.values():  # no real sleeping between retries in tests
        api = getattr(client, "api", None)
        if api is not None:
            api.backoff = 0.0
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(chains_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=chains_app), base_url="http://wallet",
                                 headers={"Authorization": "Bearer agent-key-0001"}) as client:
        yield client


async def get_status(api: httpx.AsyncClient, chain: str, tx: str) -> dict[str, Any]:
    resp = await api.get(f"/v1/tx/{chain}/{tx}")
    assert resp.status_code == 200, resp.text
    return resp.json()


async def ask(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    resp = await api.post("/v1/questions", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def verify(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    resp = await api.post("/v1/payments/verify", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def text_of(answer: dict[str, Any]) -> str:
    return " ".join([answer["answer"], *answer["next_steps"], *answer["checks"]])
