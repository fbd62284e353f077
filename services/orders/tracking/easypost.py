"""EasyPost `tracker.created` / `tracker.updated` Events: `result` is the Tracker, `tracking_details` its events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.orders.tracking.normalized import (
    MAX_CARRIER,
    MAX_TRACKING_NUMBER,
    NormalizedEvent,
    ParsedBatch,
    PayloadError,
    carrier_slug,
    object_field,
    text_field,
    tracking_key,
)
from services.orders.tracking.timezones import iso2

STATUSES = {
    "unknown": "pending", "pre_transit": "info_received", "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery", "delivered": "delivered", "available_for_pickup": "available_for_pickup",
    "return_to_sender": "returned_to_sender", "failure": "exception", "cancelled": "exception", "error": "exception",
}

# status_detail values that change the normalized status whatever the top-level status says.
DETAILS = {
    "arrived_at_pickup_location": "available_for_pickup", "return": "returned_to_sender",
    "return_to_sender": "returned_to_sender", "lost": "exception", "damaged": "exception", "refused": "exception",
    "missorted": "exception", "delivery_exception": "exception", "transit_exception": "exception",
    "address_correction": "exception", "cancelled": "exception", "attempted_delivery": "failed_attempt",
    "failed_attempt": "failed_attempt", "out_for_delivery": "out_for_delivery", "label_created": "info_received",
}

TRACKER_EVENTS = ("tracker.created", "tracker.updated")


def map_status(status: str, detail: str | None) -> str:
    if status not in STATUSES:
        raise PayloadError([f"unknown EasyPost status {status!r}"])
    if status == "delivered":
        return "delivered"
    return DETAILS.get(detail or "", STATUSES[status])


def parse(payload: Any) -> list[ParsedBatch]:
    if not isinstance(payload, dict):
        raise PayloadError(["body must be a JSON object"])
    if payload.get("object") != "Event":
        raise PayloadError(["object must be \"Event\" (an EasyPost webhook Event)"])
    if payload.get("description") not in TRACKER_EVENTS:
        raise PayloadError([f"description {payload.get('description')!r} is not one of {', '.join(TRACKER_EVENTS)}"])
    tracker = payload.get("result")
    if not isinstance(tracker, dict) or tracker.get("object") != "Tracker":
        raise PayloadError(["result must be a Tracker object"])
    problems = [f"result.{name} is missing" for name in ("tracking_code", "carrier") if not tracker.get(name)]
    details = tracker.get("tracking_details")
    if not isinstance(details, list):
        problems.append("result.tracking_details must be a list")
    if problems:
        raise PayloadError(problems)
    carrier = text_field(tracker["carrier"], "result.carrier", max_len=MAX_CARRIER, required=True)
    number = text_field(tracker["tracking_code"], "result.tracking_code", max_len=MAX_TRACKING_NUMBER, required=True)
    assert carrier is not None and number is not None
    batch = ParsedBatch(carrier=carrier_slug(carrier), tracking_number=tracking_key(number))
    for index, detail in enumerate(details or []):
        batch.events.append(_detail(detail, index))
    return [batch]


def _detail(detail: Any, index: int) -> NormalizedEvent:
    where = f"result.tracking_details[{index}]"
    if not isinstance(detail, dict):
        raise PayloadError([f"{where} must be an object"])
    missing = [f"{where}.{name} is missing" for name in ("status", "datetime") if not detail.get(name)]
    if missing:
        raise PayloadError(missing)

    def text(name: str, max_len: int, obj: dict[str, Any] = detail, prefix: str = where) -> str | None:
        return text_field(obj.get(name), f"{prefix}.{name}", max_len=max_len)

    stamp, raw_status_code = text("datetime", 40), text("status", 64)
    assert stamp is not None and raw_status_code is not None
    try:
        occurred_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if occurred_at.tzinfo is None:  # EasyPost documents UTC
            occurred_at = occurred_at.replace(tzinfo=UTC)
        occurred_at = occurred_at.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PayloadError([f"{where}.datetime is not a date-time: {stamp!r}"]) from exc
    status_detail = text("status_detail", 64)
    status = map_status(raw_status_code, status_detail)
    loc = object_field(detail.get("tracking_location"), f"{where}.tracking_location")
    at = f"{where}.tracking_location"
    location = {"city": text("city", 120, loc, at), "region": text("state", 120, loc, at),
                "postal_code": text("zip", 20, loc, at), "country": iso2(text("country", 3, loc, at))}
    raw_status = raw_status_code + (f"/{status_detail}" if status_detail else "")
    return NormalizedEvent(
        status=status, substatus=status_detail, raw_status=raw_status, occurred_at=occurred_at,
        description=text("message", 4000), location={k: v for k, v in location.items() if v is not None} or None,
        raw={"datetime": stamp, "status": raw_status_code, "status_detail": status_detail,
             "source": text("source", 64)})
