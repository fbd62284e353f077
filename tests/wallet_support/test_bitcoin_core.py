"""Bitcoin over a Bitcoin Core node's JSON-RPC (the second backend), with respx answering from recorded testnet3
results (tests/data/chains/bitcoin/btc_core_*). Constructed, said where used: the JSON-RPC envelopes around the
recorded results, `getblockhash 0` (testnet3's genesis hash, a public constant), `getblockcount`, the
`estimatesmartfee` answer, and the mempool tx paired with the recorded `getmempoolentry`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from services.wallet_support.cache import ResultCache
from services.wallet_support.chains.bitcoin import BitcoinCoreClient, BitcoinFacts, bitcoin_status, core_tx
from services.wallet_support.chains.registry import load_chains
from tests.wallet_support.nonevm import BTC_MAINNET_GENESIS, BTC_TESTNET3_GENESIS, load

CORE, CORE_B = "https://core-a.test", "https://core-b.test"
TXID = "a32ddaed3387a2bc0bb9a4f90bc6e84e5589335b97142848ad144efd38420eb2"
TIP = 1_600_000


def tbtc_chain() -> Any:
    return load_chains()["btc"].model_copy(update={"key": "tbtc", "backend": "bitcoind", "bech32_hrp": "tb",
                                                   "genesis_hash": BTC_TESTNET3_GENESIS})


class Core:
    def __init__(self, mock: respx.MockRouter, base: str = CORE, genesis: str = BTC_TESTNET3_GENESIS,
                 txindex: dict[str, Any] | None = None) -> None:
        self.genesis = genesis
        self.txindex = txindex
        self.methods: list[str] = []
        mock.post(base).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        method, params = call["method"], call["params"]
        self.methods.append(method)
        if method == "getblockhash":
            return self._ok(call, self.genesis)
        if method == "getblockcount":
            return self._ok(call, TIP)
        if method == "getindexinfo" and self.txindex is not None:
            return self._ok(call, {"txindex": self.txindex})
        if method == "getrawtransaction" and params[0] == TXID:
            return self._ok(call, load("bitcoin", "btc_core_getrawtransaction_verbose_a32dda_testnet3.json"))
        return httpx.Response(500, json={"result": None, "id": call["id"], "error": {
            "code": -5, "message": "No such mempool or blockchain transaction. Use gettransaction for wallet "
                                   "transactions."}})

    @staticmethod
    def _ok(call: dict[str, Any], result: Any) -> httpx.Response:
        return httpx.Response(200, json={"result": result, "error": None, "id": call["id"]})


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_confirmed_from_core_with_btc_float_amounts(http: httpx.AsyncClient) -> None:
    client = BitcoinCoreClient(tbtc_chain(), http=http, cache=ResultCache(), urls=[CORE], backoff=0)
    with respx.mock(assert_all_called=False) as mock:
        Core(mock)
        [found, missing] = await client.statuses([TXID, "ab" * 32])
    assert (found["status"], found["confirmations"], found["block_number"]) == ("finalized", 3204, TIP - 3203)
    assert found["native_transfers"] == [{"from": None, "to": "2N16oE62ZjAPup985dFBQYAuy5zpDraH7Hk",
                                          "amount": "0.53015771", "vout": 0}]
    assert found["block_time"] == datetime.fromtimestamp(1570540739, UTC)
    assert missing["status"] == "not_found"


@pytest.mark.parametrize(("txindex", "head_block"), [
    ({"synced": True, "best_block_height": TIP}, TIP),
    ({"synced": False, "best_block_height": TIP - 5000}, None),  # still building its index
    (None, None),  # no txindex: getindexinfo answers nothing for it, and -5 is said of mined txs too
])
async def test_not_found_vouches_for_a_height_only_with_a_synced_txindex(
        http: httpx.AsyncClient, txindex: dict[str, Any] | None, head_block: int | None) -> None:
    # getindexinfo's result shape as Bitcoin Core's RPC help documents it (constructed, no recording at hand).
    client = BitcoinCoreClient(tbtc_chain(), http=http, cache=ResultCache(), urls=[CORE], backoff=0)
    with respx.mock(assert_all_called=False) as mock:
        core = Core(mock, txindex=txindex)
        [found, missing] = await client.statuses([TXID, "ab" * 32])
    assert missing["status"] == "not_found" and missing["head_block"] == head_block
    assert found["head_block"] == TIP and core.methods.count("getindexinfo") == 1


async def test_core_of_another_network_refused(http: httpx.AsyncClient) -> None:
    client = BitcoinCoreClient(tbtc_chain(), http=http, cache=ResultCache(), urls=[CORE, CORE_B], backoff=0)
    with respx.mock(assert_all_called=False) as mock:
        mainnet = Core(mock, CORE, genesis=BTC_MAINNET_GENESIS)
        Core(mock, CORE_B)
        [found] = await client.statuses([TXID])
    assert found["status"] == "finalized" and mainnet.methods == ["getblockhash"]


def test_mempool_entry_fee_rate_and_cpfp() -> None:
    # The recorded getmempoolentry (fee 148 sat, 146 vB, not BIP125-replaceable, one unconfirmed parent) with a
    # constructed verbose tx for it (one output) and a constructed estimatesmartfee of 2 sat/vB for 6 blocks.
    entry = load("bitcoin", "btc_core_getmempoolentry_0629e0_testnet3.json")
    raw = {"txid": "0629e0" + "00" * 29, "vin": [{"txid": entry["depends"][0], "vout": 0, "sequence": 4294967295}],
           "vout": [{"value": 0.001, "scriptPubKey": {"address": "2N16oE62ZjAPup985dFBQYAuy5zpDraH7Hk"}}]}
    tx = core_tx(raw, TIP, entry)
    assert (tx["fee"], tx["weight"], tx["status"]) == (148, 584, {"confirmed": False})
    body = bitcoin_status(tbtc_chain(), BitcoinFacts(raw["txid"], TIP, tx=tx, fee_estimates={"6": 2.0, "1": 3.0},
                                                  replaceable=False, unconfirmed_parents=entry["depends"]),
                          datetime.now(UTC))
    assert (body["status"], body["pending_reason"], body["fix"], body["fee_rate"]) == (
        "pending", "fee_too_low", "cpfp", "1.0")
    assert body["unconfirmed_parents"] == ["f594f57099cd6e1c4d0697ad92795196a1774ea752d1bec481019abd3eef30ee"]
