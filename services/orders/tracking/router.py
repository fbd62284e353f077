"""Carrier events in (normalized batches and senders' own webhooks) and shipment timelines out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.common.auth import AgentOrService, AnyRole
from services.common.db import SessionDep
from services.common.errors import NotFound, ProblemError, responses
from services.common.settings import Settings
from services.orders import presenters, schemas
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.diagnosis.address import check_delivery_address
from services.orders.diagnosis.snapshot import ShipmentView
from services.orders.errors import BadSignature, ShipmentNotFound, UnsupportedPayload, WebhookSecretMissing
from services.orders.tracking import aftership, easypost, generic, signatures
from services.orders.tracking.generic import batch_from_normalized
from services.orders.tracking.ingest import BatchOutcome, ingest
from services.orders.tracking.normalized import ParsedBatch, PayloadError

router = APIRouter(prefix="/v1", tags=["tracking"])


PARSERS: dict[str, Callable[[Any], list[ParsedBatch]]] = {
    "aftership": aftership.parse, "easypost": easypost.parse, "generic": generic.parse,
}


def _response(outcomes: list[BatchOutcome]) -> schemas.IngestResponse:
    return schemas.IngestResponse(results=[
        schemas.IngestResult(carrier=o.carrier, tracking_number=o.tracking_number, received=o.received,
                             stored=o.stored, duplicates=o.received - o.stored,
                             shipment_id=o.shipment.id if o.shipment else None,
                             shipment_status=o.shipment.status if o.shipment else None,  # type: ignore[arg-type]
                             waiting_for_shipment=o.shipment is None)
        for o in outcomes])


_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/TrackingBatch"}}}}}


@router.post("/tracking/events", response_model=schemas.IngestResponse, responses=responses(400, 422),
             openapi_extra=_BATCH_BODY)
async def ingest_events(request: Request, session: SessionDep, _: AgentOrService) -> schemas.IngestResponse:
    """Ingest a normalized batch of carrier events; duplicates are stored once, unknown parcels are kept."""
    # Validated straight from the raw bytes: this is the hot ingest path, and JSON-mode validation is ~4x faster.
    try:
        body = schemas.TrackingBatch.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from exc
    return _response(await ingest(session, [batch_from_normalized(body)], source="api"))


@router.post("/webhooks/carriers/{fmt}", response_model=schemas.IngestResponse,
             responses=responses(400, 401, 404, 422, 503), status_code=status.HTTP_200_OK)
async def carrier_webhook(fmt: str, request: Request, session: SessionDep) -> schemas.IngestResponse:
    """A carrier's or aggregator's webhook exactly as sent, checked with that sender's signature scheme."""
    if fmt not in PARSERS:
        raise NotFound(f"Unknown webhook format {fmt!r}; use one of: {', '.join(sorted(PARSERS))}.")
    settings: Settings = request.app.state.settings
    if not settings.carrier_webhook_secret:
        raise WebhookSecretMissing("CARRIER_WEBHOOK_SECRET is not set; webhooks are refused until it is.",
                                   headers={"Retry-After": "300"})
    body = await request.body()
    if not signatures.verify(fmt, settings.carrier_webhook_secret, request.headers, body):
        header = signatures.SCHEMES[fmt][0]
        raise BadSignature(f"Missing or wrong {header} signature for the {fmt} webhook.")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        err = ProblemError("The webhook body is not valid JSON.")
        err.type_slug, err.title = "malformed-json", "Malformed JSON"
        raise err from exc
    try:
        batches = PARSERS[fmt](payload)
    except PayloadError as exc:
        raise UnsupportedPayload(f"This {fmt} payload cannot be read: {exc}",
                                 errors=[{"field": p.split(" ")[0], "message": p} for p in exc.problems]) from exc
    return _response(await ingest(session, batches, source=fmt))


async def _visible_shipment(session: SessionDep, shipment_id: str, principal: AnyRole) -> Any:
    shipment = await repo.shipment_by_id(session, shipment_id)
    if shipment is None:
        raise ShipmentNotFound(shipment_id)
    try:
        order = await orders_service.get_order(session, order_id=shipment.order_id, principal=principal)
    except NotFound as exc:
        raise ShipmentNotFound(shipment_id) from exc
    return shipment, order


@router.get("/shipments/{shipment_id}", response_model=schemas.ShipmentPublic, responses=responses(404))
async def get_shipment(shipment_id: str, session: SessionDep, principal: AnyRole) -> schemas.ShipmentPublic:
    """One shipment and its current status."""
    shipment, _ = await _visible_shipment(session, shipment_id, principal)
    return presenters.shipment_public(shipment)


@router.get("/shipments/{shipment_id}/timeline", response_model=schemas.ShipmentTimeline, responses=responses(404))
async def shipment_timeline(shipment_id: str, request: Request, session: SessionDep,
                            principal: AnyRole) -> schemas.ShipmentTimeline:
    """A shipment's carrier events in time order, events after a delivery flagged, and the delivered-address check."""
    shipment, order = await _visible_shipment(session, shipment_id, principal)
    view = ShipmentView(shipment, await repo.events_of(session, shipment.id))
    settings: Settings = request.app.state.settings
    check = None
    if view.delivered_event is not None:
        result = check_delivery_address(order.shipping_address, view.delivered_event.location,
                                        match_km=settings.address_match_km, mismatch_km=settings.address_mismatch_km)
        check = schemas.AddressCheckPublic(verdict=result.verdict, method=result.method, evidence=result.evidence)
    after = {id(e) for e in view.after_delivery}
    return schemas.ShipmentTimeline(
        shipment=presenters.shipment_public(shipment),
        events=[schemas.TimelineEvent(
            event_id=e.event_id, status=e.status, substatus=e.substatus,  # type: ignore[arg-type]
            raw_status=e.raw_status, occurred_at=e.occurred_at, description=e.description, location=e.location,
            source=e.source, received_at=e.received_at, after_delivery=id(e) in after)
            for e in view.events],
        delivered_address_check=check)
