"""Tables of the orders domain. Constraints live in the database, not only in the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from services.common.types import Money, UTCDateTime, utcnow

metadata = SQLModel.metadata


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"



class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("CAST(total AS NUMERIC) >= 0", name="ck_orders_total_non_negative"),
    )

    id: str = Field(default_factory=lambda: new_id("ord"), primary_key=True, max_length=40)
    order_number: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    customer_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    customer_email: str | None = Field(default=None, sa_column=Column(String(254)))
    customer_phone: str | None = Field(default=None, sa_column=Column(String(32)))
    customer_name: str | None = Field(default=None, sa_column=Column(String(200)))
    currency: str = Field(sa_column=Column(String(10), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    placed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    shipping_address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_items_quantity_positive"),
        CheckConstraint("CAST(unit_price AS NUMERIC) >= 0", name="ck_order_items_price_non_negative"),
        UniqueConstraint("order_id", "sku", name="uq_order_items_order_sku"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    order_id: str = Field(sa_column=Column(String(40), ForeignKey("orders.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    sku: str = Field(sa_column=Column(String(64), nullable=False))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    category: str = Field(sa_column=Column(String(64), nullable=False))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    unit_price: Decimal = Field(sa_column=Column(Money(), nullable=False))


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("CAST(amount AS NUMERIC) >= 0", name="ck_payments_amount_non_negative"),
        Index("ix_payments_tx_hash", "tx_hash"),
    )

    id: str = Field(default_factory=lambda: new_id("pay"), primary_key=True, max_length=40)
    order_id: str = Field(sa_column=Column(String(40), ForeignKey("orders.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    method: str = Field(sa_column=Column(String(32), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    failure_code: str | None = Field(default=None, sa_column=Column(String(64)))
    chain: str | None = Field(default=None, sa_column=Column(String(32)))
    tx_hash: str | None = Field(default=None, sa_column=Column(String(100)))
    token: str | None = Field(default=None, sa_column=Column(String(32)))
    to_address: str | None = Field(default=None, sa_column=Column(String(100)))
    from_address: str | None = Field(default=None, sa_column=Column(String(100)))
    payment_check: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PaymentSettlement(SQLModel, table=True):
    """Which payment an on-chain transfer settled. The unique key is what makes one transfer pay at most one
    payment, whoever claims it and however the claims race: a "transfer" is everything one tx moved of one
    token to the merchant, which is exactly what a payment verdict counts."""

    __tablename__ = "payment_settlements"
    __table_args__ = (UniqueConstraint("chain", "tx_hash", "token", name="uq_payment_settlements_transfer"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    chain: str = Field(sa_column=Column(String(32), nullable=False))
    tx_hash: str = Field(sa_column=Column(String(100), nullable=False))
    token: str = Field(sa_column=Column(String(32), nullable=False))
    payment_id: str = Field(sa_column=Column(String(40), ForeignKey("payments.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    order_id: str = Field(sa_column=Column(String(40), ForeignKey("orders.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    # The block the transfer was in when it settled: only a node at or past it can say it is gone.
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PaymentStatusHistory(SQLModel, table=True):
    __tablename__ = "payment_status_history"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    payment_id: str = Field(sa_column=Column(String(40), ForeignKey("payments.id", ondelete="CASCADE"),
                                             nullable=False, index=True))
    from_status: str | None = Field(default=None, sa_column=Column(String(16)))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    failure_code: str | None = Field(default=None, sa_column=Column(String(64)))
    note: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    occurred_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("carrier", "tracking_number", name="uq_shipments_carrier_tracking"),
                      Index("ix_shipments_tracking_number", "tracking_number"))

    id: str = Field(default_factory=lambda: new_id("shp"), primary_key=True, max_length=40)
    order_id: str = Field(sa_column=Column(String(40), ForeignKey("orders.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    carrier: str = Field(sa_column=Column(String(64), nullable=False))
    tracking_number: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    last_event_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The last scan time the stall sweep flagged: a parcel is flagged once per stall, and the sweep's query
    # skips flagged ones instead of re-reading them forever.
    stall_flagged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class TrackingEvent(SQLModel, table=True):
    __tablename__ = "tracking_events"
    __table_args__ = (
        # Also serves lookups by carrier and tracking number (its leading columns).
        UniqueConstraint("carrier", "tracking_number", "dedup_key", name="uq_tracking_events_identity"),
        Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
        Index("ix_tracking_events_waiting", "tracking_number", postgresql_where=text("shipment_id IS NULL"),
              sqlite_where=text("shipment_id IS NULL")),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    carrier: str = Field(sa_column=Column(String(64), nullable=False))
    tracking_number: str = Field(sa_column=Column(String(64), nullable=False))
    dedup_key: str = Field(sa_column=Column(String(200), nullable=False))
    event_id: str | None = Field(default=None, sa_column=Column(String(200)))
    shipment_id: str | None = Field(default=None, sa_column=Column(
        String(40), ForeignKey("shipments.id", ondelete="SET NULL")))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    substatus: str | None = Field(default=None, sa_column=Column(String(64)))
    raw_status: str | None = Field(default=None, sa_column=Column(String(200)))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # What the sender said, as it said it (local times, tags, codes), for agents and audits.
    raw: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Return(SQLModel, table=True):
    __tablename__ = "returns"

    id: str = Field(default_factory=lambda: new_id("ret"), primary_key=True, max_length=40)
    order_id: str = Field(sa_column=Column(String(40), ForeignKey("orders.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    condition: str | None = Field(default=None, sa_column=Column(String(32)))
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    refund_method: str | None = Field(default=None, sa_column=Column(String(32)))
    refund_destination: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    refund_amount: Decimal | None = Field(default=None, sa_column=Column(Money()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_tx_hash", "tx_hash"),)

    id: str = Field(default_factory=lambda: new_id("tkt"), primary_key=True, max_length=40)
    order_id: str | None = Field(default=None, sa_column=Column(
        String(40), ForeignKey("orders.id", ondelete="SET NULL"), index=True))
    order_number: str | None = Field(default=None, sa_column=Column(String(64)))
    customer_id: str | None = Field(default=None, sa_column=Column(String(64), index=True))
    type: str = Field(sa_column=Column(String(32), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    description: str | None = Field(default=None, sa_column=Column(Text))
    lang: str = Field(default="en", sa_column=Column(String(8), nullable=False))
    tx_chain: str | None = Field(default=None, sa_column=Column(String(32)))
    tx_hash: str | None = Field(default=None, sa_column=Column(String(100)))
    payment_check: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    missing_information: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class TicketMessage(SQLModel, table=True):
    __tablename__ = "ticket_messages"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    ticket_id: str = Field(sa_column=Column(String(40), ForeignKey("tickets.id", ondelete="CASCADE"),
                                            nullable=False, index=True))
    author: str = Field(sa_column=Column(String(16), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    # "internal" notes are for agents only: never shown to a customer key (API and console).
    visibility: str = Field(default="public", sa_column=Column(String(16), nullable=False,
                                                                server_default="public"))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Job(SQLModel, table=True):
    """Background work (re-checking a chain payment, sweeping stalled parcels), claimed by workers."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id", name="uq_jobs_kind_ref"),
        Index("ix_jobs_due", "state", "run_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    ref_id: str = Field(sa_column=Column(String(64), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    run_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    deadline: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Fencing token: bumped on every claim, never reset. Only the holder of the current value may finish or
    # reschedule the job, so a worker that lost its lease (frozen, slow) cannot overwrite the new owner.
    fence: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # Enqueued again while running: the running owner re-queues it instead of marking it done.
    rerun: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    locked_by: str | None = Field(default=None, sa_column=Column(String(64)))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
