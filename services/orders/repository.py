"""Every SQL statement of the orders service. Functions take the session; they flush, never commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import bindparam
from sqlmodel import col

from services.common.db import pool_fetch
from services.orders.models import (
    Job,
    Order,
    OrderItem,
    Payment,
    PaymentSettlement,
    PaymentStatusHistory,
    Return,
    Shipment,
    Ticket,
    TicketMessage,
    TrackingEvent,
)


def upsert_insert(session: AsyncSession) -> Any:
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


async def first_row(session: AsyncSession, stmt: Any, *, for_update: bool = False) -> Any:
    """The first ORM object a statement selects. `for_update`: locked (SELECT ... FOR UPDATE on PostgreSQL) and
    as it is once locked: the session's own pending changes are written first, and an object the session already
    holds (loaded before a commit and a chain call, say) is refreshed from the locked row. Without
    populate_existing SQLAlchemy hands back that object with the values it had, and the lock guards nothing."""
    if for_update:
        await session.flush()
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalars().first()


async def order_by_id(session: AsyncSession, order_id: str, *, for_update: bool = False) -> Order | None:
    return await first_row(session, select(Order).where(col(Order.id) == order_id), for_update=for_update)


_ORDERS = Order.__table__  # type: ignore[attr-defined]
_ITEMS = OrderItem.__table__  # type: ignore[attr-defined]
# Hot reads: statements built once (no per-request construction or cache-key work) that return plain rows.
_ORDER_READ = (select(*_ORDERS.c, _ITEMS.c.sku.label("item_sku"), _ITEMS.c.name.label("item_name"),
                      _ITEMS.c.category.label("item_category"), _ITEMS.c.quantity.label("item_quantity"),
                      _ITEMS.c.unit_price.label("item_unit_price"))
               .select_from(_ORDERS.outerjoin(_ITEMS, _ITEMS.c.order_id == _ORDERS.c.id))
               .where(_ORDERS.c.id == bindparam("order_id")).order_by(_ITEMS.c.id))


async def order_read(session: AsyncSession, order_id: str) -> list[Any]:
    """An order with its items in one statement, as plain rows: one per item (columns item_sku, item_name,
    item_category, item_quantity, item_unit_price), a single row with item_sku None for an order without
    items, none for no such order."""
    if session.get_bind().dialect.name != "postgresql":
        return list((await session.execute(_ORDER_READ, {"order_id": order_id})).mappings().all())
    return await pool_fetch(session, _PG_ORDER_READ, order_id)


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
    return await first_row(session, select(Payment).where(col(Payment.id) == payment_id), for_update=for_update)


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
    stmt = (select(Shipment).where(col(Shipment.order_id) == order_id)
            .order_by(col(Shipment.created_at), col(Shipment.id)))
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
    stmt = (upsert_insert(session)(TrackingEvent)
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
    """Events that arrived before their shipment was registered, taken under the shipment's carrier (as ingest
    stores events of a known shipment). Two providers may have pushed the same scan under their own carrier
    names meanwhile (Kuaidi100's `jd`, 17TRACK's number): it is kept once, the copies removed."""
    table = TrackingEvent.__table__  # type: ignore[attr-defined]
    waiting = (await session.execute(
        select(table.c.id, table.c.carrier, table.c.dedup_key)
        .where(table.c.tracking_number == shipment.tracking_number, table.c.shipment_id.is_(None))
        .order_by((table.c.carrier == shipment.carrier).desc(), table.c.id))).all()
    if not waiting:
        return await events_of(session, shipment.id)
    if all(row.carrier == shipment.carrier for row in waiting):
        await session.execute(update(table).where(table.c.id.in_([row.id for row in waiting]))
                              .values(shipment_id=shipment.id))
        return await events_of(session, shipment.id)
    kept: dict[str, int] = {}
    copies: list[int] = []
    for row in waiting:
        if row.dedup_key in kept:
            copies.append(row.id)
        else:
            kept[row.dedup_key] = row.id
    if copies:
        await session.execute(delete(table).where(table.c.id.in_(copies)))
    await session.execute(update(table).where(table.c.id.in_(list(kept.values())))
                          .values(shipment_id=shipment.id, carrier=shipment.carrier))
    return await events_of(session, shipment.id)


async def events_of(session: AsyncSession, shipment_id: str) -> list[TrackingEvent]:
    stmt = (select(TrackingEvent).where(col(TrackingEvent.shipment_id) == shipment_id)
            .order_by(col(TrackingEvent.occurred_at), col(TrackingEvent.id)))
    return list((await session.execute(stmt)).scalars())


# Ties broken by id, as in _PG_SNAPSHOT: both readers list rows made in the same instant in the same order.
_SNAPSHOT_ORDER = (select(Order, OrderItem).outerjoin(OrderItem, col(OrderItem.order_id) == col(Order.id))
                   .where(col(Order.id) == bindparam("order_id")).order_by(col(OrderItem.id)))
_SNAPSHOT_PAYMENTS = (select(Payment, PaymentStatusHistory)
                      .outerjoin(PaymentStatusHistory, col(PaymentStatusHistory.payment_id) == col(Payment.id))
                      .where(col(Payment.order_id) == bindparam("order_id"))
                      .order_by(col(Payment.created_at), col(Payment.id), col(PaymentStatusHistory.occurred_at),
                                col(PaymentStatusHistory.id)))
_SNAPSHOT_SHIPMENTS = (select(Shipment, TrackingEvent)
                       .outerjoin(TrackingEvent, col(TrackingEvent.shipment_id) == col(Shipment.id))
                       .where(col(Shipment.order_id) == bindparam("order_id"))
                       .order_by(col(Shipment.created_at), col(Shipment.id), col(TrackingEvent.occurred_at),
                                 col(TrackingEvent.id)))
_SNAPSHOT_TICKETS = (select(Ticket).where(col(Ticket.order_id) == bindparam("order_id"))
                     .order_by(col(Ticket.created_at), col(Ticket.id)))
_SNAPSHOT_RETURNS = (select(Return).where(col(Return.order_id) == bindparam("order_id"))
                     .order_by(col(Return.created_at), col(Return.id)))


async def snapshot_rows(session: AsyncSession, order_id: str) -> tuple[
        Order | None, list[OrderItem], list[Payment], dict[str, list[PaymentStatusHistory]],
        list[tuple[Shipment, list[TrackingEvent]]], list[Ticket], list[Return]]:
    """Everything a diagnosis needs in five statements, whatever the number of events."""
    order: Order | None = None
    items: list[OrderItem] = []
    key = {"order_id": order_id}
    for found_order, item in (await session.execute(_SNAPSHOT_ORDER, key)).all():
        order = found_order
        if item is not None:
            items.append(item)
    if order is None:
        return None, [], [], {}, [], [], []

    payments: dict[str, Payment] = {}
    history: dict[str, list[PaymentStatusHistory]] = {}
    for payment, entry in (await session.execute(_SNAPSHOT_PAYMENTS, key)).all():
        payments.setdefault(payment.id, payment)
        bucket = history.setdefault(payment.id, [])
        if entry is not None:
            bucket.append(entry)

    shipments: dict[str, tuple[Shipment, list[TrackingEvent]]] = {}
    for shipment, event in (await session.execute(_SNAPSHOT_SHIPMENTS, key)).all():
        _, events = shipments.setdefault(shipment.id, (shipment, []))
        if event is not None:
            events.append(event)

    tickets = list((await session.execute(_SNAPSHOT_TICKETS, key)).scalars())
    returns = list((await session.execute(_SNAPSHOT_RETURNS, key)).scalars())
    return order, items, list(payments.values()), history, list(shipments.values()), tickets, returns



class _PlainRows:
    """One table's rows as plain stand-ins for its model: a slotted dataclass with the model's column attributes
    (same names, same Python values), built and read at C speed, with no ORM state, identity map or session.
    For read-only callers: such a row cannot be added to a session or written back."""

    def __init__(self, model: Any, alias: str) -> None:
        columns = list(model.__table__.c)
        self.names = [c.name for c in columns]
        self.json = [i for i, c in enumerate(columns) if isinstance(c.type, JSON)]
        self.select = ", ".join(f'{alias}."{c.name}"::text' if isinstance(c.type, JSON) else f'{alias}."{c.name}"'
                                for c in columns)
        self.row = dataclasses.make_dataclass(f"{model.__name__}Row", self.names, slots=True, eq=False)

    def build(self, values: Any) -> Any:
        if self.json:
            values = list(values)
            for i in self.json:
                if values[i] is not None:
                    values[i] = orjson.loads(values[i])
        return self.row(*values)


_P_ORDER, _P_ITEM, _P_PAYMENT = _PlainRows(Order, "o"), _PlainRows(OrderItem, "i"), _PlainRows(Payment, "p")
_P_HISTORY, _P_SHIPMENT = _PlainRows(PaymentStatusHistory, "h"), _PlainRows(Shipment, "s")
_P_EVENT, _P_TICKET, _P_RETURN = _PlainRows(TrackingEvent, "e"), _PlainRows(Ticket, "t"), _PlainRows(Return, "r")
# order_read on PostgreSQL: the order's columns (as _P_ORDER reads them) and its items, one row per item.
_PG_ORDER_READ = (
    f"SELECT {_P_ORDER.select}, i.sku AS item_sku, i.name AS item_name, i.category AS item_category, "
    "i.quantity AS item_quantity, i.unit_price AS item_unit_price "
    "FROM orders o LEFT OUTER JOIN order_items i ON i.order_id = o.id WHERE o.id = $1 ORDER BY i.id")
# The whole snapshot in one statement (one round trip, one MVCC snapshot): the order's columns, then each
# child table as an array of anonymous records, which asyncpg decodes natively (Decimal, aware datetimes).
_PG_SNAPSHOT = (
    f"SELECT {_P_ORDER.select}, "
    f"ARRAY(SELECT ROW({_P_ITEM.select}) FROM order_items i WHERE i.order_id = o.id ORDER BY i.id), "
    f"ARRAY(SELECT ROW({_P_PAYMENT.select}) FROM payments p WHERE p.order_id = o.id ORDER BY p.created_at, p.id), "
    f"ARRAY(SELECT ROW({_P_HISTORY.select}) FROM payments p JOIN payment_status_history h ON h.payment_id = p.id "
    "WHERE p.order_id = o.id ORDER BY h.occurred_at, h.id), "
    f"ARRAY(SELECT ROW({_P_SHIPMENT.select}) FROM shipments s WHERE s.order_id = o.id ORDER BY s.created_at, s.id), "
    f"ARRAY(SELECT ROW({_P_EVENT.select}) FROM shipments s JOIN tracking_events e ON e.shipment_id = s.id "
    "WHERE s.order_id = o.id ORDER BY e.occurred_at, e.id), "
    f"ARRAY(SELECT ROW({_P_TICKET.select}) FROM tickets t WHERE t.order_id = o.id ORDER BY t.created_at, t.id), "
    f"ARRAY(SELECT ROW({_P_RETURN.select}) FROM returns r WHERE r.order_id = o.id ORDER BY r.created_at, r.id) "
    "FROM orders o WHERE o.id = $1")


async def snapshot_plain(session: AsyncSession, order_id: str) -> tuple[
        Order | None, list[OrderItem], list[Payment], dict[str, list[PaymentStatusHistory]],
        list[tuple[Shipment, list[TrackingEvent]]], list[Ticket], list[Return]]:
    """What `snapshot_rows` returns, for reading only: on PostgreSQL one statement through `pool_fetch` (a read
    session borrows a pooled connection for just it), its rows as plain stand-ins for the models (same attributes
    and values, typed as the models for the rules; not ORM instances: never add or change them); elsewhere
    `snapshot_rows` itself."""
    if session.get_bind().dialect.name != "postgresql":
        return await snapshot_rows(session, order_id)
    rows = await pool_fetch(session, _PG_SNAPSHOT, order_id)
    if not rows:
        return None, [], [], {}, [], [], []
    row = rows[0]
    width = len(_P_ORDER.names)
    items_rows, payment_rows, history_rows, shipment_rows, event_rows, ticket_rows, return_rows = row[width:]
    payments = [_P_PAYMENT.build(v) for v in payment_rows]
    history: dict[str, list[PaymentStatusHistory]] = {p.id: [] for p in payments}
    for v in history_rows:
        entry = _P_HISTORY.build(v)
        history[entry.payment_id].append(entry)
    shipments: list[tuple[Shipment, list[TrackingEvent]]] = [(_P_SHIPMENT.build(v), []) for v in shipment_rows]
    events: dict[str, list[TrackingEvent]] = {s.id: found for s, found in shipments}
    for v in event_rows:
        event = _P_EVENT.build(v)
        events[event.shipment_id].append(event)
    return (_P_ORDER.build(row[:width]), [_P_ITEM.build(v) for v in items_rows], payments, history, shipments,
            [_P_TICKET.build(v) for v in ticket_rows], [_P_RETURN.build(v) for v in return_rows])

async def returns_of(session: AsyncSession, order_id: str) -> list[Return]:
    stmt = select(Return).where(col(Return.order_id) == order_id).order_by(col(Return.created_at))
    return list((await session.execute(stmt)).scalars())


async def return_by_id(session: AsyncSession, return_id: str) -> Return | None:
    return (await session.execute(select(Return).where(col(Return.id) == return_id))).scalar_one_or_none()


async def ticket_by_id(session: AsyncSession, ticket_id: str, *, for_update: bool = False) -> Ticket | None:
    return await first_row(session, select(Ticket).where(col(Ticket.id) == ticket_id), for_update=for_update)


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

def _jobs() -> Any:
    return Job.__table__  # type: ignore[attr-defined]


async def enqueue_job(session: AsyncSession, *, kind: str, ref_id: str, run_at: datetime,
                      deadline: datetime | None, exact: bool = False) -> None:
    """One job per (kind, ref): enqueuing again brings it forward (or, `exact`, sets its time) instead of adding
    a second one. A job that is running right now keeps its owner and is marked to run again at `run_at`, so
    the re-enqueue is never lost."""
    now = datetime.now(UTC)
    table = _jobs()
    stmt = upsert_insert(session)(Job).values(kind=kind, ref_id=ref_id, state="queued", run_at=run_at,
                                               deadline=deadline, attempts=0, fence=0, rerun=False,
                                               created_at=now, updated_at=now)
    running = table.c.state == "running"
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "ref_id"],
        set_={"state": case((running, table.c.state), else_="queued"),
              "rerun": case((running, True), else_=False),
              "run_at": stmt.excluded.run_at if exact else case(
                  (and_(table.c.state == "queued", table.c.run_at < stmt.excluded.run_at), table.c.run_at),
                  else_=stmt.excluded.run_at),
              "attempts": case((running, table.c.attempts), else_=0),
              "updated_at": now,
              "deadline": stmt.excluded.deadline if exact else func.coalesce(table.c.deadline,
                                                                               stmt.excluded.deadline)},
    )
    await session.execute(stmt)


async def claim_job(session: AsyncSession, *, worker_id: str, now: datetime, lease_seconds: float) -> Job | None:
    """Take one due job with a lease of its own and a new fencing token. On PostgreSQL concurrent workers skip
    each other's rows (SKIP LOCKED); SQLite runs one writer at a time. A job whose lease ended (its worker died
    or froze) is due again; the old owner's token is then stale."""
    table = _jobs()
    due = or_(and_(table.c.state == "queued", table.c.run_at <= now),
              and_(table.c.state == "running", table.c.locked_until < now))
    pick = select(table.c.id).where(due).order_by(table.c.run_at).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (update(table).where(table.c.id.in_(pick.scalar_subquery()))
            .values(state="running", locked_by=worker_id, locked_until=now + timedelta(seconds=lease_seconds),
                    attempts=table.c.attempts + 1, fence=table.c.fence + 1, rerun=False, updated_at=now)
            .returning(*table.c))
    row = (await session.execute(stmt)).mappings().first()
    return Job(**dict(row)) if row is not None else None


