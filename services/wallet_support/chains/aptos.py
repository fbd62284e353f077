"""Aptos over the node's REST API (`/v1`): `GET /transactions/by_hash/{hash}`; a pure function decides.

`pending_transaction` → pending; a committed `user_transaction` with `success: true` → finalized (Aptos
finality is immediate); `success: false` → failed with the `vm_status` decoded (a Move abort's module, name and
code; out of gas). A pending tx gone after its expiration time is `dropped`. Transfers from the withdraw/deposit
events of both the coin standard (`0x1::coin`) and the fungible-asset standard (`0x1::fungible_asset`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.wallet_support.cache import ResultCache
from services.wallet_support.chains.addresses import aptos_address
from services.wallet_support.chains.base import status_body
from services.wallet_support.chains.decoding import units
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.rest import Identity, RestEndpoints

APT_COIN = "0x1::aptos_coin::AptosCoin"
APT_FA = aptos_address("0xa")  # APT's fungible-asset metadata object
MOVE_ABORT = re.compile(r"Move abort in (?P<module>[^:]+::\w+): "
                        r"(?:(?P<name>[A-Z_][A-Z0-9_]*)\((?P<code>0x[0-9a-fA-F]+)\)|(?P<bare>0x[0-9a-fA-F]+))"
                        r"(?::\s*(?P<text>.*))?")
INSUFFICIENT_NAMES = {"EINSUFFICIENT_BALANCE", "ECOIN_STORE_NOT_PUBLISHED", "EBALANCE_NOT_ENOUGH"}


@dataclass
class AptosFacts:
    tx_hash: str
    tx: dict[str, Any] | None
    now: float
    sighting: dict[str, Any] | None = None


def decode_vm_status(vm_status: str) -> dict[str, Any]:
    """`vm_status` → failure: Move aborts named by module and error (when the node names it), out of gas."""
    text = vm_status.strip()
    match = MOVE_ABORT.match(text)
    if match:
        name = match.group("name")
        code = match.group("code") or match.group("bare")
        reason = "insufficient_balance" if name in INSUFFICIENT_NAMES else "reverted"
        detail = (match.group("text") or "").strip()
        message = f"Move abort in {match.group('module')}: {name or 'unnamed error'} (code {code})"
        return {"reason": reason, "message": message + (f": {detail}" if detail else ""),
                "module": match.group("module"), "abort_name": name, "abort_code": code}
    if "OUT_OF_GAS" in text.upper().replace(" ", "_"):
        return {"reason": "out_of_gas", "message": text}
    if "SEQUENCE_NUMBER_TOO_OLD" in text.upper():
        return {"reason": "other", "message": "sequence number too old: this account already used it"}
    return {"reason": "other", "message": text}


def _coin_of_handles(tx: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Old-style coin events name their store by (account, creation number): the CoinStore changes tell the coin."""
    handles: dict[tuple[str, str], str] = {}
    for change in tx.get("changes") or []:
        data = change.get("data") or {}
        kind = str(data.get("type") or "")
        if not kind.startswith("0x1::coin::CoinStore<"):
            continue
        coin = kind[len("0x1::coin::CoinStore<"):-1]
        for events in ("deposit_events", "withdraw_events"):
            guid = (((data.get("data") or {}).get(events) or {}).get("guid") or {}).get("id") or {}
            if guid.get("addr") is not None:
                handles[(aptos_address(guid["addr"]), str(guid.get("creation_num")))] = coin
    return handles


