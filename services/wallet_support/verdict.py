"""Did this transaction pay what it should? A pure function of the tx status and the expectation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.wallet_support.chains.registry import ChainConfig

NOT_PAID_STATUSES = {"failed": "failed", "dropped": "dropped", "replaced": "replaced", "unknown": "unknown"}


@dataclass(frozen=True)
class Expected:
    to: str  # canonical form (EVM and Aptos lower case, others as the chain writes them)
    token: str  # symbol: a known token or the native symbol
    amount: Decimal
    min_confirmations: int | None = None


@dataclass(frozen=True)
class Verdict:
    verdict: str
    paid_amount: Decimal | None
    difference: Decimal | None
    reason: str  # catalog key of the explanation
    params: dict[str, Any]


def same_address(chain: ChainConfig, a: Any, b: Any) -> bool:
    """One address written two ways? Case does not matter for hex families, and matters elsewhere (base58)."""
    if not a or not b:
        return False
    return str(a).lower() == str(b).lower() if chain.family in ("evm", "aptos") else str(a) == str(b)


def native_legs(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Native payments: every output / system transfer where the family lists them (a Bitcoin tx pays several
    addresses at once), else the tx's own recipient and value."""
    if status.get("native_transfers") is not None:
        legs = list(status["native_transfers"])
    else:
        legs = [{"to": status.get("to"), "amount": status.get("native_value") or "0"}]
    return [leg for leg in legs if Decimal(str(leg.get("amount") or "0")) > 0]


def verify_payment(chain: ChainConfig, status: dict[str, Any], expected: Expected, *,
                   found_on: list[str] | None = None, tolerance: Decimal = Decimal("0")) -> Verdict:
    state = status["status"]
    required = expected.min_confirmations if expected.min_confirmations is not None else chain.required_confirmations
    base = {"chain": chain.key, "token": expected.token, "expected_amount": str(expected.amount),
            "to": expected.to, "required": required, "confirmations": status.get("confirmations", 0)}
    if state == "not_found":
        if found_on:
            return Verdict("wrong_chain", None, None, "wrong_chain", {**base, "found_on": ", ".join(found_on)})
        return Verdict("not_found", None, None, "not_found", base)
    if state in NOT_PAID_STATUSES:
        failure = status.get("failure") or {}
        return Verdict(NOT_PAID_STATUSES[state], None, None, state,
                       {**base, "failure": failure.get("message") or failure.get("reason") or "",
                        "retry_after": status.get("retry_after")})
    if state == "pending":
        return Verdict("pending", None, None, "pending_mempool",
                       {**base, "pending_reason": status.get("pending_reason")})

    native = expected.token.upper() == chain.native_symbol.upper()
    token = None if native else chain.tokens.get(expected.token.upper())
    if native:
        legs = [{**leg, "token": chain.native_symbol} for leg in native_legs(status)]
    else:
        contract = token.contract if token else None
        legs = [t for t in status.get("transfers") or []
                if contract and same_address(chain, t.get("contract"), contract)]
    to_us = [leg for leg in legs if same_address(chain, leg.get("to"), expected.to)]
    if not to_us:
        sent_to_us = {str(t.get("token") or t.get("contract")) for t in status.get("transfers") or []
                      if same_address(chain, t.get("to"), expected.to)}
        if any(same_address(chain, leg.get("to"), expected.to) for leg in native_legs(status)):
            sent_to_us.add(chain.native_symbol)
        if sent_to_us:
            return Verdict("wrong_token", None, None, "wrong_token",
                           {**base, "sent_token": ", ".join(sorted(sent_to_us))})
        recipients = ", ".join(sorted({str(leg.get("to")) for leg in legs})) or str(status.get("to") or "")
        return Verdict("wrong_recipient", None, None, "wrong_recipient", {**base, "recipient": recipients})
    paid = sum((Decimal(str(leg["amount"])) for leg in to_us), Decimal("0"))
    difference = paid - expected.amount
    params = {**base, "paid": str(paid), "difference": str(abs(difference))}
    if difference < -tolerance:
        return Verdict("underpaid", paid, difference, "underpaid", params)
    confirmations = int(status.get("confirmations") or 0)
    deep_enough = (confirmations >= expected.min_confirmations if expected.min_confirmations is not None
                   else confirmations >= chain.required_confirmations or state == "finalized")
    if not deep_enough:
        return Verdict("pending", paid, difference, "pending_confirmations", params)
    if difference > tolerance:
        return Verdict("overpaid", paid, difference, "overpaid", params)
    return Verdict("paid", paid, difference, "paid", params)
