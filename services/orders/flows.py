"""Orchestration with side effects: check a tx on chain, reconcile the payment, tell the ticket.

Every check runs in three steps so that no network call happens while a database transaction is open:
plan (read what the order expects, then commit), ask wallet-support (no session), apply (a new transaction that
locks the rows, re-reads them and lets the pure rules in `reconcile` decide). A request runs the ask within a
short budget (PAYMENT_CHECK_INLINE_SECONDS) and leaves the rest to the worker, which holds a fenced job lease.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.schemas import format_decimal
from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import reconcile as rules
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.channels import outbox
from services.orders.clients.wallet import WalletClient, WalletRejected, WalletUnavailable
from services.orders.diagnosis import catalog
from services.orders.diagnosis.rules import CRYPTO_GROUPS
from services.orders.models import Job, Order, Payment, PaymentStatusHistory, Ticket, TicketMessage

log = logging.getLogger("order_support.orders.flows")

TICKET_JOB = "ticket_chain_check"
PAYMENT_JOB = "payment_chain_check"
# A settled payment whose tx looked gone once is looked at again this soon, not after the full watch delay.
GONE_RECHECK_SECONDS = 30


@dataclass
class ChainAnswer:
    """What wallet-support said, or why it said nothing. Produced with no database session open."""

    verdict: str  # a wallet-support verdict, or "unavailable" (no answer in time) / "rejected" (a 4xx)
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    retry_after: int = 30
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tx(self) -> dict[str, Any]:
        return dict(self.result.get("tx") or {})


@dataclass
class CheckOutcome:
    verdict: str  # the verdict recorded (wallet-support's, the orders side's, or "unavailable"/"rejected")
    explanation: str = ""
    detail: str = ""
    changed: str | None = None  # "paid", "failed", "reorg" when a payment moved
    final: bool = False  # nothing left to look at for this check
    next_check: float | None = None  # when to look again, where the answer says (else the job's backoff)


async def ask_chain(wallet: WalletClient | None, expectation: rules.Expectation | None, *, lang: str,
                    fresh: bool = False, budget: float | None = None) -> ChainAnswer:
    """Ask wallet-support whether the tx pays the expectation. Never raises; never touches the database."""
    if expectation is None:
        return ChainAnswer("rejected", detail="no expectation")
    if wallet is None:
        return ChainAnswer("unavailable", detail="wallet-support is not configured")
    if not expectation.to:
        return ChainAnswer("rejected", detail=f"no recipient: MERCHANT_ADDRESS_{expectation.chain.upper()} is not set",
                           errors=[{"field": "expected.to", "message": "required"}])
    call = wallet.verify(chain=expectation.chain, tx_hash=expectation.tx_hash, to=expectation.to,
                         token=expectation.token, amount=format_decimal(expectation.amount), lang=lang, fresh=fresh)
    try:
        result = await (asyncio.wait_for(call, timeout=budget) if budget is not None else call)
    except TimeoutError:
        return ChainAnswer("unavailable", detail=f"no answer within {budget:g} s", retry_after=5)
    except WalletUnavailable as exc:
        return ChainAnswer("unavailable", detail=str(exc), retry_after=exc.retry_after)
    except WalletRejected as exc:
        return ChainAnswer("rejected", detail=exc.detail, errors=exc.errors)
    return ChainAnswer(str(result["verdict"]), result=result,
                       retry_after=int(result.get("retry_after") or (result.get("tx") or {}).get("retry_after") or 30))


def summarize(answer: ChainAnswer, verdict: str, explanation: str) -> dict[str, Any]:
    """What is kept of a check on the payment and the ticket: the evidence agents and diagnosis read."""
    tx = answer.tx
    return {"verdict": verdict, "chain_verdict": answer.verdict, "explanation": explanation,
            "paid_amount": answer.result.get("paid_amount"), "difference": answer.result.get("difference"),
            "found_on": answer.result.get("found_on") or [], "checked_at": utcnow().isoformat(),
            "tx": {k: tx.get(k) for k in ("chain", "tx_hash", "status", "confirmations", "required_confirmations",
                                          "block_number", "block_time", "head_block", "from", "to", "failure",
                                          "replaced_by")}}


# -- plans: what the order expects, read in a short transaction -------------------------------------------------

def payment_facts(payments: list[Payment]) -> list[rules.PaymentFacts]:
    return [rules.PaymentFacts(id=p.id, order_id=p.order_id, method=p.method, status=p.status, amount=p.amount,
                               chain=p.chain, tx_hash=p.tx_hash, token=p.token, to_address=p.to_address)
            for p in payments]


@dataclass(frozen=True)
class TicketPlan:
    ticket_id: str
    order_id: str
    lang: str
    expectation: rules.Expectation | None


async def plan_ticket(session: AsyncSession, *, ticket: Ticket,
                      merchant_addresses: dict[str, str]) -> TicketPlan | None:
    """What the ticket's tx must pay, from the order alone (the ticket's claims are never used to decide)."""
    if not (ticket.tx_hash and ticket.tx_chain and ticket.order_id):
        return None
    order = await repo.order_by_id(session, ticket.order_id)
    if order is None:
        return None
    expectation = rules.expectation_for(
        order_id=order.id, order_total=order.total, order_currency=order.currency,
        payments=payment_facts(await repo.payments_of(session, order.id)), chain=ticket.tx_chain,
        tx_hash=ticket.tx_hash, merchant_addresses=merchant_addresses)
    return TicketPlan(ticket_id=ticket.id, order_id=order.id, lang=ticket.lang, expectation=expectation)


def payment_expectation(payment: Payment, merchant_addresses: dict[str, str]) -> rules.Expectation | None:
    """What a recorded crypto payment's own tx must pay (None when it names no chain, tx or token)."""
    [facts] = payment_facts([payment])
    return rules.recorded_expectation(facts, merchant_addresses)


