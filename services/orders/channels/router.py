"""HTTP routes of the customer channels: e-mail in, events to the shop, ticket attachments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.common.auth import AnyRole, Principal, require
from services.common.db import SessionDep
from services.common.errors import responses
from services.orders import repository as orders_repo
from services.orders import service as orders_service
from services.orders.channels import presenters, schemas
from services.orders.channels import repository as repo
from services.orders.channels import service as channels_service
from services.orders.channels.attachments import read as read_file
from services.orders.channels.errors import UnsupportedMediaType

router = APIRouter(prefix="/v1")
ServiceOnly = Annotated[Principal, require("service")]
AgentOnly = Annotated[Principal, require("agent")]


@router.post("/inbound/email", response_model=schemas.InboundResult, status_code=status.HTTP_200_OK,
             responses=responses(401, 403, 413, 415), tags=["e-mail"],
             openapi_extra={"requestBody": {"required": True, "content": {"message/rfc822": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def inbound_email(request: Request, response: Response, session: SessionDep,
                        principal: ServiceOnly) -> schemas.InboundResult:
    """A raw RFC 5322 message (a mail server's pipe, an inbound-parse webhook) opens or continues a ticket."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "message/rfc822":
        raise UnsupportedMediaType("Send the raw message with Content-Type: message/rfc822.")
    raw = await request.body()
    if not raw.strip():
        raise UnsupportedMediaType("The message is empty.")
    state = request.app.state
    outcome = await channels_service.receive_email(session, raw=raw, settings=state.settings,
                                                   wallet=state.wallet_client,
                                                   merchant_addresses=state.merchant_addresses, policy=state.policy)
    if outcome.outcome == "ticket_created" and not outcome.duplicate:
        response.status_code = status.HTTP_201_CREATED
    return schemas.InboundResult(**outcome.__dict__)


@router.get("/events", response_model=schemas.EventList, tags=["events"])
async def list_events(session: SessionDep, principal: AgentOnly, order_id: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> schemas.EventList:
    """Events sent to the shop's webhook endpoints, newest first."""
    items = [presenters.event_public(e) for e in await repo.list_events(session, order_id=order_id, limit=limit)]
    return schemas.EventList(items=items, count=len(items))


@router.get("/events/{event_id}", response_model=schemas.EventPublic, responses=responses(404), tags=["events"])
async def get_event(event_id: str, session: SessionDep, principal: AgentOnly) -> schemas.EventPublic:
    """One event with its state per endpoint and its delivery log."""
    event, items, attempts = await channels_service.event_with_log(session, event_id=event_id)
    return presenters.event_public(event, items, attempts)


@router.post("/events/{event_id}/redeliver", response_model=schemas.EventPublic,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(404), tags=["events"])
async def redeliver_event(event_id: str, request: Request, session: SessionDep,
                          principal: AgentOnly) -> schemas.EventPublic:
    """Send an event again to every configured endpoint (the worker delivers it)."""
    await channels_service.redeliver(session, event_id=event_id, settings=request.app.state.settings)
    event, items, attempts = await channels_service.event_with_log(session, event_id=event_id)
    return presenters.event_public(event, items, attempts)


@router.post("/tickets/{ticket_id}/attachments", response_model=schemas.AttachmentPublic,
             status_code=status.HTTP_201_CREATED, responses=responses(404, 413, 415), tags=["tickets"],
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def upload_attachment(ticket_id: str, request: Request, session: SessionDep, principal: AnyRole,
                            filename: Annotated[str | None, Query(max_length=300)] = None) -> schemas.AttachmentPublic:
    """A screenshot, short video, PDF or text log for a ticket (raw bytes; the type is read from the content)."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    row = await channels_service.upload_attachment(session, ticket=ticket, data=await request.body(),
                                                   filename=filename, settings=request.app.state.settings)
    return schemas.AttachmentPublic.model_validate(row, from_attributes=True)


@router.get("/tickets/{ticket_id}/attachments", response_model=list[schemas.AttachmentPublic],
            responses=responses(404), tags=["tickets"])
async def list_attachments(ticket_id: str, session: SessionDep, principal: AnyRole) -> list[schemas.AttachmentPublic]:
    """A ticket's attachments (from e-mail and uploads)."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    return [schemas.AttachmentPublic.model_validate(a, from_attributes=True)
            for a in await repo.attachments_of(session, ticket.id)]


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}", responses=responses(404), tags=["tickets"],
            response_class=Response)
async def download_attachment(ticket_id: str, attachment_id: str, request: Request, session: SessionDep,
                              principal: AnyRole) -> Response:
    """The attachment's bytes, served as the type sniffed from them (never rendered inline)."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    row = await channels_service.get_attachment(session, ticket=ticket, attachment_id=attachment_id)
    data = read_file(request.app.state.settings.attachments_dir, row.storage_key)
    return Response(content=data, media_type=row.content_type, headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"})
