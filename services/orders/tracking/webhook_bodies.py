"""How each webhook sender's body looks, for the OpenAPI document (so generated clients and fuzzers can reach
the webhook routes): the fields our parsers read, each sender's signature header, and what it expects back."""

from __future__ import annotations

from typing import Any


def _header(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": {"type": "string"}}


_TEXT = {"type": ["string", "null"]}
_ADDRESS = {"type": ["object", "null"], "properties": {
    "country": _TEXT, "state": _TEXT, "city": _TEXT, "street": _TEXT, "postal_code": _TEXT,
    "coordinates": {"type": ["object", "null"], "properties": {"latitude": {"type": ["number", "null"]},
                                                              "longitude": {"type": ["number", "null"]}}}}}

AFTERSHIP = {"type": "object", "required": ["msg"], "properties": {
    "event": {"type": "string", "examples": ["tracking_update"]},
    "msg": {"type": "object", "required": ["tracking_number", "slug", "checkpoints"], "properties": {
        "tracking_number": {"type": "string", "maxLength": 64}, "slug": {"type": "string", "maxLength": 64},
        "checkpoints": {"type": "array", "items": {"type": "object", "required": ["tag", "checkpoint_time"],
                                                   "properties": {
            "tag": {"type": "string"}, "subtag": _TEXT, "checkpoint_time": {"type": "string"},
            "message": _TEXT, "location": _TEXT, "city": _TEXT, "state": _TEXT, "zip": _TEXT,
            "country_iso3": _TEXT, "coordinates": {"type": ["array", "null"], "items": {"type": "number"}}}}}}}}}

EASYPOST = {"type": "object", "required": ["object", "description", "result"], "properties": {
    "object": {"const": "Event"}, "description": {"enum": ["tracker.created", "tracker.updated"]},
    "result": {"type": "object", "required": ["object", "tracking_code", "carrier", "tracking_details"],
               "properties": {
        "object": {"const": "Tracker"}, "tracking_code": {"type": "string", "maxLength": 64},
        "carrier": {"type": "string", "maxLength": 64},
        "tracking_details": {"type": "array", "items": {"type": "object", "required": ["status", "datetime"],
                                                        "properties": {
            "status": {"type": "string"}, "status_detail": _TEXT, "datetime": {"type": "string"},
            "message": _TEXT, "source": _TEXT,
            "tracking_location": {"type": ["object", "null"], "properties": {
                "city": _TEXT, "state": _TEXT, "zip": _TEXT, "country": _TEXT}}}}}}}}}

KUAIDI100 = {"type": "object", "required": ["param", "sign"], "properties": {
    "param": {"type": "string", "description": "The push as JSON: status, message, lastResult {state, ischeck, "
                                               "com, nu, data[] {context, time, ftime, status, statusCode, "
                                               "areaName}}; times are China Standard Time without an offset."},
    "sign": {"type": "string", "description": "Uppercase MD5 of param + KUAIDI100_SALT."}}}

KDNIAO = {"type": "object", "required": ["RequestData", "DataSign"], "properties": {
    "RequestData": {"type": "string", "description": "The push as JSON: EBusinessID, PushTime, Count, Data[] "
                                                     "{ShipperCode, LogisticCode, State, Traces[] {AcceptTime, "
                                                     "AcceptStation, Action, Location}}."},
    "DataSign": {"type": "string", "description": "Base64 of the lowercase hex MD5 of RequestData + KDNIAO_APP_KEY."},
    "RequestType": {"type": "string", "examples": ["101"]}}}

_17TRACK_EVENT = {"type": "object", "properties": {
    "time_iso": _TEXT, "time_utc": _TEXT, "description": _TEXT, "location": _TEXT, "stage": _TEXT,
    "sub_status": _TEXT, "address": _ADDRESS}}
_17TRACK_PROVIDER = {"type": "object", "properties": {"events": {"type": "array", "items": _17TRACK_EVENT}}}
_17TRACK_INFO = {"type": ["object", "null"], "properties": {
    "latest_status": {"type": ["object", "null"], "properties": {"status": _TEXT, "sub_status": _TEXT}},
    "tracking": {"type": ["object", "null"], "properties": {
        "providers": {"type": "array", "items": _17TRACK_PROVIDER}}}}}
SEVENTEENTRACK = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"enum": ["TRACKING_UPDATED", "TRACKING_STOPPED"]},
    "data": {"type": "object", "required": ["number", "carrier"], "properties": {
        "number": {"type": "string", "maxLength": 64}, "carrier": {"type": "integer", "minimum": 0},
        "track_info": _17TRACK_INFO}}}}

BODIES: dict[str, dict[str, Any]] = {
    "aftership": {"title": "AfterShip tracking_update", "schema": AFTERSHIP,
                  "headers": [_header("aftership-hmac-sha256", "Base64 HMAC-SHA256 of the body with "
                                                               "AFTERSHIP_WEBHOOK_SECRET.")]},
    "easypost": {"title": "EasyPost tracker Event", "schema": EASYPOST,
                 "headers": [_header("X-Hmac-Signature", "hmac-sha256-hex=<hex HMAC-SHA256 of the body with "
                                                         "EASYPOST_WEBHOOK_SECRET>.")]},
    "generic": {"title": "Normalized batch", "schema": {"$ref": "#/components/schemas/TrackingBatch"},
                "headers": [_header("X-Signature", "sha256=<hex HMAC-SHA256 of the body with "
                                                   "CARRIER_WEBHOOK_SECRET>; or sign per Standard Webhooks.", False),
                            _header("webhook-id", "Standard Webhooks message id.", False),
                            _header("webhook-timestamp", "Standard Webhooks timestamp, seconds; within 5 minutes.",
                                    False),
                            _header("webhook-signature", "Standard Webhooks v1,<base64> signatures.", False)]},
    "kuaidi100": {"title": "Kuaidi100 (快递100) subscription", "schema": KUAIDI100, "headers": [],
                  "reply": "Kuaidi100's documented acknowledgement.",
                  "reply_schema": {"type": "object", "properties": {
                      "result": {"type": "boolean"}, "returnCode": {"type": "string"}, "message": {"type": "string"}}}},
    "kdniao": {"title": "Kdniao (快递鸟) track", "schema": KDNIAO, "headers": [],
               "reply": "Kdniao's documented acknowledgement.",
               "reply_schema": {"type": "object", "properties": {
                   "EBusinessID": {"type": "string"}, "UpdateTime": {"type": "string"},
                   "Success": {"type": "boolean"}, "Reason": {"type": "string"}}}},
    "17track": {"title": "17TRACK v2", "schema": SEVENTEENTRACK,
                "headers": [_header("sign", "Hex SHA-256 of the body + '/' + SEVENTEENTRACK_KEY.")]},
}
