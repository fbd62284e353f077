"""Every SQL statement of the orders service. Functions take the session; they flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.orders.models import (
    Job,
    Order,
    OrderItem,
    Payment,
    PaymentStatusHistory,
    Return,
    Shipment,
    Ticket,
    TicketMessage,
    TrackingEvent,
)


def _upsert_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, the one that knows ON CONFLICT (PostgreSQL's or SQLite's)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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


async def shipment_for_tracking(session: AsyncSession, carrier: str, tracking_number: str) -> Shipment | None:
    """By carrier and number; else by number alone when exactly one shipment has it (aggregators name carriers
    their own way: AfterShip's `china-post` may be our `chinapost`). One round trip either way."""
    stmt = (select(Shipment).where(col(Shipment.tracking_number) == tracking_number)
            .order_by((col(Shipment.carrier) == carrier).desc()).limit(2))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    rows = list((await session.execute(stmt)).scalars())
    if rows and (rows[0].carrier == carrier or len(rows) == 1):
        return rows[0]
    return None


EVENT_COLUMNS = ("carrier", "tracking_number", "dedup_key", "event_id", "shipment_id", "status", "substatus",
                 "raw_status", "occurred_at", "description", "location", "raw", "source", "received_at")
_JSON_COLUMNS = {"location", "raw"}
_PG_TYPES = {"occurred_at": "timestamptz", "received_at": "timestamptz"}
_PG_INSERT_EVENTS = (
    f"INSERT INTO tracking_events ({', '.join(EVENT_COLUMNS)}) "
    f"SELECT {', '.join(f'{c}::json' if c in _JSON_COLUMNS else c for c in EVENT_COLUMNS)} FROM unnest("
    + ", ".join(f"${i}::{_PG_TYPES.get(c, 'text')}[]" for i, c in enumerate(EVENT_COLUMNS, start=1))
    + f") AS u({', '.join(EVENT_COLUMNS)}) "
    "ON CONFLICT (carrier, tracking_number, dedup_key) DO NOTHING RETURNING id"
)


async def insert_events(session: AsyncSession, records: list[tuple[Any, ...]]) -> int:
    """Insert tracking events (tuples in EVENT_COLUMNS order), skipping those already stored: the unique
    identity decides, so concurrent deliveries of the same webhook are safe. Returns how many were new."""
    if not records:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return await _pg_insert_events(session, records)
    stmt = (_upsert_insert(session)(TrackingEvent)
            .on_conflict_do_nothing(index_elements=["carrier", "tracking_number", "dedup_key"])
            .returning(col(TrackingEvent.id)))
    rows = [dict(zip(EVENT_COLUMNS, record, strict=True)) for record in records]
    return len((await session.execute(stmt, rows)).all())


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


_JSON_POSITIONS = [i for i, c in enumerate(EVENT_COLUMNS) if c in _JSON_COLUMNS]


async def _pg_insert_events(session: AsyncSession, records: list[tuple[Any, ...]]) -> int:
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    encoded = []
    for record in records:
        values = list(record)
        for i in _JSON_POSITIONS:
            if values[i] is not None:
                values[i] = _encode_json(values[i])
        encoded.append(values)
    # Most batches are new events: COPY is the fast path. A redelivery hits the unique index and takes the
    # ON CONFLICT path instead; the database decides both, so concurrent senders are safe.
    try:
        async with driver.transaction():
            await driver.copy_records_to_table("tracking_events", records=encoded, columns=list(EVENT_COLUMNS))
        return len(records)
    except asyncpg.UniqueViolationError:
        arrays = [list(column) for column in zip(*encoded, strict=True)]
        return len(await driver.fetch(_PG_INSERT_EVENTS, *arrays))


async def lock_tracking_numbers(session: AsyncSession, tracking_numbers: Sequence[str]) -> None:
    """Serialize ingest and shipment registration per tracking number until the transaction ends, so an event
    for a number being registered is either seen by the registration's attach or sees the shipment itself
    (PostgreSQL advisory locks, taken in sorted order; SQLite already runs one writer at a time, and ingest
    checks again for the shipment after its insert)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    from sqlalchemy import text as sql_text  # local: the module's import line is shared by several hands

    lock = sql_text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 7261))")
    for number in sorted(set(tracking_numbers)):
        await session.execute(lock, {"n": number})


async def attach_waiting_events(session: AsyncSession, shipment: Shipment) -> list[TrackingEvent]:
    """Events that arrived before their shipment was registered."""
    await session.execute(
        update(TrackingEvent)
        .where(col(TrackingEvent.tracking_number) == shipment.tracking_number,
               col(TrackingEvent.shipment_id).is_(None))
        .values(shipment_id=shipment.id))
    return await events_of(session, shipment.id)


async def events_of(session: AsyncSession, shipment_id: str) -> list[TrackingEvent]:
    stmt = (select(TrackingEvent).where(col(TrackingEvent.shipment_id) == shipment_id)
            .order_by(col(TrackingEvent.occurred_at), col(TrackingEvent.id)))
    return list((await session.execute(stmt)).scalars())


async def snapshot_rows(session: AsyncSession, order_id: str) -> tuple[
        Order | None, list[OrderItem], list[Payment], dict[str, list[PaymentStatusHistory]],
        list[tuple[Shipment, list[TrackingEvent]]], list[Ticket], list[Return]]:
    """Everything a diagnosis needs in five statements, whatever the number of events."""
    order: Order | None = None
    items: list[OrderItem] = []
    for found_order, item in (await session.execute(
            select(Order, OrderItem).outerjoin(OrderItem, col(OrderItem.order_id) == col(Order.id))
            .where(col(Order.id) == order_id).order_by(col(OrderItem.id)))).all():
        order = found_order
        if item is not None:
            items.append(item)
    if order is None:
        return None, [], [], {}, [], [], []

    payments: dict[str, Payment] = {}
    history: dict[str, list[PaymentStatusHistory]] = {}
    for payment, entry in (await session.execute(
            select(Payment, PaymentStatusHistory)
            .outerjoin(PaymentStatusHistory, col(PaymentStatusHistory.payment_id) == col(Payment.id))
            .where(col(Payment.order_id) == order_id)
            .order_by(col(Payment.created_at), col(PaymentStatusHistory.occurred_at), col(PaymentStatusHistory.id)))
            ).all():
        payments.setdefault(payment.id, payment)
        bucket = history.setdefault(payment.id, [])
        if entry is not None:
            bucket.append(entry)

    shipments: dict[str, tuple[Shipment, list[TrackingEvent]]] = {}
    for shipment, event in (await session.execute(
            select(Shipment, TrackingEvent)
            .outerjoin(TrackingEvent, col(TrackingEvent.shipment_id) == col(Shipment.id))
            .where(col(Shipment.order_id) == order_id)
            .order_by(col(Shipment.created_at), col(TrackingEvent.occurred_at), col(TrackingEvent.id)))).all():
        _, events = shipments.setdefault(shipment.id, (shipment, []))
        if event is not None:
            events.append(event)

    tickets = list((await session.execute(
        select(Ticket).where(col(Ticket.order_id) == order_id).order_by(col(Ticket.created_at)))).scalars())
    returns = list((await session.execute(
        select(Return).where(col(Return.order_id) == order_id).order_by(col(Return.created_at)))).scalars())
    return order, items, list(payments.values()), history, list(shipments.values()), tickets, returns


async def returns_of(session: AsyncSession, order_id: str) -> list[Return]:
    stmt = select(Return).where(col(Return.order_id) == order_id).order_by(col(Return.created_at))
    return list((await session.execute(stmt)).scalars())


async def return_by_id(session: AsyncSession, return_id: str) -> Return | None:
    return (await session.execute(select(Return).where(col(Return.id) == return_id))).scalar_one_or_none()


async def ticket_by_id(session: AsyncSession, ticket_id: str, *, for_update: bool = False) -> Ticket | None:
    stmt = select(Ticket).where(col(Ticket.id) == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def messages_of(session: AsyncSession, ticket_id: str) -> list[TicketMessage]:
    stmt = (select(TicketMessage).where(col(TicketMessage.ticket_id) == ticket_id)
            .order_by(col(TicketMessage.created_at), col(TicketMessage.id)))
    return list((await session.execute(stmt)).scalars())


async def list_tickets(session: AsyncSession, *, customer_id: str | None, order_id: str | None,
                       status: str | None, limit: int, offset: int) -> list[Ticket]:
    stmt = select(Ticket)
    if customer_id is not None:
        stmt = stmt.where(col(Ticket.customer_id) == customer_id)
    if order_id is not None:
        stmt = stmt.where(col(Ticket.order_id) == order_id)
    if status is not None:
        stmt = stmt.where(col(Ticket.status) == status)
    stmt = stmt.order_by(col(Ticket.created_at).desc(), col(Ticket.id)).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())


# Jobs ---------------------------------------------------------------------------------------------------

async def enqueue_job(session: AsyncSession, *, kind: str, ref_id: str, run_at: datetime,
                      deadline: datetime | None) -> None:
    """One job per (kind, ref): enqueuing again brings it forward instead of adding a second one."""
    now = datetime.now(UTC)
    stmt = _upsert_insert(session)(Job).values(kind=kind, ref_id=ref_id, state="queued", run_at=run_at,
                                               deadline=deadline, attempts=0, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "ref_id"],
        set_={"state": "queued", "run_at": stmt.excluded.run_at, "updated_at": now,
              "deadline": func.coalesce(Job.__table__.c.deadline, stmt.excluded.deadline)},  # type: ignore[attr-defined]
    )
    await session.execute(stmt)


async def claim_jobs(session: AsyncSession, *, worker_id: str, now: datetime, lease_seconds: float,
                     limit: int) -> list[Job]:
    """Take due jobs for this worker. On PostgreSQL concurrent workers skip each other's rows (SKIP LOCKED);
    SQLite runs one writer at a time. A job whose worker died is taken again once its lease ends."""
    table = Job.__table__  # type: ignore[attr-defined]
    due = or_(and_(table.c.state == "queued", table.c.run_at <= now),
              and_(table.c.state == "running", table.c.locked_until < now))
    pick = select(table.c.id).where(due).order_by(table.c.run_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (update(table).where(table.c.id.in_(pick.scalar_subquery()))
            .values(state="running", locked_by=worker_id, locked_until=now + timedelta(seconds=lease_seconds),
                    attempts=table.c.attempts + 1, updated_at=now)
            .returning(*table.c))
    rows = (await session.execute(stmt)).mappings().all()
    return [Job(**dict(row)) for row in rows]


async def finish_job(session: AsyncSession, *, job_id: int, state: str, run_at: datetime | None = None,
                     error: str | None = None) -> None:
    table = Job.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {"state": state, "locked_by": None, "locked_until": None,
                              "updated_at": datetime.now(UTC), "last_error": error}
    if run_at is not None:
        values["run_at"] = run_at
    await session.execute(update(table).where(table.c.id == job_id).values(**values))



async def insert_marker(session: AsyncSession, *, kind: str, ref_id: str) -> bool:
    """A done-job row used as a once-only marker (a stalled parcel flagged once); False when already there."""
    now = datetime.now(UTC)
    stmt = (_upsert_insert(session)(Job).values(kind=kind, ref_id=ref_id, state="done", run_at=now, attempts=1,
                                                created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "ref_id"]).returning(Job.__table__.c.id))  # type: ignore[attr-defined]
    return (await session.execute(stmt)).first() is not None


async def stalled_shipments(session: AsyncSession, *, older_than: datetime) -> list[tuple[Shipment, Order]]:
    stmt = (select(Shipment, Order).join(Order, col(Order.id) == col(Shipment.order_id))
            .where(col(Shipment.delivered_at).is_(None), col(Shipment.last_event_at) < older_than,
                   col(Shipment.status).not_in(["returned_to_sender", "expired"]),
                   col(Order.status).not_in(["cancelled", "refunded", "returned"]))
            .order_by(col(Shipment.last_event_at)).limit(500))
    return [(s, o) for s, o in (await session.execute(stmt)).all()]


async def payment_for_tx(session: AsyncSession, *, order_id: str, tx_hash: str) -> Payment | None:
    stmt = (select(Payment).where(col(Payment.order_id) == order_id,
                                  func.lower(col(Payment.tx_hash)) == tx_hash.lower())
            .order_by(col(Payment.created_at)))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def tickets_for_tx(session: AsyncSession, *, order_id: str, tx_hash: str) -> list[Ticket]:
    stmt = select(Ticket).where(col(Ticket.order_id) == order_id, func.lower(col(Ticket.tx_hash)) == tx_hash.lower())
    return list((await session.execute(stmt)).scalars())