async def hold_job(session: AsyncSession, job: Job) -> bool:
    """Lock the job row and check that `job`'s fencing token is still the current one (the lease was not
    taken over). Call it first in the transaction that records the job's result."""
    table = _jobs()
    stmt = select(table.c.fence, table.c.state).where(table.c.id == job.id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return row is not None and row.fence == job.fence and row.state == "running"


async def finish_job(session: AsyncSession, *, job: Job, state: str, run_at: datetime | None = None,
                     error: str | None = None) -> bool:
    """Finish or reschedule a job, only as its current owner (fencing token). A job enqueued again while it
    ran goes back to the queue instead of being marked done. False when the token is stale."""
    table = _jobs()
    now = datetime.now(UTC)
    values: dict[str, Any] = {"locked_by": None, "locked_until": None, "updated_at": now, "last_error": error,
                              "rerun": False}
    if state in ("done", "expired"):
        values["state"] = case((table.c.rerun, "queued"), else_=state)
        values["run_at"] = case((table.c.rerun, table.c.run_at), else_=run_at or table.c.run_at)
    else:
        values["state"] = state
        values["run_at"] = case((table.c.rerun, func.least(table.c.run_at, run_at or now)
                                 if session.get_bind().dialect.name == "postgresql"
                                 else func.min(table.c.run_at, run_at or now)), else_=run_at or now)
    result = await session.execute(update(table).where(table.c.id == job.id, table.c.fence == job.fence,
                                                       table.c.state == "running").values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def drop_queued_job(session: AsyncSession, *, kind: str, ref_id: str) -> None:
    """The request settled what a queued job would have checked: the job is done (a running one is left to
    its owner, whose re-check is idempotent)."""
    table = _jobs()
    await session.execute(update(table).where(table.c.kind == kind, table.c.ref_id == ref_id,
                                              table.c.state == "queued")
                          .values(state="done", updated_at=datetime.now(UTC)))


# Settlements ---------------------------------------------------------------------------------------------

def _settlement_key(chain: str, tx_hash: str, token: str) -> tuple[str, str, str]:
    return chain.lower(), tx_hash.strip().lower(), token.upper()


async def claim_settlement(session: AsyncSession, *, chain: str, tx_hash: str, token: str, payment_id: str,
                           order_id: str, block_number: int | None) -> bool:
    """Record that this transfer settles this payment. The unique key decides, also under races: False when
    the transfer already settled another payment."""
    key_chain, key_hash, key_token = _settlement_key(chain, tx_hash, token)
    table = PaymentSettlement.__table__  # type: ignore[attr-defined]
    stmt = (upsert_insert(session)(PaymentSettlement)
            .values(chain=key_chain, tx_hash=key_hash, token=key_token, payment_id=payment_id, order_id=order_id,
                    block_number=block_number, created_at=datetime.now(UTC))
            .on_conflict_do_nothing().returning(table.c.id))
    if (await session.execute(stmt)).first() is not None:
        return True
    existing = (await session.execute(select(table.c.payment_id).where(
        table.c.chain == key_chain, table.c.tx_hash == key_hash, table.c.token == key_token))).first()
    return existing is not None and existing.payment_id == payment_id


async def release_settlement(session: AsyncSession, *, payment_id: str) -> None:
    table = PaymentSettlement.__table__  # type: ignore[attr-defined]
    await session.execute(delete(table).where(table.c.payment_id == payment_id))


async def note_settlement_block(session: AsyncSession, *, payment_id: str, block_number: int) -> None:
    """A settlement recorded on someone's word learns its block when the chain confirms it."""
    table = PaymentSettlement.__table__  # type: ignore[attr-defined]
    await session.execute(update(table).where(table.c.payment_id == payment_id, table.c.block_number.is_(None))
                          .values(block_number=block_number))


async def settlement_of(session: AsyncSession, payment_id: str) -> PaymentSettlement | None:
    stmt = select(PaymentSettlement).where(col(PaymentSettlement.payment_id) == payment_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def transfer_used_elsewhere(session: AsyncSession, *, chain: str, tx_hash: str, token: str, order_id: str,
                                  payment_id: str | None) -> str | None:
    """The payment (of another order, or another payment of this one) that this transfer settled, or that
    records this tx as its own on another order; None when the transfer is free to settle `payment_id`."""
    key_chain, key_hash, key_token = _settlement_key(chain, tx_hash, token)
    settled = (await session.execute(select(PaymentSettlement.payment_id).where(  # type: ignore[call-overload]
        col(PaymentSettlement.chain) == key_chain, col(PaymentSettlement.tx_hash) == key_hash,
        col(PaymentSettlement.token) == key_token))).first()
    if settled is not None and settled[0] != payment_id:
        return str(settled[0])
    recorded = (await session.execute(select(Payment.id).where(  # type: ignore[call-overload]
        col(Payment.order_id) != order_id, col(Payment.method) == "crypto", col(Payment.chain) == chain,
        func.lower(col(Payment.tx_hash)) == key_hash).limit(1))).first()
    return str(recorded[0]) if recorded is not None else None


async def settlement_for_transfer(session: AsyncSession, *, chain: str, tx_hash: str
                                  ) -> list[tuple[PaymentSettlement, Order]]:
    """Which orders a tx settled (for agents: the customer only hears that it was used)."""
    key_chain, key_hash, _ = _settlement_key(chain, tx_hash, "")
    stmt = (select(PaymentSettlement, Order).join(Order, col(Order.id) == col(PaymentSettlement.order_id))
            .where(col(PaymentSettlement.chain) == key_chain, col(PaymentSettlement.tx_hash) == key_hash))
    return [(s, o) for s, o in (await session.execute(stmt)).all()]


async def payment_settled_by(session: AsyncSession, *, order_id: str, chain: str, tx_hash: str) -> Payment | None:
    key_chain, key_hash, _ = _settlement_key(chain, tx_hash, "")
    stmt = (select(Payment).join(PaymentSettlement, col(PaymentSettlement.payment_id) == col(Payment.id))
            .where(col(PaymentSettlement.order_id) == order_id, col(PaymentSettlement.chain) == key_chain,
                   col(PaymentSettlement.tx_hash) == key_hash))
    return (await session.execute(stmt)).scalars().first()


async def tickets_of_order(session: AsyncSession, order_id: str) -> list[Ticket]:
    stmt = select(Ticket).where(col(Ticket.order_id) == order_id).order_by(col(Ticket.created_at))
    return list((await session.execute(stmt)).scalars())


async def insert_marker(session: AsyncSession, *, kind: str, ref_id: str) -> bool:
    """A done-job row used as a once-only marker (a stalled parcel flagged once); False when already there."""
    now = datetime.now(UTC)
    stmt = (upsert_insert(session)(Job).values(kind=kind, ref_id=ref_id, state="done", run_at=now, attempts=1,
                                                created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "ref_id"]).returning(Job.__table__.c.id))  # type: ignore[attr-defined]
    return (await session.execute(stmt)).first() is not None


async def stalled_shipments(session: AsyncSession, *, older_than: datetime, limit: int = 200
                            ) -> list[tuple[Shipment, Order]]:
    """Undelivered parcels whose last scan is older than `older_than` and whose current stall is not flagged
    yet (flagged ones drop out of the query, so a backlog of lost parcels never hides new stalls)."""
    stmt = (select(Shipment, Order).join(Order, col(Order.id) == col(Shipment.order_id))
            .where(col(Shipment.delivered_at).is_(None), col(Shipment.last_event_at) < older_than,
                   or_(col(Shipment.stall_flagged_at).is_(None),
                       col(Shipment.stall_flagged_at) < col(Shipment.last_event_at)),
                   col(Shipment.status).not_in(["returned_to_sender", "expired"]),
                   col(Order.status).not_in(["cancelled", "refunded", "returned", "delivered", "completed"]))
            .order_by(col(Shipment.last_event_at)).limit(limit))
    return [(s, o) for s, o in (await session.execute(stmt)).all()]


async def serialize_sweeps(session: AsyncSession) -> None:
    """Take the sweep's lock row first thing in its transaction: concurrent sweeps (several workers) then run
    one after another, each seeing what the previous one flagged (SQLite takes its write lock here, PostgreSQL
    a row lock)."""
    await insert_marker(session, kind="sweep_lock", ref_id="stalled_parcels")
    table = _jobs()
    await session.execute(update(table).where(table.c.kind == "sweep_lock", table.c.ref_id == "stalled_parcels")
                          .values(updated_at=datetime.now(UTC)))


async def open_sweep_ticket(session: AsyncSession, order_id: str) -> Ticket | None:
    """The order's proactive stall ticket that is still being worked on, if any."""
    stmt = (select(Ticket).where(col(Ticket.order_id) == order_id, col(Ticket.type) == "not_received",
                                 col(Ticket.status).not_in(["resolved", "closed"]))
            .order_by(col(Ticket.created_at)))
    for ticket in (await session.execute(stmt)).scalars():
        if (ticket.details or {}).get("source") == "stalled_parcel_sweep":
            return ticket
    return None


async def tickets_for_tx(session: AsyncSession, *, order_id: str, tx_hash: str) -> list[Ticket]:
    stmt = select(Ticket).where(col(Ticket.order_id) == order_id, func.lower(col(Ticket.tx_hash)) == tx_hash.lower())
    return list((await session.execute(stmt)).scalars())
