"""Rules of the wallet help desk: statuses (cached when final), payment verdicts and answers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.wallet_support import catalog
from services.wallet_support.cache import ResultCache, with_confirmations
from services.wallet_support.chains.addresses import (
    ADDRESS_SHAPES,
    HASH_SHAPES,
    hash_family,
    normalize_address,
    normalize_hash,
)
from services.wallet_support.chains.base import ChainClient, ChainError, ChainUnavailable, RpcError
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.errors import BadAddress, BadTxHash, UnknownChain, UnknownToken
from services.wallet_support.verdict import Expected, Verdict, verify_payment


def unknown_status(chain: ChainConfig, tx_hash: str, retry_after: int) -> dict[str, Any]:
    return {"chain": chain.key, "tx_hash": tx_hash, "status": "unknown", "confirmations": 0,
            "required_confirmations": chain.required_confirmations, "block_number": None, "block_time": None,
            "from": None, "to": None, "native_value": None, "fee": None, "transfers": [], "failure": None,
            "replaced_by": None, "pending_reason": None, "retry_after": retry_after,
            "checked_at": datetime.now(UTC)}


@dataclass
class WalletService:
    chains: dict[str, ChainConfig]
    clients: dict[str, ChainClient]
    cache: ResultCache
    merchants: dict[str, str]
    tolerance: Decimal = Decimal("0")

    # -- input --------------------------------------------------------------------------------------------

    def chain(self, key: str) -> ChainConfig:
        chain = self.chains.get(key.strip().lower())
        if chain is None:
            raise UnknownChain(f"Unknown chain {key!r}; use one of: {', '.join(sorted(self.chains))}.",
                               errors=[{"field": "chain", "message": f"one of {', '.join(sorted(self.chains))}"}])
        return chain

    def tx_hash(self, chain: ChainConfig, value: str, field: str = "tx_hash") -> str:
        normalized = normalize_hash(chain, value)
        if normalized is not None:
            return normalized
        family = hash_family(value.strip())
        fits = sorted(c.key for c in self.chains.values() if c.family == family) if family else []
        hint = f" This value has the shape of a {', '.join(fits)} hash." if fits else ""
        raise BadTxHash(f"A {chain.key} transaction hash is {HASH_SHAPES[chain.family]}.{hint}",
                        errors=[{"field": field, "message": f"expected {HASH_SHAPES[chain.family]}",
                                 "fits_chains": fits}])

    def address(self, chain: ChainConfig, value: str, field: str) -> str:
        try:
            return normalize_address(chain, value)
        except ValueError as exc:
            raise BadAddress(f"{field} is not a valid {chain.key} address: {exc}.",
                             errors=[{"field": field, "message": str(exc),
                                      "expected": ADDRESS_SHAPES[chain.family]}]) from exc

    def expected(self, chain: ChainConfig, to: str | None, token: str, amount: Decimal,
                 min_confirmations: int | None, field: str = "expected") -> Expected:
        symbol = token.strip().upper()
        if symbol != chain.native_symbol.upper() and symbol not in chain.tokens:
            known = ", ".join([chain.native_symbol, *chain.tokens])
            raise UnknownToken(f"{token} is not a known token on {chain.key}; use one of: {known}.",
                               errors=[{"field": f"{field}.token", "message": f"one of {known}"}])
        if amount <= 0:
            raise BadAddress("The expected amount must be positive.",
                             errors=[{"field": f"{field}.amount", "message": "must be greater than 0"}])
        recipient = to or self.merchants.get(chain.key)
        if not recipient:
            raise BadAddress(f"No recipient given and MERCHANT_ADDRESS_{chain.key.upper()} is not set.",
                             errors=[{"field": f"{field}.to", "message": "required"}])
        return Expected(to=self.address(chain, recipient, f"{field}.to"), token=symbol, amount=amount,
                        min_confirmations=min_confirmations)

    # -- status -------------------------------------------------------------------------------------------

    async def statuses(self, refs: Sequence[tuple[ChainConfig, str]], *, look_elsewhere: bool = True,
                       fresh: bool = False) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(refs)
        by_chain: dict[str, list[int]] = {}
        for index, (chain, _) in enumerate(refs):
            by_chain.setdefault(chain.key, []).append(index)

        async def one_chain(key: str, indexes: list[int]) -> None:
            chain = self.chains[key]
            hashes = [refs[i][1] for i in indexes]
            cached = [None] * len(hashes) if fresh else await self.cache.get_many(key, hashes)
            todo = [(i, h) for i, h, c in zip(indexes, hashes, cached, strict=True) if c is None]
            if todo:
                unique = list(dict.fromkeys(h for _, h in todo))
                try:
                    fetched = await self.clients[key].statuses(unique)
                except ChainUnavailable as exc:
                    fetched = [unknown_status(chain, h, exc.retry_after) for h in unique]
                except RpcError as exc:
                    fetched = [unknown_status(chain, h, 30) | {"error": exc.message} for h in unique]
                await self.cache.put_many(key, fetched)
                by_hash = {s["tx_hash"]: s for s in fetched}
                for i, h in todo:
                    results[i] = dict(by_hash[h])
            hits = [(i, c) for i, c in zip(indexes, cached, strict=True) if c is not None]
            if hits:
                # Cached are the facts (block number and hash); confirmations are counted from the head now:
                # one cheap call per chain and request, itself kept about a block time (free after a fetch).
                head = await self._head(key)
                for i, c in hits:
                    results[i] = with_confirmations(c, head)

        await asyncio.gather(*(one_chain(k, v) for k, v in by_chain.items()))
        final = [r for r in results if r is not None]
        if look_elsewhere:
            await self._mention_other_chains(final)
        return final

    async def _head(self, key: str) -> int | None:
        """The chain's current head when its client can tell (None: keep the cached count)."""
        head = getattr(self.clients[key], "head", None)
        if head is None:
            return None
        try:
            return int(await head())
        except ChainError:
            return None

    async def status(self, chain: ChainConfig, tx_hash: str, *, fresh: bool = False) -> dict[str, Any]:
        [result] = await self.statuses([(chain, tx_hash)], fresh=fresh)
        return result

    async def _mention_other_chains(self, statuses: list[dict[str, Any]]) -> None:
        """A hash not found where it was asked may be on another configured chain of the same family."""
        missing = [s for s in statuses if s["status"] == "not_found"]
        if not missing:
            return
        lookups: list[tuple[ChainConfig, str]] = []
        for s in missing:
            asked = self.chains[s["chain"]]
            lookups += [(c, s["tx_hash"]) for c in self.chains.values()
                        if c.family == asked.family and c.key != asked.key]
        if not lookups:
            return
        found = await self.statuses(lookups, look_elsewhere=False)
        seen: dict[str, list[str]] = {}
        for s in found:
            if s["status"] not in ("not_found", "unknown"):
                seen.setdefault(s["tx_hash"], []).append(s["chain"])
        for s in missing:
            s["found_on"] = seen.get(s["tx_hash"], [])

    # -- verification -------------------------------------------------------------------------------------

    async def verify(self, chain: ChainConfig, tx_hash: str, expected: Expected, lang: str,
                     fresh: bool = False) -> dict[str, Any]:
        status = await self.status(chain, tx_hash, fresh=fresh)
        verdict = verify_payment(chain, status, expected, found_on=status.get("found_on"), tolerance=self.tolerance)
        return verdict_body(verdict, status, lang)

    # -- questions ----------------------------------------------------------------------------------------

    async def answer(self, *, topic: str, chain: ChainConfig, tx_hash: str | None, address: str | None,
                     order_number: str | None, expected: Expected | None, lang: str,
                     merchant: str | None = None) -> dict[str, Any]:
        status = await self.status(chain, tx_hash) if tx_hash else None
        checks = status_checks(chain, status, lang) if status else []
        if topic == "payment_not_credited" and status is not None:
            return self._credited(chain, status, expected, order_number, lang, checks, merchant)
        key, params = answer_key(topic, chain, status, address)
        return {"topic": topic, "lang": lang, "answer": catalog.say(lang, "answer", key, params), "status": status,
                "checks": checks, "next_steps": catalog.steps(lang, key, params), "verdict": None}

    def _credited(self, chain: ChainConfig, status: dict[str, Any], expected: Expected | None,
                  order_number: str | None, lang: str, checks: list[str], merchant: str | None) -> dict[str, Any]:
        params = {"chain": chain.key, "status": status["status"], "order_number": order_number or "—"}
        if expected is None:
            if merchant is None:
                text = catalog.say(lang, "answer", "credited_no_merchant", params)
            else:
                # No amount to compare with: say what reached the merchant, and let the order number do the rest.
                sent = [f"{t['amount']} {t.get('token') or t['contract']}" for t in status.get("transfers") or []
                        if str(t.get("to")).lower() == merchant.lower()]
                if str(status.get("to") or "").lower() == merchant.lower() and \
                        Decimal(status.get("native_value") or "0") > 0:
                    sent.append(f"{status['native_value']} {chain.native_symbol}")
                key = "credited_sent" if sent else "credited_nothing"
                text = catalog.say(lang, "answer", key, {**params, "sent": ", ".join(sent), "to": merchant})
            return {"topic": "payment_not_credited", "lang": lang, "answer": text, "status": status,
                    "checks": checks, "next_steps": catalog.steps(lang, "credited", params), "verdict": None}
        verdict = verify_payment(chain, status, expected, found_on=status.get("found_on"), tolerance=self.tolerance)
        body = verdict_body(verdict, status, lang)
        key = "credited_paid" if verdict.verdict in ("paid", "overpaid") else "credited_not"
        checks.append(catalog.say(lang, "check", "verdict", {"to": expected.to, "verdict": verdict.verdict}))
        return {"topic": "payment_not_credited", "lang": lang, "verdict": verdict.verdict, "status": status,
                "answer": catalog.say(lang, "answer", key, {**params, "explanation": body["explanation"]}),
                "checks": checks, "next_steps": catalog.steps(lang, "credited", params)}


