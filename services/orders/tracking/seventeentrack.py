"""17TRACK API v2 pushes (`TRACKING_UPDATED`, `TRACKING_STOPPED`): `data.track_info` with `latest_status`
(`status`, `sub_status`) and `tracking.providers[].events[]`. Signed in the `sign` header: the hex SHA-256 of
the raw body, "/" and the account's security key, as 17TRACK documents it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.orders.tracking import carriers
from services.orders.tracking.normalized import (
    INT64,
    MAX_TRACKING_NUMBER,
    NormalizedEvent,
    ParsedBatch,
    PayloadError,
    coordinates,
    object_field,
    text_field,
    tracking_key,
)
from services.orders.tracking.scan_text import location_notes, refine
from services.orders.tracking.timezones import iso2, local_to_utc

HEADER = "sign"
EVENTS = ("TRACKING_UPDATED", "TRACKING_STOPPED")

STATUSES = {
    "NotFound": "pending", "InfoReceived": "info_received", "InTransit": "in_transit", "Expired": "expired",
    "AvailableForPickup": "available_for_pickup", "OutForDelivery": "out_for_delivery",
    "DeliveryFailure": "failed_attempt", "Delivered": "delivered", "Exception": "exception",
}
# Sub-statuses whose meaning differs from their status's, and the substatus we keep.
SUB_STATUSES: dict[str, tuple[str, str]] = {
    "NotFound_InvalidCode": ("pending", "invalid_tracking_number"),
    "InTransit_PickedUp": ("in_transit", "acceptance_scan"),
    "InTransit_Departure": ("in_transit", "departure_scan"),
    "InTransit_Arrival": ("in_transit", "arrival_scan"),
    "InTransit_CustomsProcessing": ("in_transit", "customs_started"),
    "InTransit_CustomsReleased": ("in_transit", "customs_cleared"),
    "InTransit_CustomsRequiringInformation": ("exception", "customs_delay"),
    "DeliveryFailure_NoBody": ("failed_attempt", "recipient_absent"),
    "DeliveryFailure_Security": ("failed_attempt", "security"),
    "DeliveryFailure_Rejected": ("exception", "refused"),
    "DeliveryFailure_InvalidAddress": ("failed_attempt", "incorrect_address"),
    "Exception_Returning": ("returned_to_sender", "returning_to_sender"),
    "Exception_Returned": ("returned_to_sender", "returned_to_sender"),
    "Exception_NoBody": ("exception", "recipient_absent"),
    "Exception_Security": ("exception", "security"),
    "Exception_Damage": ("exception", "damaged"),
    "Exception_Rejected": ("exception", "refused"),
    "Exception_Delayed": ("exception", "external_delay"),
    "Exception_Lost": ("exception", "lost"),
    "Exception_Destroyed": ("exception", "destroyed"),
    "Exception_Cancel": ("exception", "cancelled"),
}
# An event's milestone (`stage`).
STAGES: dict[str, tuple[str, str | None]] = {
    "InfoReceived": ("info_received", None), "PickedUp": ("in_transit", "acceptance_scan"),
    "Departure": ("in_transit", "departure_scan"), "Arrival": ("in_transit", "arrival_scan"),
    "AvailableForPickup": ("available_for_pickup", None), "OutForDelivery": ("out_for_delivery", None),
    "Delivered": ("delivered", None), "Returning": ("returned_to_sender", "returning_to_sender"),
    "Returned": ("returned_to_sender", "returned_to_sender"),
}


def sign(body: bytes, key: str) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def verify(key: str, headers: Mapping[str, str], body: bytes) -> bool:
    given = headers.get(HEADER)
    if not given:
        return False
    return hmac.compare_digest(given.strip().lower().encode(), sign(body, key).encode())


def map_status(status: Any, sub_status: Any) -> tuple[str, str | None, str]:
    if not isinstance(status, str) or status not in STATUSES:
        raise PayloadError([f"unknown 17TRACK status {status!r} (sub_status {sub_status!r})"])
    raw = str(sub_status) if isinstance(sub_status, str) and sub_status else status
    if isinstance(sub_status, str) and sub_status in SUB_STATUSES:
        mapped, substatus = SUB_STATUSES[sub_status]
        return mapped, substatus, raw
    return STATUSES[status], None, raw


def parse(payload: Any) -> list[ParsedBatch]:
    if not isinstance(payload, dict):
        raise PayloadError(["body must be a JSON object"])
    event = payload.get("event")
    if event not in EVENTS:
        raise PayloadError([f"event {event!r} is not one of {', '.join(EVENTS)}"])
    data = object_field(payload.get("data"), "data")
    number = text_field(data.get("number"), "data.number", max_len=MAX_TRACKING_NUMBER, required=True)
    code = data.get("carrier")
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= INT64:
        raise PayloadError(["data.carrier must be 17TRACK's carrier number"])
    assert number is not None
    batch = ParsedBatch(carrier=carriers.from_17track(code), tracking_number=tracking_key(number))
    if event == "TRACKING_STOPPED":
        return [batch]
    info = object_field(data.get("track_info"), "data.track_info")
    latest = object_field(info.get("latest_status"), "data.track_info.latest_status")
    latest_event = object_field(info.get("latest_event"), "data.track_info.latest_event")
    tracking = object_field(info.get("tracking"), "data.track_info.tracking")
    providers = tracking.get("providers") or []
    if not isinstance(providers, list):
        raise PayloadError(["data.track_info.tracking.providers must be a list"])
    latest_status = map_status(latest.get("status"), latest.get("sub_status")) if latest.get("status") else None
    for p, provider in enumerate(providers):
        where = f"data.track_info.tracking.providers[{p}]"
        provider = object_field(provider, where)
        events = provider.get("events") or []
        if not isinstance(events, list):
            raise PayloadError([f"{where}.events must be a list"])
        for e, item in enumerate(events):
            batch.events.append(_event(item, f"{where}.events[{e}]", latest_event, latest_status))
    return [batch]


def _time(item: dict[str, Any], where: str, country: str | None, state: str | None) -> tuple[datetime, str]:
    utc = item.get("time_utc")
    stamp = utc or item.get("time_iso")
    text = text_field(stamp, f"{where}.time_utc", max_len=40, required=True)
    assert text is not None
    try:
        if utc:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC), "utc"
        return local_to_utc(text, country, state)
    except (ValueError, OverflowError) as exc:
        raise PayloadError([f"{where}.time_utc is not a date-time: {text!r}"]) from exc


def _event(item: Any, where: str, latest_event: dict[str, Any],
           latest_status: tuple[str, str | None, str] | None) -> NormalizedEvent:
    item = object_field(item, where)
    address = object_field(item.get("address"), f"{where}.address")
    country = text_field(address.get("country"), f"{where}.address.country", max_len=3)
    state = text_field(address.get("state"), f"{where}.address.state", max_len=120)
    occurred_at, zone = _time(item, where, country, state)
    description = text_field(item.get("description"), f"{where}.description", max_len=4000)
    stage = text_field(item.get("stage"), f"{where}.stage", max_len=64)
    sub_status = text_field(item.get("sub_status"), f"{where}.sub_status", max_len=64)
    is_latest = bool(latest_event) and item.get("time_utc") == latest_event.get("time_utc") \
        and item.get("description") == latest_event.get("description")
    if sub_status and sub_status.split("_")[0] in STATUSES:
        status, substatus, raw_status = map_status(sub_status.split("_")[0], sub_status)
    elif stage in STAGES:
        status, substatus = STAGES[stage]
        raw_status = stage
    elif is_latest and latest_status is not None:
        status, substatus, raw_status = latest_status
    else:
        status, substatus, raw_status = "in_transit", None, stage or "in_transit"
    status, substatus, reading = refine(status, substatus, description)
    given = object_field(address.get("coordinates"), f"{where}.address.coordinates")
    location: dict[str, Any] = {
        "address": text_field(address.get("street"), f"{where}.address.street", max_len=500),
        "city": text_field(address.get("city"), f"{where}.address.city", max_len=120),
        "region": state,
        "postal_code": text_field(address.get("postal_code"), f"{where}.address.postal_code", max_len=20),
        "country": iso2(country)}
    point = coordinates(given.get("latitude"), given.get("longitude"))
    if point is not None:
        location["lat"], location["lon"] = point
    location.update(location_notes(reading))
    return NormalizedEvent(
        status=status, substatus=substatus, raw_status=raw_status, occurred_at=occurred_at, description=description,
        location={k: v for k, v in location.items() if v is not None} or None,
        raw={"time_iso": item.get("time_iso"), "time_utc": item.get("time_utc"), "time_zone": zone, "stage": stage,
             "sub_status": sub_status, "location": item.get("location")})