# -- apply: one transaction, rows locked, the pure rules decide ------------------------------------------------

async def apply_to_payment(session: AsyncSession, *, payment: Payment, order: Order, answer: ChainAnswer,
                           settings: Settings, lang: str) -> CheckOutcome:
    """A recorded crypto payment checked against its own tx. `payment` is locked by the caller."""
    if answer.verdict in ("unavailable", "rejected"):
        if answer.verdict == "rejected":
            payment.payment_check = {"verdict": "rejected", "explanation": answer.detail, "errors": answer.errors,
                                     "checked_at": utcnow().isoformat()}
        return CheckOutcome(answer.verdict, detail=answer.detail, final=answer.verdict == "rejected",
                            next_check=answer.retry_after)
    settlement = await repo.settlement_of(session, payment.id)
    if settlement is not None and payment.status == "succeeded":
        return await _watch_settled(session, payment=payment, order=order, answer=answer,
                                    settlement_block=settlement.block_number)
    return await _claim(session, payment=payment, order=order, answer=answer, settings=settings, lang=lang)


async def _claim(session: AsyncSession, *, payment: Payment | None, order: Order, answer: ChainAnswer,
                 settings: Settings, lang: str,
                 expectation: rules.Expectation | None = None) -> CheckOutcome:
    """A tx checked for a payment it has not settled: settle it, refuse it (already used, before the order),
    fail the payment, or wait. `payment` is None for a ticket's tx that no recorded payment carries yet."""
    tx = answer.tx
    chain = str(tx.get("chain") or (payment.chain if payment else expectation.chain if expectation else ""))
    tx_hash = str(tx.get("tx_hash") or (payment.tx_hash if payment else expectation.tx_hash if expectation else ""))
    token = (payment.token if payment else expectation.token if expectation else "") or ""
    used_by = await repo.transfer_used_elsewhere(session, chain=chain, tx_hash=tx_hash, token=token,
                                                 order_id=order.id, payment_id=payment.id if payment else None)
    decision = rules.decide_claim(verdict=answer.verdict, tx=tx, payment_status=payment.status if payment else None,
                                  placed_at=order.placed_at,
                                  grace=timedelta(minutes=settings.before_order_grace_minutes),
                                  used_by_other=used_by is not None)
    explanation = _explain(lang, decision.verdict, answer)
    check = summarize(answer, decision.verdict, explanation)
    outcome = CheckOutcome(decision.verdict, explanation, final=decision.action != "wait",
                           next_check=answer.retry_after if answer.verdict == "unknown" else None)
    if decision.action == "settle":
        assert expectation is not None or payment is not None
        if payment is None:
            assert expectation is not None
            payment = await _new_chain_payment(session, order=order, expectation=expectation, tx=tx)
        payment.payment_check = check
        if tx.get("from") and not payment.from_address:
            payment.from_address = str(tx["from"])
        claimed = await repo.claim_settlement(session, chain=chain, tx_hash=tx_hash, token=token,
                                              payment_id=payment.id, order_id=order.id,
                                              block_number=tx.get("block_number"))
        if not claimed:  # lost a race to another claim: the database decided
            payment.payment_check = summarize(answer, "already_used", _explain(lang, "already_used", answer))
            outcome.verdict, outcome.explanation = "already_used", payment.payment_check["explanation"]
            if payment.status == "pending" and expectation is not None and expectation.payment_id is None:
                await orders_service.move_payment(session, payment=payment, status="failed",
                                                  failure_code="already_used", note=outcome.explanation,
                                                  source="chain")
            return outcome
        await orders_service.move_payment(session, payment=payment, status="succeeded", failure_code=None,
                                          note=explanation, source="chain",
                                          reorg_watch_seconds=settings.reorg_watch_seconds)
        await outbox.emit(session, type="payment.reconciled", order_id=order.id, data=payment_event(payment, order))
        outcome.changed = "paid"
        return outcome
    if payment is None and decision.action == "fail" and expectation is not None and tx.get("status") not in (
            None, "not_found"):
        # A real tx that definitively does not pay the order is kept as a failed attempt on the timeline (the
        # desk sees what was sent); a transfer that belongs elsewhere (already used, before the order) is not.
        payment = await _new_chain_payment(session, order=order, expectation=expectation, tx=tx)
    if payment is not None:
        payment.payment_check = check
        if decision.action in ("fail", "already_used", "before_order") and payment.status == "pending":
            await orders_service.move_payment(session, payment=payment, status="failed",
                                              failure_code=decision.verdict, note=explanation, source="chain")
            outcome.changed = "failed"
        elif decision.action == "blocked":
            await _blocked(session, payment=payment, order=order, answer=answer, reason=decision.reason)
    return outcome


