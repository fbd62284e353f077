"""Polkadot and Kusama through an indexer: a plain node cannot find an extrinsic by its hash, so the backend is
Subscan's API (`POST /api/scan/extrinsic` with the hash; SUBSCAN_API_KEY as X-API-Key), as wallets and
explorers do. A pure function decides.

A failed extrinsic is in a block (its fee is paid) with `system.ExtrinsicFailed`. Its module error is a raw
`{module: {index, error}}` pair whose name depends on that block's runtime metadata: it is named only when the
indexer names it (decoded against that runtime), else reported raw and said to be undecoded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from services.wallet_support.chains.addresses import SS58_NETWORKS, ss58_decode
from services.wallet_support.chains.base import status_body
from services.wallet_support.chains.decoding import units
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.rest import RestEndpoints, Technical

SUBSCAN_NOT_FOUND = 10004  # "Record Not Found"
ED_ERRORS = {"ExistentialDeposit", "KeepAlive", "Expendability", "BelowMinimum"}
INSUFFICIENT_ERRORS = {"InsufficientBalance", "FundsUnavailable", "LiquidityRestrictions", "Payment"}


@dataclass
class SubstrateFacts:
    tx_hash: str
    extrinsic: dict[str, Any] | None


def _find_module_error(value: Any) -> dict[str, Any] | None:
    """The `{index, error}` pair inside a DispatchError, whatever the nesting and key case."""
    if isinstance(value, str) and value.strip().startswith(("[", "{")):
        try:
            return _find_module_error(json.loads(value))
        except ValueError:
            return None
    if isinstance(value, dict):
        for key in ("module", "Module"):
            inner = value.get(key)
            if isinstance(inner, dict) and "index" in inner and "error" in inner:
                return inner
        for inner in value.values():
            found = _find_module_error(inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for inner in value:
            found = _find_module_error(inner)
            if found is not None:
                return found
    return None


def _error_number(raw: Any) -> int:
    """Module error: "3" (old runtimes) or "0x03000000" (newer: 4 bytes, the first is the error index)."""
    text = str(raw)
    if text.startswith("0x"):
        return bytes.fromhex(text[2:])[0] if len(text) > 2 else 0
    return int(text)


def dispatch_failure(named: dict[str, Any] | None, events: Sequence[Any]) -> dict[str, Any]:
    """failure from the indexer's decoded error (named) or the raw ExtrinsicFailed pair (undecoded). Pure."""
    if named and named.get("name"):
        module = str(named.get("module") or "").lower()
        name = str(named["name"])
        doc = str(named.get("doc") or "").strip()
        reason = "insufficient_balance" if name in INSUFFICIENT_ERRORS else "other"
        return {"reason": reason, "message": f"{module}.{name}" + (f": {doc}" if doc else ""),
                "module_error": f"{module}.{name}", "existential_deposit": name in ED_ERRORS, "decoded": True}
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = f"{event.get('module_id') or ''}.{event.get('event_id') or ''}".lower()
        method = event.get("method") or {}
        if kind != "system.extrinsicfailed" and (method.get("pallet"), method.get("method")) != (
                "system", "ExtrinsicFailed"):
            continue
        pair = _find_module_error(event.get("params") if "params" in event else event.get("data"))
        if pair is not None:
            index, error = int(str(pair["index"])), _error_number(pair["error"])
            return {"reason": "other", "decoded": False, "module_index": index, "error_index": error,
                    "message": f"module {index}, error {error} (its name depends on that block's runtime metadata; "
                               "not decoded)"}
    return {"reason": "other", "message": "ExtrinsicFailed", "decoded": False}


def _planck(amount: str, decimals: int) -> int:
    return int(Decimal(amount).scaleb(decimals))