def _fa_stores(tx: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Fungible stores touched: store address → owner and metadata (asset)."""
    stores: dict[str, dict[str, str]] = {}
    for change in tx.get("changes") or []:
        data = change.get("data") or {}
        address = change.get("address")
        if not address:
            continue
        slot = stores.setdefault(aptos_address(address), {})
        if data.get("type") == "0x1::fungible_asset::FungibleStore":
            slot["metadata"] = aptos_address(((data.get("data") or {}).get("metadata") or {}).get("inner", "0x0"))
        elif data.get("type") == "0x1::object::ObjectCore":
            slot["owner"] = aptos_address((data.get("data") or {}).get("owner", "0x0"))
    return stores


def movements(tx: dict[str, Any]) -> list[dict[str, Any]]:
    """Withdrawals (negative) and deposits (positive) per account and asset, both standards."""
    handles = _coin_of_handles(tx)
    stores = _fa_stores(tx)
    payload_coins = ((tx.get("payload") or {}).get("type_arguments") or [])
    out = []
    for event in tx.get("events") or []:
        kind = str(event.get("type") or "")
        data = event.get("data") or {}
        sign = 1 if kind.endswith(("DepositEvent", "CoinDeposit", "::Deposit")) else -1 if kind.endswith(
            ("WithdrawEvent", "CoinWithdraw", "::Withdraw")) else 0
        if not sign or "amount" not in data:
            continue
        amount = int(data["amount"]) * sign
        if kind.startswith("0x1::coin::") and kind.endswith(("DepositEvent", "WithdrawEvent")):
            guid = event.get("guid") or {}
            account = aptos_address(guid.get("account_address", "0x0"))
            asset = handles.get((account, str(guid.get("creation_number"))))
            if asset is None and len(payload_coins) == 1:
                asset = payload_coins[0]
            out.append({"account": account, "asset": asset or f"coin store of {account}", "amount": amount})
        elif kind.startswith("0x1::coin::"):
            out.append({"account": aptos_address(data.get("account", "0x0")), "asset": data.get("coin_type"),
                        "amount": amount})
        elif kind.startswith("0x1::fungible_asset::"):
            address = aptos_address(data.get("store", "0x0"))
            store = stores.get(address, {})
            # A store whose owner or asset the changes do not show is named by its own address.
            out.append({"account": store.get("owner") or address,
                        "asset": store.get("metadata") or f"fungible store {address}", "amount": amount})
    return out


def aptos_status(chain: ChainConfig, facts: AptosFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from a raw Aptos transaction. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    tx = facts.tx
    if tx is None:
        if facts.sighting is not None:
            expiry = int(facts.sighting.get("expiration_timestamp_secs") or 0)
            if expiry and facts.now > expiry:
                body.update({"status": "dropped", "expired_at": datetime.fromtimestamp(expiry, UTC).isoformat()})
        return body
    decimals = chain.native_decimals
    body["from"] = aptos_address(tx["sender"]) if tx.get("sender") else None
    body["sequence_number"] = int(tx["sequence_number"]) if tx.get("sequence_number") is not None else None
    if tx.get("type") == "pending_transaction":
        body.update({"status": "pending", "pending_reason": "in_mempool",
                     "expiration_timestamp_secs": int(tx.get("expiration_timestamp_secs") or 0)})
        return body
    gas = int(tx.get("gas_used") or 0) * int(tx.get("gas_unit_price") or 0)
    body.update({"block_number": int(tx["version"]) if tx.get("version") is not None else None,
                 "block_time": datetime.fromtimestamp(int(tx["timestamp"]) / 1_000_000, UTC)
                 if tx.get("timestamp") else None,
                 "fee": units(gas, decimals), "vm_status": tx.get("vm_status")})
    if tx.get("success") is False:
        body.update({"status": "failed", "failure": decode_vm_status(str(tx.get("vm_status") or "")),
                     "native_value": units(0, decimals)})
        return body
    moves = movements(tx)
    native, transfers = [], []
    senders: dict[str, str] = {}
    for move in moves:
        if move["amount"] < 0 and move["account"]:
            senders.setdefault(str(move["asset"]), move["account"])
    for move in (m for m in moves if m["amount"] > 0):
        asset = str(move["asset"])
        if asset in (APT_COIN, APT_FA):
            native.append({"from": senders.get(asset), "to": move["account"],
                           "amount": units(move["amount"], decimals)})
            continue
        token = chain.token_by_contract(asset) if asset.startswith("0x") else None
        transfers.append({"token": token.symbol if token else None, "contract": asset, "from": senders.get(asset),
                          "to": move["account"],
                          "amount": units(move["amount"], token.decimals) if token else str(move["amount"]),
                          "raw_amount": str(move["amount"]), "decimals": token.decimals if token else None})
    body.update({"status": "finalized", "confirmations": max(chain.required_confirmations, 1),
                 "native_transfers": native, "transfers": transfers,
                 "native_value": units(sum(int(m["amount"]) for m in moves if m["amount"] > 0
                                           and str(m["asset"]) in (APT_COIN, APT_FA)), decimals),
                 "to": native[0]["to"] if native else transfers[0]["to"] if transfers else None})
    return body


class AptosClient:
    """ChainClient for Aptos over the node REST API."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, cache: ResultCache,
                 urls: Sequence[str] | None = None, attempts: int = 2, backoff: float = 0.1) -> None:
        self.chain = chain
        self.cache = cache
        identity = Identity("GET", "", str(chain.chain_id), lambda body: str(body["chain_id"])) \
            if chain.chain_id is not None else None
        self.api = RestEndpoints(chain_key=chain.key, urls=urls or chain.rpc_urls, http=http, identity=identity,
                                 attempts=attempts, backoff=backoff)
        self.gate = asyncio.Semaphore(16)

    async def probe(self) -> bool:
        return await self.api.probe()

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        facts = await asyncio.gather(*(self._facts(h) for h in tx_hashes))
        pending = {f.tx_hash: {"expiration_timestamp_secs": f.tx.get("expiration_timestamp_secs"),
                               "sender": f.tx.get("sender"), "sequence_number": f.tx.get("sequence_number")}
                   for f in facts if f.tx is not None and f.tx.get("type") == "pending_transaction"}
        if pending:
            await self.cache.remember_sightings(self.chain.key, pending)
        return [aptos_status(self.chain, f, checked_at) for f in facts]

    async def _facts(self, tx_hash: str) -> AptosFacts:
        async with self.gate:
            answer = await self.api.request("GET", f"/transactions/by_hash/{tx_hash}", data_statuses=(404,))
        tx = answer.body if answer.status == 200 and isinstance(answer.body, dict) else None
        facts = AptosFacts(tx_hash=tx_hash, tx=tx, now=time.time())
        if tx is None:
            facts.sighting = await self.cache.sighting(self.chain.key, tx_hash)
        return facts
