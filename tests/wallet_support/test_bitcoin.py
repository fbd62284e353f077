"""Bitcoin over Esplora, with respx answering from recorded mainnet bodies (tests/data/chains/bitcoin).

Constructed bodies, said where used: the tip height (a bare integer, chosen per test), the 404 text of an
unknown txid, `/block-height/0` (the genesis hash of mainnet or testnet3: public constants), and the
`outspend` answers (the documented `{spent, txid, vin}` form)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from services.wallet_support.chains.bitcoin import BitcoinFacts, bitcoin_status, replacement_kind
from services.wallet_support.chains.registry import load_chains
from tests.wallet_support.nonevm import (
    BTC_MAINNET_GENESIS,
    BTC_TESTNET3_GENESIS,
    ESPLORA,
    ESPLORA_B,
    api,
    ask,
    chains_app,
    get_status,
    load,
    offline,
    verify,
)

__all__ = ["api", "chains_app"]
CONFIRMED = "0dbf4436b3493c08b85f11755f672f2b40beddb8f2b65c6bb1e68074c85b53f3"
UNCONFIRMED = "5f753368e7eeaa3e8629ce3f826fe8dfac1fd628ccd6651c87fe2ead18fd8249"
RECIPIENT = "bc1pght6t3z93cde3xspersa6kg8l6aw5m6m77r3hd209mm2n0cus59shj4fnq"  # taproot output of CONFIRMED
BLOCK = 833101


class Esplora:
    """An Esplora endpoint answering from recorded bodies."""

    def __init__(self, mock: respx.MockRouter, base: str = ESPLORA, *, tip: int = BLOCK + 5,
                 genesis: str = BTC_MAINNET_GENESIS, txs: dict[str, Any] | None = None) -> None:
        self.txs = {CONFIRMED: load("bitcoin", "btc_esplora_tx_confirmed_0dbf44.json"),
                    UNCONFIRMED: load("bitcoin", "btc_esplora_tx_unconfirmed-rbf_5f7533.json")} if txs is None else txs
        self.genesis = mock.get(f"{base}/block-height/0").mock(return_value=httpx.Response(200, text=genesis))
        self.tip = mock.get(f"{base}/blocks/tip/height").mock(return_value=httpx.Response(200, text=str(tip)))
        mock.get(f"{base}/fee-estimates").mock(
            return_value=httpx.Response(200, json=load("bitcoin", "btc_esplora_fee-estimates.json")))
        self.tx = mock.get(url__regex=rf"^{base}/tx/[0-9a-f]{{64}}$").mock(side_effect=self._tx)

    def _tx(self, request: httpx.Request) -> httpx.Response:
        txid = request.url.path.rsplit("/", 1)[-1]
        if txid in self.txs:
            return httpx.Response(200, json=self.txs[txid])
        return httpx.Response(404, text="Transaction not found")


class TestStatus:
    async def test_finalized_at_six_confirmations_with_every_output(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock)
            offline(mock)
            body = await get_status(api, "btc", CONFIRMED)
        assert (body["status"], body["confirmations"], body["required_confirmations"]) == ("finalized", 6, 6)
        assert body["block_number"] == BLOCK and body["block_time"] == "2024-03-04T12:12:52Z"
        assert body["head_block"] == BLOCK + 5  # the tip it counted from (the orders side's reorg rule reads it)
        assert body["fee"] == "0.00089100" and body["native_value"] == "0.17556963"
        assert [(t["to"], t["amount"]) for t in body["native_transfers"]] == [
            ("bc1qehqumchyz76cd0t3faj2ls7hmm6pk6c45h4l9c", "0.00000294"), (RECIPIENT, "0.17556669")]
        assert body["from"] == "bc1ppsey88z8jf7ag40yhfs8t63kcd5u6pwavk2aqzfxhaya7wsykn0s3mfgyq"

    async def test_confirmed_below_depth_and_answer(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock, tip=BLOCK + 1)
            offline(mock)
            body = await get_status(api, "btc", CONFIRMED)
            en = await ask(api, topic="tx_pending", chain="btc", tx_hash=CONFIRMED, lang="en")
            zh = await ask(api, topic="tx_pending", chain="btc", tx_hash=CONFIRMED, lang="zh-CN")
        assert (body["status"], body["confirmations"]) == ("confirmed", 2)
        assert "2 of 6 confirmations (about 10 minutes each)" in en["answer"] and "4 more" in en["next_steps"][0]
        assert "确认数 2/6" in zh["answer"] and "4 个确认" in zh["next_steps"][0]

    async def test_pending_fee_too_low_names_rbf_with_the_rate_needed(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock)
            offline(mock)
            body = await get_status(api, "btc", UNCONFIRMED)
            en = await ask(api, topic="tx_pending", chain="btc", tx_hash=UNCONFIRMED, lang="en")
            zh = await ask(api, topic="tx_pending", chain="btc", tx_hash=UNCONFIRMED, lang="zh-CN")
        # 15289 sat over 223 vB = 68.6 sat/vB; the recorded estimates want 82.7 for 6 blocks, 91.2 for the next.
        assert (body["status"], body["pending_reason"], body["fix"]) == ("pending", "fee_too_low", "rbf")
        assert (body["fee_rate"], body["fee_rate_needed"], body["fee_rate_next_block"]) == ("68.6", "82.7", "91.2")
        assert body["rbf"] is True and body["rbf_fee"] == "0.00018448"
        assert "68.6 sat/vB" in en["answer"] and "82.7 sat/vB" in en["answer"] and "signals RBF" in en["answer"]
        assert "Speed it up with RBF" in en["next_steps"][0] and "0.00018448 BTC" in en["next_steps"][0]
        assert "RBF" in zh["answer"] and "68.6 sat/vB" in zh["answer"] and "0.00018448 BTC" in zh["next_steps"][0]
        assert any("Signals replace-by-fee (RBF): yes" in c for c in en["checks"])

    async def test_unknown_txid_is_not_found_in_both_languages(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock)
            offline(mock)
            body = await get_status(api, "btc", "ab" * 32)
            en = await ask(api, topic="tx_pending", chain="btc", tx_hash="ab" * 32, lang="en")
            zh = await ask(api, topic="tx_pending", chain="btc", tx_hash="ab" * 32, lang="zh-CN")
        assert body["status"] == "not_found"
        assert body["head_block"] == BLOCK + 5  # one indexer gave both the tip and the 404
        assert en["answer"].startswith("The Bitcoin network has no transaction with this id")
        assert zh["answer"].startswith("比特币网络上没有这个交易 ID")

    async def test_left_the_mempool_with_inputs_unspent_is_dropped(self, api: httpx.AsyncClient,
                                                                     chains_app: Any) -> None:
        with respx.mock(assert_all_called=False) as mock:
            esplora = Esplora(mock)
            spend = mock.get(f"{ESPLORA}/tx/0e7e944d9e3207c9c15816b522db5efa32db295471abf19a37d1f19d0ba4d067/outspend/0")
            spend.mock(return_value=httpx.Response(200, json={"spent": False}))
            offline(mock)
            assert (await get_status(api, "btc", UNCONFIRMED))["status"] == "pending"  # seen in the mempool
            esplora.txs.pop(UNCONFIRMED)
            body = await get_status(api, "btc", UNCONFIRMED)
            answer = await ask(api, topic="tx_pending", chain="btc", tx_hash=UNCONFIRMED, lang="en")
            paid = await verify(api, chain="btc", tx_hash=UNCONFIRMED,
                                expected={"to": "3Gw73hEempkoTG4Y3tLgvzxcQE2K9P6KL1", "token": "BTC",
                                          "amount": "0.001"})
        assert body["status"] == "dropped" and spend.called
        assert "inputs are still unspent" in answer["answer"]
        assert paid["verdict"] == "dropped" and "inputs are still unspent" in paid["explanation"]


class TestCachedFinal:
    async def test_cached_final_answer_counts_confirmations_from_the_tip(self, api: httpx.AsyncClient,
                                                                        chains_app: Any) -> None:
        with respx.mock(assert_all_called=False) as mock:
            esplora = Esplora(mock)
            offline(mock)
            first = await get_status(api, "btc", CONFIRMED)
            esplora.tip.mock(return_value=httpx.Response(200, text=str(BLOCK + 20)))
            esplora.txs.clear()  # the cached answer is used: the tx is not asked again
            chains_app.state.wallet.clients["btc"].tip.stamp = 0.0  # a block time later: the tip is asked again
            again = await get_status(api, "btc", CONFIRMED)
        assert (first["status"], first["confirmations"]) == ("finalized", 6)
        assert (again["status"], again["confirmations"]) == ("finalized", 21)


class TestVerify:
    async def test_sum_of_outputs_to_the_address(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock)
            offline(mock)
            paid = await verify(api, chain="btc", tx_hash=CONFIRMED,
                                expected={"to": RECIPIENT, "token": "BTC", "amount": "0.17556669"})
            under = await verify(api, chain="btc", tx_hash=CONFIRMED, lang="zh-CN",
                                 expected={"to": RECIPIENT, "token": "BTC", "amount": "0.2"})
            elsewhere = await verify(api, chain="btc", tx_hash=CONFIRMED,
                                     expected={"to": "3Gw73hEempkoTG4Y3tLgvzxcQE2K9P6KL1", "token": "BTC",
                                               "amount": "0.1"})
        assert (paid["verdict"], paid["paid_amount"]) == ("paid", "0.17556669")
        assert under["verdict"] == "underpaid" and "少 0.02443331" in under["explanation"]
        assert elsewhere["verdict"] == "wrong_recipient"

    async def test_bad_address_checksum_is_a_422(self, api: httpx.AsyncClient) -> None:
        resp = await api.post("/v1/payments/verify", json={
            "chain": "btc", "tx_hash": CONFIRMED,
            "expected": {"to": RECIPIENT[:-1] + "x", "token": "BTC", "amount": "1"}})
        assert resp.status_code == 422 and "checksum" in resp.text


class TestEndpoints:
    async def test_fails_over_to_the_next_endpoint(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            broken = mock.get(url__startswith=ESPLORA).mock(return_value=httpx.Response(503))
            Esplora(mock, ESPLORA_B)
            offline(mock)
            body = await get_status(api, "btc", CONFIRMED)
        assert body["status"] == "finalized" and broken.call_count == 2  # retried once, then the next endpoint

    async def test_not_found_from_another_endpoint_than_the_tip_vouches_for_no_height(
            self, api: httpx.AsyncClient) -> None:
        # The tip comes from the first endpoint, whose tx lookups fail; the second one's 404 may be a lagging
        # indexer's, so the answer carries no head_block and a settled payment is not un-paid on it.
        with respx.mock(assert_all_called=False) as mock:
            failing = mock.get(url__regex=rf"^{ESPLORA}/tx/").mock(return_value=httpx.Response(503))
            Esplora(mock)
            second = Esplora(mock, ESPLORA_B)
            offline(mock)
            body = await get_status(api, "btc", "ab" * 32)
        assert body["status"] == "not_found" and failing.called and second.tx.called
        assert not second.tip.called and body["head_block"] is None

    async def test_endpoint_of_another_network_is_refused(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            testnet = Esplora(mock, ESPLORA, genesis=BTC_TESTNET3_GENESIS)
            Esplora(mock, ESPLORA_B)
            offline(mock)
            body = await get_status(api, "btc", CONFIRMED)
            again = await get_status(api, "btc", CONFIRMED)
        assert body["status"] == "finalized" and again["status"] == "finalized"
        assert testnet.genesis.call_count == 1 and not testnet.tx.called  # checked once, never used

    async def test_only_wrong_network_endpoints_is_unknown(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            Esplora(mock, ESPLORA, genesis=BTC_TESTNET3_GENESIS)
            Esplora(mock, ESPLORA_B, genesis=BTC_TESTNET3_GENESIS)
            offline(mock)
            resp = await api.get(f"/v1/tx/btc/{CONFIRMED}")
        assert resp.status_code == 200 and resp.json()["status"] == "unknown"
        assert resp.headers["Retry-After"]


class TestPure:
    chain = load_chains()["btc"]

    def test_no_rbf_signal_means_cpfp(self) -> None:
        # Constructed from the recorded mempool tx: its one input's sequence set to final (no RBF signal).
        tx = load("bitcoin", "btc_esplora_tx_unconfirmed-rbf_5f7533.json")
        tx["vin"][0]["sequence"] = 0xFFFFFFFF
        estimates = {k: float(v) for k, v in load("bitcoin", "btc_esplora_fee-estimates.json").items()}
        body = bitcoin_status(self.chain, BitcoinFacts(UNCONFIRMED, BLOCK, tx=tx, fee_estimates=estimates),
                              datetime.now(UTC))
        assert (body["fix"], body["rbf"], body["cpfp_child_fee"]) == ("cpfp", False, "0.00012258")

    @pytest.mark.parametrize(("outputs", "kind"), [(["114UQvi1CpxN4mDAzoQu34RM3vptvK1j3d"], "cancel"),
                                                   (["3Gw73hEempkoTG4Y3tLgvzxcQE2K9P6KL1",
                                                     "1Cu24Q3XWUd7AXvHwCJQLmzQLBhdmFCpGH"], "speedup"),
                                                   (["bc1qehqumchyz76cd0t3faj2ls7hmm6pk6c45h4l9c"], "other")])
    def test_replacement_kind(self, outputs: list[str], kind: str) -> None:
        # Constructed replacements of the recorded mempool tx (only their output addresses matter here).
        original = load("bitcoin", "btc_esplora_tx_unconfirmed-rbf_5f7533.json")
        replacement = {"vout": [{"scriptpubkey_address": a, "value": 1} for a in outputs]}
        assert replacement_kind(original, replacement) == kind

    def test_replaced_when_its_input_is_spent_by_another(self) -> None:
        sighting = load("bitcoin", "btc_esplora_tx_unconfirmed-rbf_5f7533.json")
        other = {"vout": [{"scriptpubkey_address": "114UQvi1CpxN4mDAzoQu34RM3vptvK1j3d", "value": 1}]}
        body = bitcoin_status(self.chain, BitcoinFacts(UNCONFIRMED, BLOCK, sighting=sighting,
                                                       spent_by={"txid": "cd" * 32, "tx": other}), datetime.now(UTC))
        assert body["status"] == "replaced" and body["replaced_by"] == {"tx_hash": "cd" * 32, "kind": "cancel"}
