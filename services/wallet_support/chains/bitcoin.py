"""Bitcoin over Esplora's REST API (blockstream/electrs, mempool.space): facts gathered, then a pure function
decides.

Confirmations come from the tip; `finalized` at the chain's required depth (6 by default). A mempool tx is
compared with the current fee estimates: under the rate for `fee_target_blocks`, it is `fee_too_low`, and the
fix that applies is named: RBF when an input signals it (sequence < 0xfffffffe), otherwise CPFP from the
recipient's output. A tx that left the mempool is `replaced` when its first input is now spent by another tx
(`speedup` when that one pays the same recipients, `cancel` when it pays only the sender back), else `dropped`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from services.wallet_support.cache import HeadMemo, ResultCache
from services.wallet_support.chains.base import RpcError, status_body
from services.wallet_support.chains.decoding import units
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.rest import Identity, RestEndpoints

RBF_MAX_SEQUENCE = 0xFFFFFFFE  # BIP125: any input with nSequence below this signals replaceability
CPFP_CHILD_VBYTES = 110  # a one-input one-output P2WPKH spend
INCREMENTAL_RELAY_SAT_VB = 1.0


@dataclass
class BitcoinFacts:
    tx_hash: str
    tip: int
    tx: dict[str, Any] | None = None
    fee_estimates: dict[str, float] | None = None
    sighting: dict[str, Any] | None = None  # what we saw of it in the mempool earlier
    spent_by: dict[str, Any] | None = None  # the tx now spending its first input (when it left the mempool)
    replaceable: bool | None = None  # Bitcoin Core's bip125-replaceable (inherited signalling included)
    unconfirmed_parents: list[str] | None = None  # Bitcoin Core's `depends`: it waits for these too
    answered_by: set[int] = field(default_factory=set)  # the endpoints whose answers these facts are
    # The height up to which a tx not found is known to be gone: set only when one node gave the tip and every
    # answer behind the verdict (and, on Bitcoin Core, has a synced txindex, without which it finds no mined tx).
    gone_seen_to: int | None = None


def signals_rbf(tx: dict[str, Any]) -> bool:
    return any(int(vin.get("sequence", 0xFFFFFFFF)) < RBF_MAX_SEQUENCE for vin in tx.get("vin") or [])


def vsize(tx: dict[str, Any]) -> int:
    return math.ceil(int(tx.get("weight") or 0) / 4) or int(tx.get("size") or 0)


def input_addresses(tx: dict[str, Any]) -> set[str]:
    return {str((vin.get("prevout") or {}).get("scriptpubkey_address")) for vin in tx.get("vin") or []
            if (vin.get("prevout") or {}).get("scriptpubkey_address")}


def payments(tx: dict[str, Any], decimals: int) -> list[dict[str, Any]]:
    """Outputs that pay someone else than the sender (change excluded); all outputs when every one goes back."""
    senders = input_addresses(tx)
    outputs = [{"to": o.get("scriptpubkey_address"), "raw_amount": int(o.get("value") or 0), "vout": i}
               for i, o in enumerate(tx.get("vout") or []) if o.get("scriptpubkey_address")]
    paid = [o for o in outputs if o["to"] not in senders] or outputs
    return [{**o, "amount": units(o["raw_amount"], decimals)} for o in paid]


def replacement_kind(original: dict[str, Any], replacement: dict[str, Any]) -> str:
    senders = input_addresses(original)
    new_outputs = {o.get("scriptpubkey_address") for o in replacement.get("vout") or []}
    if new_outputs and new_outputs <= senders:
        return "cancel"
    paid_before = {o.get("scriptpubkey_address") for o in original.get("vout") or []}
    if paid_before and paid_before <= new_outputs:  # the same outputs again (at a higher fee)
        return "speedup"
    return "other"


def _rate(value: float) -> str:
    return f"{value:.1f}"


def bitcoin_status(chain: ChainConfig, facts: BitcoinFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from raw Esplora facts. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    # The height this answer speaks for. The orders side un-pays a settled payment only on a gone answer at or past
    # its block, so a tx not found carries only the height its client could vouch for, never a tip from elsewhere.
    body["head_block"] = (facts.tip or None) if facts.tx is not None else facts.gone_seen_to
    tx = facts.tx or facts.sighting
    if tx is None:
        return body
    decimals = chain.native_decimals
    paid = payments(tx, decimals)
    senders = sorted(input_addresses(tx))
    body.update({"from": senders[0] if senders else None, "to": paid[0]["to"] if paid else None,
                 "native_value": units(sum(p["raw_amount"] for p in paid), decimals),
                 "native_transfers": [{"from": senders[0] if senders else None, "to": p["to"], "amount": p["amount"],
                                       "vout": p["vout"]} for p in paid],
                 "fee": units(int(tx.get("fee") or 0), decimals) if tx.get("fee") is not None else None,
                 "rbf": facts.replaceable if facts.replaceable is not None else signals_rbf(tx)})
    if facts.unconfirmed_parents:
        body["unconfirmed_parents"] = list(facts.unconfirmed_parents)
    if facts.tx is None:  # seen before, gone from the mempool now
        if facts.spent_by is not None and facts.spent_by.get("txid") is None:
            body.update({"status": "replaced"})  # its input was spent by a tx the backend cannot name
        elif facts.spent_by is not None and facts.spent_by.get("txid") != facts.tx_hash:
            body.update({"status": "replaced", "replaced_by": {
                "tx_hash": facts.spent_by["txid"],
                "kind": replacement_kind(tx, facts.spent_by["tx"]) if facts.spent_by.get("tx") else "other"}})
        else:
            body["status"] = "dropped"
        return body
    status = tx.get("status") or {}
    if status.get("confirmed"):
        height = int(status.get("block_height") or 0)
        confirmations = max(facts.tip - height + 1, 0) if facts.tip else 1
        body.update({"block_number": height, "confirmations": confirmations, "block_hash": status.get("block_hash"),
                     "block_time": datetime.fromtimestamp(int(status["block_time"]), UTC)
                     if status.get("block_time") else None,
                     "status": "finalized" if confirmations >= chain.required_confirmations else "confirmed"})
        return body
    size = vsize(tx)
    fee = int(tx.get("fee") or 0)
    rate = fee / size if size else 0.0
    body.update({"status": "pending", "pending_reason": "in_mempool", "vsize": size, "fee_rate": _rate(rate)})
    estimates = facts.fee_estimates or {}
    target = str(chain.fee_target_blocks)
    needed = estimates.get(target)
    if needed is None and estimates:  # the nearest target the node gives
        nearest = min(estimates, key=lambda k: abs(int(k) - chain.fee_target_blocks))
        needed = estimates[nearest]
    if needed is None:
        return body
    next_block = estimates.get("1", needed)
    body.update({"fee_rate_needed": _rate(needed), "fee_rate_next_block": _rate(next_block),
                 "fee_target_blocks": chain.fee_target_blocks})
    if rate < needed:
        rbf_fee = max(math.ceil(needed * size), fee + math.ceil(INCREMENTAL_RELAY_SAT_VB * size))
        child_fee = max(math.ceil(needed * (size + CPFP_CHILD_VBYTES)) - fee, math.ceil(needed * CPFP_CHILD_VBYTES))
        body.update({"pending_reason": "fee_too_low",
                     "fix": "rbf" if body["rbf"] else "cpfp",
                     "rbf_fee": units(rbf_fee, decimals), "cpfp_child_fee": units(child_fee, decimals),
                     "cpfp_child_vbytes": CPFP_CHILD_VBYTES})
    return body


def sighting_of(tx: dict[str, Any]) -> dict[str, Any]:
    keep = ("txid", "vin", "vout", "fee", "weight", "size")
    return {k: tx.get(k) for k in keep}


class BitcoinClient:
    """ChainClient for Bitcoin over Esplora."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, cache: ResultCache,
                 urls: Sequence[str] | None = None, attempts: int = 2, backoff: float = 0.1) -> None:
        self.chain = chain
        self.cache = cache
        identity = Identity("GET", "/block-height/0", chain.genesis_hash or "", lambda body: str(body).strip(),
                            text=True) if chain.genesis_hash else None
        self.api = RestEndpoints(chain_key=chain.key, urls=urls or chain.rpc_urls, http=http, identity=identity,
                                 attempts=attempts, backoff=backoff)
        self.gate = asyncio.Semaphore(16)
        self.tip = HeadMemo(ttl=min(chain.block_time_seconds, 60.0))

    async def probe(self) -> bool:
        return await self.api.probe()

    async def head(self) -> int:
        """The tip height (kept about a block time): cached final answers count their confirmations from it."""
        return await self.tip.get(self._tip)

    async def _tip(self) -> int:
        return (await self._tip_from())[0]

    async def _tip_from(self) -> tuple[int, int]:
        """The tip height and the endpoint that gave it."""
        answer = await self.api.request("GET", "/blocks/tip/height", text=True)
        return int(str(answer.body).strip()), answer.endpoint

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        tip, tip_from = await self._tip_from()
        self.tip.note(tip)
        facts = await asyncio.gather(*(self._facts(h, tip) for h in tx_hashes))
        for f in facts:
            if f.tx is None and f.answered_by == {tip_from}:  # an indexer at that tip has every tx up to it
                f.gone_seen_to = tip
        if any(f.tx is not None and not (f.tx.get("status") or {}).get("confirmed") for f in facts):
            estimates = (await self.api.request("GET", "/fee-estimates")).body or {}
            for f in facts:
                f.fee_estimates = {str(k): float(v) for k, v in estimates.items()}
        await self.cache.remember_sightings(self.chain.key, {
            f.tx_hash: sighting_of(f.tx) for f in facts
            if f.tx is not None and not (f.tx.get("status") or {}).get("confirmed")})
        return [bitcoin_status(self.chain, f, checked_at) for f in facts]

    async def _facts(self, tx_hash: str, tip: int) -> BitcoinFacts:
        async with self.gate:
            answer = await self.api.request("GET", f"/tx/{tx_hash}", data_statuses=(404,))
            facts = BitcoinFacts(tx_hash=tx_hash, tip=tip, answered_by={answer.endpoint})
            if answer.status == 200 and isinstance(answer.body, dict):
                facts.tx = answer.body
                return facts
            facts.sighting = await self.cache.sighting(self.chain.key, tx_hash)
            vin = ((facts.sighting or {}).get("vin") or [None])[0]
            if vin:
                spend = await self.api.request("GET", f"/tx/{vin['txid']}/outspend/{vin['vout']}")
                facts.answered_by.add(spend.endpoint)
                if isinstance(spend.body, dict) and spend.body.get("spent"):
                    replacement = await self.api.request("GET", f"/tx/{spend.body['txid']}", data_statuses=(404,))
                    facts.answered_by.add(replacement.endpoint)
                    facts.spent_by = {"txid": spend.body.get("txid"),
                                      "tx": replacement.body if isinstance(replacement.body, dict) else None}
            return facts


