"""Payment verification on a real node: every verdict the contract names."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.anvil import ACCOUNTS
from tests.wallet_support.conftest import MERCHANT, Nodes, token_transfer


async def verify(wallet: httpx.AsyncClient, tx: str, amount: str = "499.00", token: str = "USDT",
                 chain: str = "eth", **expected: Any) -> dict[str, Any]:
    resp = await wallet.post("/v1/payments/verify", json={
        "chain": chain, "tx_hash": tx, "expected": {"token": token, "amount": amount, **expected}})
    assert resp.status_code == 200, resp.text
    return resp.json()


class TestVerdicts:
    async def test_paid_only_at_required_confirmations(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 499_000000))
        await nodes.eth.receipt(tx)
        early = await verify(wallet, tx)
        assert early["verdict"] == "pending" and early["paid_amount"] == "499.000000"
        assert "1 of 12" in early["explanation"]
        await nodes.eth.mine(11)
        paid = await verify(wallet, tx)
        assert paid["verdict"] == "paid" and paid["difference"] == "0.000000"
        assert paid["tx"]["status"] == "finalized"
        stricter = await verify(wallet, tx, min_confirmations=20)
        assert stricter["verdict"] == "pending"

    async def test_underpaid_and_overpaid(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        short = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 498_500000))
        extra = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 500_000000))
        await nodes.eth.receipt(extra)
        await nodes.eth.mine(12)
        under = await verify(wallet, short)
        assert (under["verdict"], under["paid_amount"], under["difference"]) == ("underpaid", "498.500000",
                                                                                 "-0.500000")
        over = await verify(wallet, extra)
        assert (over["verdict"], over["difference"]) == ("overpaid", "1.000000")

    async def test_wrong_recipient_and_wrong_token(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        elsewhere = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, ACCOUNTS[4], 499_000000))
        usdc = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdc, MERCHANT, 499_000000))
        await nodes.eth.receipt(usdc)
        await nodes.eth.mine(12)
        wrong_to = await verify(wallet, elsewhere)
        assert wrong_to["verdict"] == "wrong_recipient" and ACCOUNTS[4] in wrong_to["explanation"]
        wrong_token = await verify(wallet, usdc)
        assert wrong_token["verdict"] == "wrong_token" and "USDC" in wrong_token["explanation"]

    async def test_native_payment(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(to=MERCHANT, value=25 * 10**16)
        await nodes.eth.receipt(tx)
        await nodes.eth.mine(12)
        assert (await verify(wallet, tx, amount="0.25", token="ETH"))["verdict"] == "paid"
        assert (await verify(wallet, tx, amount="0.25", token="USDT"))["verdict"] == "wrong_token"

    async def test_failed_not_found_wrong_chain(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        # more than the whole supply: the token's require() fails
        failed = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 10**30), gas=100_000)
        await nodes.eth.receipt(failed)
        result = await verify(wallet, failed)
        assert result["verdict"] == "failed" and "exceeds balance" in result["explanation"]
        assert (await verify(wallet, "0x" + secrets.token_hex(32)))["verdict"] == "not_found"
        on_bsc = await nodes.bsc.send(**token_transfer(nodes.bsc, nodes.bsc_usdt, MERCHANT, 499 * 10**18))
        await nodes.bsc.receipt(on_bsc)
        wrong_chain = await verify(wallet, on_bsc)
        assert wrong_chain["verdict"] == "wrong_chain" and wrong_chain["found_on"] == ["bsc"]
        right_chain = await verify(wallet, on_bsc, chain="bsc")
        assert right_chain["verdict"] == "pending" and right_chain["paid_amount"] == "499.000000000000000000"

    async def test_mempool_dropped_replaced(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        await node.automine(False)
        try:
            pending = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000))
            assert (await verify(wallet, pending))["verdict"] == "pending"
            await node.rpc("anvil_dropTransaction", pending)
            assert (await verify(wallet, pending))["verdict"] == "dropped"
            nonce = int(await node.rpc("eth_getTransactionCount", ACCOUNTS[0], "pending"), 16)
            first = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000), nonce=nonce,
                                    maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9)
            assert (await verify(wallet, first))["verdict"] == "pending"
            await node.send(to=ACCOUNTS[0], value=0, nonce=nonce, maxFeePerGas=40 * 10**9,
                            maxPriorityFeePerGas=20 * 10**9)
            await node.mine(1)
            replaced = await verify(wallet, first)
            assert replaced["verdict"] == "replaced"
            assert replaced["tx"]["replaced_by"]["kind"] == "cancel"
        finally:
            await node.automine(True)

    async def test_merchant_address_default(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 1_000000))
        await nodes.eth.receipt(tx)
        result = await verify(wallet, tx, amount="1")
        assert result["verdict"] == "pending" and result["tx"]["transfers"][0]["to"] == MERCHANT
        zh = await wallet.post("/v1/payments/verify", headers={"Accept-Language": "zh-CN"}, json={
            "chain": "eth", "tx_hash": tx, "expected": {"token": "USDT", "amount": "1"}})
        assert "确认数" in zh.json()["explanation"]
