"""Plain-value builders for order snapshots: the rules are tested without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.orders.diagnosis.snapshot import OrderSnapshot, Policy, ShipmentView
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

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
POLICY = Policy(return_window_days={"electronics": 7, "apparel": 30, "home": 15, "default": 15},
                carrier_gap_hours={"default": 72, "sf-express": 48})
ADDRESS = {"recipient": "Li Lei", "line1": "88 Century Ave", "line2": "Apt 1201", "city": "Shanghai",
           "region": "Shanghai", "postal_code": "200120", "country": "CN", "lat": 31.2304, "lon": 121.5060}


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class Builder:
    def __init__(self, status: str = "pending_payment", address: dict[str, Any] | None = ADDRESS) -> None:
        self.order = Order(id="ord_1", order_number="TP-1", customer_id="c-1", currency="CNY", status=status,
                           total=Decimal("499.00"), placed_at=T0, shipping_address=address, created_at=T0,
                           updated_at=T0)
        self.items = [OrderItem(id=1, order_id="ord_1", sku="HW-1", name="Hardware wallet", category="electronics",
                                quantity=1, unit_price=Decimal("499.00"))]
        self.payments: list[Payment] = []
        self.history: dict[str, list[PaymentStatusHistory]] = {}
        self.shipments: list[ShipmentView] = []
        self.tickets: list[Ticket] = []
        self.returns: list[Return] = []

    def payment(self, status: str, at: datetime = T0, method: str = "card", failure_code: str | None = None,
                steps: list[tuple[str, datetime]] | None = None, **crypto: Any) -> Payment:
        pid = f"pay_{len(self.payments) + 1}"
        p = Payment(id=pid, order_id="ord_1", method=method, amount=Decimal("499.00"), currency="CNY", status=status,
                    failure_code=failure_code, created_at=at, updated_at=at, **crypto)
        self.payments.append(p)
        timeline = steps or [(status, at)]
        self.history[pid] = [PaymentStatusHistory(payment_id=pid, from_status=None, to_status=s, occurred_at=t,
                                                  source="api") for s, t in timeline]
        return p

    def shipment(self, events: list[tuple[str, datetime]] | None = None, carrier: str = "sf-express",
                 created: datetime = T0, location: dict[str, Any] | None = None) -> Shipment:
        sid = f"shp_{len(self.shipments) + 1}"
        rows = [TrackingEvent(id=i, carrier=carrier, tracking_number="SF1", dedup_key=str(i), shipment_id=sid,
                              status=s, occurred_at=t, raw_status=s, description=f"{s} scan", source="api",
                              location=location if s == "delivered" else None, received_at=t)
                for i, (s, t) in enumerate(events or [])]
        rows.sort(key=lambda e: e.occurred_at)
        delivered = [e.occurred_at for e in rows if e.status == "delivered"]
        undelivered = [e for e in rows if not delivered or e.occurred_at <= min(delivered)]
        status = "delivered" if delivered else (undelivered[-1].status if undelivered else "pending")
        shipment = Shipment(id=sid, order_id="ord_1", carrier=carrier, tracking_number="SF1", status=status,
                            last_event_at=rows[-1].occurred_at if rows else None,
                            delivered_at=min(delivered) if delivered else None, created_at=created, updated_at=created)
        self.shipments.append(ShipmentView(shipment, rows))
        return shipment

    def ticket(self, type_: str, status: str = "open", at: datetime = T0) -> Ticket:
        t = Ticket(id=f"tkt_{len(self.tickets) + 1}", order_id="ord_1", customer_id="c-1", type=type_, channel="chat",
                   status=status, description="help", created_at=at, updated_at=at)
        self.tickets.append(t)
        return t

    def snapshot(self, now: datetime) -> OrderSnapshot:
        return OrderSnapshot(order=self.order, items=self.items, payments=self.payments, history=self.history,
                             shipments=self.shipments, tickets=self.tickets, returns=self.returns, now=now,
                             policy=POLICY)
