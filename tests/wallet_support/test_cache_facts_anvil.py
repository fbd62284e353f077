"""Cache facts, not conclusions (issue #10, item 8): a final tx is cached with its block number and hash, and its
confirmations are counted from the chain's head when read, on a real node (anvil)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.anvil import ACCOUNTS
from tests.wallet_support.conftest import MERCHANT, Nodes, token_transfer


async def verify(wallet: httpx.AsyncClient, tx: str, **expected: Any) -> dict[str, Any]:
    resp = await wallet.post("/v1/payments/verify", json={
        "chain": "eth", "tx_hash": tx, "expected": {"token": "USDT", "amount": "499", "to": MERCHANT, **expected}})
    assert resp.status_code == 200, resp.text
    return resp.json()


def a_block_time_passes(app: FastAPI) -> None:
    """The head is kept about a block time; anvil mines instantly, so let that time pass explicitly."""
    heads = getattr(app.state.wallet.clients["eth"], "heads", None)
    if heads is not None:
        heads.stamp = 0.0


class TestCachedFinalAnswers:
    async def test_confirmations_grow_after_the_answer_is_cached(self, wallet: httpx.AsyncClient,
                                                                 wallet_app: FastAPI, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 499_000000))
        receipt = await nodes.eth.receipt(tx)
        await nodes.eth.mine(11)
        first = await verify(wallet, tx)
        assert first["verdict"] == "paid" and first["tx"]["confirmations"] == 12  # final: cached from here on

        await nodes.eth.mine(10)
        a_block_time_passes(wallet_app)
        transport = wallet_app.state.wallet.clients["eth"].transport
        calls = transport.calls_sent
        stricter = await verify(wallet, tx, min_confirmations=20)
        assert stricter["verdict"] == "paid", stricter["explanation"]  # today: "pending", 12 of 20 for ever
        assert stricter["tx"]["confirmations"] == 22 and stricter["tx"]["status"] == "finalized"
        assert transport.calls_sent - calls == 1  # the head only; the tx itself is not fetched again
        cached = (await wallet_app.state.wallet.cache.get_many("eth", [tx]))[0]
        assert cached["block_number"] == int(receipt["blockNumber"], 16)
        assert cached["block_hash"] == receipt["blockHash"]

    async def test_one_head_call_for_a_whole_batch_and_none_within_a_block_time(
            self, wallet: httpx.AsyncClient, wallet_app: FastAPI, nodes: Nodes) -> None:
        hashes = [await nodes.eth.send(**{"from": ACCOUNTS[4]}, to=ACCOUNTS[1], value=i + 1) for i in range(5)]
        await nodes.eth.receipt(hashes[-1])
        await nodes.eth.mine(12)
        items = [{"chain": "eth", "tx_hash": h} for h in hashes]
        first = (await wallet.post("/v1/tx/batch", json={"items": items})).json()["items"]
        assert {s["status"] for s in first} == {"finalized"}
        await nodes.eth.mine(3)
        a_block_time_passes(wallet_app)
        transport = wallet_app.state.wallet.clients["eth"].transport
        calls = transport.calls_sent
        again = (await wallet.post("/v1/tx/batch", json={"items": items})).json()["items"]
        assert transport.calls_sent - calls == 1
        assert [s["confirmations"] for s in again] == [s["confirmations"] + 3 for s in first]
        still = (await wallet.post("/v1/tx/batch", json={"items": items})).json()["items"]
        assert transport.calls_sent - calls == 1  # the head is kept about a block time
        assert [s["confirmations"] for s in still] == [s["confirmations"] for s in again]


class TestBatchBody:
    async def test_batch_body_is_what_the_schema_writes(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        """The batch route encodes its statuses directly (no per-item model): the body must be exactly what
        TxStatus would have written, fresh from the chain and from the cache."""
        from services.wallet_support.schemas import TxStatus

        ok = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 1_000000))
        failed = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 10**30), gas=100_000)
        await nodes.eth.receipt(failed)
        await nodes.eth.mine(12)
        items = [{"chain": "eth", "tx_hash": h} for h in (ok, failed)]
        for _ in range(2):  # fetched, then from the cache
            resp = await wallet.post("/v1/tx/batch", json={"items": items})
            assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
            got = resp.json()["items"]
            assert [s["status"] for s in got] == ["finalized", "failed"]
            for status in got:
                assert status == TxStatus.model_validate(status).model_dump(mode="json", by_alias=True)
                assert status["checked_at"].endswith("Z") and status["block_time"].endswith("Z")


class TestRoundTrips:
    async def test_a_batch_of_mined_txs_is_one_round_of_requests(self, wallet: httpx.AsyncClient,
                                                                 wallet_app: FastAPI, nodes: Nodes) -> None:
        """The head, every tx and receipt in one round (chunks sent together); block times from the receipts
        (anvil, reth and recent geth carry them), so no second round for blocks, however many there are."""
        hashes = []
        for block in range(12):  # 12 blocks, 2 txs each
            hashes += [await nodes.eth.send(**{"from": ACCOUNTS[3]}, to=ACCOUNTS[1], value=block * 10 + i + 1)
                       for i in range(2)]
            await nodes.eth.receipt(hashes[-1])
        await nodes.eth.mine(12)
        transport = wallet_app.state.wallet.clients["eth"].transport
        transport.batch_size = 10  # several chunks
        requests, calls = transport.requests_sent, transport.calls_sent
        try:
            got = (await wallet.post("/v1/tx/batch", json={"items": [{"chain": "eth", "tx_hash": h}
                                                                     for h in hashes]})).json()["items"]
        finally:
            transport.batch_size = 100
        assert {s["status"] for s in got} == {"finalized"} and all(s["block_time"] for s in got)
        assert transport.calls_sent - calls == 2 + 2 * len(hashes)  # head, finalized block, tx + receipt each
        assert transport.requests_sent - requests == 5  # ceil(50 / 10) chunks, all in the first round
