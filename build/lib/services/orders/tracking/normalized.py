"""The normalized tracking model every sender's payload is mapped onto."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

STATUSES = ("pending", "info_received", "in_transit", "out_for_delivery", "failed_attempt",
            "available_for_pickup", "delivered", "exception", "returned_to_sender", "expired")

# Progress order, used only to break ties between events stamped with the same time.
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


class NormalizedEvent(NamedTuple):
    # A NamedTuple, not a frozen dataclass: ingest builds hundreds of thousands of these.
    status: str
    occurred_at: datetime
    event_id: str | None = None
    substatus: str | None = None
    raw_status: str | None = None
    description: str | None = None
    location: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None

    def dedup_key(self) -> str:
        """Identity of an event: the sender's id, else its status and time (carrier and number are columns)."""
        if self.event_id:
            return f"id:{self.event_id}"[:200]
        return f"at:{self.status}@{self.occurred_at.isoformat()}"


@dataclass
class ParsedBatch:
    carrier: str
    tracking_number: str
    events: list[NormalizedEvent] = field(default_factory=list)


class PayloadError(ValueError):
    """A sender's payload we cannot read: names what is missing or unexpected."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def carrier_slug(value: str) -> str:
    return value.strip().lower().replace("_", "-").replace(" ", "-")


def tracking_key(value: str) -> str:
    return "".join(value.split()).upper()


@dataclass(frozen=True)
class ShipmentState:
    """A shipment's status folded from its events. Order-independent: duplicates and late arrivals are harmless."""

    status: str = "pending"
    last_event_at: datetime | None = None
    delivered_at: datetime | None = None

    def apply(self, event: NormalizedEvent) -> ShipmentState:
        return fold(self, [event])


def fold(state: ShipmentState, events: Iterable[NormalizedEvent]) -> ShipmentState:
    """The latest event by time (ties broken by progress) sets the status, except that a delivery stands:
    later events are kept and surfaced by diagnosis, not taken as the new truth."""
    status, last, delivered_at = state.status, state.last_event_at, state.delivered_at
    rank = STATUS_RANK[status]
    for event in events:
        occurred_at = event.occurred_at
        if event.status == "delivered" and (delivered_at is None or occurred_at < delivered_at):
            delivered_at = occurred_at
        event_rank = STATUS_RANK[event.status]
        if last is None or occurred_at > last or (occurred_at == last and event_rank > rank):
            last, status, rank = occurred_at, event.status, event_rank
    if delivered_at is not None:
        status = "delivered"
    return ShipmentState(status=status, last_event_at=last, delivered_at=delivered_at)