async def _watch_settled(session: AsyncSession, *, payment: Payment, order: Order, answer: ChainAnswer,
                         settlement_block: int | None) -> CheckOutcome:
    """The reorg watch: a settled payment looked at again. Only definitive evidence un-pays it."""
    previous = dict(payment.payment_check or {})
    gone_checks = int(previous.get("gone_checks") or 0)
    decision = rules.decide_settled(verdict=answer.verdict, tx=answer.tx, settled_block=settlement_block,
                                    gone_checks=gone_checks)
    outcome = CheckOutcome(answer.verdict, next_check=answer.retry_after if answer.verdict == "unknown" else None)
    if decision.action == "keep":
        payment.payment_check = {**previous, "gone_checks": 0, "watched_at": utcnow().isoformat()}
        if settlement_block is None and answer.tx.get("block_number") is not None:
            await repo.note_settlement_block(session, payment_id=payment.id, block_number=answer.tx["block_number"])
        outcome.final = True
    elif decision.action == "wait":
        # Not definitive (pending, unknown, a node behind the block): keep the payment, look again later.
        payment.payment_check = {**previous, "gone_checks": 0, "watched_at": utcnow().isoformat(),
                                 "last_watch": {"verdict": answer.verdict, "status": answer.tx.get("status")}}
    elif decision.action == "gone_once":
        payment.payment_check = {**previous, "gone_checks": gone_checks + 1, "watched_at": utcnow().isoformat(),
                                 "last_watch": {"verdict": answer.verdict, "status": answer.tx.get("status"),
                                                "head_block": answer.tx.get("head_block")}}
        outcome.next_check = GONE_RECHECK_SECONDS
    else:  # unpay
        note = f"the transaction left the chain ({decision.reason})"
        moved = await orders_service.move_payment(session, payment=payment, status="pending", failure_code=None,
                                                  note=note, source="chain")
        if moved:
            await repo.release_settlement(session, payment_id=payment.id)
            payment.payment_check = {**summarize(answer, answer.verdict, note), "gone_checks": 0}
            if order.status == "paid":
                await orders_service.set_order_status(session, order=order, status="pending_payment")
            elif order.status != "pending_payment":
                await _alert(session, order=order, text_key="reorg_after_fulfilment",
                             params={"order_status": order.status, "payment_id": payment.id})
            await tell_tickets_reorg(session, payment=payment)
            await outbox.emit(session, type="payment.reversed", order_id=order.id,
                              data={**payment_event(payment, order), "reason": decision.reason})
            outcome.changed = "reorg"
        outcome.final = False  # keep watching: it may come back in a later block
        outcome.next_check = GONE_RECHECK_SECONDS
    return outcome


