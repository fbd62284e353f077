"""Every SQL statement of the channels: outbox claims with lease and fencing, events, mail, account changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.orders.channels.models import (
    AccountAudit,
    AccountChange,
    ArticleResolution,
    Attachment,
    ChangeLink,
    Customer,
    DeliveryAttempt,
    Event,
    MailMessage,
    OutboxItem,
)
from services.orders.models import Order, Shipment
from services.orders.repository import first_row, upsert_insert

PENDING_STATES = ("queued", "sending")


def _is_pg(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# Outbox ---------------------------------------------------------------------------------------------------

async def claim(session: AsyncSession, *, kinds: Sequence[str], worker_id: str, now: datetime,
                lease_seconds: float, limit: int) -> list[OutboxItem]:
    """Take due items: queued and due, or sending with an expired lease (their worker died). An item with an
    ordering key waits while an older item with the same key is still pending (in order per order and endpoint).
    Each claim bumps `lease`, the fencing token the outcome must present."""
    table = OutboxItem.__table__  # type: ignore[attr-defined]
    older = table.alias("older")
    blocked = exists().where(older.c.ordering_key == table.c.ordering_key, older.c.id < table.c.id,
                             older.c.state.in_(PENDING_STATES))
    due = or_(and_(table.c.state == "queued", table.c.run_at <= now),
              and_(table.c.state == "sending", table.c.locked_until < now))
    pick = (select(table.c.id).where(table.c.kind.in_(list(kinds)), due,
                                     or_(table.c.ordering_key.is_(None), ~blocked))
            .order_by(table.c.id).limit(limit))
    if _is_pg(session):
        pick = pick.with_for_update(skip_locked=True)
    stmt = (update(table).where(table.c.id.in_(pick.scalar_subquery()))
            .values(state="sending", locked_by=worker_id, locked_until=now + timedelta(seconds=lease_seconds),
                    attempts=table.c.attempts + 1, lease=table.c.lease + 1, updated_at=now)
            .returning(*table.c))
    rows = (await session.execute(stmt)).mappings().all()
    return sorted((OutboxItem(**dict(row)) for row in rows), key=lambda item: item.id or 0)


async def record_outcome(session: AsyncSession, *, item_id: int, lease: int, state: str, now: datetime,
                         run_at: datetime | None = None, error: str | None = None) -> bool:
    """Only the holder of the current lease may record; False when another worker took the item since."""
    table = OutboxItem.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {"state": state, "locked_by": None, "locked_until": None, "updated_at": now,
                              "last_error": error}
    if state == "sent":
        values["sent_at"] = now
    if run_at is not None:
        values["run_at"] = run_at
    result = await session.execute(update(table).where(table.c.id == item_id, table.c.lease == lease)
                                   .values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lock_fan_out(session: AsyncSession) -> None:
    """Fan-out runs one worker at a time so webhook rows get ids in event order (SQLite has one writer)."""
    if _is_pg(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(424242004)"))


async def events_to_fan_out(session: AsyncSession, *, limit: int) -> list[OutboxItem]:
    stmt = (select(OutboxItem).where(col(OutboxItem.kind) == "event", col(OutboxItem.state) == "queued")
            .order_by(col(OutboxItem.id)).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def events_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Event]:
    if not ids:
        return {}
    rows = (await session.execute(select(Event).where(col(Event.id).in_(list(ids))))).scalars()
    return {e.id: e for e in rows}


async def event_by_id(session: AsyncSession, event_id: str) -> Event | None:
    return await session.get(Event, event_id)


async def list_events(session: AsyncSession, *, order_id: str | None, limit: int) -> list[Event]:
    stmt = select(Event).order_by(col(Event.created_at).desc(), col(Event.id)).limit(limit)
    if order_id:
        stmt = stmt.where(col(Event.order_id) == order_id)
    return list((await session.execute(stmt)).scalars())


async def outbox_of_event(session: AsyncSession, event_id: str) -> list[OutboxItem]:
    stmt = (select(OutboxItem).where(col(OutboxItem.event_id) == event_id, col(OutboxItem.kind) == "webhook")
            .order_by(col(OutboxItem.id)))
    return list((await session.execute(stmt)).scalars())


async def attempts_of_event(session: AsyncSession, event_id: str) -> list[DeliveryAttempt]:
    stmt = (select(DeliveryAttempt).where(col(DeliveryAttempt.event_id) == event_id)
            .order_by(col(DeliveryAttempt.id)))
    return list((await session.execute(stmt)).scalars())


async def outbox_items(session: AsyncSession, *, kind: str, target: str | None = None) -> list[OutboxItem]:
    stmt = select(OutboxItem).where(col(OutboxItem.kind) == kind).order_by(col(OutboxItem.id))
    if target is not None:
        stmt = stmt.where(col(OutboxItem.target) == target)
    return list((await session.execute(stmt)).scalars())


# Mail -----------------------------------------------------------------------------------------------------

async def insert_mail_message(session: AsyncSession, row: MailMessage) -> bool:
    """False when this Message-ID was already seen (the same message delivered twice is one message)."""
    values = {c.name: getattr(row, c.name) for c in MailMessage.__table__.columns  # type: ignore[attr-defined]
              if c.name != "id"}
    stmt = (upsert_insert(session)(MailMessage).values(**values).on_conflict_do_nothing(index_elements=["message_id"])
            .returning(MailMessage.__table__.c.id))  # type: ignore[attr-defined]
    inserted = (await session.execute(stmt)).first()
    if inserted is not None:
        row.id = inserted[0]
    return inserted is not None


async def mail_by_message_id(session: AsyncSession, message_id: str) -> MailMessage | None:
    stmt = select(MailMessage).where(col(MailMessage.message_id) == message_id)
    return (await session.execute(stmt)).scalars().first()


async def ticket_of_message_ids(session: AsyncSession, message_ids: Sequence[str]) -> str | None:
    """The ticket of the newest known message among those a reply names (In-Reply-To first, then References)."""
    if not message_ids:
        return None
    stmt = select(col(MailMessage.message_id), col(MailMessage.ticket_id)).where(
        col(MailMessage.message_id).in_(list(message_ids)), col(MailMessage.ticket_id).is_not(None))
    found = {m: t for m, t in (await session.execute(stmt)).all()}
    for message_id in message_ids:
        if found.get(message_id):
            return found[message_id]
    return None


async def orders_by_numbers(session: AsyncSession, numbers: Sequence[str]) -> list[Order]:
    if not numbers:
        return []
    stmt = select(Order).where(func.upper(col(Order.order_number)).in_([n.upper() for n in numbers]))
    return list((await session.execute(stmt)).scalars())


async def shipments_by_tracking(session: AsyncSession, numbers: Sequence[str]) -> list[Shipment]:
    if not numbers:
        return []
    stmt = select(Shipment).where(func.upper(col(Shipment.tracking_number)).in_([n.upper() for n in numbers]))
    return list((await session.execute(stmt)).scalars())


async def latest_order_of_email(session: AsyncSession, email: str) -> Order | None:
    stmt = (select(Order).where(func.lower(col(Order.customer_email)) == email.lower())
            .order_by(col(Order.placed_at).desc()).limit(1))
    return (await session.execute(stmt)).scalars().first()


async def customer_by_email(session: AsyncSession, email: str) -> Customer | None:
    stmt = select(Customer).where(func.lower(col(Customer.email)) == email.lower()).limit(1)
    return (await session.execute(stmt)).scalars().first()


# Customers and account changes ----------------------------------------------------------------------------

async def customer_by_id(session: AsyncSession, customer_id: str, *, for_update: bool = False) -> Customer | None:
    return await first_row(session, select(Customer).where(col(Customer.id) == customer_id), for_update=for_update)


async def orders_of_customer(session: AsyncSession, customer_id: str) -> list[Order]:
    stmt = select(Order).where(col(Order.customer_id) == customer_id).order_by(col(Order.placed_at).desc())
    return list((await session.execute(stmt)).scalars())


async def shipments_of_orders(session: AsyncSession, order_ids: Sequence[str]) -> list[Shipment]:
    if not order_ids:
        return []
    stmt = select(Shipment).where(col(Shipment.order_id).in_(list(order_ids))).order_by(col(Shipment.created_at))
    return list((await session.execute(stmt)).scalars())


async def change_by_id(session: AsyncSession, change_id: str, *, for_update: bool = False) -> AccountChange | None:
    return await first_row(session, select(AccountChange).where(col(AccountChange.id) == change_id),
                           for_update=for_update)


async def link_by_hash(session: AsyncSession, token_hash: str) -> ChangeLink | None:
    return await first_row(session, select(ChangeLink).where(col(ChangeLink.token_hash) == token_hash),
                           for_update=True)


async def use_link(session: AsyncSession, *, link_id: int, now: datetime) -> bool:
    """Single use, enforced by the database: only one request turns used_at from NULL."""
    table = ChangeLink.__table__  # type: ignore[attr-defined]
    result = await session.execute(update(table).where(table.c.id == link_id, table.c.used_at.is_(None))
                                   .values(used_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def links_of(session: AsyncSession, change_id: str) -> list[ChangeLink]:
    stmt = select(ChangeLink).where(col(ChangeLink.change_id) == change_id).order_by(col(ChangeLink.id))
    return list((await session.execute(stmt)).scalars())


async def audit_of(session: AsyncSession, customer_id: str) -> list[AccountAudit]:
    stmt = (select(AccountAudit).where(col(AccountAudit.customer_id) == customer_id)
            .order_by(col(AccountAudit.id)))
    return list((await session.execute(stmt)).scalars())


# Attachments and help center ------------------------------------------------------------------------------

async def attachments_of(session: AsyncSession, ticket_id: str) -> list[Attachment]:
    stmt = select(Attachment).where(col(Attachment.ticket_id) == ticket_id).order_by(col(Attachment.created_at))
    return list((await session.execute(stmt)).scalars())


async def attachment_by_id(session: AsyncSession, attachment_id: str) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def insert_resolution(session: AsyncSession, *, article_id: str, ticket_id: str, now: datetime) -> bool:
    stmt = (upsert_insert(session)(ArticleResolution).values(article_id=article_id, ticket_id=ticket_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["article_id", "ticket_id"])
            .returning(ArticleResolution.__table__.c.id))  # type: ignore[attr-defined]
    return (await session.execute(stmt)).first() is not None


async def resolution_counts(session: AsyncSession) -> dict[str, int]:
    stmt = select(col(ArticleResolution.article_id), func.count()).group_by(col(ArticleResolution.article_id))
    return {a: int(n) for a, n in (await session.execute(stmt)).all()}
