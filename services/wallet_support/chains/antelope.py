"""EOS (Antelope) over the chain API (`/v1/chain/get_info`, `/v1/chain/get_transaction_status`) and Hyperion's
`/v2/history/get_transaction`; a pure function decides.

In a block and not yet irreversible → confirmed; at or below the last irreversible block → finalized. A
transaction that failed never enters a block: its failure is the node's error body (`tx_cpu_usage_exceeded`,
`tx_net_usage_exceeded`, `ram_usage_exceeded` → out_of_resources; `eosio_assert_message_exception` → reverted
with the contract's message). Transfers carry their memo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from services.wallet_support.cache import HeadMemo
from services.wallet_support.chains.base import status_body
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.rest import Identity, RestEndpoints

RESOURCE_ERRORS = {"tx_cpu_usage_exceeded": "CPU", "tx_net_usage_exceeded": "NET", "ram_usage_exceeded": "RAM",
                   "leeway_deadline_exception": "CPU", "deadline_exception": "CPU"}
NOT_FOUND_STATES = {"UNKNOWN"}
NATIVE_CONTRACT = "eosio.token"


@dataclass
class AntelopeFacts:
    tx_hash: str
    head: int
    lib: int
    status: dict[str, Any] | None = None  # get_transaction_status
    history: dict[str, Any] | None = None  # Hyperion get_transaction, or v1 history get_transaction
    error: dict[str, Any] | None = None  # an Antelope error body answered for this transaction


def antelope_failure(error_body: dict[str, Any]) -> dict[str, Any] | None:
    """An Antelope error body → failure; None when it is not about the transaction itself. Pure."""
    inner = error_body.get("error")
    error: dict[str, Any] = inner if isinstance(inner, dict) else error_body
    name = str(error.get("name") or "")
    details = [str(d.get("message") or "") for d in error.get("details") or [] if isinstance(d, dict)]
    detail = next((d for d in details if d), str(error.get("what") or name))
    if name in RESOURCE_ERRORS:
        return {"reason": "out_of_resources", "resource": RESOURCE_ERRORS[name], "message": detail, "code": name}
    if name == "eosio_assert_message_exception":
        text = detail.split("assertion failure with message: ", 1)[-1]
        return {"reason": "reverted", "message": text, "code": name}
    if name in ("overdrawn_balance", "eosio_assert_code_exception") or "overdrawn balance" in detail:
        return {"reason": "insufficient_balance", "message": detail, "code": name}
    return None


def _quantity(value: str) -> tuple[str, str]:
    amount, _, symbol = str(value).strip().partition(" ")
    return amount, symbol


def _actions(history: dict[str, Any]) -> list[dict[str, Any]]:
    """Hyperion actions, or v1 history traces without the notifications (receiver == contract)."""
    if "actions" in history:
        return [{"act": a.get("act") or {}, "block_num": a.get("block_num"), "timestamp": a.get("@timestamp")
                 or a.get("timestamp")} for a in history.get("actions") or []]
    traces = history.get("traces") or []
    return [{"act": t.get("act") or {}, "block_num": t.get("block_num") or history.get("block_num"),
             "timestamp": t.get("block_time") or history.get("block_time")}
            for t in traces if (t.get("receipt") or {}).get("receiver") == (t.get("act") or {}).get("account")]


def antelope_status(chain: ChainConfig, facts: AntelopeFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from Antelope facts. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    if facts.error is not None:
        failure = antelope_failure(facts.error)
        if failure is not None:
            body.update({"status": "failed", "failure": failure})
            return body
    history = facts.history or {}
    actions = _actions(history) if history else []
    block: int | None = None
    if actions:
        block = int(actions[0].get("block_num") or 0) or None
    state = str((facts.status or {}).get("state") or "")
    if block is None and facts.status and facts.status.get("block_number"):
        block = int(facts.status["block_number"])
    lib = int(history.get("lib") or history.get("last_irreversible_block") or facts.lib or 0)
    head = max(int(history.get("head_block_num") or 0), facts.head)
    native: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    decimals = chain.native_decimals
    for action in actions:
        act = action["act"]
        data = act.get("data") or {}
        if act.get("name") != "transfer" or "quantity" not in data:
            continue
        amount, symbol = _quantity(data["quantity"])
        entry = {"from": data.get("from"), "to": data.get("to"), "amount": amount, "memo": data.get("memo") or ""}
        if act.get("account") == NATIVE_CONTRACT and symbol == chain.native_symbol:
            native.append(entry)
        else:
            token = chain.token_by_contract(str(act.get("account")))
            transfers.append({**entry, "token": token.symbol if token and token.symbol == symbol else None,
                              "contract": act.get("account"), "symbol": symbol,
                              "decimals": len(amount.partition(".")[2])})
    first = actions[0]["act"] if actions else {}
    auth = (first.get("authorization") or [{}])[0].get("actor") if first else None
    lead = (native or transfers or [{}])[0]
    body.update({"from": lead.get("from") or auth, "to": lead.get("to"), "memo": lead.get("memo"),
                 "native_value": f"{sum((Decimal(str(n['amount'])) for n in native), Decimal(0)):.{decimals}f}",
                 "native_transfers": native, "transfers": transfers,
                 "fee": f"{Decimal(0):.{decimals}f}"})
    timestamp = actions[0].get("timestamp") if actions else None
    if timestamp:
        body["block_time"] = datetime.fromisoformat(str(timestamp).rstrip("Z")).replace(tzinfo=UTC)
    if state == "LOCALLY_APPLIED" or (state == "FORKED_OUT" and block is None):
        body.update({"status": "pending", "pending_reason": "in_mempool"})
        return body
    if state == "FAILED":
        body.update({"status": "failed", "failure": {"reason": "other", "message": "the node reports it failed"}})
        return body
    if block is None:
        return body
    irreversible = bool(history.get("irreversible")) or state == "IRREVERSIBLE" or (lib and block <= lib)
    body.update({"block_number": block, "confirmations": max(head - block + 1, 1) if head else 1,
                 "irreversible": irreversible, "status": "finalized" if irreversible else "confirmed"})
    return body


class AntelopeClient:
    """ChainClient for EOS: chain API + Hyperion history, on the same endpoints (Hyperion serves both)."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, urls: Sequence[str] | None = None,
                 attempts: int = 2, backoff: float = 0.1) -> None:
        self.chain = chain
        identity = Identity("POST", "/v1/chain/get_info", chain.genesis_hash or "", lambda b: str(b["chain_id"]),
                            body={}) if chain.genesis_hash else None
        self.api = RestEndpoints(chain_key=chain.key, urls=urls or chain.rpc_urls, http=http, identity=identity,
                                 attempts=attempts, backoff=backoff)
        self.gate = asyncio.Semaphore(16)
        self.head_memo = HeadMemo(ttl=max(chain.block_time_seconds, 1.0))

    async def probe(self) -> bool:
        return await self.api.probe()

    async def head(self) -> int:
        """The head block (kept about a block time): cached final answers count their confirmations from it."""
        return await self.head_memo.get(self._head)

    async def _head(self) -> int:
        info = (await self.api.request("POST", "/v1/chain/get_info", json={})).body or {}
        return int(info.get("head_block_num") or 0)

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        info = (await self.api.request("POST", "/v1/chain/get_info", json={})).body or {}
        head, lib = int(info.get("head_block_num") or 0), int(info.get("last_irreversible_block_num") or 0)
        self.head_memo.note(head)
        facts = await asyncio.gather(*(self._facts(h, head, lib) for h in tx_hashes))
        return [antelope_status(self.chain, f, checked_at) for f in facts]

    async def _facts(self, tx_hash: str, head: int, lib: int) -> AntelopeFacts:
        facts = AntelopeFacts(tx_hash=tx_hash, head=head, lib=lib)
        async with self.gate:
            status = await self.api.request("POST", "/v1/chain/get_transaction_status", json={"id": tx_hash},
                                            data_statuses=(400, 404, 500))
            if status.status == 200 and isinstance(status.body, dict):
                facts.status = status.body
            elif isinstance(status.body, dict) and antelope_failure(status.body):
                facts.error = status.body
                return facts
            if facts.status and facts.status.get("state") == "LOCALLY_APPLIED":
                return facts
            history = await self.api.request("GET", "/v2/history/get_transaction", params={"id": tx_hash},
                                             data_statuses=(400, 404, 500))
            if history.status == 200 and isinstance(history.body, dict) and history.body.get("actions"):
                facts.history = history.body
                return facts
            if isinstance(history.body, dict) and antelope_failure(history.body):
                facts.error = history.body
                return facts
            # Nodes without Hyperion may still run the legacy history plugin.
            legacy = await self.api.request("POST", "/v1/history/get_transaction", json={"id": tx_hash},
                                            data_statuses=(400, 404, 500))
            if legacy.status == 200 and isinstance(legacy.body, dict) and legacy.body.get("traces"):
                facts.history = legacy.body
        return facts
