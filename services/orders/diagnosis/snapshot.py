"""Everything the rules look at, gathered before they run. Rules never do I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.orders.models import (
    Order,
    OrderItem,
    Payment,
    PaymentStatusHistory,
    Return,
    Shipment,
    Ticket,
    TrackingEvent,
)

OPEN_TICKET_STATUSES = ("open", "waiting_customer", "waiting_chain")


@dataclass(frozen=True)
class Policy:
    return_window_days: dict[str, int]
    carrier_gap_hours: dict[str, float]
    payment_pending_hours: float = 24.0
    ship_within_hours: float = 72.0
    address_match_km: float = 0.3
    address_mismatch_km: float = 2.0
    non_returnable_categories: frozenset[str] = frozenset({"digital", "gift_card", "perishable"})

    def window_days(self, category: str) -> int:
        return self.return_window_days.get(category, self.return_window_days.get("default", 15))

    def gap_hours(self, carrier: str) -> float:
        return self.carrier_gap_hours.get(carrier, self.carrier_gap_hours.get("default", 72.0))


@dataclass(frozen=True)
class ShipmentView:
    shipment: Shipment
    events: list[TrackingEvent]  # in time order

    @property
    def latest(self) -> TrackingEvent | None:
        return self.events[-1] if self.events else None

    @property
    def delivered_event(self) -> TrackingEvent | None:
        at = self.shipment.delivered_at
        return next((e for e in self.events if e.status == "delivered" and e.occurred_at == at), None)

    @property
    def after_delivery(self) -> list[TrackingEvent]:
        at = self.shipment.delivered_at
        return [e for e in self.events if at is not None and e.occurred_at > at]

    @property
    def current(self) -> TrackingEvent | None:
        """The event that sets the parcel's status: the delivery when there is one, else the latest."""
        return self.delivered_event or self.latest


@dataclass(frozen=True)
class OrderSnapshot:
    order: Order
    items: list[OrderItem]
    payments: list[Payment]
    history: dict[str, list[PaymentStatusHistory]]
    shipments: list[ShipmentView]
    tickets: list[Ticket]
    returns: list[Return]
    now: datetime
    policy: Policy
    # What is derived from this snapshot once and read by several rules and the response (return eligibility).
    # init=False: dataclasses.replace() starts a new snapshot with an empty memo, never with stale answers.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def succeeded_payments(self) -> list[Payment]:
        return [p for p in self.payments if p.status == "succeeded"]

    @property
    def paid_amount(self) -> Decimal:
        return sum((p.amount for p in self.succeeded_payments), Decimal("0"))

    @property
    def open_tickets(self) -> list[Ticket]:
        return [t for t in self.tickets if t.status in OPEN_TICKET_STATUSES]

    @property
    def delivered_at(self) -> datetime | None:
        """When the order arrived: the last of its shipments' deliveries, when all were delivered."""
        if not self.shipments or any(v.shipment.delivered_at is None for v in self.shipments):
            return None
        return max(v.shipment.delivered_at for v in self.shipments if v.shipment.delivered_at is not None)

    def paid_at(self) -> datetime | None:
        times = [h.occurred_at for p in self.succeeded_payments for h in self.history.get(p.id, [])
                 if h.to_status == "succeeded"]
        return min(times) if times else None
