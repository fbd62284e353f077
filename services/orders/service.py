"""Rules of the orders service: orders, payments and their timeline, shipments. Services flush, never commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.errors import Forbidden, InvalidInput
from services.common.schemas import format_decimal
from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import repository as repo
from services.orders import schemas
from services.orders.channels import hooks as channel_hooks
from services.orders.channels import outbox
from services.orders.diagnosis.missing_info import missing_information
from services.orders.diagnosis.returns import refund_path, snapshot_eligibility
from services.orders.diagnosis.snapshot import OrderSnapshot, Policy, ShipmentView
from services.orders.errors import (
    DuplicateOrderNumber,
    DuplicateShipment,
    InvalidTransition,
    OrderNotFound,
    PaymentNotFound,
    ReturnNotAllowed,
    TicketNotFound,
    TransferAlreadyUsed,
)
from services.orders.models import (
    Order,
    OrderItem,
    Payment,
    PaymentStatusHistory,
    Return,
    Shipment,
    Ticket,
    TicketMessage,
)
from services.orders.tracking.ingest import attach_waiting

PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    "pending": {"succeeded", "failed"},
    # A payment reported failed can turn out paid (a bank or the chain says so later).
    "failed": {"pending", "succeeded"},
    "succeeded": {"refunded"},
    "refunded": set(),
}

# Moves made on the chain's evidence (source "chain"). Only here may a succeeded payment go back to pending:
# its tx left the chain (reorg), as the reconciler proves before asking. A refund is final for everyone.
CHAIN_PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    "pending": {"succeeded", "failed"},
    "failed": {"succeeded"},
    "succeeded": {"pending"},
    "refunded": set(),
}

ORDER_TRANSITIONS: dict[str, set[str]] = {
    "pending_payment": {"paid", "cancelled"},
    "paid": {"fulfilling", "shipped", "cancelled", "refunded", "pending_payment"},
    "fulfilling": {"shipped", "cancelled", "refunded"},
    "shipped": {"delivered", "returned", "refunded"},
    "delivered": {"completed", "returned", "refunded"},
    "completed": {"returned", "refunded"},
    "cancelled": {"refunded"},
    "returned": {"refunded"},
    "refunded": set(),
}


def check_transition(what: str, table: dict[str, set[str]], current: str, wanted: str) -> None:
    """Every lifecycle here is a table of allowed moves; anything else is a 409 that lists them."""
    if wanted not in table[current]:
        raise InvalidTransition(what, current, wanted, table[current])


def order_total(items: Sequence[schemas.OrderItemIn]) -> Decimal:
    return sum((item.unit_price * item.quantity for item in items), Decimal("0"))


def ensure_visible(order: Order | None, principal: Principal, ref: str) -> Order:
    """A customer sees only their own orders; someone else's is a 404, never a 403."""
    if order is None or (principal.is_customer and order.customer_id != principal.customer_id):
        raise OrderNotFound(ref)
    return order


async def create_order(session: AsyncSession, *, body: schemas.OrderCreate) -> tuple[Order, list[OrderItem]]:
    address = body.shipping_address.model_dump(exclude_none=True) if body.shipping_address else None
    order = Order(order_number=body.order_number, customer_id=body.customer.id,
                  customer_email=body.customer.email, customer_phone=body.customer.phone,
                  customer_name=body.customer.name, currency=body.currency, status=body.status,
                  total=order_total(body.items), placed_at=body.placed_at, shipping_address=address)
    items = [OrderItem(order_id=order.id, sku=i.sku, name=i.name, category=i.category.lower(),
                       quantity=i.quantity, unit_price=i.unit_price) for i in body.items]
    if not await repo.insert_order(session, order, items):
        raise DuplicateOrderNumber(body.order_number)
    return order, items


async def get_order(session: AsyncSession, *, order_id: str, principal: Principal) -> Order:
    return ensure_visible(await repo.order_by_id(session, order_id), principal, order_id)


async def order_view(session: AsyncSession, *, order_id: str, principal: Principal) -> tuple[Any, list[Any]]:
    """The order read's rows (see repo.order_read): the order and its items, under the same visibility rule."""
    rows = await repo.order_read(session, order_id)
    if not rows or (principal.is_customer and rows[0]["customer_id"] != principal.customer_id):
        raise OrderNotFound(order_id)
    return rows[0], [r for r in rows if r["item_sku"] is not None]


async def list_orders(session: AsyncSession, *, principal: Principal, order_number: str | None,
                      customer_id: str | None, limit: int, offset: int) -> list[Order]:
    if principal.is_customer:
        if customer_id is not None and customer_id != principal.customer_id:
            return []
        customer_id = principal.customer_id
    return await repo.list_orders(session, order_number=order_number, customer_id=customer_id,
                                  limit=limit, offset=offset)