def substrate_status(chain: ChainConfig, facts: SubstrateFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from a Subscan extrinsic. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    data = facts.extrinsic
    if not data:
        return body
    decimals = chain.native_decimals
    transfer = data.get("transfer") or {}
    params = {p.get("name"): p.get("value") for p in data.get("params") or [] if isinstance(p, dict)}
    raw_value = params.get("value")
    amount = units(int(raw_value), decimals) if raw_value is not None and str(raw_value).isdigit() else (
        units(_planck(str(transfer["amount"]), decimals), decimals) if transfer.get("amount") else units(0, decimals))
    body.update({"from": data.get("account_id") or transfer.get("from"), "to": transfer.get("to"),
                 "block_number": data.get("block_num"), "call": f"{data.get('call_module')}."
                                                                f"{data.get('call_module_function')}",
                 "block_time": datetime.fromtimestamp(int(data["block_timestamp"]), UTC)
                 if data.get("block_timestamp") else None,
                 "fee": units(int(data.get("fee_used") or data.get("fee") or 0), decimals), "extrinsic_index":
                 data.get("extrinsic_index")})
    if data.get("success") is False:
        body.update({"status": "failed", "native_value": units(0, decimals),
                     "failure": dispatch_failure(data.get("error"), data.get("event") or [])})
        return body
    if transfer.get("to"):
        body["native_value"] = amount
        body["native_transfers"] = [{"from": body["from"], "to": transfer.get("to"), "amount": amount}]
    if data.get("pending"):
        body.update({"status": "pending", "pending_reason": "in_mempool"})
    elif data.get("finalized"):
        body.update({"status": "finalized", "confirmations": max(chain.required_confirmations, 1)})
    else:
        body.update({"status": "confirmed", "confirmations": 0})
    return body


class SubstrateClient:
    """ChainClient for Polkadot/Kusama over a Subscan-style indexer API."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, api_key: str | None,
                 urls: Sequence[str] | None = None, attempts: int = 2, backoff: float = 0.1) -> None:
        self.chain = chain
        headers = {chain.api_key_header or "X-API-Key": api_key} if api_key else {}
        self.api = RestEndpoints(chain_key=chain.key, urls=urls or chain.rpc_urls, http=http, headers=headers,
                                 attempts=attempts, backoff=backoff)
        self.gate = asyncio.Semaphore(8)  # an indexer's rate limits are tighter than a node's

    def _check(self, body: Any) -> str | None:
        """Subscan answers HTTP 200 with its own code; an endpoint of another network shows it in its addresses."""
        if not isinstance(body, dict):
            raise Technical("unexpected answer shape")
        code = int(body.get("code") or 0)
        if code not in (0, SUBSCAN_NOT_FOUND):
            raise Technical(f"subscan code {code}: {body.get('message')}")
        data = body.get("data") or {}
        signer = data.get("account_id") if isinstance(data, dict) else None
        if signer and self.chain.ss58_prefix is not None:
            try:
                prefix, _ = ss58_decode(str(signer))
            except ValueError:
                return None
            if prefix != self.chain.ss58_prefix:
                return (f"answers with {SS58_NETWORKS.get(prefix, f'SS58 prefix {prefix}')} addresses, "
                        f"not {self.chain.name} ones")
        return None

    async def probe(self) -> bool:
        try:
            await self.api.request("POST", "/api/scan/metadata", json={}, check=self._check)
        except Exception:  # any failure means "not reachable" here
            return False
        return True

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)

        async def one(tx_hash: str) -> SubstrateFacts:
            async with self.gate:
                answer = await self.api.request("POST", "/api/scan/extrinsic", json={"hash": tx_hash},
                                                check=self._check)
            data = answer.body.get("data") if isinstance(answer.body, dict) else None
            return SubstrateFacts(tx_hash, data or None)

        facts = await asyncio.gather(*(one(h) for h in tx_hashes))
        return [substrate_status(self.chain, f, checked_at) for f in facts]

    async def account_facts(self, address: str, status: dict[str, Any]) -> dict[str, Any]:
        return {"existential_deposit": self.chain.existential_deposit}