def payment_event(payment: Payment, order: Order) -> dict[str, Any]:
    """The body of a payment event to the shop."""
    return {"order_id": order.id, "order_number": order.order_number, "payment_id": payment.id,
            "status": payment.status, "amount": format_decimal(payment.amount), "currency": payment.currency,
            "chain": payment.chain, "tx_hash": payment.tx_hash}


async def _new_chain_payment(session: AsyncSession, *, order: Order, expectation: rules.Expectation,
                             tx: dict[str, Any]) -> Payment:
    payment = Payment(order_id=order.id, method="crypto", amount=Decimal(expectation.amount),
                      currency=expectation.token, status="pending", chain=expectation.chain,
                      tx_hash=str(tx.get("tx_hash") or expectation.tx_hash), token=expectation.token,
                      to_address=expectation.to)
    await repo.add_and_flush(session, payment)
    await repo.add_and_flush(session, PaymentStatusHistory(
        payment_id=payment.id, from_status=None, to_status="pending", source="chain",
        note="payment attempt recorded from a checked tx"))
    return payment


async def _blocked(session: AsyncSession, *, payment: Payment, order: Order, answer: ChainAnswer,
                   reason: str) -> None:
    """A chain answer that a transition rule forbids acting on: recorded and told to an agent, never forced."""
    await repo.add_and_flush(session, PaymentStatusHistory(
        payment_id=payment.id, from_status=payment.status, to_status=payment.status, source="chain",
        note=f"chain says {answer.verdict}; not applied: {reason}"))
    await _alert(session, order=order, text_key="reconcile_blocked",
                 params={"payment_id": payment.id, "verdict": answer.verdict, "status": payment.status})


async def _alert(session: AsyncSession, *, order: Order, text_key: str, params: dict[str, Any]) -> None:
    """An internal note on the order's tickets, for agents only."""
    for ticket in await repo.tickets_of_order(session, order.id):
        await repo.add_and_flush(session, TicketMessage(
            ticket_id=ticket.id, author="system", channel=ticket.channel, visibility="internal",
            text=catalog.text(ticket.lang, "ticket", text_key, params)))


