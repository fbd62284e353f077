"""The diagnosis rules: each a small pure function of the order snapshot. Adding one touches nothing else:
decorate it with @rule, give it a catalog entry in each language."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from services.common.schemas import format_decimal
from services.orders.diagnosis.address import check_delivery_address
from services.orders.diagnosis.returns import snapshot_eligibility
from services.orders.diagnosis.snapshot import OrderSnapshot, ShipmentView

Severity = Literal["info", "warning", "critical"]
Channel = Literal["chat", "email", "phone", "social"]
SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    key: str  # the catalog entry: the code, or code.variant
    params: dict[str, Any]
    evidence: dict[str, Any]
    contact_channel: Channel


Rule = Callable[[OrderSnapshot], Iterable[Finding]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def when(value: datetime | None) -> str | None:
    if value is None:
        return None
    v = value.astimezone(UTC)  # fields rather than strftime: a few per diagnosis, on the hot read
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d} UTC"


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def hours_between(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 1)


def money(value: Decimal) -> str:
    return format_decimal(value)


# Payments -----------------------------------------------------------------------------------------------

@rule
def payment_failed(s: OrderSnapshot) -> Iterable[Finding]:
    if s.succeeded_payments or not s.payments or s.order.status in ("cancelled", "refunded"):
        return
    latest = max(s.payments, key=lambda p: p.created_at)
    if latest.status != "failed":
        return
    failed_at = next((h.occurred_at for h in reversed(s.history.get(latest.id, [])) if h.to_status == "failed"),
                     latest.updated_at)
    facts = {"payment_id": latest.id, "method": latest.method, "failure_code": latest.failure_code,
             "amount": money(latest.amount), "currency": latest.currency, "failed_at": iso(failed_at),
             "failed_attempts": sum(1 for p in s.payments if p.status == "failed")}
    yield Finding("payment_failed", "critical", "payment_failed",
                  {**facts, "failed_at": when(failed_at), "failure": ("failure", latest.failure_code or "none")},
                  facts, "chat")


@rule
def payment_pending_too_long(s: OrderSnapshot) -> Iterable[Finding]:
    if s.succeeded_payments:
        return
    for payment in s.payments:
        if payment.status != "pending":
            continue
        since = min((h.occurred_at for h in s.history.get(payment.id, []) if h.to_status == "pending"),
                    default=payment.created_at)
        hours = hours_between(since, s.now)
        if hours >= s.policy.payment_pending_hours:
            facts = {"payment_id": payment.id, "method": payment.method, "amount": money(payment.amount),
                     "currency": payment.currency, "pending_since": iso(since), "hours": hours,
                     "threshold_hours": s.policy.payment_pending_hours}
            yield Finding("payment_pending_too_long", "warning", "payment_pending_too_long",
                          {**facts, "since": when(since)}, facts, "chat")


CRYPTO_GROUPS = {"underpaid": "underpaid", "wrong_recipient": "mismatch", "wrong_token": "mismatch",
                 "wrong_chain": "mismatch", "overpaid": "mismatch", "failed": "not_paid", "not_found": "not_paid",
                 "dropped": "not_paid", "replaced": "not_paid", "pending": "waiting", "unknown": "waiting",
                 "already_used": "not_yours", "before_order": "not_yours"}


@rule
def crypto_payment_unverified(s: OrderSnapshot) -> Iterable[Finding]:
    for payment in s.payments:
        check = payment.payment_check or {}
        verdict = check.get("verdict")
        if payment.method != "crypto" or not verdict or verdict == "paid":
            continue
        # An overpayment paid the order; it needs a refund of the surplus, not a new payment.
        if verdict == "overpaid" and payment.status == "succeeded":
            continue
        group = CRYPTO_GROUPS.get(verdict, "mismatch")
        severity: Severity = "warning" if group == "waiting" else "critical"
        facts = {"payment_id": payment.id, "chain": payment.chain, "tx_hash": payment.tx_hash,
                 "verdict": verdict, "payment_check": check}
        params = {"verdict": verdict, "explanation": check.get("explanation") or verdict,
                  "difference": str(check.get("difference") or "").lstrip("-"), "token": payment.token}
        yield Finding("crypto_payment_unverified", severity, f"crypto_payment_unverified.{group}", params, facts,
                      "chat")


# Order status against payments and carrier events -------------------------------------------------------

PAID_STATUSES = ("paid", "fulfilling", "shipped", "delivered", "completed")


@rule
def status_mismatch(s: OrderSnapshot) -> Iterable[Finding]:
    order = s.order
    if order.status in PAID_STATUSES and not s.succeeded_payments and any(p.status == "failed" for p in s.payments):
        summary = ", ".join(f"{p.method} {p.status}" for p in s.payments)
        facts = {"order_status": order.status, "payments": [{"id": p.id, "method": p.method, "status": p.status,
                                                             "failure_code": p.failure_code} for p in s.payments]}
        yield Finding("status_mismatch", "critical", "status_mismatch.paid_without_payment",
                      {"status": order.status, "payments": summary}, facts, "chat")
    if order.status == "pending_payment" and s.succeeded_payments:
        p = s.succeeded_payments[0]
        facts = {"order_status": order.status, "payment_id": p.id, "amount": money(p.amount), "currency": p.currency}
        yield Finding("status_mismatch", "warning", "status_mismatch.unpaid_with_payment",
                      {**facts, "status": order.status}, facts, "chat")
    for view in s.shipments:
        yield from _shipment_status_mismatch(s, view)


def _shipment_status_mismatch(s: OrderSnapshot, view: ShipmentView) -> Iterable[Finding]:
    shipment, order = view.shipment, s.order
    base = {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number, "shipment_id": shipment.id}
    if order.status == "shipped" and not view.events:
        gap = s.policy.gap_hours(shipment.carrier)
        hours = hours_between(shipment.created_at, s.now)
        if hours > gap:
            facts = {**base, "registered_at": iso(shipment.created_at), "hours": hours, "gap_hours": gap}
            yield Finding("status_mismatch", "warning", "status_mismatch.shipped_without_scan",
                          {**facts, "since": when(shipment.created_at)}, facts, "chat")
    if shipment.delivered_at is not None and order.status in ("paid", "fulfilling", "shipped"):
        facts = {**base, "order_status": order.status, "delivered_at": iso(shipment.delivered_at)}
        yield Finding("status_mismatch", "warning", "status_mismatch.delivered_not_updated",
                      {**facts, "status": order.status, "delivered_at": when(shipment.delivered_at)}, facts, "chat")
    troubling = [e for e in view.after_delivery if e.status in ("exception", "returned_to_sender", "failed_attempt")]
    if troubling:
        event = troubling[-1]
        facts = {**base, "delivered_at": iso(shipment.delivered_at), "event_status": event.status,
                 "event_at": iso(event.occurred_at), "raw_status": event.raw_status,
                 "description": event.description}
        yield Finding("status_mismatch", "critical", "status_mismatch.event_after_delivery",
                      {**facts, "delivered_at": when(shipment.delivered_at), "event_at": when(event.occurred_at)},
                      facts, "phone")


# Fulfilment and the parcel's journey --------------------------------------------------------------------

@rule
def not_shipped_yet(s: OrderSnapshot) -> Iterable[Finding]:
    if s.order.status not in ("paid", "fulfilling") or s.shipments:
        return
    paid_at = s.paid_at() or s.order.placed_at
    hours = hours_between(paid_at, s.now)
    severity: Severity = "warning" if hours > s.policy.ship_within_hours else "info"
    facts = {"paid_at": iso(paid_at), "hours": hours, "ship_within_hours": s.policy.ship_within_hours}
    yield Finding("not_shipped_yet", severity, "not_shipped_yet",
                  {**facts, "paid_at": when(paid_at), "ship_within": s.policy.ship_within_hours}, facts, "chat")


def _event_facts(view: ShipmentView, event: Any) -> dict[str, Any]:
    return {"carrier": view.shipment.carrier, "tracking_number": view.shipment.tracking_number,
            "shipment_id": view.shipment.id, "event_status": event.status, "raw_status": event.raw_status,
            "event_at": iso(event.occurred_at), "description": event.description, "location": event.location}


def _place(location: dict[str, Any] | None) -> str:
    if not location:
        return ""
    return ", ".join(str(location[k]) for k in ("address", "city") if location.get(k))


@rule
def parcel_status(s: OrderSnapshot) -> Iterable[Finding]:
    """The parcel's own status: exceptions, failed attempts, pickups waiting, returns."""
    for view in s.shipments:
        current = view.current
        if current is None or view.shipment.delivered_at is not None:
            continue
        facts = _event_facts(view, current)
        params = {**facts, "event_at": when(current.occurred_at), "location": _place(current.location),
                  "description": current.description or current.raw_status or current.status}
        if current.status == "exception":
            yield Finding("delivery_exception", "critical", "delivery_exception", params, facts, "phone")
        elif current.status == "failed_attempt":
            yield Finding("failed_delivery_attempt", "warning", "failed_delivery_attempt", params, facts, "phone")
        elif current.status == "available_for_pickup":
            station = (current.location or {}).get("pickup_point")
            if station:
                # The scan names the station or locker: say where to collect it.
                directions = (current.location or {}).get("pickup_directions")
                facts = {**facts, "pickup_point": station, "pickup_directions": directions}
                params = {**params, "pickup_point": station, "pickup_directions": directions or ""}
                yield Finding("awaiting_pickup", "warning", "awaiting_pickup.station", params, facts, "chat")
            else:
                yield Finding("awaiting_pickup", "warning", "awaiting_pickup", params, facts, "chat")
        elif current.status == "returned_to_sender":
            yield Finding("returned_to_sender", "critical", "returned_to_sender", params, facts, "phone")


