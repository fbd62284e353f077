"""Storing carrier events: deduplicated by the database, shipments' status folded from events by time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.types import utcnow
from services.orders import repository as repo
from services.orders.channels import hooks as channel_hooks
from services.orders.models import Shipment, TrackingEvent
from services.orders.tracking.normalized import (
    FUTURE_TOLERANCE,
    NormalizedEvent,
    ParsedBatch,
    ShipmentState,
    fold,
    split_future,
)

log = logging.getLogger("order_support.tracking")


@dataclass
class Refused:
    index: int
    occurred_at: datetime
    reason: str


@dataclass
class BatchOutcome:
    carrier: str
    tracking_number: str
    received: int
    stored: int
    shipment: Shipment | None
    refused: list[Refused] = field(default_factory=list)


def event_record(carrier: str, tracking_number: str, event: NormalizedEvent, shipment_id: str | None,
                 source: str, received_at: datetime) -> tuple[Any, ...]:
    """One row in repository.EVENT_COLUMNS order."""
    return (carrier, tracking_number, event.dedup_key(), event.event_id, shipment_id, event.status,
            event.substatus, event.raw_status, event.occurred_at, event.description, event.location, event.raw,
            source, received_at)


def as_event(row: TrackingEvent) -> NormalizedEvent:
    return NormalizedEvent(status=row.status, occurred_at=row.occurred_at, event_id=row.event_id)


def apply_events(shipment: Shipment, events: list[NormalizedEvent], now: datetime | None = None) -> bool:
    """Fold events into the shipment's state; True when something changed. Events stamped in the future
    (stored before ingest refused them) are left out, and said so: they would freeze the status."""
    events, future = split_future(events, now or utcnow())
    if future:
        log.warning("tracking events dated more than %s ahead left out of shipment %s's status",
                    FUTURE_TOLERANCE, shipment.id, extra={"shipment_id": shipment.id, "future_events": len(future)})
    before = ShipmentState(shipment.status, shipment.last_event_at, shipment.delivered_at)
    after = fold(before, events)
    if after == before:
        return False
    shipment.status = after.status
    shipment.last_event_at, shipment.delivered_at = after.last_event_at, after.delivered_at
    shipment.updated_at = utcnow()
    return True


async def ingest(session: AsyncSession, batches: list[ParsedBatch], *, source: str) -> list[BatchOutcome]:
    outcomes: list[BatchOutcome] = []
    # Held until commit: a shipment registered meanwhile either sees these events or is seen by them.
    await repo.lock_tracking_numbers(session, [b.tracking_number for b in batches])
    for batch in batches:
        now = utcnow()
        shipment = await repo.shipment_for_tracking(session, batch.carrier, batch.tracking_number)
        horizon = now + FUTURE_TOLERANCE
        hours = int(FUTURE_TOLERANCE.total_seconds() // 3600)
        refused = [Refused(i, e.occurred_at, f"occurred_at is more than {hours} hours after its receipt "
                                             f"({now.isoformat(timespec='seconds')}); not stored")
                   for i, e in enumerate(batch.events) if e.occurred_at > horizon]
        unique: dict[str, NormalizedEvent] = {}
        for event in batch.events:
            if event.occurred_at <= horizon:
                unique.setdefault(event.dedup_key(), event)
        stored = await _store(session, batch, list(unique.values()), shipment, source, now)
        if shipment is None and unique:
            # A registration that committed between our lookup and our insert missed these rows: look again
            # now that they are written (on SQLite we hold the write lock from here to commit).
            shipment = await repo.shipment_for_tracking(session, batch.carrier, batch.tracking_number)
            if shipment is not None:
                await attach_waiting(session, shipment, now)
        outcomes.append(BatchOutcome(batch.carrier, batch.tracking_number, len(batch.events), stored, shipment,
                                     refused))
    return outcomes


async def attach_waiting(session: AsyncSession, shipment: Shipment, now: datetime | None = None) -> None:
    """Events stored before their shipment was known: attached to it and folded into its status. The shop hears
    of a status the parcel did not have before (one registered meanwhile may already have been delivered)."""
    waiting = await repo.attach_waiting_events(session, shipment)
    await _fold(session, shipment, [as_event(e) for e in waiting], now)


async def _fold(session: AsyncSession, shipment: Shipment, events: list[NormalizedEvent],
                now: datetime | None) -> None:
    """Events folded into the shipment's status; a status it did not have before is announced to the shop
    (shipment.delivered / .exception)."""
    previous = shipment.status
    if apply_events(shipment, events, now):
        await session.flush()
        await channel_hooks.shipment_changed(session, shipment, previous)


async def _store(session: AsyncSession, batch: ParsedBatch, events: list[NormalizedEvent], shipment: Shipment | None,
                 source: str, now: datetime) -> int:
    # Stored under the shipment's own carrier and number once it is known, so that the same scan pushed by two
    # providers (Kuaidi100's `jd`, 17TRACK's carrier number) has one identity and is stored once.
    carrier = shipment.carrier if shipment else batch.carrier
    number = shipment.tracking_number if shipment else batch.tracking_number
    shipment_id = shipment.id if shipment else None
    records = [event_record(carrier, number, e, shipment_id, source, now) for e in events]
    stored = await repo.insert_events(session, records)
    if shipment is not None:
        await _fold(session, shipment, events, now)
    return stored