def _explain(lang: str, verdict: str, answer: ChainAnswer) -> str:
    if verdict in ("already_used", "before_order"):
        return catalog.text(lang, "ticket", verdict, {"chain": answer.tx.get("chain") or ""})
    return str(answer.result.get("explanation") or answer.detail or verdict)


# -- tickets ---------------------------------------------------------------------------------------------------

async def apply_to_ticket(session: AsyncSession, *, plan: TicketPlan, answer: ChainAnswer,
                          settings: Settings) -> CheckOutcome | None:
    """Record a ticket's check: reconcile what the chain proves, say it in the ticket's language, move it."""
    exp = plan.expectation
    ticket = await repo.ticket_by_id(session, plan.ticket_id, for_update=True)
    # The payment before its order: the order every payment path takes the two locks in, so a ticket's check and
    # the payment's own check (worker, reorg watch, POST /payments) never wait on each other in a deadlock.
    payment = await repo.payment_by_id(session, exp.payment_id, for_update=True) if exp and exp.payment_id else None
    order = await repo.order_by_id(session, plan.order_id, for_update=True)
    if ticket is None or order is None:
        return None
    lang = ticket.lang
    previous = (ticket.payment_check or {}).get("verdict")
    if exp is None or answer.verdict == "rejected":
        key = ("no_expectation" if exp is None or _rejected_field(answer, "token") else
               "no_merchant_address" if _rejected_field(answer, "to") else "rejected")
        await _say(session, ticket, catalog.text(lang, "ticket", key, {"detail": answer.detail,
                                                                     "chain": exp.chain if exp else ""}),
                   previous, key)
        ticket.payment_check = {"verdict": key, "explanation": answer.detail or None,
                                "checked_at": utcnow().isoformat()}
        # What an agent has to ask the customer for; a missing merchant address is the shop's to fix, not theirs.
        needed = {"no_expectation": "crypto_payment", "rejected": "tx_hash"}.get(key)
        if needed and needed not in ticket.missing_information:
            ticket.missing_information = [*ticket.missing_information, needed]
        await _move(session, ticket, "open")
        return CheckOutcome(key, detail=answer.detail, final=True)
    if answer.verdict == "unavailable":
        outcome = CheckOutcome("unavailable", detail=answer.detail, next_check=answer.retry_after)
    elif payment is not None:
        outcome = await apply_to_payment(session, payment=payment, order=order, answer=answer, settings=settings,
                                         lang=lang)
    else:
        outcome = await _claim(session, payment=None, order=order, answer=answer, settings=settings, lang=lang,
                               expectation=exp)
    params = {"chain": exp.chain, "explanation": outcome.explanation, "detail": outcome.detail,
              "payment_id": payment.id if payment else ""}
    if outcome.verdict != "unavailable":
        ticket.payment_check = summarize(answer, outcome.verdict, outcome.explanation)
    if outcome.verdict in rules.PAID_VERDICTS:
        settled = payment or await repo.payment_settled_by(session, order_id=order.id, chain=exp.chain,
                                                           tx_hash=str(answer.tx.get("tx_hash") or exp.tx_hash))
        params["payment_id"] = settled.id if settled else ""
        await _say(session, ticket, catalog.text(lang, "ticket", "paid", params), previous, outcome.verdict)
        await _move(session, ticket, "resolved")
    elif not outcome.final:
        key = "waiting" if outcome.verdict == "pending" else "unknown"
        if outcome.verdict == "not_found":
            key = "not_found_yet"
        await _say(session, ticket, catalog.text(lang, "ticket", key, params), previous, outcome.verdict)
        await _move(session, ticket, "waiting_chain")
    else:
        group = CRYPTO_GROUPS.get(outcome.verdict, "mismatch")
        step_params = {"difference": str(answer.result.get("difference") or "").lstrip("-"), "token": exp.token}
        steps = catalog.steps(lang, f"crypto_payment_unverified.{group}", step_params)
        text = "\n".join([catalog.text(lang, "ticket", "not_paid", params), *(f"- {s}" for s in steps)])
        await _say(session, ticket, text, previous, outcome.verdict)
        await _move(session, ticket, "open")
    ticket.updated_at = utcnow()
    await session.flush()
    return outcome


