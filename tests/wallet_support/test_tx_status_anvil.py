"""Transaction status on a real node (anvil): every status the contract names."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from fastapi import FastAPI

from tests.anvil import ACCOUNTS
from tests.wallet_support.conftest import MERCHANT, Nodes, token_transfer


async def status(wallet: httpx.AsyncClient, tx_hash: str, chain: str = "eth") -> dict[str, Any]:
    resp = await wallet.get(f"/v1/tx/{chain}/{tx_hash}")
    assert resp.status_code == 200, resp.text
    return resp.json()


class TestIncluded:
    async def test_native_transfer_confirmed_then_finalized(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(to=ACCOUNTS[1], value=5 * 10**17)
        await nodes.eth.receipt(tx)
        body = await status(wallet, tx)
        assert body["status"] == "confirmed" and body["confirmations"] == 1
        assert body["from"] == ACCOUNTS[0] and body["to"] == ACCOUNTS[1]
        assert body["native_value"] == "0.500000000000000000"
        assert body["required_confirmations"] == 12
        assert body["fee"].startswith("0.0000") and body["block_time"].endswith("Z")
        await nodes.eth.mine(11)
        final = await status(wallet, tx)
        assert final["status"] == "finalized" and final["confirmations"] == 12

    async def test_erc20_transfer_decoded_with_token_decimals(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 499_000001))
        await nodes.eth.receipt(tx)
        body = await status(wallet, tx)
        assert body["transfers"] == [{"token": "USDT", "contract": nodes.eth_usdt, "from": ACCOUNTS[0],
                                      "to": MERCHANT, "amount": "499.000001", "raw_amount": "499000001",
                                      "decimals": 6}]
        bsc = await nodes.bsc.send(**token_transfer(nodes.bsc, nodes.bsc_usdt, MERCHANT, 499 * 10**18))
        await nodes.bsc.receipt(bsc)
        on_bsc = await status(wallet, bsc, chain="bsc")
        assert on_bsc["transfers"][0]["amount"] == "499.000000000000000000"
        assert on_bsc["required_confirmations"] == 15

    async def test_revert_with_reason(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        # more than the whole supply: the token's require() fails
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 10**30), gas=100_000)
        await nodes.eth.receipt(tx)
        body = await status(wallet, tx)
        assert body["status"] == "failed"
        assert body["failure"] == {"reason": "reverted", "message": "ERC20: transfer amount exceeds balance"}
        assert body["transfers"] == []

    async def test_panic(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(to=nodes.eth_usdt, data=nodes.eth.token_call(nodes.eth_usdt, "divide", 1, 0),
                                  gas=100_000)
        await nodes.eth.receipt(tx)
        assert (await status(wallet, tx))["failure"] == {"reason": "reverted",
                                                          "message": "Panic(0x12): division or modulo by zero"}

    async def test_out_of_gas(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(to=nodes.eth_usdt, data=nodes.eth.token_call(nodes.eth_usdt, "burnGas", 500),
                                  gas=40_000)
        await nodes.eth.receipt(tx)
        body = await status(wallet, tx)
        assert body["failure"]["reason"] == "out_of_gas"
        assert "40000" in body["failure"]["message"]


class TestMempool:
    async def test_pending_nonce_gap_fee_too_low(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        sender = ACCOUNTS[2]
        await node.automine(False)
        try:
            nonce = int(await node.rpc("eth_getTransactionCount", sender, "latest"), 16)
            ok = await node.send(**{"from": sender}, to=ACCOUNTS[1], value=1)
            body = await status(wallet, ok)
            assert (body["status"], body["pending_reason"]) == ("pending", "in_mempool")
            gap = await node.send(**{"from": sender}, to=ACCOUNTS[1], value=1, nonce=nonce + 3)
            body = await status(wallet, gap)
            assert (body["status"], body["pending_reason"], body["missing_nonce"]) == ("pending", "nonce_gap",
                                                                                       nonce + 1)
            # Accepted at today's base fee, then the base fee jumps and leaves it behind.
            cheap = await node.send(**{"from": ACCOUNTS[3]}, to=ACCOUNTS[1], value=1,
                                    maxFeePerGas=2 * 10**9, maxPriorityFeePerGas=10**9)
            await node.rpc("anvil_setNextBlockBaseFeePerGas", hex(500 * 10**9))
            body = await status(wallet, cheap)
            assert (body["status"], body["pending_reason"]) == ("pending", "fee_too_low")
            assert int(body["base_fee_per_gas"]) > int(body["max_fee_per_gas"])
        finally:
            await node.rpc("anvil_dropAllTransactions")
            await node.rpc("anvil_setNextBlockBaseFeePerGas", hex(10**9))
            await node.automine(True)
            await node.mine(1)

    async def test_dropped(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        await node.automine(False)
        try:
            tx = await node.send(**{"from": ACCOUNTS[1]}, to=ACCOUNTS[2], value=7)
            assert (await status(wallet, tx))["status"] == "pending"  # seen in the mempool
            await node.rpc("anvil_dropTransaction", tx)
            await node.mine(1)
            body = await status(wallet, tx)
            assert body["status"] == "dropped"
            assert body["from"] == ACCOUNTS[1] and body["nonce"] is not None
        finally:
            await node.automine(True)

    async def test_replaced_speedup_and_cancel(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        sender = ACCOUNTS[1]
        await node.automine(False)
        try:
            nonce = int(await node.rpc("eth_getTransactionCount", sender, "pending"), 16)
            slow = await node.send(**{"from": sender}, to=ACCOUNTS[3], value=11, nonce=nonce,
                                   maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9)
            assert (await status(wallet, slow))["status"] == "pending"
            fast = await node.send(**{"from": sender}, to=ACCOUNTS[3], value=11, nonce=nonce,
                                   maxFeePerGas=30 * 10**9, maxPriorityFeePerGas=10 * 10**9)
            stuck = await node.send(**{"from": sender}, to=ACCOUNTS[3], value=12, nonce=nonce + 1,
                                    maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9)
            assert (await status(wallet, stuck))["status"] == "pending"
            cancel = await node.send(**{"from": sender}, to=sender, value=0, nonce=nonce + 1,
                                     maxFeePerGas=30 * 10**9, maxPriorityFeePerGas=10 * 10**9)
            await node.mine(1)
            sped = await status(wallet, slow)
            assert sped["status"] == "replaced"
            assert sped["replaced_by"] == {"tx_hash": fast, "kind": "speedup"}
            cancelled = await status(wallet, stuck)
            assert cancelled["replaced_by"] == {"tx_hash": cancel, "kind": "cancel"}
        finally:
            await node.automine(True)

    async def test_reorg_takes_a_confirmed_tx_back(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        tx = await node.send(**{"from": ACCOUNTS[3]}, to=ACCOUNTS[4], value=13)
        await node.receipt(tx)
        assert (await status(wallet, tx))["status"] == "confirmed"
        await node.rpc("anvil_reorg", 1, [])
        body = await status(wallet, tx)
        assert body["status"] in ("dropped", "pending"), body
        assert body["block_number"] is None


class TestNotFound:
    async def test_not_found_and_found_on_another_chain(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        missing = "0x" + secrets.token_hex(32)
        body = await status(wallet, missing)
        assert body["status"] == "not_found" and body["found_on"] == []
        on_bsc = await nodes.bsc.send(to=ACCOUNTS[1], value=1)
        await nodes.bsc.receipt(on_bsc)
        asked_on_eth = await status(wallet, on_bsc)
        assert asked_on_eth["status"] == "not_found" and asked_on_eth["found_on"] == ["bsc"]


class TestBatchAndCache:
    async def test_batch_in_order_and_final_results_cached(self, wallet: httpx.AsyncClient, wallet_app: FastAPI,
                                                           nodes: Nodes) -> None:
        hashes = [await nodes.eth.send(to=ACCOUNTS[1], value=i + 1) for i in range(5)]
        await nodes.eth.receipt(hashes[-1])
        await nodes.eth.mine(12)
        missing = "0x" + secrets.token_hex(32)
        items = [{"chain": "eth", "tx_hash": h} for h in hashes] + [{"chain": "eth", "tx_hash": missing}]
        resp = await wallet.post("/v1/tx/batch", json={"items": items})
        assert resp.status_code == 200
        got = resp.json()["items"]
        assert [s["tx_hash"] for s in got] == [i["tx_hash"] for i in items]
        assert [s["status"] for s in got] == ["finalized"] * 5 + ["not_found"]
        transport = wallet_app.state.wallet.clients["eth"].transport
        before = transport.calls_sent
        again = await wallet.post("/v1/tx/batch", json={"items": items[:5]})
        assert [s["status"] for s in again.json()["items"]] == ["finalized"] * 5
        assert transport.calls_sent == before  # immutable answers are not fetched again

    async def test_batch_limits(self, wallet: httpx.AsyncClient) -> None:
        items = [{"chain": "eth", "tx_hash": "0x" + "1" * 64}] * 1001
        assert (await wallet.post("/v1/tx/batch", json={"items": items})).status_code == 422
        assert (await wallet.post("/v1/tx/batch", json={"items": []})).status_code == 422


class TestBadInput:
    async def test_hash_shapes(self, wallet: httpx.AsyncClient) -> None:
        resp = await wallet.get("/v1/tx/eth/0x1234")
        assert resp.status_code == 422
        assert "0x followed by 64 hex" in resp.json()["detail"]
        tron_hash = "ab" * 32
        resp = await wallet.get(f"/v1/tx/eth/{tron_hash}")
        assert resp.status_code == 422 and "tron" in resp.json()["detail"]
        assert resp.json()["errors"][0]["fits_chains"] == ["btc", "eos", "tron"]  # 64 hex: TRON, Bitcoin, EOS
        resp = await wallet.get(f"/v1/tx/tron/0x{tron_hash}")
        assert resp.status_code == 422
        assert {"bsc", "eth", "polygon", "aptos", "dot", "ksm"} <= set(resp.json()["errors"][0]["fits_chains"])

    async def test_unknown_chain(self, wallet: httpx.AsyncClient) -> None:
        resp = await wallet.get("/v1/tx/dogecoin/" + "1" * 64)
        assert resp.status_code == 422 and "eth" in resp.json()["detail"]
        assert resp.headers["content-type"] == "application/problem+json"

    async def test_addresses(self, wallet: httpx.AsyncClient) -> None:
        tx = "0x" + "2" * 64
        bad_checksum = "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 example with the second A lower-cased
        for chain, to, words in (("eth", bad_checksum, "checksum"), ("eth", "0x123", "40 hex"),
                                 ("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "checksum"),
                                 ("tron", "0x" + "1" * 40, "base58")):
            hash_ = tx if chain == "eth" else "2" * 64
            resp = await wallet.post("/v1/payments/verify", json={
                "chain": chain, "tx_hash": hash_, "expected": {"to": to, "token": "USDT", "amount": "1.00"}})
            assert resp.status_code == 422, (chain, to, resp.text)
            assert words in resp.json()["detail"], resp.json()
        resp = await wallet.post("/v1/payments/verify", json={
            "chain": "eth", "tx_hash": tx, "expected": {"to": MERCHANT, "token": "DOGE", "amount": "1"}})
        assert resp.status_code == 422 and "USDT" in resp.json()["detail"]


