"""The console's own statements: the ticket queue (keyset paging, counts) and the search box."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.orders.models import Order, Payment, Shipment, Ticket

SEARCH_LIMIT = 50


def _ticket_filters(*, customer_id: str | None, status: str | None, type_: str | None,
                    channel: str | None) -> list[object]:
    where: list[object] = []
    if customer_id is not None:
        where.append(col(Ticket.customer_id) == customer_id)
    if status is not None:
        where.append(col(Ticket.status) == status)
    if type_ is not None:
        where.append(col(Ticket.type) == type_)
    if channel is not None:
        where.append(col(Ticket.channel) == channel)
    return where


async def queue_page(session: AsyncSession, *, customer_id: str | None, status: str | None, type_: str | None,
                     channel: str | None, newest_first: bool, after: tuple[datetime, str] | None,
                     limit: int) -> list[Ticket]:
    """Keyset paging on (created_at, id): a ticket that arrives meanwhile never shifts or repeats a page."""
    stmt = select(Ticket).where(*_ticket_filters(customer_id=customer_id, status=status, type_=type_,  # type: ignore[arg-type]
                                                 channel=channel))
    created, ident = col(Ticket.created_at), col(Ticket.id)
    if after is not None:
        at, last_id = after
        if newest_first:
            stmt = stmt.where(or_(created < at, and_(created == at, ident < last_id)))
        else:
            stmt = stmt.where(or_(created > at, and_(created == at, ident > last_id)))
    order = (created.desc(), ident.desc()) if newest_first else (created.asc(), ident.asc())
    return list((await session.execute(stmt.order_by(*order).limit(limit))).scalars())


async def queue_counts(session: AsyncSession, *, customer_id: str | None, type_: str | None,
                       channel: str | None) -> dict[str, int]:
    stmt = (select(col(Ticket.status), func.count())
            .where(*_ticket_filters(customer_id=customer_id, status=None, type_=type_, channel=channel))  # type: ignore[arg-type]
            .group_by(col(Ticket.status)))
    return {str(status): int(count) for status, count in (await session.execute(stmt)).all()}


def _own(stmt: object, customer_id: str | None) -> object:
    return stmt if customer_id is None else stmt.where(col(Order.customer_id) == customer_id)  # type: ignore[attr-defined]


async def orders_matching(session: AsyncSession, *, kind: str, text: str, digits: str,
                          customer_id: str | None) -> list[Order]:
    """Orders by order number or tracking number (any entry), e-mail, phone (digits, formatting ignored) or tx."""
    conditions = [col(Order.order_number) == text,
                  col(Order.id).in_(select(col(Shipment.order_id)).where(
                      func.upper(col(Shipment.tracking_number)) == text.upper()))]
    if kind == "email":
        conditions.append(func.lower(col(Order.customer_email)) == text.lower())
    elif kind == "phone":
        stored = col(Order.customer_phone)
        for char in (" ", "-", "(", ")", ".", "+"):
            stored = func.replace(stored, char, "")  # type: ignore[assignment]
        conditions.append(stored.like(f"%{digits[-11:]}"))
    elif kind == "tx_hash":
        conditions.append(col(Order.id).in_(select(col(Payment.order_id)).where(
            func.lower(col(Payment.tx_hash)) == text.lower())))
        conditions.append(col(Order.id).in_(select(col(Ticket.order_id)).where(
            func.lower(col(Ticket.tx_hash)) == text.lower())))
    stmt = _own(select(Order).where(or_(*conditions)), customer_id)
    stmt = stmt.order_by(col(Order.placed_at).desc()).limit(SEARCH_LIMIT)  # type: ignore[attr-defined]
    return list((await session.execute(stmt)).scalars())  # type: ignore[call-overload]


async def tickets_matching(session: AsyncSession, *, kind: str, text: str, order_ids: list[str],
                           customer_id: str | None) -> list[Ticket]:
    conditions = [col(Ticket.order_number) == text, col(Ticket.id) == text]
    if order_ids:
        conditions.append(col(Ticket.order_id).in_(order_ids))
    if kind == "tx_hash":
        conditions.append(func.lower(col(Ticket.tx_hash)) == text.lower())
    stmt = select(Ticket).where(or_(*conditions))
    if customer_id is not None:
        stmt = stmt.where(col(Ticket.customer_id) == customer_id)
    stmt = stmt.order_by(col(Ticket.created_at).desc()).limit(SEARCH_LIMIT)
    return list((await session.execute(stmt)).scalars())
