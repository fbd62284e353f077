"""Return eligibility: windows per category, counted from delivery (from placement when never delivered),
to the end of the last day in the shipping address's time zone; refunds along the original payment path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from services.orders.diagnosis.snapshot import Policy
from services.orders.models import OrderItem, Payment, Return
from services.orders.tracking.timezones import zone_for

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


def order_zone(shipping_address: dict[str, Any] | None) -> tzinfo:
    address = shipping_address or {}
    name = zone_for(address.get("country"), address.get("region"), address.get("city"))
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
                       reason: str | None = None) -> list[ItemEligibility]:
    zone = order_zone(shipping_address)
    start, counted_from = (delivered_at, "delivery") if delivered_at else (placed_at, "placement")
    already = returned_quantities(returns)
    method, destination = refund_path(payments)
    result = []
    for item in items:
        days = policy.window_days(item.category)
        deadline = deadline_for(start, days, zone)
        remaining = max(item.quantity - already.get(item.sku, 0), 0)
        reasons: list[str] = []
        if item.category in policy.non_returnable_categories and reason not in ALWAYS_RETURNABLE_REASONS:
            reasons.append("category_not_returnable")
        if remaining == 0:
            reasons.append("already_returned")
        if now >= deadline:
            if reason in ALWAYS_RETURNABLE_REASONS:
                reasons.append("outside_window_allowed_for_" + reason)
            else:
                reasons.append("window_closed")
        else:
            reasons.append("within_window")
        blocking = {"category_not_returnable", "already_returned", "window_closed"}
        result.append(ItemEligibility(
            sku=item.sku, eligible=not blocking.intersection(reasons), window_days=days, deadline=deadline,
            counted_from=counted_from, returnable_quantity=remaining, reasons=reasons, refund_method=method,
            refund_destination=destination))
    return result
