"""Orchestration with side effects: check a crypto payment on chain, reconcile it, tell the ticket.

Reconciliation is idempotent (the payment row is locked, moves are no-ops when already made) and reorg-safe:
wallet-support says `paid` only at the required confirmations, and a payment that was reconciled and whose
tx then leaves the chain goes back to pending with a history entry, never silently stays paid."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.schemas import format_decimal
from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.clients.wallet import WalletClient, WalletRejected, WalletUnavailable
from services.orders.diagnosis import catalog
from services.orders.diagnosis.rules import CRYPTO_GROUPS
from services.orders.models import Order, Payment, PaymentStatusHistory, Ticket, TicketMessage

log = logging.getLogger("order_support.orders.flows")

PAID = ("paid", "overpaid")
WAITING = ("pending", "unknown")
PAYMENT_FAILS = ("failed", "dropped", "replaced", "underpaid", "wrong_recipient", "wrong_token", "wrong_chain")
TICKET_JOB = "ticket_chain_check"
PAYMENT_JOB = "payment_chain_check"
KNOWN_TOKENS = ("USDT", "USDC", "ETH", "BNB", "POL", "TRX")


@dataclass
class CheckOutcome:
    verdict: str  # a wallet-support verdict, or "unavailable" / "rejected"
    explanation: str
    detail: str = ""
    retry_after: int = 30
    changed: str | None = None  # "paid", "reorg", "failed" when the payment moved

    @property
    def final(self) -> bool:
        return self.verdict not in (*WAITING, "unavailable")


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a verification on the payment and the ticket (the evidence for diagnosis)."""
    tx = result.get("tx") or {}
    return {"verdict": result["verdict"], "explanation": result.get("explanation"),
            "paid_amount": result.get("paid_amount"), "difference": result.get("difference"),
            "found_on": result.get("found_on") or [], "checked_at": utcnow().isoformat(),
            "tx": {k: tx.get(k) for k in ("chain", "tx_hash", "status", "confirmations", "required_confirmations",
                                          "block_number", "from", "to", "failure", "replaced_by")}}


async def check_payment(session: AsyncSession, *, wallet: WalletClient | None, payment: Payment,
                        lang: str, fresh: bool = False) -> CheckOutcome:
    """Ask wallet-support whether the payment's tx pays it, record the answer, reconcile the payment."""
    if wallet is None:
        return CheckOutcome("unavailable", "", detail="wallet-support is not configured")
    if not (payment.chain and payment.tx_hash and payment.token):
        return CheckOutcome("rejected", "", detail="the payment has no chain, tx hash or token")
    try:
        result = await wallet.verify(chain=payment.chain, tx_hash=payment.tx_hash, to=payment.to_address,
                                     token=payment.token, amount=format_decimal(payment.amount), lang=lang,
                                     fresh=fresh)
    except WalletUnavailable as exc:
        return CheckOutcome("unavailable", "", detail=str(exc), retry_after=exc.retry_after)
    except WalletRejected as exc:
        payment.payment_check = {"verdict": "rejected", "explanation": exc.detail, "errors": exc.errors,
                                 "checked_at": utcnow().isoformat()}
        return CheckOutcome("rejected", "", detail=exc.detail)
    payment.payment_check = summarize(result)
    if result.get("tx", {}).get("from") and not payment.from_address:
        payment.from_address = result["tx"]["from"]
    outcome = CheckOutcome(result["verdict"], str(result.get("explanation") or ""),
                           retry_after=int(result.get("retry_after") or 30))
    outcome.changed = await reconcile(session, payment=payment, verdict=result["verdict"],
                                      note=outcome.explanation)
    await session.flush()
    return outcome


async def reconcile(session: AsyncSession, *, payment: Payment, verdict: str, note: str) -> str | None:
    """Move the payment (and through it the order) to what the chain says. Idempotent."""
    locked = await repo.payment_by_id(session, payment.id, for_update=True) or payment
    if verdict in PAID:
        if locked.status != "succeeded":
            await orders_service.move_payment(session, payment=locked, status="succeeded", failure_code=None,
                                              note=note, source="chain", force=True)
            return "paid"
        return None
    if locked.status == "succeeded" and await _reconciled_by_chain(session, locked):
        # Counted once, then gone from the chain (reorg): never leave it silently paid.
        await orders_service.move_payment(session, payment=locked, status="pending", failure_code=None,
                                          note=f"the transaction left the chain: {note}", source="chain",
                                          force=True)
        order = await repo.order_by_id(session, locked.order_id)
        if order is not None and order.status == "paid":
            await orders_service.set_order_status(session, order=order, status="pending_payment")
        return "reorg"
    if verdict in PAYMENT_FAILS and locked.status == "pending":
        await orders_service.move_payment(session, payment=locked, status="failed", failure_code=verdict,
                                          note=note, source="chain")
        return "failed"
    return None


async def _reconciled_by_chain(session: AsyncSession, payment: Payment) -> bool:
    history = (await repo.history_of(session, [payment.id]))[payment.id]
    last: PaymentStatusHistory | None = next((h for h in reversed(history) if h.to_status == "succeeded"), None)
    return last is not None and last.source == "chain"


