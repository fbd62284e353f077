"""Rules of the wallet help desk: statuses (cached when final), payment verdicts and answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.wallet_support import catalog
from services.wallet_support.cache import ResultCache, with_confirmations
from services.wallet_support.chains.addresses import (
    ADDRESS_SHAPES,
    HASH_SHAPES,
    hash_families,
    normalize_address,
    normalize_hash,
)
from services.wallet_support.chains.base import ChainClient, ChainError, ChainUnavailable, RpcError, status_body
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.errors import BadAddress, BadTxHash, UnknownChain, UnknownToken
from services.wallet_support.verdict import Expected, Verdict, native_legs, same_address, verify_payment


def unknown_status(chain: ChainConfig, tx_hash: str, retry_after: int) -> dict[str, Any]:
    body = status_body(chain.key, tx_hash, chain.required_confirmations, datetime.now(UTC))
    body.update(status="unknown", retry_after=retry_after)
    return body


@dataclass
class WalletService:
    chains: dict[str, ChainConfig]
    clients: dict[str, ChainClient]
    cache: ResultCache
    merchants: dict[str, str]
    tolerance: Decimal = Decimal("0")
    probe_ttl: float = 30.0
    probe_timeout: float = 3.0
    elsewhere_timeout: float = 5.0  # a not-found hash is looked up on the other chains for at most this long
    _reachable: dict[str, tuple[bool, float]] = field(default_factory=dict)

    # -- chains -------------------------------------------------------------------------------------------

    async def reachability(self) -> dict[str, bool]:
        """Whether each chain has an endpoint of the right network answering, probed at most every probe_ttl."""
        now = time.monotonic()
        stale = [k for k in self.clients if now - self._reachable.get(k, (False, -1e9))[1] > self.probe_ttl]

        async def probe(key: str) -> None:
            try:
                ok = await asyncio.wait_for(self.clients[key].probe(), self.probe_timeout)
            except (TimeoutError, ChainError):
                ok = False
            self._reachable[key] = (ok, time.monotonic())

        await asyncio.gather(*(probe(k) for k in stale))
        return {k: v[0] for k, v in self._reachable.items()}

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
        families = hash_families(value.strip())
        fits = sorted(c.key for c in self.chains.values() if c.family in families)
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
        """A hash not found where it was asked may be on another configured chain whose hashes have its shape,
        of any family (64 hex: TRON, Bitcoin, EOS; 0x + 64 hex: EVM chains, Aptos, Polkadot, Kusama)."""
        missing = [s for s in statuses if s["status"] == "not_found"]
        if not missing:
            return
        lookups: list[tuple[ChainConfig, str]] = []
        asked_as: dict[tuple[str, str], str] = {}
        for s in missing:
            families = hash_families(s["tx_hash"])
            for other in self.chains.values():
                if other.key == s["chain"] or other.family not in families:
                    continue
                normalized = normalize_hash(other, s["tx_hash"])
                if normalized is not None:
                    lookups.append((other, normalized))
                    asked_as[(other.key, normalized)] = s["tx_hash"]
        if not lookups:
            return
        by_chain: dict[str, list[tuple[ChainConfig, str]]] = {}
        for other, normalized in {(c.key, h): (c, h) for c, h in lookups}.values():
            by_chain.setdefault(other.key, []).append((other, normalized))

        async def ask(group: list[tuple[ChainConfig, str]]) -> list[dict[str, Any]]:
            # Each chain gets a bounded time: a slow chain is not where the answer waits.
            try:
                return await asyncio.wait_for(self.statuses(group, look_elsewhere=False), self.elsewhere_timeout)
            except TimeoutError:
                return []

        found = [s for group in await asyncio.gather(*(ask(g) for g in by_chain.values())) for s in group]
        seen: dict[str, list[str]] = {}
        for s in found:
            if s["status"] not in ("not_found", "unknown"):
                original = asked_as.get((s["chain"], s["tx_hash"]), s["tx_hash"])
                seen.setdefault(original, []).append(s["chain"])
        for s in missing:
            s["found_on"] = sorted(seen.get(s["tx_hash"], []))

    # -- verification -------------------------------------------------------------------------------------

    async def verify(self, chain: ChainConfig, tx_hash: str, expected: Expected, lang: str,
                     fresh: bool = False) -> dict[str, Any]:
        status = await self.status(chain, tx_hash, fresh=fresh)
        verdict = verify_payment(chain, status, expected, found_on=status.get("found_on"), tolerance=self.tolerance)
        return verdict_body(verdict, status, lang, chain.family)

    # -- questions ----------------------------------------------------------------------------------------

    async def answer(self, *, topic: str, chain: ChainConfig, tx_hash: str | None, address: str | None,
                     order_number: str | None, expected: Expected | None, lang: str,
                     merchant: str | None = None) -> dict[str, Any]:
        status = await self.status(chain, tx_hash) if tx_hash else None
        facts: dict[str, Any] = {}
        if topic == "token_not_showing" and status and address and status["status"] in ("confirmed", "finalized"):
            facts = await self._account_facts(chain, address, status)
        checks = status_checks(chain, status, lang, facts) if status else []
        if topic == "payment_not_credited" and status is not None:
            return self._credited(chain, status, expected, order_number, lang, checks, merchant)
        key, params = answer_key(topic, chain, status, address, facts)
        params["ata_state"] = catalog.CATALOG[lang]["words"]["exists" if facts.get("ata_exists") else "missing"]
        family = chain.family
        return {"topic": topic, "lang": lang, "answer": catalog.say(lang, "answer", key, params, family),
                "status": status, "checks": checks, "next_steps": catalog.steps(lang, key, params, family),
                "verdict": None}

    async def _account_facts(self, chain: ChainConfig, address: str, status: dict[str, Any]) -> dict[str, Any]:
        """What a family can tell about the asker's account (Solana: its associated token account). Best effort:
        the answer stands without it."""
        getter = getattr(self.clients.get(chain.key), "account_facts", None)
        if getter is None:
            return {}
        try:
            facts: dict[str, Any] = await getter(address, status)
        except (ChainError, ValueError, KeyError):
            return {}
        return facts

    def _credited(self, chain: ChainConfig, status: dict[str, Any], expected: Expected | None,
                  order_number: str | None, lang: str, checks: list[str], merchant: str | None) -> dict[str, Any]:
        params = {"chain": chain.key, "status": status["status"], "order_number": order_number or "—"}
        recipient = expected.to if expected is not None else merchant
        memo_less = missing_memo(chain, status, recipient) if recipient else []
        if memo_less:
            # An exchange account that credits by memo got a deposit without one: that is the whole story.
            memo_params = {**params, "sent": ", ".join(memo_less), "to": recipient}
            return {"topic": "payment_not_credited", "lang": lang, "status": status, "checks": checks,
                    "verdict": None if expected is None else verify_payment(
                        chain, status, expected, found_on=status.get("found_on"), tolerance=self.tolerance).verdict,
                    "answer": catalog.say(lang, "answer", "credited_memo_missing", memo_params),
                    "next_steps": catalog.steps(lang, "credited_memo_missing", memo_params)}
        if expected is None:
            if merchant is None:
                text = catalog.say(lang, "answer", "credited_no_merchant", params)
            else:
                # No amount to compare with: say what reached the merchant, and let the order number do the rest.
                sent = sent_to(chain, status, merchant)
                key = "credited_sent" if sent else "credited_nothing"
                text = catalog.say(lang, "answer", key, {**params, "sent": ", ".join(sent), "to": merchant})
            return {"topic": "payment_not_credited", "lang": lang, "answer": text, "status": status,
                    "checks": checks, "next_steps": catalog.steps(lang, "credited", params), "verdict": None}
        verdict = verify_payment(chain, status, expected, found_on=status.get("found_on"), tolerance=self.tolerance)
        body = verdict_body(verdict, status, lang, chain.family)
        key = "credited_paid" if verdict.verdict in ("paid", "overpaid") else "credited_not"
        checks.append(catalog.say(lang, "check", "verdict", {"to": expected.to, "verdict": verdict.verdict}))
        return {"topic": "payment_not_credited", "lang": lang, "verdict": verdict.verdict, "status": status,
                "answer": catalog.say(lang, "answer", key, {**params, "explanation": body["explanation"]}),
                "checks": checks, "next_steps": catalog.steps(lang, "credited", params)}


def sent_to(chain: ChainConfig, status: dict[str, Any], recipient: str) -> list[str]:
    """What this tx moved to the recipient, as "amount symbol" strings. Pure."""
    sent = [f"{t['amount']} {t.get('token') or t.get('symbol') or t['contract']}" for t in status.get("transfers") or []
            if same_address(chain, t.get("to"), recipient)]
    native = [leg for leg in native_legs(status) if same_address(chain, leg.get("to"), recipient)]
    if native:
        total = sum((Decimal(str(leg["amount"])) for leg in native), Decimal(0))
        sent.append(f"{total:.{chain.native_decimals}f} {chain.native_symbol}")
    return sent


def missing_memo(chain: ChainConfig, status: dict[str, Any], recipient: str) -> list[str]:
    """Transfers without a memo to an account that credits deposits by memo (an exchange on EOS). Pure."""
    if recipient not in chain.memo_required:
        return []
    legs = [*(status.get("native_transfers") or []), *(status.get("transfers") or [])]
    return [f"{leg['amount']} {leg.get('token') or leg.get('symbol') or chain.native_symbol}" for leg in legs
            if leg.get("to") == recipient and not str(leg.get("memo") or "").strip()]


def verdict_body(verdict: Verdict, status: dict[str, Any], lang: str, family: str | None = None) -> dict[str, Any]:
    params = {**verdict.params, "pending_reason": catalog.CATALOG[lang]["pending_reason"].get(
        str(verdict.params.get("pending_reason")), verdict.params.get("pending_reason"))}
    if verdict.verdict == "unknown":
        params["retry_after"] = status.get("retry_after") or 30
    return {"verdict": verdict.verdict, "tx": status,
            "paid_amount": str(verdict.paid_amount) if verdict.paid_amount is not None else None,
            "difference": str(verdict.difference) if verdict.difference is not None else None,
            "explanation": catalog.say(lang, "verdict", verdict.reason, params, family),
            "found_on": status.get("found_on") or [], "retry_after": status.get("retry_after")}


def status_checks(chain: ChainConfig, status: dict[str, Any], lang: str,
                  facts: dict[str, Any] | None = None) -> list[str]:
    """The facts an agent would read off an explorer, in the asker's language."""
    say = lambda key, params: catalog.say(lang, "check", key, params)  # noqa: E731
    words = catalog.CATALOG[lang]["words"]
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
    if status.get("fee_rate") and status.get("fee_rate_needed"):
        checks.append(say("fee_rate", status))
    if "rbf" in status and status["status"] == "pending":
        checks.append(say("rbf", {"rbf": words["yes" if status["rbf"] else "no"]}))
    if status.get("commitment"):
        checks.append(say("commitment", status))
    if chain.family == "antelope" and status.get("block_number") is not None:
        checks.append(say("memo", {"memo": status.get("memo") or ""}))
    if chain.existential_deposit and (status.get("failure") or status.get("native_transfers")):
        checks.append(say("existential_deposit", {"chain": chain.key, "existential_deposit": chain.existential_deposit,
                                                  "native": chain.native_symbol}))
    if facts and facts.get("ata"):
        checks.append(say("ata", {**facts, "address": facts.get("owner") or "—",
                                  "contract": facts.get("mint") or "—",
                                  "ata_state": words["exists" if facts.get("ata_exists") else "missing"]}))
    return checks


