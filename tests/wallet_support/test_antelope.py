"""EOS (Antelope) over the chain API and Hyperion, with respx answering from recorded bodies
(tests/data/chains/eos).

Recorded: mainnet `get_info` (eosio-java's tests) and another network's (LACChain docs), a mainnet v1-history
transfer (irreversible, with its memo), a Hyperion transfer (Jungle4, empty memo), `get_transaction_status`
UNKNOWN, and two push_transaction error bodies (CPU exceeded; a contract's assert on the memo).
Constructed, said where used: the error bodies answered for a lookup (they were recorded as push answers),
`LOCALLY_APPLIED` (the recorded status body with its state changed), the Hyperion answer with its `lib` below
the block (not yet irreversible), and the 404s of unknown ids."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import httpx
import respx
from fastapi import FastAPI

from services.wallet_support.chains.antelope import AntelopeFacts, antelope_failure, antelope_status
from services.wallet_support.chains.registry import load_chains
from tests.wallet_support.nonevm import EOS, EOS_B, api, ask, chains_app, get_status, load, offline, verify

__all__ = ["api", "chains_app"]
MAINNET_TX = "03ef96a276a252b66595d91006ad0ff38ed999816f078bc5d87f88368a9354e7"
HYPERION_TX = "4c66c16b364ba919281b0388f3048ec04afec2b5ed5704bb2169772783d84cc3"
CPU_TX = "c0" * 32
ASSERT_TX = "a5" * 32
APPLIED_TX = "1a" * 32


class EosNode:
    def __init__(self, mock: respx.MockRouter, base: str = EOS, *,
                 info: str = "eos_v1-chain_get_info_mainnet_eosio-java.json") -> None:
        self.hyperion = {HYPERION_TX: load("eos", "eos_hyperion_v2_get_transaction_transfer_4c66c1_jungle4.json")}
        self.legacy = {MAINNET_TX: load("eos", "eos_v1-history_get_transaction_transfer_03ef96_mainnet.json")}
        self.errors = {CPU_TX: load("eos", "eos_v1-chain_push_transaction_500_tx_cpu_usage_exceeded.json"),
                       ASSERT_TX: load("eos", "eos_v1-chain_push_transaction_500_eosio_assert_transfer-memo.json")}
        self.info = mock.post(f"{base}/v1/chain/get_info").mock(return_value=httpx.Response(200, json=load("eos", info)))
        self.status = mock.post(f"{base}/v1/chain/get_transaction_status").mock(side_effect=self._status)
        self.v2 = mock.get(f"{base}/v2/history/get_transaction").mock(side_effect=self._v2)
        self.v1 = mock.post(f"{base}/v1/history/get_transaction").mock(side_effect=self._v1)

    def _status(self, request: httpx.Request) -> httpx.Response:
        tx = json.loads(request.content)["id"]
        if tx in self.errors:
            return httpx.Response(500, json=self.errors[tx])
        body = load("eos", "eos_v1-chain_get_transaction_status_UNKNOWN_153207_jungle4.json")
        if tx == APPLIED_TX:
            body["state"] = "LOCALLY_APPLIED"
        return httpx.Response(200, json=body)

    def _v2(self, request: httpx.Request) -> httpx.Response:
        tx = request.url.params["id"]
        if tx in self.hyperion:
            return httpx.Response(200, json=self.hyperion[tx])
        return httpx.Response(404, json={"message": "transaction not found"})

    def _v1(self, request: httpx.Request) -> httpx.Response:
        tx = json.loads(request.content)["id"]
        if tx in self.legacy:
            return httpx.Response(200, json=self.legacy[tx])
        return httpx.Response(404, json={"message": "transaction not found"})


class TestStatus:
    async def test_irreversible_transfer_with_its_memo(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            EosNode(mock)
            offline(mock)
            body = await get_status(api, "eos", MAINNET_TX)
            paid = await verify(api, chain="eos", tx_hash=MAINNET_TX,
                                expected={"to": "b1", "token": "EOS", "amount": "0.0012"})
            en = await ask(api, topic="tx_pending", chain="eos", tx_hash=MAINNET_TX, lang="en")
            zh = await ask(api, topic="tx_pending", chain="eos", tx_hash=MAINNET_TX, lang="zh-CN")
        assert (body["status"], body["block_number"], body["irreversible"]) == ("finalized", 199068081, True)
        [transfer] = body["native_transfers"]
        assert (transfer["from"], transfer["to"], transfer["amount"]) == ("longtoulaoda", "b1", "0.0012")
        assert transfer["memo"].startswith("研究了下以前BM提到过的匿名币PEOS")
        assert body["block_time"] == "2021-08-11T15:15:10.500000Z"
        assert (paid["verdict"], paid["paid_amount"]) == ("paid", "0.0012")
        assert en["answer"] == "It is complete: block 199068081, irreversible."
        assert zh["answer"] == "交易已完成：区块 199068081，已不可逆。"

    async def test_confirmed_until_irreversible(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            node = EosNode(mock)
            node.hyperion[HYPERION_TX] = copy.deepcopy(node.hyperion[HYPERION_TX])
            node.hyperion[HYPERION_TX]["lib"] = 209370380  # constructed: the LIB still below its block
            offline(mock)
            body = await get_status(api, "eos", HYPERION_TX)
            en = await ask(api, topic="tx_pending", chain="eos", tx_hash=HYPERION_TX, lang="en")
        assert (body["status"], body["block_number"]) == ("confirmed", 209370387)
        assert "becomes irreversible within about three minutes" in en["answer"]

    async def test_pending_and_not_found(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            EosNode(mock)
            offline(mock)
            pending = await get_status(api, "eos", APPLIED_TX)
            missing = await get_status(api, "eos", "de" * 32)
        assert pending["status"] == "pending" and missing["status"] == "not_found"


class TestFailed:
    async def test_cpu_exceeded_is_out_of_resources(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            EosNode(mock)
            offline(mock)
            body = await get_status(api, "eos", CPU_TX)
            en = await ask(api, topic="tx_failed", chain="eos", tx_hash=CPU_TX, lang="en")
            zh = await ask(api, topic="tx_failed", chain="eos", tx_hash=CPU_TX, lang="zh-CN")
            paid = await verify(api, chain="eos", tx_hash=CPU_TX, expected={"to": "b1", "token": "EOS", "amount": "1"})
        assert body["status"] == "failed"
        assert (body["failure"]["reason"], body["failure"]["resource"]) == ("out_of_resources", "CPU")
        assert "billed CPU time (17175 us)" in body["failure"]["message"]
        assert "lack of CPU" in en["answer"] and "PowerUp" in en["next_steps"][0]
        assert "CPU 资源不足" in zh["answer"] and "质押或租用 CPU" in zh["next_steps"][0]
        assert paid["verdict"] == "failed" and "is in no block" in paid["explanation"]

    async def test_contract_assert_message(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            EosNode(mock)
            offline(mock)
            en = await ask(api, topic="tx_failed", chain="eos", tx_hash=ASSERT_TX, lang="en")
        assert en["status"]["failure"]["reason"] == "reverted"
        assert en["answer"] == ("The contract rejected the transfer: memo length must between 5 and 10.. It is in no "
                                "block; nothing was sent.")
        assert "memo" in en["next_steps"][0]

    def test_error_bodies(self) -> None:
        assert antelope_failure({"code": 500, "error": {"name": "ram_usage_exceeded", "details": [
            {"message": "account eosio.token has insufficient ram"}]}}) == {
            "reason": "out_of_resources", "resource": "RAM", "message": "account eosio.token has insufficient ram",
            "code": "ram_usage_exceeded"}
        assert antelope_failure({"code": 500, "error": {"name": "unknown_transaction_exception"}}) is None


class TestMemo:
    async def test_deposit_to_an_exchange_without_memo(self, api: httpx.AsyncClient, chains_app: FastAPI) -> None:
        chains_app.state.chains["eos"].memo_required.append("crosschaino3")  # the recorded recipient, as an exchange
        with respx.mock(assert_all_called=False) as mock:
            EosNode(mock)
            offline(mock)
            en = await ask(api, topic="payment_not_credited", chain="eos", tx_hash=HYPERION_TX,
                           expected={"to": "crosschaino3", "token": "EOS", "amount": "0.01"}, order_number="TP-7")
            zh = await ask(api, topic="payment_not_credited", chain="eos", tx_hash=HYPERION_TX, lang="zh-CN",
                           expected={"to": "crosschaino3", "token": "EOS", "amount": "0.01"})
        assert en["answer"] == ("This transaction sent 0.0100 EOS to crosschaino3 without a memo, and crosschaino3 "
                                "credits deposits by memo: it cannot tell whose deposit this is, so it is not credited.")
        assert "crosschaino3's support" in en["next_steps"][0] and en["verdict"] == "paid"
        assert "没有填写备注（memo）" in zh["answer"]
        assert any(c == 'Memo: ""' for c in en["checks"])


class TestEndpoints:
    async def test_fails_over(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            broken = mock.post(url__startswith=EOS).mock(side_effect=httpx.ConnectTimeout("timeout"))
            EosNode(mock, EOS_B)
            offline(mock)
            body = await get_status(api, "eos", MAINNET_TX)
        # A 429 or a timeout is not retried on the same endpoint: the next one is asked at once.
        assert body["status"] == "finalized" and broken.call_count == 1

    async def test_other_network_refused(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            other = EosNode(mock, EOS, info="eos_v1-chain_get_info_other-network_lacchain-docs.json")
            EosNode(mock, EOS_B)
            offline(mock)
            body = await get_status(api, "eos", MAINNET_TX)
        assert body["status"] == "finalized" and not other.status.called and not other.v1.called


def test_token_contract_transfer_is_a_token() -> None:
    # Constructed action (no recorded USDT-on-EOS transfer was found): tethertether::transfer of "1.2500 USDT".
    chain = load_chains()["eos"]
    history = {"executed": True, "lib": 10, "actions": [{"act": {"account": "tethertether", "name": "transfer", "data": {
        "from": "alice", "to": "bob", "quantity": "1.2500 USDT", "memo": "order 42"}}, "block_num": 5,
        "@timestamp": "2025-06-21T20:18:42.000"}]}
    body = antelope_status(chain, AntelopeFacts("ab" * 32, head=12, lib=10, history=history), datetime.now(UTC))
    assert body["status"] == "finalized" and body["native_transfers"] == []
    assert body["transfers"][0] == {"from": "alice", "to": "bob", "amount": "1.2500",
                                         "memo": "order 42", "token": "USDT", "contract": "tethertether",
                                         "symbol": "USDT", "decimals": 4}