async def payment_for_ticket(session: AsyncSession, *, ticket: Ticket, order: Order, token: str | None,
                             merchant_addresses: dict[str, str]) -> Payment | None:
    """The payment the ticket's tx claims to be: one recorded with that hash, else a new pending attempt
    built from the order's crypto payment (token, amount, recipient) or, for an order priced in a token, the
    order itself. None when nothing says what the tx should have paid."""
    assert ticket.tx_hash and ticket.tx_chain
    existing = await repo.payment_for_tx(session, order_id=order.id, tx_hash=ticket.tx_hash)
    if existing is not None:
        return existing
    payments = await repo.payments_of(session, order.id)
    model = next((p for p in reversed(payments) if p.method == "crypto" and p.token), None)
    chosen_token = (token or (model.token if model else None) or
                    (order.currency if order.currency.upper() in KNOWN_TOKENS else None))
    if chosen_token is None:
        return None
    amount = model.amount if model is not None and model.token == chosen_token.upper() else order.total
    payment = Payment(order_id=order.id, method="crypto", amount=Decimal(amount), currency=chosen_token.upper(),
                      status="pending", chain=ticket.tx_chain, tx_hash=ticket.tx_hash, token=chosen_token.upper(),
                      to_address=(model.to_address if model and model.chain == ticket.tx_chain else None)
                      or merchant_addresses.get(ticket.tx_chain))
    await repo.add_and_flush(session, payment)
    await repo.add_and_flush(session, PaymentStatusHistory(
        payment_id=payment.id, from_status=None, to_status="pending", source="ticket",
        note=f"payment attempt recorded from ticket {ticket.id}"))
    return payment


async def check_ticket(session: AsyncSession, *, ticket: Ticket, wallet: WalletClient | None, settings: Settings,
                       merchant_addresses: dict[str, str], token: str | None = None,
                       now: datetime | None = None) -> CheckOutcome | None:
    """A payment_failed ticket with a tx: verify it, reconcile, and say so on the ticket in its language."""
    if not (ticket.tx_hash and ticket.tx_chain and ticket.order_id):
        return None
    order = await repo.order_by_id(session, ticket.order_id)
    if order is None:
        return None
    payment = await payment_for_ticket(session, ticket=ticket, order=order, token=token,
                                       merchant_addresses=merchant_addresses)
    lang = ticket.lang
    if payment is None:
        await _say(session, ticket, catalog.text(lang, "ticket", "no_expectation", {}), previous=None)
        return None
    previous = (ticket.payment_check or {}).get("verdict")
    outcome = await check_payment(session, wallet=wallet, payment=payment, lang=lang)
    ticket.payment_check = payment.payment_check
    params = {"chain": payment.chain, "explanation": outcome.explanation, "payment_id": payment.id,
              "detail": outcome.detail}
    now = now or utcnow()
    if outcome.verdict in PAID:
        await _say(session, ticket, catalog.text(lang, "ticket", "paid", params), previous, outcome.verdict)
        await _move(session, ticket, "resolved")
        # Reorg watch: look once more later; a payment whose tx left the chain goes back to pending.
        await repo.enqueue_job(session, kind=PAYMENT_JOB, ref_id=payment.id,
                               run_at=now + timedelta(seconds=settings.reorg_watch_seconds), deadline=None)
    elif outcome.verdict in ("pending", "unknown", "unavailable"):
        key = "waiting" if outcome.verdict == "pending" else "unknown"
        await _say(session, ticket, catalog.text(lang, "ticket", key, params), previous, outcome.verdict)
        await _move(session, ticket, "waiting_chain")
        await repo.enqueue_job(session, kind=TICKET_JOB, ref_id=ticket.id,
                               run_at=now + timedelta(seconds=_first_delay(outcome)),
                               deadline=ticket.created_at + timedelta(hours=settings.payment_check_deadline_hours))
    elif outcome.verdict == "rejected":
        await _say(session, ticket, catalog.text(lang, "ticket", "rejected", params), previous, outcome.verdict)
        if "tx_hash" not in ticket.missing_information:
            ticket.missing_information = [*ticket.missing_information, "tx_hash"]
        await _move(session, ticket, "open")
    else:
        group = CRYPTO_GROUPS.get(outcome.verdict, "mismatch")
        step_params = {"difference": str((payment.payment_check or {}).get("difference") or "").lstrip("-"),
                       "token": payment.token}
        steps = catalog.steps(lang, f"crypto_payment_unverified.{group}", step_params)
        text = "\n".join([catalog.text(lang, "ticket", "not_paid", params), *(f"- {s}" for s in steps)])
        await _say(session, ticket, text, previous, outcome.verdict)
        await _move(session, ticket, "open")
    ticket.updated_at = utcnow()
    await session.flush()
    return outcome


async def tell_tickets_reorg(session: AsyncSession, *, payment: Payment) -> None:
    """The tickets about a payment that went back to pending hear why, and go back to an agent."""
    if not payment.tx_hash:
        return
    for ticket in await repo.tickets_for_tx(session, order_id=payment.order_id, tx_hash=payment.tx_hash):
        await _say(session, ticket, catalog.text(ticket.lang, "ticket", "reorg", {}), previous=None)
        ticket.payment_check = payment.payment_check
        ticket.status = "open"
        ticket.updated_at = utcnow()


def _first_delay(outcome: CheckOutcome) -> int:
    return outcome.retry_after if outcome.verdict in ("unknown", "unavailable") else 15


async def _say(session: AsyncSession, ticket: Ticket, text: str, previous: str | None,
               verdict: str | None = None) -> None:
    """A system message, once per new verdict: re-checks that learn nothing new stay quiet."""
    if verdict is not None and verdict == previous:
        return
    await repo.add_and_flush(session, TicketMessage(ticket_id=ticket.id, author="system", channel=ticket.channel,
                                                    text=text))


async def _move(session: AsyncSession, ticket: Ticket, status: str) -> None:
    if ticket.status not in ("closed",) and ticket.status != status:
        ticket.status = status
        ticket.updated_at = utcnow()