async def set_order_status(session: AsyncSession, *, order: Order, status: str) -> None:
    if order.status == status:
        return
    check_transition("order", ORDER_TRANSITIONS, order.status, status)
    order.status = status
    order.updated_at = utcnow()
    await session.flush()


async def record_payment(session: AsyncSession, *, order: Order, body: schemas.PaymentCreate,
                         merchant_addresses: dict[str, str], reorg_watch_seconds: float) -> Payment:
    crypto = body.crypto
    payment = Payment(order_id=order.id, method=body.method, amount=body.amount, currency=body.currency.upper(),
                      status=body.status, failure_code=body.failure_code)
    if crypto is not None:
        payment.chain = crypto.chain
        payment.tx_hash = crypto.tx_hash
        payment.token = (crypto.token or body.currency).upper()
        payment.to_address = crypto.to_address or merchant_addresses.get(crypto.chain)
        payment.from_address = crypto.from_address
    history = PaymentStatusHistory(payment_id=payment.id, from_status=None, to_status=body.status,
                                   failure_code=body.failure_code, note="payment attempt recorded", source="api")
    await repo.add_and_flush(session, payment)
    await repo.add_and_flush(session, history)
    if body.status == "succeeded":
        await _hold_transfer(session, payment, source="api", reorg_watch_seconds=reorg_watch_seconds)
        await _order_paid(session, order)
    return payment


async def _hold_transfer(session: AsyncSession, payment: Payment, *, source: str,
                         reorg_watch_seconds: float | None) -> None:
    """A crypto payment with a tx that becomes succeeded holds its transfer (one transfer settles one payment;
    the chain's own path claims it before moving) and gets a reorg watch, whichever path paid it."""
    if not (payment.method == "crypto" and payment.chain and payment.tx_hash):
        return
    if source != "chain" and not await repo.claim_settlement(
            session, chain=payment.chain, tx_hash=payment.tx_hash, token=payment.token or payment.currency,
            payment_id=payment.id, order_id=payment.order_id, block_number=None):
        raise TransferAlreadyUsed(payment.chain, payment.tx_hash)
    if reorg_watch_seconds is not None:
        await repo.enqueue_job(session, kind="payment_chain_check", ref_id=payment.id,
                               run_at=utcnow() + timedelta(seconds=reorg_watch_seconds), deadline=None, exact=True)


async def _order_paid(session: AsyncSession, order: Order) -> None:
    if order.status == "pending_payment":
        await set_order_status(session, order=order, status="paid")
        await outbox.emit(session, type="order.paid", order_id=order.id,
                          data={"order_id": order.id, "order_number": order.order_number,
                                "total": format_decimal(order.total), "currency": order.currency})


async def move_payment(session: AsyncSession, *, payment: Payment, status: str, failure_code: str | None,
                       note: str | None, source: str = "api", reorg_watch_seconds: float | None = None) -> bool:
    """Move a payment along its timeline (the chain's table for source "chain", the API's otherwise); False when
    it is already there (idempotent)."""
    if payment.status == status and (failure_code is None or failure_code == payment.failure_code):
        return False
    table = CHAIN_PAYMENT_TRANSITIONS if source == "chain" else PAYMENT_TRANSITIONS
    check_transition("payment", table, payment.status, status)
    if status == "succeeded":
        await _hold_transfer(session, payment, source=source, reorg_watch_seconds=reorg_watch_seconds)
    entry = PaymentStatusHistory(payment_id=payment.id, from_status=payment.status, to_status=status,
                                 failure_code=failure_code, note=note, source=source)
    payment.status = status
    payment.failure_code = failure_code if status == "failed" else None
    payment.updated_at = utcnow()
    await repo.add_and_flush(session, entry)
    if status == "succeeded":
        order = await repo.order_by_id(session, payment.order_id)
        if order is not None:
            await _order_paid(session, order)
    return True


async def get_payment(session: AsyncSession, *, payment_id: str, principal: Principal,
                      for_update: bool = False) -> Payment:
    payment = await repo.payment_by_id(session, payment_id, for_update=for_update)
    if payment is None:
        raise PaymentNotFound(payment_id)
    order = await repo.order_by_id(session, payment.order_id)
    if order is None or (principal.is_customer and order.customer_id != principal.customer_id):
        raise PaymentNotFound(payment_id)
    return payment


async def register_shipment(session: AsyncSession, *, order: Order, body: schemas.ShipmentCreate) -> Shipment:
    shipment = Shipment(order_id=order.id, carrier=body.carrier, tracking_number=body.tracking_number,
                        status="pending")
    # Webhooks for this number wait on the same lock: none can commit unattached while we register.
    await repo.lock_tracking_numbers(session, [body.tracking_number])
    if not await repo.insert_shipment(session, shipment):
        raise DuplicateShipment(body.carrier, body.tracking_number)
    await attach_waiting(session, shipment)  # events that came first
    if order.status in ("paid", "fulfilling"):
        await set_order_status(session, order=order, status="shipped")
    return shipment


