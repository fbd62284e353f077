"""Kuaidi100 (快递100) subscription pushes: a form post whose `param` field holds the JSON (`lastResult` with
`com`, `nu`, `state`, `data[]` newest first) and whose `sign` is the uppercase MD5 of `param` + the salt given
at subscription. Times are China Standard Time without an offset."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from services.orders.tracking import carriers
from services.orders.tracking.normalized import (
    MAX_TRACKING_NUMBER,
    NormalizedEvent,
    ParsedBatch,
    PayloadError,
    form_fields,
    json_form_field,
    object_field,
    text_field,
    tracking_key,
)
from services.orders.tracking.scan_text import location_notes, refine
from services.orders.tracking.timezones import china_time

# state / statusCode (resultv2=4 "高级状态") -> (its name, our status, our substatus). The name is also what
# data[].status says when the subscription asked for status names (resultv2=1).
STATES: dict[str, tuple[str, str, str | None]] = {
    "0": ("在途", "in_transit", None),
    "1001": ("到达派件城市", "in_transit", "arrived_destination_city"),
    "1002": ("干线", "in_transit", "line_haul"),
    "1003": ("转递", "in_transit", "transferred"),
    "1": ("揽收", "in_transit", "acceptance_scan"),
    "101": ("已下单", "info_received", "order_placed"),
    "102": ("待揽收", "info_received", "awaiting_pickup_by_courier"),
    "103": ("已揽收", "in_transit", "acceptance_scan"),
    "5": ("派件", "out_for_delivery", None),
    "501": ("投柜或驿站", "available_for_pickup", "pickup_station"),
    "3": ("签收", "delivered", None),
    "301": ("本人签收", "delivered", "signed_by_customer"),
    "302": ("派件异常后签收", "delivered", "delivered_after_exception"),
    "303": ("代签", "delivered", "signed_by_other"),
    "304": ("投柜或站签收", "available_for_pickup", "pickup_station"),
    "6": ("退回", "returned_to_sender", "returning_to_sender"),
    "4": ("退签", "returned_to_sender", "returned_to_sender"),
    "401": ("已销单", "exception", "cancelled"),
    "14": ("拒签", "exception", "refused"),
    "7": ("转投", "in_transit", "forwarded_to_other_address"),
    "2": ("疑难", "exception", None),
    "201": ("超时未签收", "exception", "not_signed_in_time"),
    "202": ("超时未更新", "exception", "no_recent_update"),
    "203": ("拒收", "exception", "refused"),
    "204": ("派件异常", "failed_attempt", "delivery_exception"),
    "205": ("柜或驿站超时未取", "available_for_pickup", "pickup_overdue"),
    "206": ("无法联系", "failed_attempt", "recipient_unreachable"),
    "207": ("超区", "exception", "outside_service_area"),
    "208": ("滞留", "exception", "held"),
    "209": ("破损", "exception", "damaged"),
    "210": ("销单", "exception", "cancelled"),
    "8": ("清关", "in_transit", "customs_started"),
    "10": ("待清关", "in_transit", "customs_pending"),
    "11": ("清关中", "in_transit", "customs_started"),
    "12": ("已清关", "in_transit", "customs_cleared"),
    "13": ("清关异常", "exception", "customs_delay"),
}
BY_NAME = {name: code for code, (name, _, _) in STATES.items()}

# What Kuaidi100 documents as the answer to a push; anything else and it pushes again.
ACCEPTED = {"result": True, "returnCode": "200", "message": "成功"}


def sign(param: str, salt: str) -> str:
    return hashlib.md5((param + salt).encode()).hexdigest().upper()


def verify(salt: str, body: bytes) -> bool:
    fields = form_fields(body)
    param, given = fields.get("param"), fields.get("sign")
    if param is None or not given:
        return False
    return hmac.compare_digest(given.strip().upper().encode(), sign(param, salt).encode())


def payload_of(body: bytes) -> Any:
    return json_form_field(body, "param", "the push's JSON")


def map_state(code: Any, name: Any = None) -> tuple[str, str | None, str]:
    """(status, substatus, raw_status) for a state code or, failing that, a state name."""
    key = str(code).strip() if code is not None and not isinstance(code, bool) else ""
    if key in STATES:
        label, status, substatus = STATES[key]
        return status, substatus, f"{key}:{label}"
    if isinstance(name, str) and name.strip() in BY_NAME:
        return map_state(BY_NAME[name.strip()])
    raise PayloadError([f"unknown Kuaidi100 state {code!r} ({name!r})"])


def parse(payload: Any) -> list[ParsedBatch]:
    if not isinstance(payload, dict):
        raise PayloadError(["param must be a JSON object"])
    result = object_field(payload.get("lastResult"), "lastResult")
    com = text_field(result.get("com"), "lastResult.com", max_len=64, required=True)
    number = text_field(result.get("nu"), "lastResult.nu", max_len=MAX_TRACKING_NUMBER, required=True)
    data = result.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise PayloadError(["lastResult.data must be a list"])
    assert com is not None and number is not None
    batch = ParsedBatch(carrier=carriers.from_kuaidi100(com), tracking_number=tracking_key(number))
    for index, item in enumerate(data):
        # data[] is newest first: the shipment-level state describes data[0] when a scan has no code.
        batch.events.append(_scan(item, index, result.get("state") if index == 0 else None))
    return [batch]


def _scan(item: Any, index: int, shipment_state: Any) -> NormalizedEvent:
    where = f"lastResult.data[{index}]"
    if not isinstance(item, dict):
        raise PayloadError([f"{where} must be an object"])
    stamp = text_field(item.get("ftime") or item.get("time"), f"{where}.time", max_len=40, required=True)
    assert stamp is not None
    try:
        occurred_at, zone = china_time(stamp)
    except (ValueError, OverflowError) as exc:
        raise PayloadError([f"{where}.time is not a date-time: {stamp!r}"]) from exc
    context = text_field(item.get("context"), f"{where}.context", max_len=4000)
    code, name = item.get("statusCode"), text_field(item.get("status"), f"{where}.status", max_len=64)
    if code not in (None, "") or name:
        status, substatus, raw_status = map_state(code, name)
    elif shipment_state not in (None, ""):
        status, substatus, raw_status = map_state(shipment_state)
    else:
        status, substatus, raw_status = "in_transit", None, "in_transit"
    status, substatus, reading = refine(status, substatus, context)
    area = text_field(item.get("areaName"), f"{where}.areaName", max_len=200)
    parts = [p.strip() for p in (area or "").split(",") if p.strip()]
    location: dict[str, Any] = {"country": "CN"} if parts or reading.pickup_point else {}
    if parts:
        location["region"] = parts[0]
        location["city"] = parts[1] if len(parts) > 1 else parts[0]
    location.update(location_notes(reading))
    return NormalizedEvent(
        status=status, substatus=substatus, raw_status=raw_status, occurred_at=occurred_at, description=context,
        location=location or None,
        raw={"time": stamp, "time_zone": zone, "status": name, "statusCode": code, "areaCode": item.get("areaCode"),
             "areaName": area, "areaCenter": item.get("areaCenter")})
