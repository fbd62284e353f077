"""`GET /v1/chains` for every family, the batch endpoint across families, wrong chain across families, and an
EVM chain that exists only in the chains file (on anvil)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from services.common.settings import Settings
from services.wallet_support.chains.registry import DEFAULT_CHAINS_FILE, load_chains
from tests.anvil import ACCOUNTS
from tests.conftest import API_KEYS
from tests.wallet_support.conftest import Nodes
from tests.wallet_support.nonevm import api, chains_app, get_status, offline, verify
from tests.wallet_support.test_antelope import MAINNET_TX, EosNode
from tests.wallet_support.test_aptos import APT_TX, AptosNode
from tests.wallet_support.test_bitcoin import CONFIRMED, RECIPIENT, Esplora
from tests.wallet_support.test_solana import DEVNET_GENESIS, USDC_TX, SolanaRpc
from tests.wallet_support.test_substrate import DOT_TX, Subscan
from tests.wallet_support.test_substrate import RECIPIENT as DOT_RECIPIENT
from tests.wallet_support.test_tron import TronGrid

__all__ = ["api", "chains_app"]


class TestChainList:
    async def test_every_chain_with_family_decimals_tokens_and_reachability(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock)
            SolanaRpc(mock, "https://solana-a.test", genesis=DEVNET_GENESIS)
            SolanaRpc(mock, "https://solana-b.test", genesis=DEVNET_GENESIS)
            offline(mock)
            resp = await api.get("/v1/chains")
        assert resp.status_code == 200
        chains = {c["key"]: c for c in resp.json()["items"]}
        assert {"eth", "bsc", "polygon", "tron", "oktc", "btc", "solana", "aptos", "dot", "ksm", "eos"} <= set(chains)
        expected = {"btc": ("bitcoin", 8, 6, None), "solana": ("solana", 9, 32, None), "aptos": ("aptos", 8, 0, 1),
                    "dot": ("substrate", 10, 1, None), "ksm": ("substrate", 12, 1, None),
                    "eos": ("antelope", 4, 1, None), "oktc": ("evm", 18, 3, 66)}
        for key, (family, decimals, confirmations, chain_id) in expected.items():
            got = chains[key]
            assert (got["family"], got["decimals"], got["required_confirmations"], got["chain_id"]) == (
                family, decimals, confirmations, chain_id), key
            assert got["configured"] is True
        assert {t["symbol"]: (t["contract"], t["decimals"]) for t in chains["solana"]["tokens"]} == {
            "USDT": ("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", 6),
            "USDC": ("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6)}
        assert chains["eos"]["tokens"] == [{"symbol": "USDT", "contract": "tethertether", "decimals": 4}]
        assert chains["btc"]["reachable"] is True  # answers with mainnet's genesis
        assert chains["solana"]["reachable"] is False  # answers, but for devnet: refused
        assert chains["aptos"]["reachable"] is False  # offline

    async def test_without_probing(self, api: httpx.AsyncClient) -> None:
        resp = await api.get("/v1/chains", params={"probe": "false"})
        assert all(c["reachable"] is None for c in resp.json()["items"])


def test_an_evm_chain_without_chain_id_is_refused(tmp_path: Path) -> None:
    chains = json.loads(DEFAULT_CHAINS_FILE.read_text())
    del chains["oktc"]["chain_id"]
    path = tmp_path / "chains.json"
    path.write_text(json.dumps(chains))
    with pytest.raises(ValueError, match="oktc: a evm chain needs its chain_id"):
        load_chains(path)


class TestAcrossFamilies:
    async def test_batch_takes_any_mix_of_chains_in_order(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock)
            SolanaRpc(mock)
            AptosNode(mock)
            Subscan(mock)
            EosNode(mock)
            offline(mock)
            resp = await api.post("/v1/tx/batch", json={"items": [
                {"chain": "eos", "tx_hash": MAINNET_TX}, {"chain": "btc", "tx_hash": CONFIRMED},
                {"chain": "solana", "tx_hash": USDC_TX}, {"chain": "aptos", "tx_hash": APT_TX},
                {"chain": "dot", "tx_hash": DOT_TX}, {"chain": "btc", "tx_hash": CONFIRMED}]})
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        assert [(i["chain"], i["status"]) for i in items] == [
            ("eos", "finalized"), ("btc", "finalized"), ("solana", "finalized"), ("aptos", "finalized"),
            ("dot", "finalized"), ("btc", "finalized")]

    async def test_bitcoin_txid_asked_on_tron_is_wrong_chain(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)  # answers {} for a txid it does not know
            Esplora(mock)
            offline(mock)
            status = await get_status(api, "tron", CONFIRMED)
            paid = await verify(api, chain="tron", tx_hash=CONFIRMED,
                                expected={"to": "TUikLT3nTTjTkXPAuC4xUGj84vfSERCWRn", "token": "USDT",
                                          "amount": "1"})
            zh = await verify(api, chain="tron", tx_hash=CONFIRMED, lang="zh-CN",
                              expected={"to": "TUikLT3nTTjTkXPAuC4xUGj84vfSERCWRn", "token": "USDT", "amount": "1"})
            right = await verify(api, chain="btc", tx_hash=CONFIRMED,
                                 expected={"to": RECIPIENT, "token": "BTC", "amount": "0.17556669"})
        assert status["status"] == "not_found" and status["found_on"] == ["btc"]
        assert (paid["verdict"], paid["found_on"]) == ("wrong_chain", ["btc"])
        assert paid["explanation"] == "This transaction is not on tron; it was found on btc."
        assert zh["explanation"] == "该交易不在 tron 上，而是在 btc 上。"
        assert right["verdict"] == "paid"

    async def test_polkadot_extrinsic_asked_on_aptos(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            AptosNode(mock)
            Subscan(mock)
            offline(mock)
            answer = await api.post("/v1/questions", json={"topic": "wrong_network", "chain": "aptos",
                                                           "tx_hash": DOT_TX})
            paid = await verify(api, chain="aptos", tx_hash=DOT_TX,
                                expected={"to": "0x1", "token": "APT", "amount": "1"})
        body = answer.json()
        assert body["answer"] == "The transaction is not on aptos: it is on dot."
        assert "Switch your wallet to dot" in body["next_steps"][0]
        assert paid["verdict"] == "wrong_chain" and DOT_RECIPIENT not in paid["explanation"]


class TestEvmByConfiguration:
    async def test_a_chain_the_code_never_named(self, nodes: Nodes, tmp_path: Path) -> None:
        from services.wallet_support.main import create_app

        chains: dict[str, Any] = json.loads(DEFAULT_CHAINS_FILE.read_text())
        chains["moonlet"] = {"chain_id": 56, "family": "evm", "name": "Moonlet (configured only)",
                             "native_symbol": "MNL", "native_decimals": 18, "required_confirmations": 2,
                             "finality": "confirmations", "block_time_seconds": 1, "rpc_urls": [nodes.bsc.url],
                             "tokens": {"USDT": {"contract": nodes.bsc_usdt, "decimals": 18}}}
        path = tmp_path / "chains.json"
        path.write_text(json.dumps(chains))
        settings = Settings(API_KEYS=API_KEYS, API_KEY_FILE=tmp_path / "k", CHAINS_FILE=path,  # type: ignore[call-arg]
                            GC_TUNING=False, LOG_LEVEL="WARNING")
        app: FastAPI = create_app(settings, chains=load_chains(path))
        tx = await nodes.bsc.send(to=ACCOUNTS[3], value=2 * 10**18)
        await nodes.bsc.receipt(tx)
        await nodes.bsc.mine(2)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://w",
                headers={"Authorization": "Bearer agent-key-0001"}) as client:
            listed = {c["key"]: c for c in (await client.get("/v1/chains")).json()["items"]}
            status = (await client.get(f"/v1/tx/moonlet/{tx}")).json()
            paid = (await client.post("/v1/payments/verify", json={
                "chain": "moonlet", "tx_hash": tx,
                "expected": {"to": ACCOUNTS[3], "token": "MNL", "amount": "2"}})).json()
        got = listed["moonlet"]
        assert (got["family"], got["chain_id"], got["decimals"], got["reachable"]) == ("evm", 56, 18, True)
        assert status["status"] == "finalized" and status["native_value"] == "2.000000000000000000"
        assert paid["verdict"] == "paid"