@rule
def no_tracking_updates(s: OrderSnapshot) -> Iterable[Finding]:
    for view in s.shipments:
        latest = view.latest
        if latest is None or view.shipment.delivered_at is not None:
            continue
        if latest.status in ("returned_to_sender", "expired", "available_for_pickup"):
            continue
        gap = s.policy.gap_hours(view.shipment.carrier)
        hours = hours_between(latest.occurred_at, s.now)
        if hours > gap:
            facts = {"carrier": view.shipment.carrier, "tracking_number": view.shipment.tracking_number,
                     "shipment_id": view.shipment.id, "last_event_at": iso(latest.occurred_at),
                     "status": latest.status, "hours": hours, "gap_hours": gap}
            yield Finding("no_tracking_updates", "warning", "no_tracking_updates",
                          {**facts, "last_event_at": when(latest.occurred_at)}, facts, "chat")


@rule
def delivered_to_different_address(s: OrderSnapshot) -> Iterable[Finding]:
    for view in s.shipments:
        delivered = view.delivered_event
        if delivered is None:
            continue
        check = check_delivery_address(s.order.shipping_address, delivered.location,
                                       match_km=s.policy.address_match_km, mismatch_km=s.policy.address_mismatch_km)
        if check.verdict not in ("mismatch", "near"):
            continue
        severity: Severity = "critical" if check.verdict == "mismatch" else "warning"
        facts = {"carrier": view.shipment.carrier, "tracking_number": view.shipment.tracking_number,
                 "shipment_id": view.shipment.id, "verdict": check.verdict, "method": check.method,
                 "delivered_at": iso(delivered.occurred_at), **check.evidence}
        variant = "coordinates" if check.method == "coordinates" else "text"
        params = {**facts, "delivered_at": when(delivered.occurred_at),
                  "distance_km": check.evidence.get("distance_km"),
                  "fields": ", ".join(sorted(check.evidence.get("differs", {})))}
        yield Finding("delivered_to_different_address", severity, f"delivered_to_different_address.{variant}",
                      params, facts, "phone")


