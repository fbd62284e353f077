"""Another EVM chain is configuration, not code; final answers shared through Redis across processes."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from services.common.settings import Settings
from services.wallet_support.cache import ResultCache
from services.wallet_support.chains.registry import DEFAULT_CHAINS_FILE, load_chains
from tests.anvil import ACCOUNTS
from tests.conftest import API_KEYS, unavailable
from tests.wallet_support.conftest import Nodes

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class TestChainsFile:
    async def test_new_evm_chain_from_the_chains_file(self, nodes: Nodes, tmp_path: Path) -> None:
        from services.wallet_support.main import create_app

        chains = json.loads(DEFAULT_CHAINS_FILE.read_text())
        chains["devnet"] = {"chain_id": 56, "family": "evm", "name": "Dev chain", "native_symbol": "DEV",
                            "native_decimals": 18, "required_confirmations": 3, "finality": "confirmations",
                            "rpc_urls": [nodes.bsc.url],
                            "tokens": {"USDT": {"contract": nodes.bsc_usdt, "decimals": 18}}}
        path = tmp_path / "chains.json"
        path.write_text(json.dumps(chains))
        settings = Settings(API_KEYS=API_KEYS, API_KEY_FILE=tmp_path / "k", CHAINS_FILE=path,  # type: ignore[call-arg]
                            GC_TUNING=False)
        app = create_app(settings, chains=load_chains(path, environ={"RPC_URLS_ETH": nodes.eth.url,
                                                                      "RPC_URLS_BSC": nodes.bsc.url,
                                                                      "RPC_URLS_POLYGON": "http://127.0.0.1:9",
                                                                      "RPC_URLS_TRON": "http://127.0.0.1:9"}))
        tx = await nodes.bsc.send(to=ACCOUNTS[2], value=10**18)
        await nodes.bsc.receipt(tx)
        await nodes.bsc.mine(2)
        headers = {"Authorization": "Bearer agent-key-0001"}
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://w", headers=headers) as api:
            listed = {c["key"]: c for c in (await api.get("/v1/chains")).json()["items"]}
            status = (await api.get(f"/v1/tx/devnet/{tx}")).json()
        assert listed["devnet"]["native_symbol"] == "DEV" and listed["devnet"]["required_confirmations"] == 3
        assert status["status"] == "finalized" and status["native_value"] == "1.000000000000000000"

    def test_rpc_urls_override(self) -> None:
        chains = load_chains(environ={"RPC_URLS_ETH": "http://a.example, http://b.example"})
        assert chains["eth"].rpc_urls == ["http://a.example", "http://b.example"]
        assert chains["bsc"].tokens["USDT"].decimals == 18 and chains["eth"].tokens["USDT"].decimals == 6
        assert chains["tron"].tokens["USDT"].contract == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


class TestRedisCache:
    async def test_final_results_and_sightings_shared_between_processes(self) -> None:
        first, second = ResultCache(redis_url=REDIS_URL), ResultCache(redis_url=REDIS_URL)
        try:
            await first.redis.ping()
        except Exception:
            unavailable(f"Redis at {REDIS_URL}")
        tx = "0x" + uuid.uuid4().hex * 2
        final = {"tx_hash": tx, "status": "finalized", "checked_at": datetime.now(UTC), "block_time": None}
        pending = {"tx_hash": "0x" + uuid.uuid4().hex * 2, "status": "pending", "checked_at": datetime.now(UTC)}
        await first.put_many("eth", [final, pending])
        got = await second.get_many("eth", [tx, pending["tx_hash"]])
        assert got[0] is not None and got[0]["status"] == "finalized" and got[0]["checked_at"] == final["checked_at"]
        assert got[1] is None  # pending answers are never cached
        await first.remember_sighting("eth", tx, {"from": "0xabc", "nonce": "0x1"})
        assert await second.sighting("eth", tx) == {"from": "0xabc", "nonce": "0x1"}
        # A batch's unseen txs are looked up in one MGET, not one GET each.
        third, never = ResultCache(redis_url=REDIS_URL), "0x" + uuid.uuid4().hex * 2
        mgets: list[int] = []
        real_mget = third.redis.mget

        async def counted_mget(keys: list[str]) -> Any:
            mgets.append(len(keys))
            return await real_mget(keys)

        third.redis.mget = counted_mget
        assert await third.sightings_of("eth", [tx, never]) == {tx: {"from": "0xabc", "nonce": "0x1"}, never: None}
        assert mgets == [2]
        for cache in (first, second, third):
            await cache.aclose()

    async def test_redis_down_costs_only_rpc_calls(self) -> None:
        cache = ResultCache(redis_url="redis://127.0.0.1:9/0")
        status = {"tx_hash": "0x1", "status": "finalized", "checked_at": datetime.now(UTC)}
        await cache.put_many("eth", [status])  # logged, not raised
        assert (await cache.get_many("eth", ["0x1", "0x2"]))[0] == status
        assert await cache.sighting("eth", "0x3") is None
        await cache.aclose()
