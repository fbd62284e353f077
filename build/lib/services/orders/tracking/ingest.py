"""Storing carrier events: deduplicated by the database, shipments' status folded from events by time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.types import utcnow
from services.orders import repository as repo
from services.orders.models import Shipment, TrackingEvent
from services.orders.tracking.normalized import NormalizedEvent, ParsedBatch, ShipmentState, fold


@dataclass
class BatchOutcome:
    carrier: str
    tracking_number: str
    received: int
    stored: int
    shipment: Shipment | None


def event_record(carrier: str, tracking_number: str, event: NormalizedEvent, shipment_id: str | None,
                 source: str, received_at: datetime) -> tuple[Any, ...]:
    """One row in repository.EVENT_COLUMNS order."""
    return (carrier, tracking_number, event.dedup_key(), event.event_id, shipment_id, event.status,
            event.substatus, event.raw_status, event.occurred_at, event.description, event.location, event.raw,
            source, received_at)


def as_event(row: TrackingEvent) -> NormalizedEvent:
    return NormalizedEvent(status=row.status, occurred_at=row.occurred_at, event_id=row.event_id)


def apply_events(shipment: Shipment, events: list[NormalizedEvent]) -> bool:
    """Fold events into the shipment's state; True when something changed."""
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
    for batch in batches:
        shipment = await repo.shipment_for_tracking(session, batch.carrier, batch.tracking_number)
        unique: dict[str, NormalizedEvent] = {}
        for event in batch.events:
            unique.setdefault(event.dedup_key(), event)
        now = utcnow()
        shipment_id = shipment.id if shipment else None
        records = [event_record(batch.carrier, batch.tracking_number, e, shipment_id, source, now)
                   for e in unique.values()]
        stored = await repo.insert_events(session, records)
        if shipment is not None and apply_events(shipment, list(unique.values())):
            await session.flush()
        outcomes.append(BatchOutcome(batch.carrier, batch.tracking_number, len(batch.events), stored, shipment))
    return outcomes