# Diagnosis ----------------------------------------------------------------------------------------------

def policy_from(settings: Settings) -> Policy:
    return Policy(return_window_days=settings.return_window_days(), carrier_gap_hours=settings.carrier_gap_hours(),
                  payment_pending_hours=settings.payment_pending_too_long_hours,
                  ship_within_hours=settings.ship_within_hours, address_match_km=settings.address_match_km,
                  address_mismatch_km=settings.address_mismatch_km,
                  non_returnable_categories=frozenset(settings.non_returnable_categories()))


async def load_snapshot(session: AsyncSession, *, order_id: str, principal: Principal, policy: Policy,
                        now: datetime | None = None, read_only: bool = False) -> OrderSnapshot:
    """`read_only`: for a caller that only reads the snapshot (a diagnosis): its rows are plain instances in no
    session, read in one statement on PostgreSQL."""
    load = repo.snapshot_plain if read_only else repo.snapshot_rows
    order, items, payments, history, shipments, tickets, returns = await load(session, order_id)
    order = ensure_visible(order, principal, order_id)
    return OrderSnapshot(order=order, items=items, payments=payments, history=history,
                         shipments=[ShipmentView(s, events) for s, events in shipments], tickets=tickets,
                         returns=returns, now=now or utcnow(), policy=policy)


# Returns ------------------------------------------------------------------------------------------------

RETURN_TRANSITIONS: dict[str, set[str]] = {
    "requested": {"approved", "rejected"},
    "approved": {"received", "rejected"},
    "received": {"refunded"},
    "rejected": set(),
    "refunded": set(),
}


async def create_return(session: AsyncSession, *, snapshot: OrderSnapshot, body: schemas.ReturnCreate) -> Return:
    # One return request per order at a time: a no-op UPDATE takes the order row's lock (PostgreSQL) or the
    # write lock (SQLite) before the returns are re-read, so two requests cannot both count the same quantities
    # as still returnable.
    await session.execute(sa_update(Order).where(col(Order.id) == snapshot.order.id)
                          .values(updated_at=col(Order.updated_at)))
    snapshot = dataclasses.replace(snapshot, returns=await repo.returns_of(session, snapshot.order.id))
    by_sku = {e.sku: e for e in snapshot_eligibility(snapshot, body.reason)}
    prices = {i.sku: i.unit_price for i in snapshot.items}
    problems: list[dict[str, str]] = []
    for index, line in enumerate(body.items):
        item = by_sku.get(line.sku)
        field = f"items.{index}"
        if item is None:
            problems.append({"field": f"{field}.sku", "message": f"{line.sku} is not an item of this order"})
        elif not item.eligible:
            problems.append({"field": field, "message": f"{line.sku} cannot be returned: {', '.join(item.reasons)}"})
        elif line.quantity > item.returnable_quantity:
            problems.append({"field": f"{field}.quantity",
                             "message": f"quantity_exceeded: at most {item.returnable_quantity} of {line.sku}"})
    if problems:
        raise ReturnNotAllowed("Some items cannot be returned: " + "; ".join(p["message"] for p in problems),
                               errors=problems)
    method, destination = refund_path(snapshot.payments)
    ret = Return(order_id=snapshot.order.id, status="requested", reason=body.reason, condition=body.condition,
                 items=[{"sku": line.sku, "quantity": line.quantity} for line in body.items],
                 refund_method=method, refund_destination=destination,
                 refund_amount=sum((prices[line.sku] * line.quantity for line in body.items), Decimal("0")))
    await repo.add_and_flush(session, ret)
    return ret


async def move_return(session: AsyncSession, *, ret: Return, status: str) -> None:
    if ret.status == status:
        return
    check_transition("return", RETURN_TRANSITIONS, ret.status, status)
    ret.status = status
    ret.updated_at = utcnow()
    await session.flush()


# Tickets ------------------------------------------------------------------------------------------------

async def payment_check_for_agents(session: AsyncSession, *, ticket: Ticket) -> dict[str, Any] | None:
    """Agents also see which order a transfer already paid; a customer only hears that it was used."""
    check = ticket.payment_check
    if not check or check.get("verdict") != "already_used" or not (ticket.tx_chain and ticket.tx_hash):
        return check
    used = await repo.settlement_for_transfer(session, chain=ticket.tx_chain, tx_hash=ticket.tx_hash)
    return {**check, "used_by": [{"order_id": o.id, "order_number": o.order_number, "payment_id": s.payment_id}
                                 for s, o in used]}


