"""Carrier events in (normalized batches and senders' own webhooks) and shipment timelines out."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.common.auth import AgentOrService, AnyRole
from services.common.db import SessionDep
from services.common.errors import NotFound, ProblemError, responses
from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import presenters, schemas
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.diagnosis.address import check_delivery_address
from services.orders.diagnosis.snapshot import ShipmentView
from services.orders.errors import BadSignature, ShipmentNotFound, UnsupportedPayload, WebhookSecretMissing
from services.orders.tracking import aftership, easypost, generic, kdniao, kuaidi100, seventeentrack, signatures
from services.orders.tracking.generic import batch_from_normalized
from services.orders.tracking.ingest import BatchOutcome, ingest
from services.orders.tracking.normalized import ParsedBatch, PayloadError, check_batches
from services.orders.tracking.webhook_bodies import BODIES

router = APIRouter(prefix="/v1", tags=["tracking"])


def _response(outcomes: list[BatchOutcome]) -> schemas.IngestResponse:
    return schemas.IngestResponse(results=[
        schemas.IngestResult(carrier=o.carrier, tracking_number=o.tracking_number, received=o.received,
                             stored=o.stored, duplicates=o.received - o.stored - len(o.refused),
                             shipment_id=o.shipment.id if o.shipment else None,
                             shipment_status=o.shipment.status if o.shipment else None,  # type: ignore[arg-type]
                             waiting_for_shipment=o.shipment is None,
                             refused=[schemas.RefusedEvent(index=r.index, occurred_at=r.occurred_at, reason=r.reason)
                                      for r in o.refused])
        for o in outcomes])


def _unreadable(fmt: str, exc: PayloadError) -> UnsupportedPayload:
    return UnsupportedPayload(f"This {fmt} payload cannot be read: {exc}",
                              errors=[{"field": p.split(" ")[0], "message": p} for p in exc.problems])


async def _ingest_checked(session: SessionDep, batches: list[ParsedBatch], fmt: str) -> list[BatchOutcome]:
    try:
        check_batches(batches)
    except PayloadError as exc:
        raise _unreadable(fmt, exc) from exc
    return await ingest(session, batches, source=fmt)


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
    return _response(await _ingest_checked(session, [batch_from_normalized(body)], "api"))


# Each webhook sender: its secret, how it signs, how its body is read and what it expects back. ---------------

def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        err = ProblemError("The webhook body is not valid JSON.")
        err.type_slug, err.title = "malformed-json", "Malformed JSON"
        raise err from exc


def _header_check(fmt: str) -> Callable[[str, Mapping[str, str], bytes], str | None]:
    header = signatures.SCHEMES[fmt][0]

    def check(secret: str, headers: Mapping[str, str], body: bytes) -> str | None:
        return None if signatures.verify(fmt, secret, headers, body) else f"missing or wrong {header} signature"
    return check


def _generic_check(secret: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """The generic sender signs with X-Signature, or per Standard Webhooks (webhook-id/-timestamp/-signature)."""
    if headers.get("webhook-signature") or headers.get("webhook-id"):
        return signatures.verify_standard(secret, headers, body, time.time())
    return None if signatures.verify("generic", secret, headers, body) else \
        "missing or wrong X-Signature (or Standard Webhooks webhook-signature) signature"


def _ingested(_: Any, outcomes: list[BatchOutcome]) -> Any:
    return _response(outcomes)


@dataclass(frozen=True)
class Sender:
    secret: Callable[[Settings], str | None]
    secret_name: str  # the variable(s) that hold it, for the 503's message
    check: Callable[[str, Mapping[str, str], bytes], str | None]  # None when the signature holds, else why not
    read: Callable[[bytes], Any]
    parse: Callable[[Any], list[ParsedBatch]]
    reply: Callable[[Any, list[BatchOutcome]], Any] = _ingested
    media_type: str = "application/json"


SENDERS: dict[str, Sender] = {
    "aftership": Sender(lambda s: s.aftership_webhook_secret or s.carrier_webhook_secret,
                        "AFTERSHIP_WEBHOOK_SECRET (or CARRIER_WEBHOOK_SECRET)", _header_check("aftership"),
                        _json_body, aftership.parse),
    "easypost": Sender(lambda s: s.easypost_webhook_secret or s.carrier_webhook_secret,
                       "EASYPOST_WEBHOOK_SECRET (or CARRIER_WEBHOOK_SECRET)", _header_check("easypost"),
                       _json_body, easypost.parse),
    "generic": Sender(lambda s: s.carrier_webhook_secret, "CARRIER_WEBHOOK_SECRET", _generic_check, _json_body,
                      generic.parse),
    "kuaidi100": Sender(lambda s: s.kuaidi100_salt, "KUAIDI100_SALT",
                        lambda secret, _, body: None if kuaidi100.verify(secret, body) else "missing or wrong sign",
                        kuaidi100.payload_of, kuaidi100.parse, lambda _, __: JSONResponse(kuaidi100.ACCEPTED),
                        "application/x-www-form-urlencoded"),
    "kdniao": Sender(lambda s: s.kdniao_app_key, "KDNIAO_APP_KEY",
                     lambda secret, _, body: None if kdniao.verify(secret, body) else "missing or wrong DataSign",
                     kdniao.payload_of, kdniao.parse,
                     lambda payload, _: JSONResponse(kdniao.reply(payload, utcnow())),
                     "application/x-www-form-urlencoded"),
    "17track": Sender(lambda s: s.seventeentrack_key, "SEVENTEENTRACK_KEY",
                      lambda secret, headers, body: None if seventeentrack.verify(secret, headers, body)
                      else "missing or wrong sign header", _json_body, seventeentrack.parse),
}


async def receive_webhook(fmt: str, request: Request, session: SessionDep) -> Any:
    sender = SENDERS[fmt]
    settings: Settings = request.app.state.settings
    secret = sender.secret(settings)
    if not secret:
        raise WebhookSecretMissing(f"{sender.secret_name} is not set; {fmt} webhooks are refused until it is.",
                                   headers={"Retry-After": "300"})
    body = await request.body()
    why = sender.check(secret, request.headers, body)
    if why is not None:
        raise BadSignature(f"The {fmt} webhook is not signed as {fmt} signs: {why}.")
    try:
        payload = sender.read(body)
        batches = sender.parse(payload)
    except PayloadError as exc:
        raise _unreadable(fmt, exc) from exc
    return sender.reply(payload, await _ingest_checked(session, batches, fmt))


def _webhook_route(fmt: str) -> Callable[[Request, SessionDep], Awaitable[Any]]:
    async def endpoint(request: Request, session: SessionDep) -> Any:
        return await receive_webhook(fmt, request, session)
    endpoint.__name__ = f"webhook_{fmt.replace('17', 'seventeen')}"
    endpoint.__doc__ = f"A {BODIES[fmt]['title']} push exactly as sent, checked with its own signature scheme."
    return endpoint


for _fmt, _sender in SENDERS.items():
    _body = BODIES[_fmt]
    router.add_api_route(
        f"/webhooks/carriers/{_fmt}", _webhook_route(_fmt), methods=["POST"],
        response_model=schemas.IngestResponse if _sender.reply is _ingested else None,
        responses={**responses(400, 401, 422, 503),
                   **({} if _sender.reply is _ingested else {200: {"description": _body["reply"], "content": {
                       "application/json": {"schema": _body["reply_schema"]}}}})},
        openapi_extra={"requestBody": {"required": True, "content": {_sender.media_type: {"schema": _body["schema"]}}},
                       "parameters": _body["headers"]},
        summary=f"{_body['title']} webhook")


@router.post("/webhooks/carriers/{fmt}", include_in_schema=False)
async def unknown_webhook(fmt: str) -> None:
    """Any other sender name."""
    raise NotFound(f"Unknown webhook format {fmt!r}; use one of: {', '.join(sorted(SENDERS))}.")


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