def _gwei(value: Any) -> str:
    return f"{Decimal(int(value)) / Decimal(10**9):.2f}" if value is not None else "—"


def answer_key(topic: str, chain: ChainConfig, status: dict[str, Any] | None,
               address: str | None, facts: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Which catalog answer fits what the chain says, with its facts. Pure. The key is the common one; the
    catalog says the chain family's own sentence for it when it has one."""
    state = status["status"] if status else "not_found"
    params: dict[str, Any] = {**(status or {}), **(facts or {}), "chain": chain.key, "native": chain.native_symbol,
                              "address": address, "status": state,
                              "existential_deposit": chain.existential_deposit}
    if status and status.get("resources"):
        params.update(status["resources"])
    if status and status.get("failure"):
        params.update({**status["failure"], "message": status["failure"].get("message"),
                       "reason": status["failure"].get("reason")})
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
        mine = [t for t in status.get("transfers") or [] if address and same_address(chain, t.get("to"), address)]
        if not mine:
            native = [leg for leg in native_legs(status) if same_address(chain, leg.get("to"), address)]
            if native:
                return "native_received", {**params, "amount": native[0]["amount"]}
            return "token_none", params
        transfer = mine[0]
        params.update({"amount": transfer["amount"], "token": transfer.get("token"), "contract": transfer["contract"]})
        if facts and facts.get("ata") and transfer.get("token"):
            return ("token_received.ata" if facts.get("in_ata") else "token_received.other_account"), params
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
        key = f"pending.{(status or {}).get('pending_reason') or 'in_mempool'}"
        fix = (status or {}).get("fix")  # Bitcoin: which fix applies to a low fee (rbf / cpfp)
        return (f"{key}.{fix}" if fix and key == "pending.fee_too_low" else key), params
    if state == "failed":
        return f"failed.{status['failure']['reason']}" if status else "failed.other", params
    return state, params
