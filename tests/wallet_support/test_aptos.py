"""Aptos over the node REST API, with respx answering from recorded bodies (tests/data/chains/aptos).

Recorded: mainnet ledger info, a mainnet APT batch transfer (coin standard), a mainnet fungible-asset transfer
(from a documented block, `changes` kept to the fungible stores), a mainnet Move abort, the 404 of an unknown hash
(devnet), and a pending transaction from the Aptos Go SDK's tests. The test registers the fungible asset of the
recorded FA transfer as a token (its decimals are the test's choice: the record does not carry them)."""

from __future__ import annotations

from typing import Any

import httpx
import respx
from fastapi import FastAPI

from services.wallet_support.chains.aptos import decode_vm_status
from services.wallet_support.chains.registry import TokenConfig
from tests.wallet_support.nonevm import APTOS, APTOS_B, api, ask, chains_app, get_status, load, offline, verify

__all__ = ["api", "chains_app"]
APT_TX = "0x06a6c25f3601895a3d3330f6ba4696fb8e677973aa56aa7b0ea362915bcff39c"
FA_TX = "0x011a1662cc1cd84b893c37d413d57d96f89dd8eb601ad629ed6dd6fcb537a395"
FAILED_TX = "0x4c3248d4c2f3a5ca1617e43e69332c66586478871ee44634cdb4554fe537dff6"
PENDING_TX = "0xae3f1f751c6cacd61f46054a5e9e39ca9f094802875befbc54ceecbcdf6eff69"
APT_RECIPIENT = "0xcdaa56944a811c22398165b6c885b8aaad39fe7b91b008bb6334d639cbaec8f7"
FA_METADATA = "0x43782fca70e1416fc0c75954942dadd4af8d305a608b6153397ad5801b71e72d"
FA_SENDER = "0x5f9f8c58245aa43b289da4662079a38eab09f4d2f838918337995ad6951fa452"
FA_RECIPIENT = "0x541e28fb12aa661a30358f2bebcd44460187ec918cb9cee075c2db86ee6aed93"


class AptosNode:
    def __init__(self, mock: respx.MockRouter, base: str = APTOS) -> None:
        self.txs: dict[str, Any] = {
            APT_TX: load("aptos", "aptos_tx_by-hash_batch-transfer-coins_0x06a6c2_mainnet.json"),
            FA_TX: load("aptos", "aptos_tx_fungible-asset-transfer_0x011a16_mainnet-block-477445097.json"),
            FAILED_TX: load("aptos", "aptos_tx_by-hash_failed-move-abort_0x4c3248_mainnet.json"),
            PENDING_TX: load("aptos", "aptos_tx_by-hash_pending_0xae3f1f_go-sdk.json")}
        self.ledger = mock.get(base).mock(
            return_value=httpx.Response(200, json=load("aptos", "aptos_ledger-info_v1_mainnet.json")))
        self.by_hash = mock.get(url__startswith=f"{base}/transactions/by_hash/").mock(side_effect=self._tx)

    def _tx(self, request: httpx.Request) -> httpx.Response:
        tx = self.txs.get(request.url.path.rsplit("/", 1)[-1])
        if tx is None:
            return httpx.Response(404, json=load("aptos", "aptos_tx_by-hash_404-transaction-not-found_devnet.json"))
        return httpx.Response(200, json=tx)


def star_token(app: FastAPI) -> None:
    app.state.chains["aptos"].tokens["STAR"] = TokenConfig(symbol="STAR", contract=FA_METADATA, decimals=8)


