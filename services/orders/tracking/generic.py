"""The generic sender: our own normalized batch, as POST /v1/tracking/events takes it, signed like a webhook."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.common.errors import InvalidInput
from services.orders import schemas
from services.orders.tracking.normalized import NormalizedEvent, ParsedBatch, carrier_slug, tracking_key


def batch_from_normalized(body: schemas.TrackingBatch) -> ParsedBatch:
    events = [NormalizedEvent(status=e.status, substatus=e.substatus, raw_status=e.raw_status or e.status,
                              occurred_at=e.occurred_at, event_id=e.event_id, description=e.description,
                              location={k: v for k, v in e.location.__dict__.items() if v is not None}
                              if e.location else None)
              for e in body.events]
    return ParsedBatch(carrier=carrier_slug(body.carrier), tracking_number=tracking_key(body.tracking_number),
                       events=events)


def parse(payload: Any) -> list[ParsedBatch]:
    try:
        return [batch_from_normalized(schemas.TrackingBatch.model_validate(payload))]
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        raise InvalidInput("The generic webhook body is not a valid tracking batch.", errors=errors) from exc
