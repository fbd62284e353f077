"""The normalized tracking model every sender's payload is mapped onto."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import orjson

from services.common.schemas import UNSTORABLE

STATUSES = ("pending", "info_received", "in_transit", "out_for_delivery", "failed_attempt",
            "available_for_pickup", "delivered", "exception", "returned_to_sender", "expired")

# Progress order, used only to break ties between events stamped with the same time.
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


class NormalizedEvent(NamedTuple):
    # A NamedTuple, not a frozen dataclass: ingest builds hundreds of thousands of these.
    status: str
    occurred_at: datetime
    event_id: str | None = None
    substatus: str | None = None
    raw_status: str | None = None
    description: str | None = None
    location: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None

    def dedup_key(self) -> str:
        """Identity of an event: the sender's id, else its status and instant in UTC (carrier and number are
        columns). The instant, not the sender's offset: 08:00+08:00 and 00:00Z are one scan."""
        if self.event_id:
            return f"id:{self.event_id}"[:200]
        return f"at:{self.status}@{self.occurred_at.astimezone(UTC).isoformat()}"


@dataclass
class ParsedBatch:
    carrier: str
    tracking_number: str
    events: list[NormalizedEvent] = field(default_factory=list)


class PayloadError(ValueError):
    """A sender's payload we cannot read: names what is missing or unexpected."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def carrier_slug(value: str) -> str:
    return value.strip().lower().replace("_", "-").replace(" ", "-")


def tracking_key(value: str) -> str:
    return "".join(value.split()).upper()


# The columns' widths (models.TrackingEvent): a longer value is the sender's error (422), never a 500.
MAX_CARRIER, MAX_TRACKING_NUMBER, MAX_EVENT_ID, MAX_SUBSTATUS, MAX_RAW_STATUS = 64, 64, 190, 64, 200
MAX_DESCRIPTION, MAX_EVENTS = 4000, 1000
INT64 = 2**63 - 1
# Events stamped further ahead of their receipt than this are refused: a clock or parser error, and an event
# dated 2099 would otherwise become the parcel's "latest" for ever.
FUTURE_TOLERANCE = timedelta(hours=24)


def _unstorable(value: str, where: str) -> None:
    found = UNSTORABLE.search(value)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not UTF-8)"
        raise PayloadError([f"{where} contains {what}"])


def coordinates(lat: Any, lon: Any) -> tuple[float, float] | None:
    """A carrier's latitude and longitude when both are numbers on the globe (not booleans, not text)."""
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in (lat, lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def text_field(value: Any, where: str, *, max_len: int, required: bool = False) -> str | None:
    """A sender's text value: a string, no NUL, within the column."""
    if value is None or value == "":
        if required:
            raise PayloadError([f"{where} is missing"])
        return None
    if not isinstance(value, str):
        raise PayloadError([f"{where} must be a string, not {type(value).__name__}"])
    result = value
    _unstorable(result, where)
    if len(result) > max_len:
        raise PayloadError([f"{where} is longer than {max_len} characters"])
    return result


def object_field(value: Any, where: str) -> dict[str, Any]:
    """A sender's nested object that may be absent (null) but must be an object when present."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError([f"{where} must be an object, not {type(value).__name__}"])
    return value


def check_json(value: Any, where: str, depth: int = 0) -> None:
    """What a JSON column can store on both databases: no NUL, 64-bit integers, finite numbers, shallow."""
    if depth > 16:
        raise PayloadError([f"{where} is nested too deeply"])
    if isinstance(value, str):
        _unstorable(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -INT64 - 1 <= value <= INT64:
            raise PayloadError([f"{where} is out of range (a 64-bit integer at most)"])
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError([f"{where} must be a finite number"])
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json(key, f"{where} key", depth + 1)
            check_json(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json(item, f"{where}[{index}]", depth + 1)


_TEXT_LIMITS = (("event_id", MAX_EVENT_ID), ("substatus", MAX_SUBSTATUS), ("raw_status", MAX_RAW_STATUS),
                ("description", MAX_DESCRIPTION))


def _check_event(event: NormalizedEvent, at: str) -> None:
    """The thorough check of one event, naming what is wrong."""
    if event.status not in STATUS_RANK:
        raise PayloadError([f"{at}.status {event.status!r} is not a normalized status"])
    if event.occurred_at.tzinfo is None:
        raise PayloadError([f"{at}.occurred_at has no time zone"])
    for name, limit in _TEXT_LIMITS:
        text_field(getattr(event, name), f"{at}.{name}", max_len=limit)
    check_json(event.location, f"{at}.location")
    check_json(event.raw, f"{at}.raw")


def _looks_storable(events: list[NormalizedEvent]) -> bool:
    """A fast pass over a whole batch (the ingest hot path); False sends it to the thorough per-event check."""
    texts: list[str] = []
    for event in events:
        if event.status not in STATUS_RANK or event.occurred_at.tzinfo is None:
            return False
        for name, limit in _TEXT_LIMITS:
            value = getattr(event, name)
            if value is not None:
                if not isinstance(value, str) or len(value) > limit:
                    return False
                texts.append(value)
    if UNSTORABLE.search("\x01".join(texts)):
        return False
    try:  # orjson refuses integers beyond 64 bits and lone surrogates; a NUL comes out escaped
        encoded = orjson.dumps([[e.location, e.raw] for e in events])
    except (TypeError, orjson.JSONEncodeError):
        return False
    return b"\\u0000" not in encoded and b"NaN" not in encoded and b"Infinity" not in encoded


def check_batches(batches: list[ParsedBatch]) -> None:
    """Every value a parser produced fits the columns it goes to; else a PayloadError naming it."""
    for b, batch in enumerate(batches):
        where = f"batches[{b}]" if len(batches) > 1 else "batch"
        text_field(batch.carrier, f"{where}.carrier", max_len=MAX_CARRIER, required=True)
        text_field(batch.tracking_number, f"{where}.tracking_number", max_len=MAX_TRACKING_NUMBER, required=True)
        if len(batch.events) > MAX_EVENTS:
            raise PayloadError([f"{where} has more than {MAX_EVENTS} events"])
        if _looks_storable(batch.events):
            continue
        for i, event in enumerate(batch.events):
            _check_event(event, f"{where}.events[{i}]")


def split_future(events: Iterable[NormalizedEvent], now: datetime) -> tuple[list[NormalizedEvent],
                                                                              list[NormalizedEvent]]:
    """(events we can take, events stamped more than FUTURE_TOLERANCE after `now`)."""
    horizon = now + FUTURE_TOLERANCE
    kept: list[NormalizedEvent] = []
    future: list[NormalizedEvent] = []
    for event in events:
        (future if event.occurred_at > horizon else kept).append(event)
    return kept, future


@dataclass(frozen=True)
class ShipmentState:
    """A shipment's status folded from its events. Order-independent: duplicates and late arrivals are harmless."""

    status: str = "pending"
    last_event_at: datetime | None = None
    delivered_at: datetime | None = None

    def apply(self, event: NormalizedEvent) -> ShipmentState:
        return fold(self, [event])


def fold(state: ShipmentState, events: Iterable[NormalizedEvent]) -> ShipmentState:
    """The latest event by time (ties broken by progress) sets the status, except that a delivery stands:
    later events are kept and surfaced by diagnosis, not taken as the new truth."""
    status, last, delivered_at = state.status, state.last_event_at, state.delivered_at
    rank = STATUS_RANK[status]
    for event in events:
        occurred_at = event.occurred_at
        if event.status == "delivered" and (delivered_at is None or occurred_at < delivered_at):
            delivered_at = occurred_at
        event_rank = STATUS_RANK[event.status]
        if last is None or occurred_at > last or (occurred_at == last and event_rank > rank):
            last, status, rank = occurred_at, event.status, event_rank
    if delivered_at is not None:
        status = "delivered"
    return ShipmentState(status=status, last_event_at=last, delivered_at=delivered_at)


def form_fields(body: bytes) -> dict[str, str]:
    """The first value of each field of an urlencoded form body, exactly as sent (signatures cover those bytes)."""
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in fields.items() if values}


def json_form_field(body: bytes, name: str, what: str) -> Any:
    """A form field that carries the push's JSON (Kuaidi100's `param`, Kdniao's `RequestData`), parsed."""
    raw = form_fields(body).get(name)
    if raw is None:
        raise PayloadError([f"{name} ({what}) is missing"])
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise PayloadError([f"{name} is not valid JSON"]) from exc