def _rejected_field(answer: ChainAnswer, name: str) -> bool:
    """wallet-support refused the question because of this expected field (token, to)."""
    return any(str(e.get("field", "")).endswith(name) for e in answer.errors)


async def tell_tickets_reorg(session: AsyncSession, *, payment: Payment) -> None:
    """The tickets about a payment that went back to pending hear why, and go back to an agent."""
    if not payment.tx_hash:
        return
    for ticket in await repo.tickets_for_tx(session, order_id=payment.order_id, tx_hash=payment.tx_hash):
        await _say(session, ticket, catalog.text(ticket.lang, "ticket", "reorg", {}), previous=None)
        ticket.payment_check = payment.payment_check
        if ticket.status != "open":
            await orders_service.move_ticket(session, ticket=ticket, status="open", note=None, author="system")


async def _say(session: AsyncSession, ticket: Ticket, text: str, previous: str | None,
               verdict: str | None = None) -> None:
    """A system message, once per new verdict: re-checks that learn nothing new stay quiet."""
    if verdict is not None and verdict == previous:
        return
    await repo.add_and_flush(session, TicketMessage(ticket_id=ticket.id, author="system", channel=ticket.channel,
                                                    text=text))


async def _move(session: AsyncSession, ticket: Ticket, status: str) -> None:
    """System moves follow the ticket table too; a closed ticket stays closed."""
    if ticket.status == status or ticket.status == "closed":
        return
    if status in orders_service.TICKET_TRANSITIONS[ticket.status]:
        await orders_service.move_ticket(session, ticket=ticket, status=status, note=None, author="system")


# -- the request path: commit, ask within a budget, apply -----------------------------------------------------

def first_delay(answer: ChainAnswer) -> float:
    if answer.verdict in ("unknown", "unavailable"):
        return float(answer.retry_after)
    return 15.0


async def check_ticket_now(session: AsyncSession, *, ticket: Ticket, wallet: WalletClient | None,
                           settings: Settings, merchant_addresses: dict[str, str]) -> CheckOutcome | None:
    """The request's check of a new payment_failed ticket. The caller's transaction is committed first; the
    worker job is written with it, so a check that does not finish in the budget is never lost."""
    plan = await plan_ticket(session, ticket=ticket, merchant_addresses=merchant_addresses)
    if plan is None:
        return None
    now = utcnow()
    budget = settings.payment_check_inline_seconds
    if plan.expectation is not None:
        await repo.enqueue_job(session, kind=TICKET_JOB, ref_id=ticket.id, run_at=now + timedelta(seconds=budget + 5),
                               deadline=ticket.created_at + timedelta(hours=settings.payment_check_deadline_hours))
        await _move(session, ticket, "waiting_chain")
    await session.commit()  # nothing of the network below runs inside a transaction
    answer = await ask_chain(wallet, plan.expectation, lang=plan.lang, budget=budget)
    outcome = await apply_to_ticket(session, plan=plan, answer=answer, settings=settings)
    if outcome is not None and outcome.final:
        await repo.drop_queued_job(session, kind=TICKET_JOB, ref_id=ticket.id)
    elif outcome is not None:
        await repo.enqueue_job(session, kind=TICKET_JOB, ref_id=ticket.id,
                               run_at=utcnow() + timedelta(seconds=first_delay(answer)),
                               deadline=ticket.created_at + timedelta(hours=settings.payment_check_deadline_hours))
    return outcome


