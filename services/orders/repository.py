"""Every SQL statement of the orders service. Functions take the session; they flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.orders.models import Order, OrderItem, Payment, PaymentStatusHistory, Shipment


async def add_and_flush(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def insert_order(session: AsyncSession, order: Order, items: Sequence[OrderItem]) -> bool:
    """False when the order number is taken (the unique constraint decides, also under races)."""
    try:
        async with session.begin_nested():
            session.add(order)
            await session.flush()
            session.add_all(items)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def order_by_id(session: AsyncSession, order_id: str, *, for_update: bool = False) -> Order | None:
    stmt = select(Order).where(col(Order.id) == order_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def order_by_number(session: AsyncSession, order_number: str) -> Order | None:
    return (await session.execute(select(Order).where(col(Order.order_number) == order_number))).scalar_one_or_none()


async def items_of(session: AsyncSession, order_ids: Sequence[str]) -> dict[str, list[OrderItem]]:
    found: dict[str, list[OrderItem]] = {oid: [] for oid in order_ids}
    if not order_ids:
        return found
    rows = (await session.execute(select(OrderItem).where(col(OrderItem.order_id).in_(order_ids))
                                  .order_by(col(OrderItem.id)))).scalars()
    for item in rows:
        found[item.order_id].append(item)
    return found


async def list_orders(session: AsyncSession, *, order_number: str | None, customer_id: str | None,
                      limit: int, offset: int) -> list[Order]:
    stmt = select(Order)
    if order_number is not None:
        stmt = stmt.where(col(Order.order_number) == order_number)
    if customer_id is not None:
        stmt = stmt.where(col(Order.customer_id) == customer_id)
    stmt = stmt.order_by(col(Order.placed_at).desc(), col(Order.id)).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())


async def payment_by_id(session: AsyncSession, payment_id: str, *, for_update: bool = False) -> Payment | None:
    stmt = select(Payment).where(col(Payment.id) == payment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def payments_of(session: AsyncSession, order_id: str) -> list[Payment]:
    stmt = select(Payment).where(col(Payment.order_id) == order_id).order_by(col(Payment.created_at), col(Payment.id))
    return list((await session.execute(stmt)).scalars())


async def history_of(session: AsyncSession, payment_ids: Sequence[str]) -> dict[str, list[PaymentStatusHistory]]:
    found: dict[str, list[PaymentStatusHistory]] = {pid: [] for pid in payment_ids}
    if not payment_ids:
        return found
    stmt = (select(PaymentStatusHistory)
            .where(col(PaymentStatusHistory.payment_id).in_(payment_ids))
            .order_by(col(PaymentStatusHistory.occurred_at), col(PaymentStatusHistory.id)))
    for entry in (await session.execute(stmt)).scalars():
        found[entry.payment_id].append(entry)
    return found


async def shipment_by_id(session: AsyncSession, shipment_id: str) -> Shipment | None:
    return (await session.execute(select(Shipment).where(col(Shipment.id) == shipment_id))).scalar_one_or_none()


async def shipments_of(session: AsyncSession, order_id: str) -> list[Shipment]:
    stmt = select(Shipment).where(col(Shipment.order_id) == order_id).order_by(col(Shipment.created_at))
    return list((await session.execute(stmt)).scalars())


async def insert_shipment(session: AsyncSession, shipment: Shipment) -> bool:
    try:
        async with session.begin_nested():
            session.add(shipment)
            await session.flush()
    except IntegrityError:
        return False
    return True
