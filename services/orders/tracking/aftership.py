"""AfterShip Tracking webhooks (`tracking_update`): `msg` is the tracking, `checkpoints` its events."""

from __future__ import annotations

from typing import Any

from services.orders.tracking.normalized import (
    MAX_CARRIER,
    MAX_TRACKING_NUMBER,
    NormalizedEvent,
    ParsedBatch,
    PayloadError,
    carrier_slug,
    coordinates,
    text_field,
    tracking_key,
)
from services.orders.tracking.timezones import iso2, local_to_utc

TAGS = {
    "Pending": "pending", "InfoReceived": "info_received", "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery", "AttemptFail": "failed_attempt", "Delivered": "delivered",
    "AvailableForPickup": "available_for_pickup", "Exception": "exception", "Expired": "expired",
}

# Sub-tags whose meaning differs from their tag's, and the substatus we keep for each.
SUBTAGS: dict[str, tuple[str, str]] = {
    "Pending_001": ("pending", "no_information"), "Pending_002": ("pending", "awaiting_carrier_update"),
    "Pending_003": ("pending", "awaiting_carrier_update"), "Pending_004": ("pending", "wrong_carrier"),
    "Pending_005": ("pending", "no_recent_update"), "Pending_006": ("pending", "awaiting_shipment"),
    "InfoReceived_001": ("info_received", "label_created"),
    "InTransit_001": ("in_transit", "in_transit"), "InTransit_002": ("in_transit", "acceptance_scan"),
    "InTransit_003": ("in_transit", "arrival_scan"), "InTransit_004": ("in_transit", "arrived_destination_country"),
    "InTransit_005": ("in_transit", "customs_cleared"), "InTransit_006": ("in_transit", "customs_started"),
    "InTransit_007": ("in_transit", "departure_scan"), "InTransit_008": ("in_transit", "problem_resolved"),
    "InTransit_009": ("in_transit", "forwarded_to_other_address"),
    "OutForDelivery_001": ("out_for_delivery", "out_for_delivery"),
    "OutForDelivery_003": ("out_for_delivery", "customer_contacted"),
    "OutForDelivery_004": ("out_for_delivery", "appointment_scheduled"),
    "AttemptFail_001": ("failed_attempt", "failed_attempt"), "AttemptFail_002": ("failed_attempt", "recipient_absent"),
    "AttemptFail_003": ("failed_attempt", "business_closed"),
    "Delivered_001": ("delivered", "delivered"), "Delivered_002": ("delivered", "picked_up_by_customer"),
    "Delivered_003": ("delivered", "signed_by_customer"), "Delivered_004": ("delivered", "cash_on_delivery"),
    "Delivered_005": ("delivered", "delivered_to_neighbor"),
    "AvailableForPickup_001": ("available_for_pickup", "available_for_pickup"),
    "Exception_001": ("exception", "exception"), "Exception_002": ("exception", "customer_moved"),
    "Exception_003": ("exception", "refused"), "Exception_004": ("exception", "customs_delay"),
    "Exception_005": ("exception", "external_delay"), "Exception_006": ("exception", "held_for_payment"),
    "Exception_007": ("exception", "incorrect_address"), "Exception_008": ("exception", "pickup_missed"),
    "Exception_009": ("exception", "rejected_by_carrier"),
    "Exception_010": ("returned_to_sender", "returning_to_sender"),
    "Exception_011": ("returned_to_sender", "returned_to_sender"),
    "Exception_012": ("exception", "damaged"), "Exception_013": ("exception", "lost"),
    "Expired_001": ("expired", "no_update"),
}


def map_status(tag: str, subtag: str | None) -> tuple[str, str | None]:
    if tag not in TAGS:
        raise PayloadError([f"unknown AfterShip tag {tag!r} (subtag {subtag!r})"])
    if subtag and subtag in SUBTAGS and subtag.split("_")[0] == tag:
        return SUBTAGS[subtag]
    return TAGS[tag], None


def parse(payload: Any) -> list[ParsedBatch]:
    if not isinstance(payload, dict):
        raise PayloadError(["body must be a JSON object"])
    msg = payload.get("msg")
    if not isinstance(msg, dict):
        raise PayloadError(["msg (the tracking object) is missing"])
    problems = [f"msg.{name} is missing" for name in ("tracking_number", "slug") if not msg.get(name)]
    checkpoints = msg.get("checkpoints")
    if not isinstance(checkpoints, list):
        problems.append("msg.checkpoints must be a list")
    if problems:
        raise PayloadError(problems)
    slug = text_field(msg["slug"], "msg.slug", max_len=MAX_CARRIER, required=True)
    number = text_field(msg["tracking_number"], "msg.tracking_number", max_len=MAX_TRACKING_NUMBER, required=True)
    assert slug is not None and number is not None
    batch = ParsedBatch(carrier=carrier_slug(slug), tracking_number=tracking_key(number))
    for index, cp in enumerate(checkpoints or []):
        batch.events.append(_checkpoint(cp, index))
    return [batch]


def _checkpoint(cp: Any, index: int) -> NormalizedEvent:
    where = f"msg.checkpoints[{index}]"
    if not isinstance(cp, dict):
        raise PayloadError([f"{where} must be an object"])
    missing = [f"{where}.{name} is missing" for name in ("tag", "checkpoint_time") if not cp.get(name)]
    if missing:
        raise PayloadError(missing)

    def text(name: str, max_len: int) -> str | None:
        return text_field(cp.get(name), f"{where}.{name}", max_len=max_len)

    tag, subtag, stamp = text("tag", 64), text("subtag", 64), text("checkpoint_time", 40)
    country, state, place, city = text("country_iso3", 3), text("state", 120), text("location", 500), text("city", 120)
    assert tag is not None and stamp is not None
    status, substatus = map_status(tag, subtag)
    try:
        occurred_at, zone = local_to_utc(stamp, country, state, place or city)
    except (ValueError, OverflowError) as exc:
        raise PayloadError([f"{where}.checkpoint_time is not a date-time: {stamp!r}"]) from exc
    coords = cp.get("coordinates") or []
    location: dict[str, Any] = {"address": place, "city": city, "region": state, "postal_code": text("zip", 20),
                                "country": iso2(country)}
    point = coordinates(*coords) if isinstance(coords, list) and len(coords) == 2 else None
    if point is not None:
        location["lat"], location["lon"] = point
    return NormalizedEvent(
        status=status, substatus=substatus, raw_status=subtag or tag, occurred_at=occurred_at,
        description=text("message", 4000), location={k: v for k, v in location.items() if v is not None} or None,
        raw={"checkpoint_time": stamp, "time_zone": zone, "tag": tag, "subtag": subtag,
             "subtag_message": text("subtag_message", 500), "raw_tag": text("raw_tag", 200)})
