"""EVM chains: raw facts fetched in a few batched rounds through web3.py on our transport, then a pure
function turns them into the contract's status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from web3 import AsyncWeb3

from services.wallet_support.cache import HeadMemo, ResultCache
from services.wallet_support.chains.base import ChainUnavailable, RpcError, lagging_answer, status_body
from services.wallet_support.chains.decoding import decode_revert, evm_transfers, units
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.transport import HttpxProvider, RpcTransport

REPLACEMENT_SCAN_BLOCKS = 256


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value, 16) if isinstance(value, str) else int(value)


@dataclass
class EvmFacts:
    """What the chain said about one hash, gathered before deciding."""

    tx_hash: str
    head: int
    finalized: int | None
    tx: dict[str, Any] | None = None
    receipt: dict[str, Any] | None = None
    block_time: int | None = None
    revert_data: str | None = None
    revert_message: str | None = None
    replay_succeeded: bool = False
    nonce_latest: int | None = None
    nonce_pending: int | None = None
    next_base_fee: int | None = None
    sighting: dict[str, Any] | None = None  # what we saw of it earlier, when the node no longer has it
    replaced_by: dict[str, Any] | None = None
    lagging: int | None = None  # the block in question, when the node's head is below it
    extra: dict[str, Any] = field(default_factory=dict)


def _fees(tx: dict[str, Any]) -> int | None:
    return _int(tx.get("maxFeePerGas")) or _int(tx.get("gasPrice"))


def replacement_kind(original: dict[str, Any], replacement: dict[str, Any]) -> str:
    same = lambda key: str(original.get(key) or "0x").lower() == str(replacement.get(key) or "0x").lower()  # noqa: E731
    if (str(replacement.get("to") or "").lower() == str(replacement.get("from") or "").lower()
            and (_int(replacement.get("value")) or 0) == 0):
        return "cancel"
    if same("to") and same("value") and same("input"):
        return "speedup"
    return "other"


def evm_status(chain: ChainConfig, facts: EvmFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from raw EVM facts. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    # The answering node's head: a "not found" from a node behind the tx's block proves nothing.
    body.update(nonce=None, head_block=facts.head)
    tx, receipt = facts.tx, facts.receipt
    source = tx or facts.sighting
    if source:
        body.update({"from": (source.get("from") or "").lower() or None, "to": (source.get("to") or "").lower() or None,
                     "native_value": units(_int(source.get("value")) or 0, chain.native_decimals),
                     "nonce": _int(source.get("nonce"))})
    if receipt is not None:
        block = _int(receipt["blockNumber"]) or 0
        confirmations = max(facts.head - block + 1, 0)
        gas_used = _int(receipt.get("gasUsed")) or 0
        price = _int(receipt.get("effectiveGasPrice")) or (_int(tx.get("gasPrice")) if tx else None) or 0
        body.update({"block_number": block, "block_hash": receipt.get("blockHash"), "confirmations": confirmations,
                     "block_time": datetime.fromtimestamp(facts.block_time, UTC) if facts.block_time else None,
                     "fee": units(gas_used * price, chain.native_decimals),
                     "transfers": evm_transfers(receipt.get("logs") or [], chain)})
        if body["from"] is None:
            body["from"] = (receipt.get("from") or "").lower() or None
            body["to"] = (receipt.get("to") or "").lower() or None
        if _int(receipt.get("status")) == 0:
            gas_limit = _int(tx.get("gas")) if tx else None
            if gas_limit is not None and gas_used >= gas_limit and not facts.revert_data:
                failure = {"reason": "out_of_gas", "message": f"used all {gas_limit} gas of its limit"}
            else:
                message = facts.revert_message or decode_revert(facts.revert_data)
                if message is None:
                    message = ("reverted; replaying it at its block succeeded, so the reason depended on state "
                               "that has since changed") if facts.replay_succeeded else "reverted without a reason"
                failure = {"reason": "reverted", "message": message}
            body.update({"status": "failed", "failure": failure, "transfers": []})
            return body
        final = confirmations >= chain.required_confirmations or (
            chain.finality == "finalized_tag" and facts.finalized is not None and block <= facts.finalized)
        body["status"] = "finalized" if final else "confirmed"
        return body
    if tx is not None:
        body["status"] = "pending"
        nonce = _int(tx.get("nonce")) or 0
        if facts.nonce_pending is not None and facts.nonce_pending <= nonce and (facts.nonce_latest or 0) < nonce:
            body["pending_reason"] = "nonce_gap"
            body["missing_nonce"] = facts.nonce_pending
        elif facts.next_base_fee is not None and (_fees(tx) or 0) < facts.next_base_fee:
            body["pending_reason"] = "fee_too_low"
            body["max_fee_per_gas"] = str(_fees(tx))
            body["base_fee_per_gas"] = str(facts.next_base_fee)
        else:
            body["pending_reason"] = "in_mempool"
        return body
    if facts.sighting is not None and facts.nonce_latest is not None:
        nonce = _int(facts.sighting.get("nonce")) or 0
        if facts.nonce_latest > nonce:
            body["status"] = "replaced"
            body["replaced_by"] = facts.replaced_by
        else:
            body["status"] = "dropped"
        return body
    return body


def lagging_status(chain: ChainConfig, body: dict[str, Any], facts: EvmFacts) -> dict[str, Any]:
    """No endpoint at or past the block in question answered: we cannot tell, ask again in a few blocks. Pure."""
    return lagging_answer(body, node_head=facts.head, block=facts.lagging or facts.head,
                          block_time_seconds=chain.block_time_seconds)


def sighting_of(tx: dict[str, Any], head: int) -> dict[str, Any]:
    keep = ("from", "to", "value", "input", "nonce", "gas", "maxFeePerGas", "gasPrice")
    return {**{k: tx.get(k) for k in keep}, "seen_block": head}


class EvmClient:
    """ChainClient for an EVM chain."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, cache: ResultCache, batch_size: int = 100,
                 urls: Sequence[str] | None = None) -> None:
        self.chain = chain
        self.cache = cache
        self.transport = RpcTransport(chain_key=chain.key, chain_id=chain.chain_id, urls=urls or chain.rpc_urls,
                                      client=http, batch_size=batch_size)
        self.provider = HttpxProvider(self.transport)
        self.w3 = AsyncWeb3(self.provider)
        self.heads = HeadMemo(chain.block_time_seconds)

    async def probe(self) -> bool:
        return await self.transport.probe()

    async def head(self) -> int:
        """The chain's head, one cheap call at most per block time."""
        return await self.heads.get(self._fetch_head)

    async def _fetch_head(self) -> int:
        return _int(await self.transport.call("eth_blockNumber", [])) or 0

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        facts = await self.gather(tx_hashes)
        results = [evm_status(self.chain, f, checked_at) for f in facts]
        doubtful = [i for i, r in enumerate(results) if r["status"] == "not_found" or facts[i].lagging]
        if doubtful:
            await self._ask_elsewhere(tx_hashes, facts, results, doubtful, checked_at)
        return results

    async def _ask_elsewhere(self, tx_hashes: Sequence[str], facts: list[EvmFacts], results: list[dict[str, Any]],
                             doubtful: list[int], checked_at: datetime) -> None:
        """A lagging or pruned node says 'no such tx': before believing it, ask the next endpoints. An answer
        from a node whose head is below the block in question is never taken as 'not found' or 'dropped'."""
        confirmed_by = 1 if any(not facts[i].lagging for i in doubtful) else 0
        for index in range(1, len(self.transport.endpoints)):
            if not doubtful:
                break
            try:
                elsewhere = await self.gather([tx_hashes[i] for i in doubtful], start_at=index, stop_at=index + 1)
            except ChainUnavailable:
                continue
            still = []
            for i, fact in zip(doubtful, elsewhere, strict=True):
                answer = evm_status(self.chain, fact, checked_at)
                if fact.lagging or answer["status"] == "not_found":
                    if not fact.lagging and facts[i].lagging:
                        facts[i], results[i] = fact, answer
                    still.append(i)
                    continue
                facts[i], results[i] = fact, answer | {"answered_by_endpoint": index + 1}
            if any(not elsewhere[k].lagging for k, i in enumerate(doubtful) if i in still):
                confirmed_by += 1
            doubtful = still
        for i in doubtful:
            if facts[i].lagging:
                results[i] = lagging_status(self.chain, results[i], facts[i])
            elif results[i]["status"] == "not_found":
                results[i]["not_found_confirmed_by"] = max(confirmed_by, 1)

    async def _rpc(self, calls: list[tuple[str, list[Any]]], start_at: int, stop_at: int | None) -> list[Any]:
        if start_at == 0 and stop_at is None:
            return [_result(r) for r in await self.provider.make_batch_request(calls)]
        return await self.transport.batch(calls, start_at=start_at, stop_at=stop_at)

    async def gather(self, tx_hashes: Sequence[str], *, start_at: int = 0,
                     stop_at: int | None = None) -> list[EvmFacts]:
        """Two rounds of latency whatever the number of hashes or blocks: the head, each tx and receipt; then
        what those answers call for (block times, replays, nonces, the base fee), every chunk sent at once."""
        head_calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
        if self.chain.finality == "finalized_tag":
            head_calls.append(("eth_getBlockByNumber", ["finalized", False]))
        calls = head_calls + [c for h in tx_hashes for c in (("eth_getTransactionByHash", [h]),
                                                               ("eth_getTransactionReceipt", [h]))]
        answers = await self._rpc(calls, start_at, stop_at)
        refused = next((a for a in answers if isinstance(a, RpcError)), None)
        if refused is not None:
            # The node would not answer these reads: we know nothing, which is not "not found".
            raise ChainUnavailable(f"{self.chain.key} node refused the status calls ({refused})",
                                   retry_after=self.transport.pool.retry_after())
        head = _int(answers[0]) or 0
        finalized = None
        if self.chain.finality == "finalized_tag" and isinstance(answers[1], dict):
            finalized = _int(answers[1].get("number"))
        best = self.heads.best()
        if start_at == 0:
            self.heads.note(head)
        body = answers[len(head_calls):]
        facts = [EvmFacts(tx_hash=h, head=head, finalized=finalized,
                          tx=body[2 * i] if isinstance(body[2 * i], dict) else None,
                          receipt=body[2 * i + 1] if isinstance(body[2 * i + 1], dict) else None)
                 for i, h in enumerate(tx_hashes)]
        for f in facts:
            if f.receipt is not None:
                # A load-balanced endpoint can serve a receipt from a fresher backend than its head.
                f.head = max(f.head, _int(f.receipt.get("blockNumber")) or 0)
        await self._second_round(facts, start_at, stop_at)
        await self._mark_lagging(facts, best)
        return facts

    async def _mark_lagging(self, facts: list[EvmFacts], best_head: int | None) -> None:
        """'Not there' from a node whose head is below the block in question (where we know the tx was mined
        or seen, or the highest head this chain showed lately) says nothing: that node is lagging."""
        gone = [f for f in facts if f.receipt is None and f.tx is None]
        if not gone:
            return
        known = await self.cache.get_many(self.chain.key, [f.tx_hash for f in gone])
        for f, cached in zip(gone, known, strict=True):
            wanted = [b for b in (best_head, (cached or {}).get("block_number"),
                                  (f.sighting or {}).get("seen_block")) if b is not None]
            block = max((int(b) for b in wanted), default=None)
            if block is not None and f.head < block:
                f.lagging = block

    async def _second_round(self, facts: list[EvmFacts], start_at: int = 0, stop_at: int | None = None) -> None:
        calls: list[tuple[str, list[Any]]] = []
        handlers: list[tuple[EvmFacts, str]] = []
        blocks_needed: dict[int, list[EvmFacts]] = {}
        # Who sent it with which nonce, kept while it can still vanish (pending, or not yet final), so that a
        # later "gone" can be told apart as dropped or replaced. One pipelined write for the whole batch.
        await self.cache.remember_sightings(self.chain.key, {
            f.tx_hash: sighting_of(f.tx, f.head) for f in facts if f.tx is not None and (
                f.receipt is None or f.head - (_int(f.receipt["blockNumber"]) or 0) + 1
                < self.chain.required_confirmations)})
        seen_before = await self.cache.sightings_of(
            self.chain.key, [f.tx_hash for f in facts if f.receipt is None and f.tx is None])
        for f in facts:
            if f.receipt is not None:
                block = _int(f.receipt["blockNumber"]) or 0
                # Nodes that put the block's time on the receipt or the tx (anvil, reth, recent geth) save the
                # block lookups: a batch of mined txs is then one round trip.
                stamp = _int(f.receipt.get("blockTimestamp")) or _int((f.tx or {}).get("blockTimestamp"))
                cached = stamp or self.cache.block_time(self.chain.key, block, f.receipt.get("blockHash"))
                if cached is not None:
                    f.block_time = cached
                else:
                    blocks_needed.setdefault(block, []).append(f)
                if _int(f.receipt.get("status")) == 0 and f.tx is not None:
                    call = {k: f.tx.get(k) for k in ("from", "to", "value", "gas") if f.tx.get(k) is not None}
                    call["data"] = f.tx.get("input") or "0x"
                    calls.append(("eth_call", [call, hex(max(block - 1, 0))]))
                    handlers.append((f, "replay"))
            elif f.tx is not None:
                sender = f.tx["from"]
                calls += [("eth_getTransactionCount", [sender, "latest"]),
                          ("eth_getTransactionCount", [sender, "pending"])]
                handlers += [(f, "nonce_latest"), (f, "nonce_pending")]
            else:
                f.sighting = seen_before[f.tx_hash]
                if f.sighting is not None:
                    calls.append(("eth_getTransactionCount", [f.sighting["from"], "latest"]))
                    handlers.append((f, "nonce_latest"))
        if any(f.tx is not None and f.receipt is None for f in facts):
            calls.append(("eth_feeHistory", [1, "latest", []]))
            handlers.append((facts[0], "fee_history"))
        for block in blocks_needed:
            calls.append(("eth_getBlockByNumber", [hex(block), False]))
            handlers.append((blocks_needed[block][0], "block"))
        if not calls:
            return
        results = await self._rpc(calls, start_at, stop_at)
        next_base_fee = None
        for (f, kind), answer in zip(handlers, results, strict=True):
            error = _error(answer)
            value = None if error else answer
            if kind == "replay":
                if error:
                    f.revert_data = _revert_data(error)
                    if f.revert_data is None and isinstance(error, dict):
                        f.revert_message = _message_reason(str(error.get("message", "")))
                else:
                    f.replay_succeeded = True
            elif kind in ("nonce_latest", "nonce_pending") and not error:
                setattr(f, kind, _int(value))
            elif kind == "fee_history" and not error and isinstance(value, dict):
                fees = value.get("baseFeePerGas") or []
                next_base_fee = _int(fees[-1]) if fees else None
            elif kind == "block" and not error and isinstance(value, dict):
                timestamp = _int(value.get("timestamp"))
                for waiting in blocks_needed[_int(value["number"]) or 0]:
                    waiting.block_time = timestamp
                if timestamp is not None:
                    self.cache.remember_block_time(self.chain.key, _int(value["number"]) or 0, value.get("hash"),
                                                   timestamp)
        for f in facts:
            if f.tx is not None and f.receipt is None:
                f.next_base_fee = next_base_fee
        replaced = [f for f in facts if f.sighting is not None and f.nonce_latest is not None
                    and f.nonce_latest > (_int(f.sighting.get("nonce")) or 0)]
        if replaced:
            await self._find_replacements(replaced, start_at, stop_at)

    async def _find_replacements(self, replaced: list[EvmFacts], start_at: int, stop_at: int | None) -> None:
        """Which tx took each vanished one's nonce: the blocks since it was seen, all in one round."""
        wanted: dict[int, list[EvmFacts]] = {}
        for facts in replaced:
            sighting = facts.sighting or {}
            start = max(int(sighting.get("seen_block") or facts.head) - 1, 0)
            for number in range(start, min(facts.head, start + REPLACEMENT_SCAN_BLOCKS) + 1):
                wanted.setdefault(number, []).append(facts)
        numbers = sorted(wanted)
        blocks = await self._rpc([("eth_getBlockByNumber", [hex(n), True]) for n in numbers], start_at, stop_at)
        for number, block in zip(numbers, blocks, strict=True):
            for tx in block.get("transactions") or [] if isinstance(block, dict) else []:
                for facts in wanted[number]:
                    sighting = facts.sighting or {}
                    same_sender = str(tx.get("from", "")).lower() == str(sighting.get("from", "")).lower()
                    same_nonce = _int(tx.get("nonce")) == _int(sighting.get("nonce"))
                    if facts.replaced_by is None and same_sender and same_nonce:
                        facts.replaced_by = {"tx_hash": tx["hash"], "kind": replacement_kind(sighting, tx)}


def _error(answer: Any) -> dict[str, Any] | None:
    if isinstance(answer, RpcError):
        return {"code": answer.code, "message": answer.message, "data": answer.data}
    return None


def _result(raw: Any) -> Any:
    if raw.get("error"):
        return RpcError.of(raw["error"])
    return raw.get("result")


def _revert_data(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x..."}}
        data = data.get("data") or data.get("result")
    if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
        return data
    return None


def _message_reason(message: str) -> str | None:
    prefix = "execution reverted"
    if message.startswith(prefix):
        reason = message[len(prefix):].lstrip(": ").strip()
        return reason or None
    return None
