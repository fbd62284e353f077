"""Solana over JSON-RPC, with respx answering from recorded mainnet bodies (tests/data/chains/solana).

`getTransaction` answers are the recorded ones, as they are. Constructed, as said where used: the
`getSignatureStatuses` entries for these signatures (the recorded finalized entry's form, with the tx's own slot;
`null` for an unknown one, as the API documents), `getGenesisHash` (mainnet's and devnet's genesis hashes: public
constants), `getBlockHeight` (a bare integer) and `getAccountInfo` (the documented `{context, value}` form)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import respx
from fastapi import FastAPI

from services.wallet_support.chains.registry import load_chains
from services.wallet_support.chains.solana import SYSTEM_PROGRAM, TOKEN_PROGRAM, decode_error
from tests.wallet_support.nonevm import (
    SOLANA,
    SOLANA_B,
    api,
    ask,
    chains_app,
    get_status,
    load,
    offline,
    verify,
)

__all__ = ["api", "chains_app"]
USDC_TX = "2S2rTZjaqzxYRw9mnqzwtyqitKtSsnE8GVqLn1KrD5R2YpXZnU4GdjppsgfSAbrzJfaqadfi8CtrqEBy588WVQ3E"
SOL_TX = "5QMfuqThWSMMpLCRe3tk7qn7iSwWKfJV8EvD1ZPvyqAWa7Z2JftZ4rPq8YCxCwzSykX7dMkDB8RrovQMoL9ZZWKY"
FAILED_TX = "376DxeSPgG1ynjpGFLLx5xFTTkVmQ54MmUcTuopKyEQXWQCu9PRzUZ2EijYi4YZq4eAPpRDdoQHzy59bfuNndLX4"
UNKNOWN_TX = "4ymeFSeDfz3qF5GF4UAMZ9sxqV6oJ6nWbaSPF8D4yMotAzcJ3WXQDpEFRrJwqaqRXf8FmcWZS5YQs9UqS6DrjPca"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDC_RECIPIENT = "3i476kTBBTy7pBGx4CXwJpJ6phuwLQgcwLTdHhU3c7ui"
USDC_RECIPIENT_ATA = "H51DXRt3ubThhdhNeDMScfkbC5X4AWzYfHaZS3JKEfPh"  # created by the recorded tx itself
MAINNET_GENESIS = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc47D2pgUwj"
DEVNET_GENESIS = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG"


def _result(name: str) -> dict[str, Any]:
    body = load("solana", name)
    return body.get("result", body)


class SolanaRpc:
    def __init__(self, mock: respx.MockRouter, base: str = SOLANA, *, genesis: str = MAINNET_GENESIS,
                 commitment: str = "finalized") -> None:
        self.txs = {USDC_TX: _result("sol_getTransaction_jsonParsed_usdc-transferChecked_2S2rTZ.json"),
                    SOL_TX: _result("sol_getTransaction_jsonParsed_sol-transfer_5QMfuq.json"),
                    FAILED_TX: _result("sol_getTransaction_jsonParsed_failed-custom16_376Dxe.result.json")}
        self.template = _result("sol_getSignatureStatuses_finalized_mainnet.result.json")
        self.genesis = genesis
        self.commitment = commitment
        self.block_height = 170_000_000
        self.accounts: dict[str, Any] = {}
        self.methods: list[str] = []
        self.bare_error: str | None = None  # a provider that writes its JSON-RPC error as a plain string
        self.route = mock.post(base).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        method, params = call["method"], call.get("params") or []
        self.methods.append(method)
        result: Any
        if method == "getGenesisHash":
            result = self.genesis
        elif self.bare_error is not None:
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": call["id"], "error": self.bare_error})
        elif method == "getSignatureStatuses":
            entries = []
            for sig in params[0]:
                tx = self.txs.get(sig)
                if tx is None:
                    entries.append(None)
                    continue
                entry = dict(self.template["value"][0], slot=tx["slot"], confirmationStatus=self.commitment,
                             err=tx["meta"]["err"])
                entry["confirmations"] = None if self.commitment == "finalized" else 3
                entries.append(entry)
            result = {"context": self.template["context"], "value": entries}
        elif method == "getTransaction":
            result = self.txs.get(params[0]) if self.commitment != "processed" else None
        elif method == "getBlockHeight":
            result = self.block_height
        elif method == "getAccountInfo":
            result = {"context": self.template["context"], "value": self.accounts.get(params[0])}
        else:
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": call["id"],
                                             "error": {"code": -32601, "message": "Method not found"}})
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": call["id"], "result": result})


class TestStatus:
    async def test_usdc_transfer_finalized_with_token_decimals(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            SolanaRpc(mock)
            offline(mock)
            body = await get_status(api, "solana", USDC_TX)
        assert (body["status"], body["commitment"], body["block_number"]) == ("finalized", "finalized", 184930610)
        assert body["fee"] == "0.000010000" and body["block_time"] == "2023-03-27T06:50:45Z"
        [usdc] = body["transfers"]
        assert (usdc["token"], usdc["contract"], usdc["amount"], usdc["decimals"]) == ("USDC", USDC_MINT, "0.001000", 6)
        assert (usdc["from"], usdc["to"], usdc["token_account"]) == (
            "8fusVwhgo4oS1fGpZKeRaXrJXQk9auKnAgcj9A97wR3t", USDC_RECIPIENT, USDC_RECIPIENT_ATA)

    async def test_confirmed_then_pending_when_only_processed(self, api: httpx.AsyncClient,
                                                              chains_app: FastAPI) -> None:
        with respx.mock(assert_all_called=False) as mock:
            rpc = SolanaRpc(mock, commitment="confirmed")
            offline(mock)
            confirmed = await get_status(api, "solana", SOL_TX)
            rpc.commitment = "processed"
            pending = await get_status(api, "solana", SOL_TX)
            en = await ask(api, topic="tx_pending", chain="solana", tx_hash=SOL_TX, lang="en")
            zh = await ask(api, topic="tx_pending", chain="solana", tx_hash=SOL_TX, lang="zh-CN")
        assert (confirmed["status"], confirmed["confirmations"]) == ("confirmed", 3)
        assert (pending["status"], pending["commitment"]) == ("pending", "processed")
        assert "processed by a leader" in en["answer"] and "集群尚未确认" in zh["answer"]

    async def test_processed_then_gone_after_blockhash_expiry_is_dropped(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            rpc = SolanaRpc(mock, commitment="processed")
            offline(mock)
            assert (await get_status(api, "solana", SOL_TX))["status"] == "pending"
            rpc.txs.pop(SOL_TX)
            rpc.block_height += 100  # still within its blockhash's lifetime: it may land
            within = await get_status(api, "solana", SOL_TX)
            rpc.block_height += 60  # 160 blocks later: its blockhash expired, it can never land
            gone = await get_status(api, "solana", SOL_TX)
            en = await ask(api, topic="tx_pending", chain="solana", tx_hash=SOL_TX, lang="en")
            zh = await ask(api, topic="tx_pending", chain="solana", tx_hash=SOL_TX, lang="zh-CN")
            paid = await verify(api, chain="solana", tx_hash=SOL_TX,
                                expected={"to": "2b7iQq3PbWwWTotRSDFNXT9DauU418aCHK4jcAzETUem", "token": "SOL",
                                          "amount": "0.001"})
        assert within["status"] == "pending" and gone["status"] == "dropped" and gone["blockhash_expired"]
        assert "blockhash has expired" in en["answer"] and "re-send it" in en["answer"]
        assert "Re-send it" in en["next_steps"][0] and "重新发送" in zh["answer"]
        assert paid["verdict"] == "dropped" and "blockhash has expired" in paid["explanation"]

    async def test_unknown_signature_is_not_found_and_says_resend(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            SolanaRpc(mock)
            offline(mock)
            body = await get_status(api, "solana", UNKNOWN_TX)
            en = await ask(api, topic="tx_pending", chain="solana", tx_hash=UNKNOWN_TX, lang="en")
            zh = await ask(api, topic="tx_pending", chain="solana", tx_hash=UNKNOWN_TX, lang="zh-CN")
        assert body["status"] == "not_found"
        assert "re-send it" in en["answer"] and "blockhash" in en["answer"]
        assert "重新发送" in zh["answer"]


class TestFailed:
    async def test_instruction_error_decoded_and_fee_still_paid(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            SolanaRpc(mock)
            offline(mock)
            body = await get_status(api, "solana", FAILED_TX)
            en = await ask(api, topic="tx_failed", chain="solana", tx_hash=FAILED_TX, lang="en")
            zh = await ask(api, topic="tx_failed", chain="solana", tx_hash=FAILED_TX, lang="zh-CN")
        failure = body["failure"]
        assert body["status"] == "failed" and failure["reason"] == "reverted" and body["fee"] == "0.000015000"
        assert failure["message"] == ("instruction 3 (DjVE6JNiYqPL2QXyCUUh8rNjHrbz9hXHNYt99MQ59qw1): custom program "
                                      "error 0x10 (Swap instruction exceeds desired slippage limit)")
        assert "The program rejected the transaction" in en["answer"] and "0.000015000 SOL" in en["answer"]
        assert "slippage" in en["next_steps"][0]
        assert "程序拒绝了该交易" in zh["answer"] and "滑点" in zh["next_steps"][0]

    def test_system_and_token_errors_named(self) -> None:
        # The recorded preflight rejection's err (System program, Custom 1), on a minimal constructed tx.
        err = {"InstructionError": [0, {"Custom": 1}]}
        system_tx = {"transaction": {"message": {"instructions": [{"programId": SYSTEM_PROGRAM}]}}}
        token_tx = {"transaction": {"message": {"instructions": [{"programId": TOKEN_PROGRAM}]}}}
        system = decode_error(err, system_tx)
        token = decode_error(err, token_tx)
        assert (system["reason"], system["error_name"]) == ("insufficient_balance", "ResultWithNegativeLamports")
        assert (token["reason"], token["message"]) == ("insufficient_balance",
                                                       "instruction 0 (SPL Token): InsufficientFunds")
        assert decode_error("InsufficientFundsForRent", None)["reason"] == "insufficient_balance"


class TestVerifyAndTokens:
    async def test_verify_token_and_native(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            SolanaRpc(mock)
            offline(mock)
            usdc = await verify(api, chain="solana", tx_hash=USDC_TX,
                                expected={"to": USDC_RECIPIENT, "token": "USDC", "amount": "0.001"})
            usdt = await verify(api, chain="solana", tx_hash=USDC_TX, lang="zh-CN",
                                expected={"to": USDC_RECIPIENT, "token": "USDT", "amount": "0.001"})
            sol = await verify(api, chain="solana", tx_hash=SOL_TX,
                               expected={"to": "2b7iQq3PbWwWTotRSDFNXT9DauU418aCHK4jcAzETUem", "token": "SOL",
                                         "amount": "0.001"})
        assert (usdc["verdict"], usdc["paid_amount"]) == ("paid", "0.001000")
        assert usdt["verdict"] == "wrong_token" and "USDC" in usdt["explanation"]
        assert (sol["verdict"], sol["paid_amount"]) == ("paid", "0.001000000")

    async def test_token_not_showing_names_the_associated_token_account(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            rpc = SolanaRpc(mock)
            rpc.accounts[USDC_RECIPIENT_ATA] = {"lamports": 2039280, "owner": TOKEN_PROGRAM, "executable": False,
                                                "rentEpoch": 0, "data": {"program": "spl-token"}}
            offline(mock)
            en = await ask(api, topic="token_not_showing", chain="solana", tx_hash=USDC_TX, address=USDC_RECIPIENT)
            zh = await ask(api, topic="token_not_showing", chain="solana", tx_hash=USDC_TX, address=USDC_RECIPIENT,
                           lang="zh-CN")
        assert f"associated token account {USDC_RECIPIENT_ATA}" in en["answer"] and USDC_MINT in en["answer"]
        assert "0.001000 USDC" in en["answer"]
        assert any(f"{USDC_RECIPIENT_ATA} (exists)" in c for c in en["checks"])
        assert f"关联代币账户 {USDC_RECIPIENT_ATA}" in zh["answer"] and USDC_MINT in zh["next_steps"][0]

    async def test_malformed_signature_is_a_422(self, api: httpx.AsyncClient) -> None:
        resp = await api.get("/v1/tx/solana/0x" + "ab" * 32)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["fits_chains"] == sorted(
            ["aptos", "arbitrum", "base", "bsc", "dot", "eth", "ksm", "optimism", "oktc", "polygon", "xlayer"])


class TestEndpoints:
    async def test_fails_over(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            broken = mock.post(SOLANA).mock(return_value=httpx.Response(429, headers={"Retry-After": "5"}))
            SolanaRpc(mock, SOLANA_B)
            offline(mock)
            body = await get_status(api, "solana", USDC_TX)
        # A 429 or a timeout is not retried on the same endpoint: the next one is asked at once.
        assert body["status"] == "finalized" and broken.call_count == 1

    async def test_an_error_written_as_a_string_is_an_answer_not_a_crash(self, api: httpx.AsyncClient) -> None:
        # JSON-RPC 2.0 says the error member is an object; a provider that sends a bare string still says no.
        with respx.mock(assert_all_called=False) as mock:
            SolanaRpc(mock).bare_error = "rate limited"
            offline(mock)
            resp = await api.get(f"/v1/tx/solana/{USDC_TX}")
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "unknown" and resp.json()["error"] == "rate limited"

    async def test_devnet_endpoint_refused(self, api: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            devnet = SolanaRpc(mock, SOLANA, genesis=DEVNET_GENESIS)
            SolanaRpc(mock, SOLANA_B)
            offline(mock)
            body = await get_status(api, "solana", USDC_TX)
        assert body["status"] == "finalized" and devnet.methods == ["getGenesisHash"]


def test_status_is_pure() -> None:
    from services.wallet_support.chains.solana import SolanaFacts, solana_status

    chain = load_chains()["solana"]
    tx = _result("sol_getTransaction_jsonParsed_failed-custom16_376Dxe.result.json")
    seen = {"slot": tx["slot"], "confirmationStatus": "finalized", "err": tx["meta"]["err"]}
    body = solana_status(chain, SolanaFacts(FAILED_TX, seen, tx=tx), datetime(2026, 1, 1, tzinfo=UTC))
    assert body["status"] == "failed" and body["transfers"] == [] and body["native_value"] == "0.000000000"


def test_a_transfer_without_one_sender_still_validates() -> None:
    # The recorded USDC transfer with a second (constructed) debited account of the same mint: no single sender.
    from services.wallet_support.chains.solana import token_transfers
    from services.wallet_support.schemas import TxStatus

    chain = load_chains()["solana"]
    tx = _result("sol_getTransaction_jsonParsed_usdc-transferChecked_2S2rTZ.json")
    extra = {"accountIndex": 0, "mint": USDC_MINT, "owner": "FG4Y3yX4AAchp1HvNZ7LfzFTewF2f6nDoMDCohTFrdpT",
             "uiTokenAmount": {"amount": "10", "decimals": 6}}
    tx["meta"]["preTokenBalances"].append(extra)
    tx["meta"]["postTokenBalances"].append({**extra, "uiTokenAmount": {"amount": "0", "decimals": 6}})
    [transfer] = token_transfers(tx, chain)
    assert transfer["from"] is None and transfer["to"] == USDC_RECIPIENT
    body = solana_status_for(tx)
    assert TxStatus.model_validate(body).transfers[0].from_ is None


def solana_status_for(tx: dict[str, Any]) -> dict[str, Any]:
    from services.wallet_support.chains.solana import SolanaFacts, solana_status

    seen = {"slot": tx["slot"], "confirmationStatus": "finalized", "err": None}
    return solana_status(load_chains()["solana"], SolanaFacts(USDC_TX, seen, tx=tx), datetime(2026, 1, 1, tzinfo=UTC))