def verdict_body(verdict: Verdict, status: dict[str, Any], lang: str) -> dict[str, Any]:
    params = {**verdict.params, "pending_reason": catalog.CATALOG[lang]["pending_reason"].get(
        str(verdict.params.get("pending_reason")), verdict.params.get("pending_reason"))}
    if verdict.verdict == "unknown":
        params["retry_after"] = status.get("retry_after") or 30
    return {"verdict": verdict.verdict, "tx": status,
            "paid_amount": str(verdict.paid_amount) if verdict.paid_amount is not None else None,
            "difference": str(verdict.difference) if verdict.difference is not None else None,
            "explanation": catalog.say(lang, "verdict", verdict.reason, params),
            "found_on": status.get("found_on") or [], "retry_after": status.get("retry_after")}


def status_checks(chain: ChainConfig, status: dict[str, Any], lang: str) -> list[str]:
    """The facts an agent would read off an explorer, in the asker's language."""
    say = lambda key, params: catalog.say(lang, "check", key, params)  # noqa: E731
    checks = [say("status", {"chain": chain.key, "status": status["status"]})]
    if status.get("block_number") is not None:
        checks.append(say("block", status))
    if status.get("failure"):
        checks.append(say("failure", status["failure"]))
    if status.get("fee"):
        checks.append(say("fee", {"fee": status["fee"], "native": chain.native_symbol}))
    if status.get("resources") and status.get("block_number") is not None:
        checks.append(say("resources", status["resources"]))
    if status.get("pending_reason"):
        checks.append(say("pending_reason", {"pending_reason": catalog.CATALOG[lang]["pending_reason"].get(
            status["pending_reason"], status["pending_reason"])}))
    for transfer in status.get("transfers") or []:
        checks.append(say("transfer", {**transfer, "token": transfer.get("token") or transfer.get("contract")}))
    if status.get("found_on"):
        checks.append(say("found_on", {"found_on": ", ".join(status["found_on"])}))
    if status.get("replaced_by"):
        checks.append(say("replaced_by", {"replaced_by": status["replaced_by"]["tx_hash"],
                                          "kind": status["replaced_by"]["kind"]}))
    return checks