# -- Bitcoin Core JSON-RPC (second backend) ---------------------------------------------------------------------

CORE_NOT_FOUND = -5  # "No such mempool or blockchain transaction" (without txindex: confirmed ones too)


def _sats(btc: Any) -> int:
    """Bitcoin Core writes amounts as BTC floats: read them as decimals."""
    return int(Decimal(str(btc)).scaleb(8))


def _core_address(script: dict[str, Any]) -> str | None:
    if script.get("address"):
        return str(script["address"])
    addresses = script.get("addresses") or []  # before Core 22
    return str(addresses[0]) if addresses else None


def core_tx(raw: dict[str, Any], tip: int, entry: dict[str, Any] | None = None) -> dict[str, Any]:
    """A verbose `getrawtransaction` (and its `getmempoolentry` while unconfirmed) in Esplora's shape. Pure."""
    vin = []
    for item in raw.get("vin") or []:
        prev = item.get("prevout")  # verbosity 2 (Core 25+): the spent output and the fee
        vin.append({"txid": item.get("txid"), "vout": item.get("vout"), "sequence": item.get("sequence"),
                    "prevout": {"scriptpubkey_address": _core_address(prev.get("scriptPubKey") or {}),
                                "value": _sats(prev.get("value"))} if prev else None})
    vout = [{"scriptpubkey_address": _core_address(o.get("scriptPubKey") or {}), "value": _sats(o.get("value"))}
            for o in raw.get("vout") or []]
    fee: int | None = _sats(raw["fee"]) if raw.get("fee") is not None else None
    if fee is None and entry is not None:
        fee = _sats((entry.get("fees") or {}).get("base", entry.get("fee", 0)))
    confirmations = int(raw.get("confirmations") or 0)
    status: dict[str, Any] = {"confirmed": confirmations > 0}
    if confirmations > 0:
        status.update({"block_height": tip - confirmations + 1, "block_hash": raw.get("blockhash"),
                       "block_time": raw.get("blocktime")})
    size = int((entry or {}).get("vsize") or (entry or {}).get("size") or raw.get("vsize") or raw.get("size") or 0)
    return {"txid": raw.get("txid"), "vin": vin, "vout": vout, "fee": fee, "weight": raw.get("weight") or size * 4,
            "size": raw.get("size"), "status": status}