class TestStatus:
    async def test_coin_transfer_is_final_when_committed(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            AptosNode(mock)
            offline(mock)
            body = await get_status(api, "aptos", APT_TX)
            en = await ask(api, topic="tx_pending", chain="aptos", tx_hash=APT_TX, lang="en")
            zh = await ask(api, topic="tx_pending", chain="aptos", tx_hash=APT_TX, lang="zh-CN")
        assert (body["status"], body["block_number"], body["fee"]) == ("finalized", 176278674, "0.00000600")
        assert body["native_transfers"] == [{"from": "0x80174e0fe8cb2d32b038c6c888dd95c3e1560736f0d4a6e8bed6ae43b5c91f6f",
                                             "to": APT_RECIPIENT, "amount": "1400.99000000"}]
        assert "committed at version 176278674" in en["answer"] and "final" in en["answer"]
        assert "版本 176278674" in zh["answer"]

    async def test_fungible_asset_transfer_with_its_decimals(self, api: httpx.AsyncClient,
                                                             chains_app: FastAPI) -> None:
        star_token(chains_app)
        with respx.mock(assert_all_called=False) as mock:
            AptosNode(mock)
            offline(mock)
            body = await get_status(api, "aptos", FA_TX)
            paid = await verify(api, chain="aptos", tx_hash=FA_TX,
                                expected={"to": FA_RECIPIENT, "token": "STAR", "amount": "3"})
            wrong = await verify(api, chain="aptos", tx_hash=FA_TX, lang="zh-CN",
                                 expected={"to": FA_SENDER, "token": "STAR", "amount": "3"})
            shown = await ask(api, topic="token_not_showing", chain="aptos", tx_hash=FA_TX, address=FA_RECIPIENT)
        [star] = body["transfers"]
        assert (star["token"], star["amount"], star["decimals"]) == ("STAR", "3.00000000", 8)
        assert (star["from"], star["to"]) == (FA_SENDER, FA_RECIPIENT) and body["fee"] == "0.00001100"
        assert paid["verdict"] == "paid" and wrong["verdict"] == "wrong_recipient" and FA_RECIPIENT in wrong[
            "explanation"]
        assert "3.00000000 STAR" in shown["answer"] and FA_METADATA in shown["answer"]

    async def test_pending_then_dropped_once_expired(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            node = AptosNode(mock)
            offline(mock)
            pending = await get_status(api, "aptos", PENDING_TX)
            en = await ask(api, topic="tx_pending", chain="aptos", tx_hash=PENDING_TX, lang="en")
            node.txs.pop(PENDING_TX)  # gone; its expiration (2024-07-03) has long passed
            dropped = await get_status(api, "aptos", PENDING_TX)
            zh = await ask(api, topic="tx_pending", chain="aptos", tx_hash=PENDING_TX, lang="zh-CN")
        assert (pending["status"], pending["expiration_timestamp_secs"]) == ("pending", 1719968695)
        assert "waiting to be committed" in en["answer"]
        assert dropped["status"] == "dropped" and "过期" in zh["answer"]

    async def test_unknown_hash_is_not_found(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            AptosNode(mock)
            offline(mock)
            body = await get_status(api, "aptos", "0x" + "15" * 32)
        assert body["status"] == "not_found"


class TestFailed:
    async def test_move_abort_decoded_in_both_languages(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            AptosNode(mock)
            offline(mock)
            body = await get_status(api, "aptos", FAILED_TX)
            en = await ask(api, topic="tx_failed", chain="aptos", tx_hash=FAILED_TX, lang="en")
            zh = await ask(api, topic="tx_failed", chain="aptos", tx_hash=FAILED_TX, lang="zh-CN")
        failure = body["failure"]
        assert body["status"] == "failed" and body["fee"] == "0.00019500"
        assert (failure["reason"], failure["abort_name"], failure["abort_code"]) == ("reverted", "E_NO_PROFIT", "0x385")
        assert failure["module"] == "0x31deb490728ae8e1a89675ee4c1877af8e5849c526d2c9a64238c49d8ece08a0::fa"
        assert "Move code aborted it" in en["answer"] and "E_NO_PROFIT (code 0x385)" in en["answer"]
        assert "0.00019500 APT" in en["answer"]
        assert "Move 代码中止" in zh["answer"] and "E_NO_PROFIT" in zh["answer"]

    def test_vm_status_forms(self) -> None:
        # vm_status strings in the forms the node writes them (the framework's own abort names).
        balance = decode_vm_status("Move abort in 0x1::coin: EINSUFFICIENT_BALANCE(0x10006): Not enough coins to "
                                   "complete transaction")
        assert (balance["reason"], balance["abort_name"]) == ("insufficient_balance", "EINSUFFICIENT_BALANCE")
        assert decode_vm_status("Out of gas")["reason"] == "out_of_gas"
        unnamed = decode_vm_status("Move abort in 0x1::fungible_asset: 0x10004")
        assert unnamed["abort_name"] is None and unnamed["abort_code"] == "0x10004"


class TestEndpoints:
    async def test_fails_over(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            broken = mock.get(url__startswith=APTOS).mock(return_value=httpx.Response(502))
            AptosNode(mock, APTOS_B)
            offline(mock)
            body = await get_status(api, "aptos", APT_TX)
        assert body["status"] == "finalized" and broken.call_count == 2

    async def test_mainnet_endpoint_refused_for_a_testnet_chain(self, api: httpx.AsyncClient,
                                                                chains_app: FastAPI) -> None:
        client = chains_app.state.wallet.clients["aptos"]
        assert client.api.identity is not None
        client.api.identity.expected = "2"  # configured for testnet; both endpoints answer mainnet's chain id 1
        with respx.mock(assert_all_called=False) as mock:
            first, second = AptosNode(mock), AptosNode(mock, APTOS_B)
            offline(mock)
            resp = await api.get(f"/v1/tx/aptos/{APT_TX}")
        assert resp.json()["status"] == "unknown" and resp.headers["Retry-After"]
        assert not first.by_hash.called and not second.by_hash.called
        assert all("serves network '1'" in why for why in client.api.refused())
