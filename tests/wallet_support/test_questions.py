"""Wallet users' questions answered from the live chain (anvil), in both languages."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.anvil import ACCOUNTS
from tests.wallet_support.conftest import MERCHANT, Nodes, token_transfer


async def ask(wallet: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    resp = await wallet.post("/v1/questions", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


class TestQuestions:
    async def test_stuck_by_nonce_gap_and_by_fee(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        sender = ACCOUNTS[4]
        await node.automine(False)
        try:
            nonce = int(await node.rpc("eth_getTransactionCount", sender, "pending"), 16)
            gap = await node.send(**{"from": sender}, to=ACCOUNTS[1], value=1, nonce=nonce + 1)
            answer = await ask(wallet, topic="tx_pending", chain="eth", tx_hash=gap)
            assert f"nonce {nonce}" in answer["answer"] and answer["status"]["pending_reason"] == "nonce_gap"
            assert any(str(nonce) in s for s in answer["next_steps"])
            zh = await ask(wallet, topic="tx_pending", chain="eth", tx_hash=gap, lang="zh-CN")
            assert "nonce" in zh["answer"] and "卡住" in zh["answer"]
            cheap = await node.send(**{"from": ACCOUNTS[3]}, to=ACCOUNTS[1], value=1, maxFeePerGas=2 * 10**9,
                                    maxPriorityFeePerGas=10**9)
            await node.rpc("anvil_setNextBlockBaseFeePerGas", hex(300 * 10**9))
            fee = await ask(wallet, topic="tx_pending", chain="eth", tx_hash=cheap)
            assert "2.00 gwei" in fee["answer"] and "300.00 gwei" in fee["answer"]
            assert any("Speed it up" in s for s in fee["next_steps"]) and any("cancel" in s for s in fee["next_steps"])
        finally:
            await node.rpc("anvil_dropAllTransactions")
            await node.rpc("anvil_setNextBlockBaseFeePerGas", hex(10**9))
            await node.automine(True)
            await node.mine(1)

    async def test_not_stuck_when_confirmed(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(to=ACCOUNTS[1], value=1)
        await nodes.eth.receipt(tx)
        answer = await ask(wallet, topic="tx_pending", chain="eth", tx_hash=tx)
        assert answer["answer"].startswith("It is not stuck") and "11 more" in answer["next_steps"][0]

    async def test_failed_reverted_on_evm(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 10**30), gas=100_000)
        await nodes.eth.receipt(tx)
        answer = await ask(wallet, topic="tx_failed", chain="eth", tx_hash=tx)
        assert "ERC20: transfer amount exceeds balance" in answer["answer"]
        assert any("Failure: reverted" in c for c in answer["checks"])

    async def test_token_not_showing(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, ACCOUNTS[2], 12_500000))
        await nodes.eth.receipt(tx)
        answer = await ask(wallet, topic="token_not_showing", chain="eth", tx_hash=tx, address=ACCOUNTS[2])
        assert "12.500000 USDT" in answer["answer"] and nodes.eth_usdt in answer["answer"]
        nothing = await ask(wallet, topic="token_not_showing", chain="eth", tx_hash=tx, address=ACCOUNTS[3])
        assert nothing["answer"].startswith("This transaction sent no tokens")

    async def test_wrong_network(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        on_bsc = await nodes.bsc.send(to=ACCOUNTS[1], value=1)
        await nodes.bsc.receipt(on_bsc)
        wrong = await ask(wallet, topic="wrong_network", chain="eth", tx_hash=on_bsc)
        assert "on bsc" in wrong["answer"] and "bsc" in wrong["next_steps"][0]
        right = await ask(wallet, topic="wrong_network", chain="bsc", tx_hash=on_bsc)
        assert right["answer"] == "The transaction is on bsc, the network you named."
        nowhere = await ask(wallet, topic="wrong_network", chain="eth", tx_hash="0x" + secrets.token_hex(32))
        assert nowhere["answer"].startswith("We found this hash on none")

    async def test_payment_not_credited(self, wallet: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 499_000000))
        await nodes.eth.receipt(tx)
        await nodes.eth.mine(12)
        answer = await ask(wallet, topic="payment_not_credited", chain="eth", tx_hash=tx, order_number="TP-9",
                           expected={"token": "USDT", "amount": "499.00"})
        assert answer["verdict"] == "paid" and "TP-9" in answer["next_steps"][0]
        short = await ask(wallet, topic="payment_not_credited", chain="eth", tx_hash=tx, order_number="TP-9",
                          expected={"token": "USDT", "amount": "500.00"})
        assert short["verdict"] == "underpaid" and "1.000000 less" in short["answer"]
        no_amount = await ask(wallet, topic="payment_not_credited", chain="eth", tx_hash=tx, order_number="TP-9")
        assert no_amount["verdict"] is None
        assert no_amount["answer"].startswith(f"This transaction sent 499.000000 USDT to the merchant address {MERCHANT}")
        elsewhere = await nodes.eth.send(to=ACCOUNTS[2], value=1)
        await nodes.eth.receipt(elsewhere)
        nothing = await ask(wallet, topic="payment_not_credited", chain="eth", tx_hash=elsewhere)
        assert nothing["answer"].startswith("This transaction sent nothing to the merchant address")

    async def test_question_needs_a_valid_hash(self, wallet: httpx.AsyncClient) -> None:
        resp = await wallet.post("/v1/questions", json={"topic": "tx_failed", "chain": "eth"})
        assert resp.status_code == 422
        resp = await wallet.post("/v1/questions", json={"topic": "weather", "chain": "eth", "tx_hash": "0x" + "1" * 64})
        assert resp.status_code == 422