class BitcoinCoreClient:
    """ChainClient for Bitcoin over a Bitcoin Core node's JSON-RPC (a node without `txindex` finds only
    mempool transactions and its wallet's; with `txindex=1`, every one)."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, cache: ResultCache,
                 urls: Sequence[str] | None = None, attempts: int = 2, backoff: float = 0.1) -> None:
        self.chain = chain
        self.cache = cache
        identity = Identity("POST", "", chain.genesis_hash or "", lambda body: str(body["result"]),
                            body={"jsonrpc": "1.0", "id": 0, "method": "getblockhash", "params": [0]}) \
            if chain.genesis_hash else None
        self.api = RestEndpoints(chain_key=chain.key, urls=urls or chain.rpc_urls, http=http, identity=identity,
                                 attempts=attempts, backoff=backoff)
        self.gate = asyncio.Semaphore(16)
        self.tip = HeadMemo(ttl=min(chain.block_time_seconds, 60.0))

    async def call(self, method: str, params: list[Any], *, answered_by: set[int] | None = None) -> Any:
        # Core answers a JSON-RPC error with HTTP 404/500 and the error in the body.
        return await self.api.json_rpc(method, params, version="1.0", data_statuses=(404, 500),
                                       answered_by=answered_by)

    async def probe(self) -> bool:
        return await self.api.probe()

    async def head(self) -> int:
        return await self.tip.get(lambda: self._count())

    async def _count(self, answered_by: set[int] | None = None) -> int:
        return int(await self.call("getblockcount", [], answered_by=answered_by))

    async def _txindex_height(self, answered_by: set[int]) -> int | None:
        """The height a synced txindex has reached, or None: a node without one (or one still building it) answers
        -5 for mined txs too, so its "no such transaction" is no evidence that a tx left the chain."""
        try:
            info = await self.call("getindexinfo", ["txindex"], answered_by=answered_by)
        except RpcError:  # a node before Core 0.21, or one that refuses the call
            return None
        index = info.get("txindex") if isinstance(info, dict) else None
        if not isinstance(index, dict) or index.get("synced") is not True:
            return None
        return int(index.get("best_block_height") or 0) or None

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        tip_from: set[int] = set()
        tip = await self._count(tip_from)
        self.tip.note(tip)
        facts = await asyncio.gather(*(self._facts(h, tip) for h in tx_hashes))
        if missing := [f for f in facts if f.tx is None]:
            index_from: set[int] = set()
            indexed_to = await self._txindex_height(index_from)
            for f in missing:
                if len(f.answered_by | tip_from | index_from) == 1:
                    f.gone_seen_to = indexed_to
        if any(f.tx is not None and not f.tx["status"]["confirmed"] for f in facts):
            estimates = {}
            for target in sorted({1, self.chain.fee_target_blocks}):
                answer = await self.call("estimatesmartfee", [target])
                if isinstance(answer, dict) and answer.get("feerate") is not None:
                    estimates[str(target)] = float(Decimal(str(answer["feerate"])) * 100_000)  # BTC/kvB → sat/vB
            for f in facts:
                f.fee_estimates = estimates
        await self.cache.remember_sightings(self.chain.key, {
            f.tx_hash: sighting_of(f.tx) for f in facts if f.tx is not None and not f.tx["status"]["confirmed"]})
        return [bitcoin_status(self.chain, f, checked_at) for f in facts]

    async def _facts(self, tx_hash: str, tip: int) -> BitcoinFacts:
        facts = BitcoinFacts(tx_hash=tx_hash, tip=tip)
        async with self.gate:
            try:
                raw = await self.call("getrawtransaction", [tx_hash, 2], answered_by=facts.answered_by)
            except RpcError as exc:
                if exc.code != CORE_NOT_FOUND:
                    raise
                raw = None
            if isinstance(raw, dict):
                entry = None
                if not raw.get("confirmations"):
                    entry = await self.call("getmempoolentry", [tx_hash])
                    facts.replaceable = bool(entry.get("bip125-replaceable")) if isinstance(entry, dict) else None
                    facts.unconfirmed_parents = list((entry or {}).get("depends") or [])
                facts.tx = core_tx(raw, tip, entry if isinstance(entry, dict) else None)
                return facts
            facts.sighting = await self.cache.sighting(self.chain.key, tx_hash)
            vin = ((facts.sighting or {}).get("vin") or [None])[0]
            if vin:
                unspent = await self.call("gettxout", [vin["txid"], vin["vout"], True], answered_by=facts.answered_by)
                if unspent is None:  # its input is spent (or gone): by which tx, a node without an index cannot say
                    facts.spent_by = {"txid": None, "tx": None}
        return facts
