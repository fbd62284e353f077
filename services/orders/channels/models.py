"""Tables of the customer channels. Imported by alembic/env.py so migrations and the drift test see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.common.types import UTCDateTime, utcnow
from services.orders.models import new_id


class Event(SQLModel, table=True):
    """Something the shop hears about (order.paid, ticket.created, …); one row per event, kept as a log."""

    __tablename__ = "events"

    id: str = Field(default_factory=lambda: new_id("evt"), primary_key=True, max_length=40)
    type: str = Field(sa_column=Column(String(64), nullable=False))
    order_id: str | None = Field(default=None, sa_column=Column(String(40), index=True))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class OutboxItem(SQLModel, table=True):
    """A message to send, written in the transaction that caused it and sent by the worker afterwards.

    kind: `email` (payload: the rendered mail), `event` (an event not yet fanned out to the endpoints) or
    `webhook` (one event for one endpoint). `lease` is the fencing token: every claim increments it and only
    the holder of the current value may record the outcome."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "run_at"),
        Index("ix_outbox_ordering", "ordering_key", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    event_id: str | None = Field(default=None, sa_column=Column(
        String(40), ForeignKey("events.id", ondelete="CASCADE"), index=True))
    target: str | None = Field(default=None, sa_column=Column(String(500)))
    # Rows with the same key go out one after the other, in id order (one endpoint, one order).
    ordering_key: str | None = Field(default=None, sa_column=Column(String(600)))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    lease: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    run_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    locked_by: str | None = Field(default=None, sa_column=Column(String(64)))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class DeliveryAttempt(SQLModel, table=True):
    """The delivery log: one row per try of an outbox item (per event and endpoint for webhooks)."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    outbox_id: int = Field(sa_column=Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False,
                                            index=True))
    event_id: str | None = Field(default=None, sa_column=Column(String(40), index=True))
    target: str | None = Field(default=None, sa_column=Column(String(500)))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    error: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    attempted_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class MailMessage(SQLModel, table=True):
    """Every e-mail seen or sent, by Message-ID: threading (In-Reply-To) and the same message twice is one."""

    __tablename__ = "mail_messages"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    message_id: str = Field(sa_column=Column(String(400), nullable=False, unique=True))
    direction: str = Field(sa_column=Column(String(8), nullable=False))
    ticket_id: str | None = Field(default=None, sa_column=Column(
        String(40), ForeignKey("tickets.id", ondelete="SET NULL"), index=True))
    from_address: str | None = Field(default=None, sa_column=Column(String(320)))
    subject: str | None = Field(default=None, sa_column=Column(String(1000)))
    outcome: str = Field(sa_column=Column(String(32), nullable=False))
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Attachment(SQLModel, table=True):
    """A file a customer sent (mail attachment, screenshot upload); the bytes live under ATTACHMENTS_DIR."""

    __tablename__ = "attachments"

    id: str = Field(default_factory=lambda: new_id("att"), primary_key=True, max_length=40)
    ticket_id: str = Field(sa_column=Column(String(40), ForeignKey("tickets.id", ondelete="CASCADE"),
                                            nullable=False, index=True))
    filename: str | None = Field(default=None, sa_column=Column(String(300)))
    content_type: str = Field(sa_column=Column(String(100), nullable=False))
    size: int = Field(sa_column=Column(Integer, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    storage_key: str = Field(sa_column=Column(String(300), nullable=False))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Customer(SQLModel, table=True):
    """A customer's contact details on file (seeded from their latest order the first time they are needed)."""

    __tablename__ = "customers"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    email: str | None = Field(default=None, sa_column=Column(String(254)))
    phone: str | None = Field(default=None, sa_column=Column(String(32)))
    default_address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    lang: str = Field(default="en", sa_column=Column(String(8), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AccountChange(SQLModel, table=True):
    __tablename__ = "account_changes"

    id: str = Field(default_factory=lambda: new_id("chg"), primary_key=True, max_length=40)
    customer_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    ticket_id: str | None = Field(default=None, sa_column=Column(
        String(40), ForeignKey("tickets.id", ondelete="SET NULL")))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    requested_by: str = Field(sa_column=Column(String(64), nullable=False))
    # field -> {"from": …, "to": …}; shipping addresses as "order:<id>".
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    refused_reason: str | None = Field(default=None, sa_column=Column(Text))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    applied_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ChangeLink(SQLModel, table=True):
    """One single-use confirmation link per recipient of a change (the token itself is never stored)."""

    __tablename__ = "account_change_links"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    change_id: str = Field(sa_column=Column(String(40), ForeignKey("account_changes.id", ondelete="CASCADE"),
                                            nullable=False, index=True))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    recipient: str = Field(sa_column=Column(String(254), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class AccountAudit(SQLModel, table=True):
    """Who asked to change what from what to what, and when it was confirmed and applied."""

    __tablename__ = "account_audit"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    customer_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    change_id: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    field: str = Field(sa_column=Column(String(64), nullable=False))
    old_value: Any = Field(default=None, sa_column=Column(JSON))
    new_value: Any = Field(default=None, sa_column=Column(JSON))
    requested_by: str = Field(sa_column=Column(String(64), nullable=False))
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    confirmed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ArticleResolution(SQLModel, table=True):
    """A ticket that a help article resolved (counted per article)."""

    __tablename__ = "article_resolutions"
    __table_args__ = (UniqueConstraint("article_id", "ticket_id", name="uq_article_resolutions"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    article_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    ticket_id: str = Field(sa_column=Column(String(40), ForeignKey("tickets.id", ondelete="CASCADE"),
                                            nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
