"""Kdniao (快递鸟) track pushes: a form post with `RequestData` (the JSON: `Data[]`, one entry per waybill,
each with `ShipperCode`, `LogisticCode`, `State`/`StateEx` and `Traces[]` of `AcceptTime`, `AcceptStation`,
`Action`), `DataSign` (base64 of the lowercase hex MD5 of RequestData + AppKey, as Kdniao's demos compute it)
and `RequestType`. Times are China Standard Time without an offset."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
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
from services.orders.tracking.timezones import CHINA, china_time

# State / StateEx / Action -> (its name, our status, our substatus), from Kdniao's status table.
ACTIONS: dict[str, tuple[str, str, str | None]] = {
    "0": ("暂无轨迹信息", "pending", "no_information"),
    "1": ("已揽收", "in_transit", "acceptance_scan"),
    "10": ("待揽件", "info_received", "awaiting_pickup_by_courier"),
    "2": ("在途中", "in_transit", None),
    "201": ("到达派件城市", "in_transit", "arrived_destination_city"),
    "204": ("到达转运中心", "in_transit", "arrival_scan"),
    "205": ("到达派件网点", "in_transit", "arrived_delivery_station"),
    "206": ("寄件网点发件", "in_transit", "departure_scan"),
    "202": ("派件中", "out_for_delivery", None),
    "211": ("已放入快递柜或驿站", "available_for_pickup", "pickup_station"),
    "3": ("已签收", "delivered", None),
    "301": ("正常签收", "delivered", "signed_by_customer"),
    "302": ("轨迹异常后最终签收", "delivered", "delivered_after_exception"),
    "304": ("代收签收", "delivered", "signed_by_other"),
    "311": ("快递柜或驿站签收", "available_for_pickup", "pickup_station"),
    "4": ("问题件", "exception", None),
    "401": ("发货无信息", "exception", "no_information"),
    "402": ("超时未签收", "exception", "not_signed_in_time"),
    "403": ("超时未更新", "exception", "no_recent_update"),
    "404": ("拒收(退件)", "returned_to_sender", "refused_returning"),
    "405": ("派件异常", "failed_attempt", "delivery_exception"),
    "406": ("退货签收", "returned_to_sender", "returned_to_sender"),
    "407": ("退货未签收", "returned_to_sender", "returning_to_sender"),
    "412": ("快递柜或驿站超时未取", "available_for_pickup", "pickup_overdue"),
    "413": ("单号已拦截", "exception", "intercepted"),
    "414": ("破损", "exception", "damaged"),
    "415": ("客户取消发货", "exception", "cancelled"),
    "416": ("无法联系", "failed_attempt", "recipient_unreachable"),
    "417": ("配送延迟", "exception", "external_delay"),
    "418": ("快件取出", "exception", "taken_out"),
    "419": ("重新派送", "out_for_delivery", "redelivery"),
    "420": ("收货地址不详细", "exception", "incorrect_address"),
    "421": ("收件人电话错误", "exception", "incorrect_phone"),
    "422": ("错分件", "exception", "missorted"),
    "423": ("超区件", "exception", "outside_service_area"),
    "5": ("转寄", "in_transit", "forwarded_to_other_address"),
    "6": ("清关", "in_transit", "customs_started"),
    "601": ("待清关", "in_transit", "customs_pending"),
    "602": ("清关中", "in_transit", "customs_started"),
    "603": ("已清关", "in_transit", "customs_cleared"),
    "604": ("清关异常", "exception", "customs_delay"),
}


def data_sign(request_data: str, app_key: str) -> str:
    digest = hashlib.md5((request_data + app_key).encode()).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def verify(app_key: str, body: bytes) -> bool:
    fields = form_fields(body)
    request_data, given = fields.get("RequestData"), fields.get("DataSign")
    if request_data is None or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), data_sign(request_data, app_key).encode())


def payload_of(body: bytes) -> Any:
    return json_form_field(body, "RequestData", "the push's JSON")


def reply(payload: Any, now: datetime) -> dict[str, Any]:
    """The answer Kdniao's push documentation asks for; without it the push is repeated."""
    business_id = payload.get("EBusinessID") if isinstance(payload, dict) else None
    # isprintable() also refuses NUL and lone surrogates (what common.schemas.UNSTORABLE looks for).
    if not isinstance(business_id, str) or len(business_id) > 64 or not business_id.isprintable():
        business_id = ""
    return {"EBusinessID": business_id,
            "UpdateTime": now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"), "Success": True, "Reason": ""}


def map_action(code: Any) -> tuple[str, str | None, str]:
    key = str(code).strip() if code is not None and not isinstance(code, bool | dict | list) else ""
    if key not in ACTIONS:
        raise PayloadError([f"unknown Kdniao state {code!r}"])
    label, status, substatus = ACTIONS[key]
    return status, substatus, f"{key}:{label}"


def parse(payload: Any) -> list[ParsedBatch]:
    if not isinstance(payload, dict):
        raise PayloadError(["RequestData must be a JSON object"])
    data = payload.get("Data")
    if not isinstance(data, list):
        raise PayloadError(["Data must be a list"])
    return [_waybill(item, index) for index, item in enumerate(data)]


def _waybill(item: Any, index: int) -> ParsedBatch:
    where = f"Data[{index}]"
    item = object_field(item, where)
    shipper = text_field(item.get("ShipperCode"), f"{where}.ShipperCode", max_len=64, required=True)
    number = text_field(item.get("LogisticCode"), f"{where}.LogisticCode", max_len=MAX_TRACKING_NUMBER,
                        required=True)
    assert shipper is not None and number is not None
    traces = item.get("Traces")
    if traces is None:
        traces = []
    if not isinstance(traces, list):
        raise PayloadError([f"{where}.Traces must be a list"])
    batch = ParsedBatch(carrier=carriers.from_kdniao(shipper), tracking_number=tracking_key(number))
    state = item.get("StateEx") or item.get("State")
    events = [_trace(trace, f"{where}.Traces[{i}]") for i, trace in enumerate(traces)]
    if events and state not in (None, ""):
        # The waybill's State describes its latest trace when that trace carries no Action of its own.
        latest = max(range(len(events)), key=lambda i: events[i][0].occurred_at)
        event, has_action, text = events[latest]
        if not has_action:
            status, substatus, raw_status = map_action(state)
            status, substatus, reading = refine(status, substatus, text)
            location = {**(event.location or {}), **location_notes(reading)}
            events[latest] = (event._replace(status=status, substatus=substatus, raw_status=raw_status,
                                             location=location or None), True, text)
    batch.events = [event for event, _, _ in events]
    return batch


def _trace(trace: Any, where: str) -> tuple[NormalizedEvent, bool, str | None]:
    trace = object_field(trace, where)
    stamp = text_field(trace.get("AcceptTime"), f"{where}.AcceptTime", max_len=40, required=True)
    assert stamp is not None
    try:
        occurred_at, zone = china_time(stamp)
    except (ValueError, OverflowError) as exc:
        raise PayloadError([f"{where}.AcceptTime is not a date-time: {stamp!r}"]) from exc
    text = text_field(trace.get("AcceptStation"), f"{where}.AcceptStation", max_len=4000)
    action = trace.get("Action")
    has_action = action not in (None, "")
    if has_action:
        status, substatus, raw_status = map_action(action)
    else:
        status, substatus, raw_status = "in_transit", None, "in_transit"
    status, substatus, reading = refine(status, substatus, text)
    city = text_field(trace.get("Location"), f"{where}.Location", max_len=120)
    location: dict[str, Any] = {"city": city, "country": "CN"} if city else {}
    if reading.pickup_point and not location:
        location["country"] = "CN"
    location.update(location_notes(reading))
    remark = text_field(trace.get("Remark"), f"{where}.Remark", max_len=2000)
    return (NormalizedEvent(status=status, substatus=substatus, raw_status=raw_status, occurred_at=occurred_at,
                            description=text, location=location or None,
                            raw={"AcceptTime": stamp, "time_zone": zone, "Action": action, "Remark": remark}),
            has_action, text)