def ensure_ticket_visible(ticket: Ticket | None, principal: Principal, ref: str) -> Ticket:
    if ticket is None or (principal.is_customer and ticket.customer_id != principal.customer_id):
        raise TicketNotFound(ref)
    return ticket


async def find_ticket_order(session: AsyncSession, *, body: schemas.TicketCreate, principal: Principal) -> Order | None:
    order = None
    if body.order_id:
        order = await repo.order_by_id(session, body.order_id)
        ref = body.order_id
    elif body.order_number:
        order = await repo.order_by_number(session, body.order_number)
        ref = body.order_number
    else:
        return None
    if body.order_id and body.order_number and order is not None and order.order_number != body.order_number:
        raise InvalidInput("order_id and order_number name different orders.",
                           errors=[{"field": "order_number", "message": "does not match order_id"}])
    return ensure_visible(order, principal, ref)


async def create_ticket(session: AsyncSession, *, body: schemas.TicketCreate, principal: Principal, lang: str,
                        snapshot: OrderSnapshot | None) -> Ticket:
    order = snapshot.order if snapshot else None
    if principal.is_customer:
        customer_id = principal.customer_id
    else:
        customer_id = order.customer_id if order else body.customer_id
        if order and body.customer_id and body.customer_id != order.customer_id:
            raise InvalidInput("customer_id is not the order's customer.",
                               errors=[{"field": "customer_id", "message": "does not match the order"}])
    details = body.details.model_dump(exclude_defaults=True)
    tx = body.tx.model_dump() if body.tx else None
    if tx and tx.get("token"):
        # What the customer says was sent is kept for agents to read; the check uses what the order expects.
        details["claimed"] = {"token": str(tx["token"]).upper()}
    missing = missing_information(
        ticket_type=body.type, order=order, items=snapshot.items if snapshot else [],
        payments=snapshot.payments if snapshot else [],
        shipments=[v.shipment for v in snapshot.shipments] if snapshot else [], details=details, tx=tx)
    ticket = Ticket(order_id=order.id if order else None,
                    order_number=order.order_number if order else body.order_number,
                    customer_id=customer_id, type=body.type, channel=body.channel, status="open",
                    description=body.description, lang=lang, tx_chain=tx["chain"] if tx else None,
                    tx_hash=tx["tx_hash"] if tx else None, missing_information=missing, details=details or None)
    await repo.add_and_flush(session, ticket)
    await repo.add_and_flush(session, TicketMessage(ticket_id=ticket.id, author="customer", channel=body.channel,
                                                    text=body.description))
    await channel_hooks.ticket_created(session, ticket)
    return ticket


TICKET_TRANSITIONS: dict[str, set[str]] = {
    "open": {"waiting_customer", "waiting_chain", "resolved", "closed"},
    "waiting_customer": {"open", "resolved", "closed"},
    "waiting_chain": {"open", "resolved", "closed"},
    "resolved": {"open", "closed"},
    "closed": {"open"},
}


async def move_ticket(session: AsyncSession, *, ticket: Ticket, status: str, note: str | None,
                      author: str = "agent") -> None:
    if ticket.status == status:
        return
    check_transition("ticket", TICKET_TRANSITIONS, ticket.status, status)
    previous, ticket.status = ticket.status, status
    ticket.updated_at = utcnow()
    if note:
        await repo.add_and_flush(session, TicketMessage(ticket_id=ticket.id, author=author, channel=ticket.channel,
                                                        text=note))
    await session.flush()
    await channel_hooks.ticket_status_changed(session, ticket, previous)


async def add_message(session: AsyncSession, *, ticket: Ticket, principal: Principal,
                      body: schemas.MessageCreate) -> TicketMessage:
    if principal.is_customer and body.visibility == "internal":
        raise Forbidden("Internal notes are written by agents; a customer key posts public messages only.")
    author = "customer" if principal.is_customer else (body.author or "agent")
    message = TicketMessage(ticket_id=ticket.id, author=author, channel=body.channel or ticket.channel,
                            text=body.text, visibility=body.visibility)
    ticket.updated_at = utcnow()
    # A customer's answer puts a ticket that waited on them back in the agents' queue.
    await repo.add_and_flush(session, message)
    if author == "customer" and ticket.status in ("waiting_customer", "resolved"):
        await move_ticket(session, ticket=ticket, status="open", note=None, author="customer")
    await channel_hooks.message_added(session, ticket=ticket, message=message)
    return message


def visible_messages(messages: Sequence[TicketMessage], principal: Principal) -> list[TicketMessage]:
    """Internal notes are never shown to a customer key."""
    return [m for m in messages if not (principal.is_customer and m.visibility == "internal")]
