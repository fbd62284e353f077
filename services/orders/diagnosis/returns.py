"""Return eligibility: windows per category, counted from delivery (from placement when never delivered),
to the end of the last day in the delivery place's time zone; refunds along the original payment path.

The zone: from the delivered scan's coordinates, else the shipping address's coordinates (timezonefinder),
else its country and region by ISO 3166-2 code or name (pycountry), else the country's latest zone.
No returns before the order is paid or once it is cancelled.

Per-item delivery: shipments do not say which items they carry (no item lines on a shipment), so a partly
delivered order counts every item from the latest delivery so far, and while a parcel is still under way no
item's window closes (reason `awaiting_other_parcels`): an item may be in the parcel that has not arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from services.common.zones import place_zone
from services.orders.diagnosis.snapshot import OrderSnapshot, Policy
from services.orders.models import OrderItem, Payment, Return

ALWAYS_RETURNABLE_REASONS = frozenset({"wrong_item", "damaged"})
COUNTED_RETURN_STATUSES = ("requested", "approved", "received", "refunded")


@dataclass(frozen=True)
class ItemEligibility:
    sku: str
    eligible: bool
    window_days: int
    deadline: datetime
    counted_from: str
    returnable_quantity: int
    reasons: list[str]
    refund_method: str
    refund_destination: dict[str, Any] | None = field(default=None)


NOT_RETURNABLE_ORDER_STATUSES = {"pending_payment": "order_not_paid", "cancelled": "order_cancelled"}


def order_zone(shipping_address: dict[str, Any] | None, delivered_location: dict[str, Any] | None = None) -> tzinfo:
    """Where the customer's days end: the delivered scan's place when it has coordinates, else the address's."""
    if delivered_location and delivered_location.get("lat") is not None:
        name, _ = place_zone(delivered_location)
        if name:
            return ZoneInfo(name)
    name, _ = place_zone(shipping_address)
    return ZoneInfo(name) if name else UTC


def deadline_for(start: datetime, days: int, zone: tzinfo) -> datetime:
    """The window closes at midnight after its last day, local time: delivered on the 1st, 7 days → ends the 8th."""
    local_day = start.astimezone(zone).date()
    return datetime.combine(local_day + timedelta(days=days + 1), time(0), tzinfo=zone).astimezone(UTC)


def refund_path(payments: Sequence[Payment]) -> tuple[str, dict[str, Any] | None]:
    paid = [p for p in payments if p.status in ("succeeded", "refunded")]
    if not paid:
        return "no_payment", None
    payment = max(paid, key=lambda p: p.created_at)
    if payment.method == "crypto":
        sender = payment.from_address or ((payment.payment_check or {}).get("tx") or {}).get("from")
        return "original_payment", {"method": "crypto", "chain": payment.chain, "token": payment.token,
                                    "to_address": sender, "payment_id": payment.id,
                                    "note": None if sender else "sending address to be confirmed from the chain"}
    return "original_payment", {"method": payment.method, "payment_id": payment.id}


def returned_quantities(returns: Sequence[Return]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for ret in returns:
        if ret.status in COUNTED_RETURN_STATUSES:
            for line in ret.items:
                counted[line["sku"]] = counted.get(line["sku"], 0) + int(line["quantity"])
    return counted


def return_eligibility(*, items: Sequence[OrderItem], placed_at: datetime, delivered_at: datetime | None,
                       returns: Sequence[Return], payments: Sequence[Payment],
                       shipping_address: dict[str, Any] | None, now: datetime, policy: Policy,
                       reason: str | None = None, order_status: str | None = None,
                       deliveries: Sequence[datetime | None] | None = None,
                       delivered_location: dict[str, Any] | None = None,
                       zone: tzinfo | None = None) -> list[ItemEligibility]:
    """`deliveries`: each shipment's delivered_at (None while under way), when the caller has them; `zone`: the
    order's zone when the caller already knows it (else worked out from the address and delivered place)."""
    zone = zone or order_zone(shipping_address, delivered_location)
    arrived = [d for d in deliveries or () if d is not None]
    in_transit = bool(deliveries) and len(arrived) < len(deliveries or ())
    if delivered_at is None and arrived:
        delivered_at = max(arrived)
    start, counted_from = (delivered_at, "delivery") if delivered_at else (placed_at, "placement")
    already = returned_quantities(returns)
    method, destination = refund_path(payments)
    order_blocker = NOT_RETURNABLE_ORDER_STATUSES.get(order_status or "")
    if order_blocker == "order_not_paid" and method != "no_payment":
        order_blocker = None  # a recorded successful payment: the order's status has not caught up yet
    result = []
    for item in items:
        days = policy.window_days(item.category)
        deadline = deadline_for(start, days, zone)
        remaining = max(item.quantity - already.get(item.sku, 0), 0)
        reasons: list[str] = []
        if order_blocker:
            reasons.append(order_blocker)
        if item.category in policy.non_returnable_categories and reason not in ALWAYS_RETURNABLE_REASONS:
            reasons.append("category_not_returnable")
        if remaining == 0:
            reasons.append("already_returned")
        if now >= deadline:
            if in_transit:
                reasons.append("awaiting_other_parcels")
            elif reason in ALWAYS_RETURNABLE_REASONS:
                reasons.append("outside_window_allowed_for_" + reason)
            else:
                reasons.append("window_closed")
        else:
            reasons.append("within_window")
        blocking = {"category_not_returnable", "already_returned", "window_closed",
                    *NOT_RETURNABLE_ORDER_STATUSES.values()}
        result.append(ItemEligibility(
            sku=item.sku, eligible=not blocking.intersection(reasons), window_days=days, deadline=deadline,
            counted_from=counted_from, returnable_quantity=remaining, reasons=reasons, refund_method=method,
            refund_destination=destination))
    return result


def snapshot_eligibility(snapshot: OrderSnapshot, reason: str | None = None) -> list[ItemEligibility]:
    """Return eligibility of an order as its snapshot tells it: the one computation that the diagnosis's
    findings, its `return_eligibility`, the eligibility route and the returns check all share; computed once
    per snapshot and reason."""
    key = ("eligibility", reason)
    found: list[ItemEligibility] | None = snapshot.memo.get(key)
    if found is None:
        found = snapshot.memo[key] = _eligibility(snapshot, reason)
    return found


def snapshot_zone(snapshot: OrderSnapshot) -> tzinfo:
    """The zone the order's return deadlines are counted in (and named in the answers that show them): the last
    delivered scan's place when it has coordinates, else the shipping address's. Worked out once per snapshot."""
    zone: tzinfo | None = snapshot.memo.get("zone")
    if zone is None:
        delivered = [v for v in snapshot.shipments if v.shipment.delivered_at is not None]
        last = max(delivered, key=lambda v: v.shipment.delivered_at or v.shipment.created_at, default=None)
        location = last.delivered_event.location if last is not None and last.delivered_event is not None else None
        zone = snapshot.memo["zone"] = order_zone(snapshot.order.shipping_address, location)
    return zone


def _eligibility(snapshot: OrderSnapshot, reason: str | None) -> list[ItemEligibility]:
    return return_eligibility(items=snapshot.items, placed_at=snapshot.order.placed_at,
                              delivered_at=snapshot.delivered_at, returns=snapshot.returns,
                              payments=snapshot.payments, shipping_address=snapshot.order.shipping_address,
                              now=snapshot.now, policy=snapshot.policy, reason=reason,
                              order_status=snapshot.order.status,
                              deliveries=[v.shipment.delivered_at for v in snapshot.shipments],
                              zone=snapshot_zone(snapshot))
