"""TRON through respx with real TronGrid responses (tests/data/chains, see SOURCES.md).

The recorded `gettransactioninfobyid` bodies are used as they are. TronGrid's `gettransactionbyid` for those
same mainnet transactions was not recorded; the bodies below carry only what the recorded info implies
(the sender from the Transfer log, the USDT contract, the contractRet the receipt shows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from tests.wallet_support.conftest import TRONGRID

DATA = Path(__file__).resolve().parents[1] / "data" / "chains"
USDT_OK = "b69c51db8f9d974e6a38c76852c8ce1adcb682dbacb25ad8ad4f6876121fe9dc"
USDT_NO_ENERGY = "e63a324a43aebfe41273db4f7fdfe325b2257b4f5711595a5fc0f8a75cf1b481"
TRX_TRANSFER = "2389719608ed69f7ec3e72c1abb92acaa43b7175f3062f4ebc6e2e02cc82d0d2"
TRC10 = "d0807adb3c5412aa150787b944c96ee898c997debdc27e2f6a643c771edb5933"
USDT_CONTRACT_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
SENDER_HEX = "4160e6e92e57d61a9d68b5d95275cc9667d9e6c7c9"
MERCHANT = "TUikLT3nTTjTkXPAuC4xUGj84vfSERCWRn"  # base58check of 41cdae4e9a…7e63, the recorded recipient


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def trigger(contract_ret: str) -> dict[str, Any]:
    return {"ret": [{"contractRet": contract_ret}], "raw_data": {"contract": [{"type": "TriggerSmartContract",
            "parameter": {"value": {"owner_address": SENDER_HEX, "contract_address": USDT_CONTRACT_HEX,
                                    "data": "a9059cbb"}}}]}}


class TronGrid:
    """Routes of a TronGrid-style endpoint answering from recorded bodies."""

    def __init__(self, mock: respx.MockRouter, *, head_offset: int = 30, solid: bool = True) -> None:
        self.infos = {USDT_OK: load("tron_gettransactioninfobyid_usdt_trc20_success_mainnet_b69c51db.json"),
                      USDT_NO_ENERGY: load("tron_gettransactioninfobyid_usdt_trc20_OUT_OF_ENERGY_mainnet_e63a324a.json"),
                      TRX_TRANSFER: load("tron_gettransactioninfobyid_trx_transfer_mainnet_23897196.json")}
        self.txs = {USDT_OK: trigger("SUCCESS"), USDT_NO_ENERGY: trigger("OUT_OF_ENERGY"),
                    TRC10: load("tron_gettransactionbyid_trc10_TransferAssetContract_official_docs_example_d0807adb.json")}
        now_block = load("tron_getnowblock_nile_official_docs_example.json")
        now_block["block_header"]["raw_data"]["number"] = self.infos[USDT_OK]["blockNumber"] + head_offset - 1
        self.solid = solid
        self.now = mock.post(f"{TRONGRID}/wallet/getnowblock").mock(return_value=httpx.Response(200, json=now_block))
        self.by_id = mock.post(f"{TRONGRID}/wallet/gettransactionbyid").mock(side_effect=self._tx)
        mock.post(f"{TRONGRID}/wallet/gettransactioninfobyid").mock(side_effect=self._info)
        mock.post(f"{TRONGRID}/walletsolidity/gettransactioninfobyid").mock(side_effect=self._solid)

    def _value(self, request: httpx.Request) -> str:
        return str(json.loads(request.content)["value"])

    def _tx(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.txs.get(self._value(request), {}))

    def _info(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.infos.get(self._value(request), {}))

    def _solid(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.infos.get(self._value(request), {}) if self.solid else {})


@pytest.fixture(autouse=True)
def forget_final_results(wallet_app: FastAPI) -> None:
    """Final answers are cached for good; these tests replay different chain states for the same hashes."""
    wallet_app.state.wallet.cache.results.clear()


async def tron_status(wallet: httpx.AsyncClient, tx: str) -> dict[str, Any]:
    resp = await wallet.get(f"/v1/tx/tron/{tx}")
    assert resp.status_code == 200, resp.text
    return resp.json()


class TestTronStatus:
    async def test_usdt_transfer_success_solidified(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            grid = TronGrid(mock)
            body = await tron_status(wallet, USDT_OK)
        assert body["status"] == "finalized" and body["confirmations"] == 30
        assert body["transfers"] == [{"token": "USDT", "contract": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                                      "from": "TJoaVSdktrnndU4dmKm33SWMKoXt4LLFbU", "to": MERCHANT, "amount": "3.500000",
                                      "raw_amount": "3500000", "decimals": 6}]
        assert body["from"].startswith("T") and body["to"] == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
        assert body["fee"] == "0.345000" and body["block_number"] == 66861993
        assert body["block_time"] == "2024-11-10T10:45:54Z"
        assert grid.by_id.calls[0].request.headers["TRON-PRO-API-KEY"] == "tron-test-key"

    async def test_confirmed_until_solidified(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock, head_offset=3, solid=False)
            body = await tron_status(wallet, USDT_OK)
        assert (body["status"], body["confirmations"], body["required_confirmations"]) == ("confirmed", 3, 19)

    async def test_out_of_energy_is_failed_whatever_explorers_show(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            body = await tron_status(wallet, USDT_NO_ENERGY)
        assert body["status"] == "failed"
        assert body["failure"]["reason"] == "out_of_energy"
        assert body["failure"]["message"].startswith("Not enough energy for 'SSTORE' operation executing")
        assert body["fee"] == "16.500120" and body["transfers"] == []
        assert body["resources"]["energy_burned_trx"] == "16.500120"

    async def test_trx_transfer_without_result_fields_is_success(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            body = await tron_status(wallet, TRX_TRANSFER)
        assert body["status"] in ("finalized", "confirmed") and body["failure"] is None
        assert body["fee"] == "0.000000" and body["resources"]["bandwidth_used"] == 265

    async def test_trc10_transfer_parsed_and_pending_when_not_in_a_block(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            body = await tron_status(wallet, TRC10)
        assert (body["status"], body["pending_reason"]) == ("pending", "in_mempool")
        assert body["trc10"] == {"asset": "Tronics", "amount": "16"}
        assert body["from"].startswith("T") and body["to"].startswith("T")

    async def test_unknown_hash_is_not_found(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            assert (await tron_status(wallet, "0" * 64))["status"] == "not_found"

    async def test_not_found_from_a_node_behind_the_chain_is_unknown(self, wallet: httpx.AsyncClient) -> None:
        # A node whose head is below the highest head this chain showed lately cannot say a tx does not exist.
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock, head_offset=30)
            assert (await tron_status(wallet, USDT_OK))["status"] == "finalized"
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock, head_offset=10)
            lagging = await tron_status(wallet, "0" * 64)
        assert lagging["status"] == "unknown" and lagging["retry_after"] >= 2
        assert lagging["lagging"]["block_in_question"] - lagging["lagging"]["node_head"] == 20

    async def test_http_200_error_field(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(f"{TRONGRID}/wallet/getnowblock").mock(
                return_value=httpx.Response(200, json={"Error": "The key exceeds the frequency limit(15)"}))
            body = await tron_status(wallet, "1" * 64)
        assert body["status"] == "unknown" and body["retry_after"] >= 30


class TestTronVerifyAndAnswers:
    async def test_verify(self, wallet: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            paid = await wallet.post("/v1/payments/verify", json={
                "chain": "tron", "tx_hash": USDT_OK, "expected": {"to": MERCHANT, "token": "USDT", "amount": "3.5"}})
            under = await wallet.post("/v1/payments/verify", json={
                "chain": "tron", "tx_hash": USDT_OK, "expected": {"to": MERCHANT, "token": "USDT", "amount": "4"}})
            failed = await wallet.post("/v1/payments/verify", json={
                "chain": "tron", "tx_hash": USDT_NO_ENERGY, "expected": {"to": MERCHANT, "token": "USDT",
                                                                         "amount": "1"}})
        assert paid.json()["verdict"] == "paid"
        assert (under.json()["verdict"], under.json()["difference"]) == ("underpaid", "-0.500000")
        assert failed.json()["verdict"] == "failed"

    @pytest.mark.parametrize(("lang", "words"), [("en", ["energy", "16.500120 TRX", "Stake"]),
                                                 ("zh-CN", ["能量", "16.500120 TRX", "质押"])])
    async def test_out_of_energy_answer(self, wallet: httpx.AsyncClient, lang: str, words: list[str]) -> None:
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            resp = await wallet.post("/v1/questions", json={"topic": "tx_failed", "chain": "tron",
                                                            "tx_hash": USDT_NO_ENERGY, "lang": lang})
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        text = answer["answer"] + " ".join(answer["next_steps"])
        for word in words:
            assert word in text, (word, text)
        assert answer["status"]["failure"]["reason"] == "out_of_energy"
        assert any("16.500120" in c for c in answer["checks"])
