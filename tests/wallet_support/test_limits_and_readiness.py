"""Rate limits per API key on chain lookups and verifies (429 problem+json with Retry-After; shared through Redis
across replicas), and a readiness answer that neither probes every endpoint on every call nor counts chains
left on the packaged public endpoints (issue #14)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from services.common.ratelimit import Rate, RateLimiter
from services.common.settings import Settings
from services.wallet_support.chains.registry import load_chains
from tests.conftest import unavailable
from tests.wallet_support.test_config_and_cache import REDIS_URL
from tests.wallet_support.test_rpc_faults import TX, USDT_RECEIPT, node

A = "http://rpc-a.test/"
CLOSED = "http://127.0.0.1:9"


def keys() -> tuple[str, str, str]:
    """Fresh keys each run, so that budgets kept in Redis by an earlier run do not count."""
    tag = secrets.token_hex(4)
    return f"cust-a-{tag}", f"cust-b-{tag}", f"svc-{tag}"


@asynccontextmanager
async def wallet(tmp_path: Path, api_keys: str, **settings: Any) -> AsyncIterator[FastAPI]:
    from services.wallet_support.main import create_app

    chains = load_chains(environ={"RPC_URLS_ETH": A, "RPC_URLS_BSC": CLOSED, "RPC_URLS_POLYGON": CLOSED,
                                  "RPC_URLS_TRON": CLOSED})
    app = create_app(Settings(API_KEYS=api_keys, API_KEY_FILE=tmp_path / "k", GC_TUNING=False,  # type: ignore[call-arg]
                              LOG_LEVEL="WARNING", **settings), chains=chains)
    async with app.router.lifespan_context(app):
        yield app


def api(app: FastAPI, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w",
                             headers={"Authorization": f"Bearer {key}"})


def verify_body(fresh: bool = False) -> dict[str, Any]:
    return {"chain": "eth", "tx_hash": TX, "fresh": fresh,
            "expected": {"to": USDT_RECEIPT["result"]["to"], "token": "USDT", "amount": "1"}}


class TestRateLimits:
    async def test_lookups_per_key_429_with_retry_after(self, tmp_path: Path) -> None:
        first, second, service = keys()
        api_keys = f"{first}:customer:c-1,{second}:customer:c-2,{service}:service"
        with respx.mock(assert_all_called=False) as mock:
            mock.post(A).mock(side_effect=node())
            async with wallet(tmp_path, api_keys, RATE_LIMIT_LOOKUPS="5/minute") as app, \
                    api(app, first) as one, api(app, second) as other, api(app, service) as ours:
                bad = await one.get("/v1/tx/eth/0x1234")
                answers = [await one.get(f"/v1/tx/eth/{TX}") for _ in range(5)]
                over = await one.get(f"/v1/tx/eth/{TX}")
                batch = await other.post("/v1/tx/batch", json={"items": [{"chain": "eth", "tx_hash": TX}] * 6})
                others = await other.post("/v1/tx/batch", json={"items": [{"chain": "eth", "tx_hash": TX}] * 5})
                service_batch = await ours.post("/v1/tx/batch",
                                                json={"items": [{"chain": "eth", "tx_hash": TX}] * 50})
        assert bad.status_code == 422  # bad input spends nothing
        assert [a.status_code for a in answers] == [200] * 5
        assert over.status_code == 429
        assert over.headers["content-type"] == "application/problem+json"
        assert 1 <= int(over.headers["retry-after"]) <= 60 and over.json()["retry_after"] == int(
            over.headers["retry-after"])
        assert "5 per minute" in over.json()["detail"]
        assert batch.status_code == 429 and "at most 5" in batch.json()["detail"]  # a batch costs its size
        assert others.status_code == 200  # the other key has its own budget
        assert service_batch.status_code == 200  # our own services' key: ten times the budget

    async def test_fresh_verifies_cost_more(self, tmp_path: Path) -> None:
        customer, _, _ = keys()
        with respx.mock(assert_all_called=False) as mock:
            mock.post(A).mock(side_effect=node())
            async with wallet(tmp_path, f"{customer}:customer:c-1", RATE_LIMIT_VERIFIES="20/minute") as app, \
                    api(app, customer) as client:
                fresh = [await client.post("/v1/payments/verify", json=verify_body(fresh=True)) for _ in range(3)]
        assert [r.status_code for r in fresh] == [200, 200, 429]
        assert int(fresh[2].headers["retry-after"]) >= 1

    async def test_budget_shared_by_replicas_through_redis(self, tmp_path: Path) -> None:
        probe = RateLimiter({}, redis_url=REDIS_URL)
        try:
            await probe.redis.ping()
        except Exception:
            unavailable(f"Redis at {REDIS_URL}")
        finally:
            await probe.aclose()
        customer, _, _ = keys()
        with respx.mock(assert_all_called=False) as mock:
            mock.post(A).mock(side_effect=node())
            async with wallet(tmp_path / "1", f"{customer}:customer:c-1", RATE_LIMIT_LOOKUPS="4/minute",
                              REDIS_URL=REDIS_URL) as first, \
                    wallet(tmp_path / "2", f"{customer}:customer:c-1", RATE_LIMIT_LOOKUPS="4/minute",
                           REDIS_URL=REDIS_URL) as second, api(first, customer) as one, api(second, customer) as two:
                spent = [(await one.get(f"/v1/tx/eth/{TX}")).status_code for _ in range(2)]
                spent += [(await two.get(f"/v1/tx/eth/{TX}")).status_code for _ in range(2)]
                over = await one.get(f"/v1/tx/eth/{TX}")
        assert spent == [200] * 4 and over.status_code == 429

    def test_rate_parsing(self) -> None:
        assert Rate.parse("600/minute") == Rate(600, 60.0)
        assert Rate.parse("10 / 5 seconds") == Rate(10, 5.0)
        with pytest.raises(ValueError, match="600/minute"):
            Rate.parse("lots")


class TestReadiness:
    async def test_probe_is_cached_a_few_seconds(self, tmp_path: Path) -> None:
        with respx.mock(assert_all_called=False) as mock:
            eth = mock.post(A).mock(side_effect=node())
            mock.route(host="127.0.0.1").mock(side_effect=httpx.ConnectError("refused"))
            async with wallet(tmp_path, "k:agent") as app, api(app, "k") as client:
                answers = [await client.get("/readyz") for _ in range(10)]
        assert {a.status_code for a in answers} == {503}  # bsc, polygon, tron are configured and unreachable
        assert answers[0].json()["checks"]["eth"]["ok"] is True
        assert eth.call_count <= 2  # one probe (its identity check and eth_blockNumber), not ten

    async def test_chains_left_on_public_defaults_do_not_count(self, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
        from services.wallet_support.main import create_app

        # The devchain profile: only the chains it runs are configured; the rest keep the public endpoints.
        for name in [n for n in os.environ if n.upper().startswith("RPC_URLS_")]:
            monkeypatch.delenv(name)
        chains = load_chains(environ={"RPC_URLS_ETH": A})
        app = create_app(Settings(API_KEYS="k:agent", API_KEY_FILE=tmp_path / "k",  # type: ignore[call-arg]
                                  GC_TUNING=False, LOG_LEVEL="WARNING"), chains=chains)
        with respx.mock() as mock:  # anything not mocked (a public endpoint) would fail the test
            mock.post(A).mock(side_effect=node())
            async with app.router.lifespan_context(app), api(app, "k") as client:
                ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["eth"]["ok"] is True
        assert checks["bsc"]["probed"] is False and "RPC_URLS_BSC" in checks["bsc"]["reason"]
