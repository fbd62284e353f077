"""TRON through the TronGrid HTTP API (httpx): facts fetched, then a pure function decides.

`gettransactioninfobyid` answers `{}` for a tx that is not in a block yet; `/walletsolidity/` answers only
once the block is irreversible. A tx in a block is not a successful tx: `contractRet` other than SUCCESS, or
a receipt result other than SUCCESS, is a failure whatever an explorer shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.wallet_support.cache import HeadMemo, ResultCache
from services.wallet_support.chains.addresses import tron_from_hex
from services.wallet_support.chains.base import ChainUnavailable, RpcError, lagging_answer, status_body
from services.wallet_support.chains.decoding import TRANSFER_TOPIC, units
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.transport import RestTransport

FAILURE_REASONS = {
    "OUT_OF_ENERGY": "out_of_energy", "REVERT": "reverted", "TRANSFER_FAILED": "insufficient_balance",
    "OUT_OF_TIME": "other", "BAD_JUMP_DESTINATION": "reverted", "ILLEGAL_OPERATION": "reverted",
}


@dataclass
class TronFacts:
    tx_hash: str
    head: int
    tx: dict[str, Any]
    info: dict[str, Any]
    solid: bool


def decode_message(hex_text: str | None) -> str | None:
    if not hex_text:
        return None
    try:
        return bytes.fromhex(hex_text).decode("utf-8", errors="replace")
    except ValueError:
        return hex_text


def _failure(contract_ret: str | None, info: dict[str, Any]) -> dict[str, str] | None:
    receipt = info.get("receipt") or {}
    receipt_result = receipt.get("result")
    failed = (contract_ret not in (None, "SUCCESS") or info.get("result") == "FAILED"
              or receipt_result not in (None, "SUCCESS", "DEFAULT"))
    if not failed:
        return None
    code = receipt_result if receipt_result not in (None, "SUCCESS", "DEFAULT") else contract_ret or "FAILED"
    message = decode_message(info.get("resMessage")) or code
    reason = FAILURE_REASONS.get(str(code), "other")
    lowered = message.lower()
    if "bandwidth" in lowered or "bandwith" in lowered:
        reason = "out_of_bandwidth"
    elif "balance is not sufficient" in lowered or "insufficient balance" in lowered:
        reason = "insufficient_balance"
    return {"reason": reason, "message": message, "code": str(code)}


def _contract_parties(tx: dict[str, Any], chain: ChainConfig) -> dict[str, Any]:
    contracts = (tx.get("raw_data") or {}).get("contract") or []
    if not contracts:
        return {}
    contract = contracts[0]
    value = (contract.get("parameter") or {}).get("value") or {}
    kind = contract.get("type")
    parties: dict[str, Any] = {"contract_type": kind}
    if value.get("owner_address"):
        parties["from"] = tron_from_hex(value["owner_address"])
    if kind == "TransferContract":
        parties["to"] = tron_from_hex(value["to_address"]) if value.get("to_address") else None
        parties["native_value"] = units(int(value.get("amount") or 0), chain.native_decimals)
    elif kind == "TriggerSmartContract":
        parties["to"] = tron_from_hex(value["contract_address"]) if value.get("contract_address") else None
        parties["native_value"] = units(int(value.get("call_value") or 0), chain.native_decimals)
    elif kind == "TransferAssetContract":
        parties["to"] = tron_from_hex(value["to_address"]) if value.get("to_address") else None
        parties["native_value"] = units(0, chain.native_decimals)
        asset = value.get("asset_name", "")
        parties["trc10"] = {"asset": decode_message(asset) if asset else None, "amount": str(value.get("amount"))}
    return parties


def trc20_transfers(logs: list[dict[str, Any]], chain: ChainConfig) -> list[dict[str, Any]]:
    """TRON logs: 20-byte hex addresses without the 41 prefix, topics without 0x."""
    transfers = []
    for entry in logs or []:
        topics = entry.get("topics") or []
        if len(topics) != 3 or str(topics[0]).lower().removeprefix("0x") != TRANSFER_TOPIC:
            continue
        contract = tron_from_hex(str(entry.get("address", "")))
        token = chain.token_by_contract(contract)
        raw_amount = int(str(entry.get("data") or "0") or "0", 16)
        transfers.append({
            "token": token.symbol if token else None, "contract": contract,
            "from": tron_from_hex(topics[1]), "to": tron_from_hex(topics[2]),
            "amount": units(raw_amount, token.decimals) if token else str(raw_amount),
            "raw_amount": str(raw_amount), "decimals": token.decimals if token else None})
    return transfers


def tron_status(chain: ChainConfig, facts: TronFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from raw TRON facts. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    body["head_block"] = facts.head
    tx, info = facts.tx, facts.info
    parties = _contract_parties(tx, chain) if tx else {}
    body.update({k: parties.get(k) for k in ("from", "to", "native_value")})
    if parties.get("trc10"):
        body["trc10"] = parties["trc10"]
    if not info:
        if tx:
            body.update({"status": "pending", "pending_reason": "in_mempool"})
        return body
    block = int(info.get("blockNumber") or 0)
    receipt = info.get("receipt") or {}
    sun = 10 ** chain.native_decimals
    body.update({
        "block_number": block, "confirmations": max(facts.head - block + 1, 0),
        "block_time": datetime.fromtimestamp(int(info["blockTimeStamp"]) / 1000, UTC)
        if info.get("blockTimeStamp") else None,
        "fee": units(int(info.get("fee") or 0), chain.native_decimals),
        "resources": {"energy_used": int(receipt.get("energy_usage_total") or 0),
                      "energy_burned_trx": units(int(receipt.get("energy_fee") or 0), chain.native_decimals),
                      "bandwidth_used": int(receipt.get("net_usage") or 0),
                      "bandwidth_burned_trx": units(int(receipt.get("net_fee") or 0), chain.native_decimals),
                      "trx_per_unit": str(sun)},
        "transfers": trc20_transfers(info.get("log") or [], chain),
    })
    contract_ret = ((tx.get("ret") or [{}])[0]).get("contractRet") if tx else None
    failure = _failure(contract_ret, info)
    if failure is not None:
        body.update({"status": "failed", "failure": failure, "transfers": []})
        return body
    if body["from"] is None and body["transfers"]:
        body["from"] = body["transfers"][0]["from"]
    final = facts.solid or body["confirmations"] >= chain.required_confirmations
    body["status"] = "finalized" if final else "confirmed"
    return body


def tron_refusal(answer: Any) -> tuple[str, bool] | None:
    """TRON reports many errors with HTTP 200 and an `Error` field; a rate limit said so is technical."""
    if not isinstance(answer, dict):
        return "unexpected answer shape", True
    if "Error" in answer:
        message = str(answer["Error"])
        lowered = message.lower()
        return message, "frequency" in lowered or "limit" in lowered
    return None


class TronClient:
    """ChainClient for TRON over its HTTP API, with failover across endpoints, retries and a breaker each."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, api_key: str | None,
                 urls: Sequence[str] | None = None, attempts: int = 2, backoff: float = 0.1,
                 concurrency: int = 16, cache: ResultCache | None = None) -> None:
        self.chain = chain
        self.http = http
        self.cache = cache
        self.transport = RestTransport(chain_key=chain.key, urls=urls or chain.rpc_urls, client=http,
                                       attempts=attempts, backoff=backoff, refusal=tron_refusal,
                                       headers={"TRON-PRO-API-KEY": api_key} if api_key else None)
        self.gate = asyncio.Semaphore(concurrency)
        self.heads = HeadMemo(chain.block_time_seconds)

    @property
    def calls_sent(self) -> int:
        return self.transport.calls_sent

    async def probe(self) -> bool:
        try:
            await self._post("/wallet/getnowblock", {})
        except (ChainUnavailable, RpcError):
            return False
        return True

    async def head(self) -> int:
        """The chain's head, one cheap call at most per block time."""
        return await self.heads.get(self._fetch_head)

    async def _fetch_head(self) -> int:
        now_block = await self._post("/wallet/getnowblock", {})
        return int(((now_block.get("block_header") or {}).get("raw_data") or {}).get("number") or 0)

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        head = await self._fetch_head()
        best = self.heads.best()
        self.heads.note(head)
        facts = await asyncio.gather(*(self._facts(h, head) for h in tx_hashes))
        results = [tron_status(self.chain, f, checked_at) for f in facts]
        gone = [i for i, r in enumerate(results) if r["status"] == "not_found"]
        if gone:
            known = await self._cache_blocks([tx_hashes[i] for i in gone])
            for i, cached_block in zip(gone, known, strict=True):
                block = max((b for b in (best, cached_block) if b is not None), default=None)
                if block is not None and head < block:
                    # The node answering is behind where we know the chain is: its "no such tx" says nothing.
                    results[i] = lagging_answer(results[i], node_head=head, block=block,
                                                block_time_seconds=self.chain.block_time_seconds)
        return results

    async def _cache_blocks(self, tx_hashes: list[str]) -> list[int | None]:
        if self.cache is None:
            return [None] * len(tx_hashes)
        found = await self.cache.get_many(self.chain.key, tx_hashes)
        return [int(f["block_number"]) if f and f.get("block_number") is not None else None for f in found]

    async def _facts(self, tx_hash: str, head: int) -> TronFacts:
        async with self.gate:
            tx, info = await asyncio.gather(self._post("/wallet/gettransactionbyid", {"value": tx_hash}),
                                            self._post("/wallet/gettransactioninfobyid", {"value": tx_hash}))
            solid = False
            if info:
                solid = bool(await self._post("/walletsolidity/gettransactioninfobyid", {"value": tx_hash}))
        return TronFacts(tx_hash=tx_hash, head=head, tx=tx, info=info, solid=solid)

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await self.transport.post(path, payload)
        return answer
