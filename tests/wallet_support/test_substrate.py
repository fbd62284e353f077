"""Polkadot and Kusama through a Subscan-style indexer, with respx answering from recorded bodies
(tests/data/chains/polkadot).

Recorded: a Subscan `scan/extrinsic` answer for a finalized DOT transfer_keep_alive (Polkadot), and a sidecar block
with a failed `balances.transfer` (its raw `{module, error}` pair). Constructed, said where used: the Subscan
answers for a failure, a pending extrinsic and an unknown hash (the recorded answer's form with `success`,
`finalized`, `pending`, `error` changed; `code` 10004 with `data: null` for not found)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import respx
from fastapi import FastAPI

from services.wallet_support.chains.substrate import dispatch_failure
from tests.wallet_support.nonevm import (
    SUBSCAN_DOT,
    SUBSCAN_DOT_B,
    SUBSCAN_KSM,
    api,
    ask,
    chains_app,
    get_status,
    load,
    offline,
    verify,
)

__all__ = ["api", "chains_app"]
DOT_TX = "0x47cf6465b5288b5bb1e1107ff9f8a7ac9e690dc6eead5fb3fa12f47213c028cb"
FAILED_TX = "0xbebfd46a190a99c970e244b824e2e27b26ec9ee9149a510d00d6901e6497e44d"  # the sidecar block's ext 2
PENDING_TX = "0x" + "5a" * 32
SENDER = "138DFvwTQfQN9ZttPm1HDBVRcEwGfsPxdWRfKktrquziu8c2"
RECIPIENT = "12nr7GiDrYHzAYT9L8HdeXnMfWcBuYfAXpgfzf3upujeCciz"


def recorded() -> dict[str, Any]:
    return load("polkadot", "dot_subscan_scan-extrinsic_16097417-2_transfer-keep-alive-ok.json")


def failed_from_sidecar() -> dict[str, Any]:
    """Constructed: the recorded Subscan answer's form, carrying the sidecar-recorded failure of block 4947391
    (success false, the ExtrinsicFailed event with its raw module error, partialFee 162000016)."""
    block = load("polkadot", "dot_sidecar_blocks_4947391_transfer-ok-and-failed.json")
    ext = block["extrinsics"][2]
    body = copy.deepcopy(recorded())
    failed_event = next(e for e in ext["events"] if e["method"]["method"] == "ExtrinsicFailed")
    body["data"].update({"extrinsic_hash": ext["hash"], "block_num": int(block["number"]), "success": False,
                         "fee": ext["info"]["partialFee"], "fee_used": ext["info"]["partialFee"], "transfer": None,
                         "error": None, "extrinsic_index": f"{block['number']}-2",
                         "event": [{"module_id": "system", "event_id": "ExtrinsicFailed",
                                    "params": failed_event["data"]}]})
    return body


class Subscan:
    def __init__(self, mock: respx.MockRouter, base: str = SUBSCAN_DOT) -> None:
        pending = copy.deepcopy(recorded())
        pending["data"].update({"finalized": False, "pending": True})
        self.answers: dict[str, Any] = {DOT_TX: recorded(), FAILED_TX: failed_from_sidecar(), PENDING_TX: pending}
        self.route = mock.post(f"{base}/api/scan/extrinsic").mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        import json

        wanted = json.loads(request.content)["hash"]
        if wanted in self.answers:
            return httpx.Response(200, json=self.answers[wanted])
        return httpx.Response(200, json={"code": 10004, "message": "Record Not Found", "generated_at": 1687790045,
                                         "data": None})


class TestStatus:
    async def test_finalized_transfer_with_ten_decimals(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            subscan = Subscan(mock)
            offline(mock)
            body = await get_status(api, "dot", DOT_TX)
            paid = await verify(api, chain="dot", tx_hash=DOT_TX,
                                expected={"to": RECIPIENT, "token": "DOT", "amount": "87.23212334"})
        assert (body["status"], body["block_number"], body["fee"]) == ("finalized", 16097417, "0.0157316518")
        assert body["native_transfers"] == [{"from": SENDER, "to": RECIPIENT, "amount": "87.2321233400"}]
        assert body["block_time"] == "2023-06-23T19:10:12Z"
        assert (paid["verdict"], paid["paid_amount"]) == ("paid", "87.2321233400")
        assert subscan.route.calls[0].request.headers["X-API-Key"] == "subscan-test-key"

    async def test_pending_and_not_found(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Subscan(mock)
            offline(mock)
            pending = await get_status(api, "dot", PENDING_TX)
            missing = await get_status(api, "dot", "0x" + "77" * 32)
        assert (pending["status"], pending["pending_reason"]) == ("pending", "in_mempool")
        assert missing["status"] == "not_found"

    async def test_token_not_showing_explains_the_existential_deposit(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Subscan(mock)
            offline(mock)
            en = await ask(api, topic="token_not_showing", chain="dot", tx_hash=DOT_TX, address=RECIPIENT)
            zh = await ask(api, topic="token_not_showing", chain="dot", tx_hash=DOT_TX, address=RECIPIENT,
                           lang="zh-CN")
        assert en["answer"].startswith(f"This transaction sent 87.2321233400 DOT to {RECIPIENT}")
        assert "existential deposit (1 DOT)" in en["answer"] and "reaped" in en["answer"]
        assert "存在性押金（1 DOT）" in zh["answer"]


class TestFailed:
    async def test_failed_with_the_raw_module_error_not_guessed(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Subscan(mock)
            offline(mock)
            body = await get_status(api, "dot", FAILED_TX)
            en = await ask(api, topic="tx_failed", chain="dot", tx_hash=FAILED_TX, lang="en")
            zh = await ask(api, topic="tx_failed", chain="dot", tx_hash=FAILED_TX, lang="zh-CN")
        failure = body["failure"]
        assert body["status"] == "failed" and body["fee"] == "0.0162000016" and body["block_number"] == 4947391
        assert (failure["module_index"], failure["error_index"], failure["decoded"]) == (5, 3, False)
        assert "not decoded" in failure["message"]
        assert "The extrinsic is in block 4947391 but failed" in en["answer"] and "0.0162000016 DOT" in en["answer"]
        assert any("Existential deposit on dot: 1 DOT" in c for c in en["checks"])
        assert "区块 4947391" in zh["answer"] and "执行失败" in zh["answer"]

    def test_named_error_when_the_indexer_decoded_it(self) -> None:
        # The indexer's decoded form {module, name, doc} (constructed; names from the Balances pallet).
        named = dispatch_failure({"module": "Balances", "name": "InsufficientBalance",
                                  "doc": "Balance too low to send value."}, [])
        assert (named["reason"], named["module_error"]) == ("insufficient_balance", "balances.InsufficientBalance")
        ed = dispatch_failure({"module": "Balances", "name": "ExistentialDeposit"}, [])
        assert ed["existential_deposit"] is True

    def test_newer_runtime_error_bytes(self) -> None:
        raw = dispatch_failure(None, [{"module_id": "System", "event_id": "ExtrinsicFailed",
                                       "params": [{"name": "dispatch_error",
                                                   "value": {"Module": {"index": 5, "error": "0x02000000"}}}]}])
        assert (raw["module_index"], raw["error_index"]) == (5, 2)


class TestEndpoints:
    async def test_fails_over_on_a_subscan_error_code(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            limited = mock.post(f"{SUBSCAN_DOT}/api/scan/extrinsic").mock(
                return_value=httpx.Response(200, json={"code": 20008, "message": "API rate limit exceeded",
                                                       "data": None}))
            Subscan(mock, SUBSCAN_DOT_B)
            offline(mock)
            body = await get_status(api, "dot", DOT_TX)
        assert body["status"] == "finalized" and limited.call_count == 2

    async def test_polkadot_indexer_refused_for_kusama(self, api: httpx.AsyncClient, chains_app: FastAPI) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Subscan(mock, SUBSCAN_KSM)  # answers with the recorded Polkadot extrinsic (SS58 prefix 0)
            offline(mock)
            body = await get_status(api, "ksm", DOT_TX)
        assert body["status"] == "unknown"
        [why] = chains_app.state.wallet.clients["ksm"].api.refused()
        assert "Polkadot addresses, not Kusama ones" in why

    async def test_kusama_address_for_polkadot_is_a_422(self, api: httpx.AsyncClient) -> None:
        resp = await api.post("/v1/payments/verify", json={
            "chain": "ksm", "tx_hash": DOT_TX, "expected": {"to": RECIPIENT, "token": "KSM", "amount": "1"}})
        assert resp.status_code == 422 and "Polkadot address, not a Kusama one" in resp.text
