"""Rules of the orders service: orders, payments and their timeline, shipments. Services flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.types import utcnow
from services.orders import repository as repo
from services.orders import schemas
from services.orders.errors import (
    DuplicateOrderNumber,
    DuplicateShipment,
    InvalidTransition,
    OrderNotFound,
    PaymentNotFound,
)
from services.orders.models import Order, OrderItem, Payment, PaymentStatusHistory, Shipment
from services.orders.tracking.ingest import apply_events, as_event

PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    "pending": {"succeeded", "failed"},
    # A payment reported failed can turn out paid (a bank or the chain says so later).
    "failed": {"pending", "succeeded"},
    # Back to pending only when the chain takes a confirmed tx back (reorg): see the reconciler.
    "succeeded": {"refunded"},
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


async def list_orders(session: AsyncSession, *, principal: Principal, order_number: str | None,
                      customer_id: str | None, limit: int, offset: int) -> list[Order]:
    if principal.is_customer:
        if customer_id is not None and customer_id != principal.customer_id:
            return []
        customer_id = principal.customer_id
    return await repo.list_orders(session, order_number=order_number, customer_id=customer_id,
                                  limit=limit, offset=offset)


async def set_order_status(session: AsyncSession, *, order: Order, status: str, force: bool = False) -> None:
    if order.status == status:
        return
    allowed = ORDER_TRANSITIONS[order.status]
    if not force and status not in allowed:
        raise InvalidTransition("order", order.status, status, allowed)
    order.status = status
    order.updated_at = utcnow()
    await session.flush()


async def record_payment(session: AsyncSession, *, order: Order, body: schemas.PaymentCreate,
                         merchant_addresses: dict[str, str]) -> Payment:
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
        await _order_paid(session, order)
    return payment


async def _order_paid(session: AsyncSession, order: Order) -> None:
    if order.status == "pending_payment":
        await set_order_status(session, order=order, status="paid")


async def move_payment(session: AsyncSession, *, payment: Payment, status: str, failure_code: str | None,
                       note: str | None, source: str = "api", force: bool = False) -> bool:
    """Move a payment along its timeline; False when it is already there (idempotent)."""
    if payment.status == status and (failure_code is None or failure_code == payment.failure_code):
        return False
    allowed = PAYMENT_TRANSITIONS[payment.status]
    if not force and status not in allowed:
        raise InvalidTransition("payment", payment.status, status, allowed)
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
    if not await repo.insert_shipment(session, shipment):
        raise DuplicateShipment(body.carrier, body.tracking_number)
    waiting = await repo.attach_waiting_events(session, shipment)
    if apply_events(shipment, [as_event(e) for e in waiting]):
        await session.flush()
    if order.status in ("paid", "fulfilling"):
        await set_order_status(session, order=order, status="shipped")
    return shipment