# What the customer told us ------------------------------------------------------------------------------

@rule
def delivered_but_reported_missing(s: OrderSnapshot) -> Iterable[Finding]:
    reports = [t for t in s.open_tickets if t.type == "not_received"]
    delivered = [v for v in s.shipments if v.shipment.delivered_at is not None]
    if not reports or not delivered:
        return
    view, ticket = delivered[-1], reports[-1]
    facts = {"ticket_id": ticket.id, "carrier": view.shipment.carrier, "tracking_number": view.shipment.tracking_number,
             "delivered_at": iso(view.shipment.delivered_at),
             "delivered_location": view.delivered_event.location if view.delivered_event else None}
    yield Finding("delivered_but_reported_missing", "critical", "delivered_but_reported_missing",
                  {**facts, "delivered_at": when(view.shipment.delivered_at)}, facts, "phone")


@rule
def wrong_item_reported(s: OrderSnapshot) -> Iterable[Finding]:
    for ticket in s.open_tickets:
        if ticket.type == "wrong_item":
            facts = {"ticket_id": ticket.id, "reported_at": iso(ticket.created_at),
                     "description": ticket.description}
            yield Finding("wrong_item_reported", "warning", "wrong_item_reported", facts, facts, "email")


# Returns --------------------------------------------------------------------------------------------------

@rule
def return_window(s: OrderSnapshot) -> Iterable[Finding]:
    delivered_at = s.delivered_at
    if delivered_at is None or s.order.status in ("cancelled", "refunded", "returned"):
        return
    eligibility = snapshot_eligibility(s)
    open_items = [e for e in eligibility if e.eligible]
    if open_items:
        first = min(open_items, key=lambda e: e.deadline)
        facts = {"deadline": iso(first.deadline), "window_days": first.window_days, "counted_from": "delivery",
                 "items": [{"sku": e.sku, "deadline": iso(e.deadline)} for e in open_items]}
        yield Finding("return_window_open", "info", "return_window_open",
                      {**facts, "deadline": when(first.deadline), "counted_from": ("counted_from", "delivery")},
                      facts, "email")
    elif any("window_closed" in e.reasons for e in eligibility):
        last = max(eligibility, key=lambda e: e.deadline)
        facts = {"deadline": iso(last.deadline), "window_days": last.window_days, "counted_from": "delivery"}
        yield Finding("return_window_closed", "info", "return_window_closed",
                      {**facts, "deadline": when(last.deadline), "counted_from": ("counted_from", "delivery")},
                      facts, "email")
