"""What a chain answer may do to a payment: pure rules, data in, decision out, no I/O.

Two rules above all: what a tx is checked against comes from the order, never from whoever names the tx;
and money state moves only on definitive evidence. `unknown`, `pending`, a timeout or an error never moves a
payment, an order or a ticket; un-paying needs the tx seen gone by a node at or past its block, twice in a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

PAID_VERDICTS = ("paid", "overpaid")
# The chain said no, and will keep saying it: a pending payment with this answer has failed.
FAILING_VERDICTS = ("failed", "dropped", "replaced", "underpaid", "wrong_recipient", "wrong_token", "wrong_chain")
# What a settled payment's tx may turn into that proves it no longer pays (when the node has seen its block).
GONE_STATUSES = ("not_found", "dropped", "replaced", "failed")
GONE_CHECKS_TO_UNPAY = 2


@dataclass(frozen=True)
class Expectation:
    """What a tx must pay for this order: from its recorded crypto payment or its price in a token."""

    chain: str
    tx_hash: str
    token: str
    amount: Decimal
    to: str | None
    source: Literal["payment", "order"]
    payment_id: str | None = None  # the recorded payment that carries this very tx, if any


@dataclass(frozen=True)
class PaymentFacts:
    """The bits of a payment row the rules read."""

    id: str
    order_id: str
    method: str
    status: str
    amount: Decimal
    chain: str | None
    tx_hash: str | None
    token: str | None
    to_address: str | None


def same_tx(a: str | None, b: str | None) -> bool:
    return bool(a and b) and str(a).strip().lower() == str(b).strip().lower()


def recorded_expectation(payment: PaymentFacts, merchant_addresses: dict[str, str]) -> Expectation | None:
    """What a recorded payment's own tx must pay: its token, amount and recipient (else the merchant's)."""
    if not (payment.chain and payment.tx_hash and payment.token):
        return None
    return Expectation(chain=payment.chain, tx_hash=payment.tx_hash, token=payment.token.upper(),
                       amount=payment.amount, to=payment.to_address or merchant_addresses.get(payment.chain),
                       source="payment", payment_id=payment.id)


def expectation_for(*, order_id: str, order_total: Decimal, order_currency: str,
                    payments: Sequence[PaymentFacts], chain: str, tx_hash: str,
                    merchant_addresses: dict[str, str]) -> Expectation | None:
    """The order's own expectation for a tx on `chain`. None when nothing on record says what it should pay
    (a fiat order with no crypto payment recorded: an agent decides, never the claimant)."""
    for payment in payments:
        if payment.method == "crypto" and payment.chain == chain and same_tx(payment.tx_hash, tx_hash):
            recorded = recorded_expectation(payment, merchant_addresses)
            if recorded is not None:
                return recorded
    model = next((p for p in reversed(payments) if p.method == "crypto" and p.token and p.status != "refunded"),
                 None)
    if model is not None:
        to = model.to_address if model.chain == chain and model.to_address else merchant_addresses.get(chain)
        return Expectation(chain=chain, tx_hash=tx_hash, token=str(model.token).upper(), amount=model.amount,
                           to=to, source="payment")
    if is_fiat(order_currency):
        return None
    return Expectation(chain=chain, tx_hash=tx_hash, token=order_currency.upper(), amount=order_total,
                       to=merchant_addresses.get(chain), source="order")


# ISO 4217 codes a shop prices in; a currency outside this list is taken as a token symbol and wallet-support
# decides whether the chain knows it (an unknown token is refused there, never guessed here).
FIAT = frozenset("AED AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR JPY KRW MOP MXN MYR NOK NZD PHP PLN "
                 "RUB SAR SEK SGD THB TRY TWD UAH USD VND ZAR".split())


def is_fiat(currency: str) -> bool:
    return currency.strip().upper() in FIAT


Action = Literal["settle", "already_used", "before_order", "fail", "wait", "keep", "gone_once", "unpay",
                 "blocked"]


@dataclass(frozen=True)
class Decision:
    action: Action
    verdict: str  # the verdict to record and tell (wallet-support's, or one the orders side adds)
    reason: str = ""


def mined_before_order(tx: dict[str, Any], placed_at: datetime, grace: timedelta) -> bool:
    block_time = tx.get("block_time")
    if not block_time:
        return False
    mined = block_time if isinstance(block_time, datetime) else datetime.fromisoformat(str(block_time))
    return mined < placed_at - grace


def decide_claim(*, verdict: str, tx: dict[str, Any], payment_status: str | None, placed_at: datetime,
                 grace: timedelta, used_by_other: bool) -> Decision:
    """A tx checked for a payment that is not (yet) settled by it: settle, refuse, fail it, or wait.

    `payment_status` is that of the recorded payment carrying this tx (None when the claim has none yet);
    `used_by_other` says the transfer already settled, or is recorded on, another order's payment."""
    if payment_status == "refunded":
        return Decision("blocked", verdict, "refunded is final")
    included = verdict in (*PAID_VERDICTS, "pending", "underpaid") and tx.get("block_number") is not None
    if included and mined_before_order(tx, placed_at, grace):
        return Decision("before_order", "before_order")
    if verdict in PAID_VERDICTS:
        if used_by_other:
            return Decision("already_used", "already_used")
        if payment_status == "succeeded":
            return Decision("keep", verdict)
        return Decision("settle", verdict)
    if verdict in FAILING_VERDICTS:
        if payment_status == "succeeded":
            # A settled payment is only un-paid by the reorg rule (decide_settled), never by a claim.
            return Decision("keep", verdict)
        return Decision("fail" if payment_status in ("pending", None) else "keep", verdict)
    return Decision("wait", verdict)  # pending, unknown, not_found (may not be broadcast yet), unavailable


def decide_settled(*, verdict: str, tx: dict[str, Any], settled_block: int | None, gone_checks: int) -> Decision:
    """A payment the chain settled, looked at again (reorg watch). Only a definitive answer counts: the tx
    gone (not found, dropped, replaced, failed) according to a node whose head is at or past the block it was
    in, on GONE_CHECKS_TO_UNPAY checks in a row. Everything else keeps the payment where it is."""
    if verdict in PAID_VERDICTS:
        return Decision("keep", verdict)
    status = str(tx.get("status") or "")
    head = tx.get("head_block")
    node_has_seen_block = head is not None and settled_block is not None and int(head) >= settled_block
    if status in GONE_STATUSES and node_has_seen_block:
        if gone_checks + 1 >= GONE_CHECKS_TO_UNPAY:
            return Decision("unpay", verdict, f"{status} at head {head}, past block {settled_block}")
        return Decision("gone_once", verdict, f"{status} at head {head}")
    return Decision("wait", verdict, "not definitive")