async def check_payment_now(session: AsyncSession, *, payment: Payment, wallet: WalletClient | None,
                            settings: Settings, merchant_addresses: dict[str, str]) -> CheckOutcome | None:
    """The request's check of a newly recorded crypto payment: committed first, then asked within the budget."""
    expectation = payment_expectation(payment, merchant_addresses)
    if expectation is None:
        return None
    now = utcnow()
    budget = settings.payment_check_inline_seconds
    await repo.enqueue_job(session, kind=PAYMENT_JOB, ref_id=payment.id, run_at=now + timedelta(seconds=budget + 5),
                           deadline=now + timedelta(hours=settings.payment_check_deadline_hours))
    await session.commit()
    answer = await ask_chain(wallet, expectation, lang="en", budget=budget)
    outcome = await _apply_to_locked_payment(session, payment.id, answer, settings=settings, lang="en")
    if outcome is None:
        return None
    if outcome.final:
        # Settled payments keep their reorg-watch job (written by the settle); others are done.
        if outcome.changed != "paid":
            await repo.drop_queued_job(session, kind=PAYMENT_JOB, ref_id=payment.id)
    else:
        await repo.enqueue_job(session, kind=PAYMENT_JOB, ref_id=payment.id,
                               run_at=utcnow() + timedelta(seconds=first_delay(answer)), deadline=None)
    return outcome


# -- the worker path ---------------------------------------------------------------------------------------------

@dataclass
class JobPlan:
    ticket_plan: TicketPlan | None = None
    payment_id: str | None = None
    expectation: rules.Expectation | None = None
    fresh: bool = False
    lang: str = "en"

    @property
    def done(self) -> bool:
        """Nothing to ask: finish the job."""
        return self.ticket_plan is None and self.payment_id is None


async def plan_job(session: AsyncSession, job: Job, merchant_addresses: dict[str, str]) -> JobPlan:
    """Read what a job must check (a short read; the caller commits before asking the chain)."""
    if job.kind == TICKET_JOB:
        ticket = await repo.ticket_by_id(session, job.ref_id)
        if ticket is None or ticket.status in ("resolved", "closed"):
            return JobPlan()
        plan = await plan_ticket(session, ticket=ticket, merchant_addresses=merchant_addresses)
        if plan is None:
            return JobPlan()
        return JobPlan(ticket_plan=plan, expectation=plan.expectation, lang=plan.lang)
    if job.kind == PAYMENT_JOB:
        payment = await repo.payment_by_id(session, job.ref_id)
        if payment is None or payment.status == "refunded":
            return JobPlan()
        settled = await repo.settlement_of(session, payment.id) is not None
        if payment.status == "succeeded" and not settled:
            return JobPlan()  # paid on someone's word, not the chain's: nothing to watch
        expectation = payment_expectation(payment, merchant_addresses)
        if expectation is None:
            return JobPlan()
        # Past the cache when watching a settled payment: the watch exists to catch a reorg deeper than "final".
        return JobPlan(payment_id=payment.id, expectation=expectation, fresh=settled)
    return JobPlan()


async def apply_job(session: AsyncSession, plan: JobPlan, answer: ChainAnswer,
                    settings: Settings) -> CheckOutcome | None:
    if plan.ticket_plan is not None:
        return await apply_to_ticket(session, plan=plan.ticket_plan, answer=answer, settings=settings)
    if plan.payment_id is not None:
        return await _apply_to_locked_payment(session, plan.payment_id, answer, settings=settings, lang=plan.lang)
    return None


async def _apply_to_locked_payment(session: AsyncSession, payment_id: str, answer: ChainAnswer, *,
                                   settings: Settings, lang: str) -> CheckOutcome | None:
    """A payment's check recorded under its row lock and its order's (after the chain was asked, unlocked)."""
    payment = await repo.payment_by_id(session, payment_id, for_update=True)
    order = await repo.order_by_id(session, payment.order_id, for_update=True) if payment else None
    if payment is None or order is None:
        return None
    return await apply_to_payment(session, payment=payment, order=order, answer=answer, settings=settings, lang=lang)