def _gwei(value: Any) -> str:
    return f"{Decimal(int(value)) / Decimal(10**9):.2f}" if value is not None else "—"


def answer_key(topic: str, chain: ChainConfig, status: dict[str, Any] | None,
               address: str | None) -> tuple[str, dict[str, Any]]:
    """Which catalog answer fits what the chain says, with its facts. Pure."""
    state = status["status"] if status else "not_found"
    params: dict[str, Any] = {**(status or {}), "chain": chain.key, "native": chain.native_symbol,
                              "address": address, "status": state}
    if status and status.get("resources"):
        params.update(status["resources"])
    if status and status.get("failure"):
        params.update({"message": status["failure"].get("message"), "reason": status["failure"].get("reason")})
    if status and status.get("replaced_by"):
        params.update({"replaced_by": status["replaced_by"]["tx_hash"], "kind": status["replaced_by"]["kind"]})
    params["remaining"] = max(chain.required_confirmations - int(params.get("confirmations") or 0), 0)
    params["max_fee_gwei"] = _gwei(params.get("max_fee_per_gas"))
    params["base_fee_gwei"] = _gwei(params.get("base_fee_per_gas"))
    if topic == "tx_failed":
        if state == "failed":
            return f"failed.{status['failure']['reason']}" if status else "failed.other", params
        if state in ("confirmed", "finalized", "pending"):
            return "not_failed", params
    if topic == "token_not_showing" and status and state in ("confirmed", "finalized"):
        mine = [t for t in status.get("transfers") or [] if address and str(t.get("to")).lower() == address.lower()]
        if not mine:
            return "token_none", params
        transfer = mine[0]
        params.update({"amount": transfer["amount"], "token": transfer.get("token"), "contract": transfer["contract"]})
        return ("token_received" if transfer.get("token") else "token_unknown"), params
    if topic == "token_not_showing" and status and state == "pending":
        return "token_not_final", params
    if topic == "wrong_network":
        if state in ("not_found",):
            others = (status or {}).get("found_on") or []
            if others:
                return "network_wrong", {**params, "found_on": ", ".join(others)}
            return "network_none", {**params, "checked": chain.key}
        if state != "unknown":
            return "network_right", params
    if state == "pending":
        return f"pending.{(status or {}).get('pending_reason') or 'in_mempool'}", params
    if state == "failed":
        return f"failed.{status['failure']['reason']}" if status else "failed.other", params
    return state, params
