"""HTTP routes for the support desk: diagnosis, return eligibility and returns, tickets and their log."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import Response

from services.common.auth import AgentOrService, AnyRole, Principal, current_principal
from services.common.db import SessionDep, read_session
from services.common.errors import responses
from services.orders import flows, presenters, schemas
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.diagnosis.catalog import pick_language
from services.orders.diagnosis.returns import snapshot_eligibility, snapshot_zone
from services.orders.diagnosis.snapshot import OrderSnapshot
from services.orders.errors import ReturnNotFound
from services.orders.models import Ticket

router = APIRouter(prefix="/v1")
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]
ACCEPT_LANGUAGE_PARAMETER = {"name": "Accept-Language", "in": "header", "required": False,
                             "description": "zh-CN or en (the default)", "schema": {"type": "string"}}


async def _snapshot(request: Request, session: SessionDep, order_id: str, principal: Principal) -> OrderSnapshot:
    return await orders_service.load_snapshot(session, order_id=order_id, principal=principal,
                                              policy=request.app.state.policy)


@router.get("/orders/{order_id}/diagnosis", response_model=schemas.DiagnosisPublic, responses=responses(404),
            tags=["diagnosis"], openapi_extra={"parameters": [ACCEPT_LANGUAGE_PARAMETER]})
async def order_diagnosis(order_id: str, request: Request) -> Response:
    """What is wrong with this order and what the customer should do, from its data (zh-CN or en)."""
    # A hot read: AnyRole, ReadSessionDep and the Accept-Language header done inline (as GET /v1/orders/{id}),
    # without FastAPI solving them per request; the header stays documented through openapi_extra.
    principal = await current_principal(request)
    async with read_session(request) as session:
        snapshot = await orders_service.load_snapshot(session, order_id=order_id, principal=principal,
                                                      policy=request.app.state.policy, read_only=True)
    lang = pick_language(request.headers.get("accept-language"))
    return presenters.json_response(presenters.render_diagnosis(snapshot, lang))


@router.get("/orders/{order_id}/return-eligibility", response_model=schemas.ReturnEligibility,
            responses=responses(404, 422), tags=["returns"])
async def order_return_eligibility(order_id: str, request: Request, session: SessionDep, principal: AnyRole,
                                   reason: schemas.ReturnReason | None = None) -> schemas.ReturnEligibility:
    """Per item: can it be returned (for this reason), until when, why not, and where the refund goes."""
    snapshot = await _snapshot(request, session, order_id, principal)
    return presenters.eligibility_public(snapshot_eligibility(snapshot, reason),
                                         str(snapshot_zone(snapshot)))


@router.post("/orders/{order_id}/returns", status_code=status.HTTP_201_CREATED, response_model=schemas.ReturnPublic,
             responses=responses(404, 422), tags=["returns"])
async def create_return(order_id: str, body: schemas.ReturnCreate, request: Request, session: SessionDep,
                        principal: AnyRole) -> schemas.ReturnPublic:
    """Request a return; 422 with the reason for each item that cannot go back."""
    snapshot = await _snapshot(request, session, order_id, principal)
    return presenters.return_public(await orders_service.create_return(session, snapshot=snapshot, body=body))


@router.get("/orders/{order_id}/returns", response_model=list[schemas.ReturnPublic], responses=responses(404),
            tags=["returns"])
async def list_returns(order_id: str, session: SessionDep, principal: AnyRole) -> list[schemas.ReturnPublic]:
    """An order's returns."""
    order = await orders_service.get_order(session, order_id=order_id, principal=principal)
    return [presenters.return_public(r) for r in await repo.returns_of(session, order.id)]


@router.patch("/returns/{return_id}", response_model=schemas.ReturnPublic, responses=responses(404, 409),
              tags=["returns"])
async def move_return(return_id: str, body: schemas.ReturnUpdate, session: SessionDep,
                      principal: AgentOrService) -> schemas.ReturnPublic:
    """Move a return along requested → approved/rejected → received → refunded."""
    ret = await repo.return_by_id(session, return_id)
    if ret is None:
        raise ReturnNotFound(return_id)
    await orders_service.get_order(session, order_id=ret.order_id, principal=principal)
    await orders_service.move_return(session, ret=ret, status=body.status)
    return presenters.return_public(ret)


async def _ticket_body(request: Request, session: SessionDep, ticket: Ticket, principal: Principal,
                       snapshot: OrderSnapshot | None = None) -> schemas.TicketPublic:
    diagnosis = None
    if ticket.order_id:
        if snapshot is None:
            snapshot = await _snapshot(request, session, ticket.order_id, principal)
        diagnosis = presenters.render_diagnosis(snapshot, ticket.lang)
    messages = orders_service.visible_messages(await repo.messages_of(session, ticket.id), principal)
    body = presenters.ticket_public(ticket, messages, diagnosis)
    if body.payment_check and not principal.is_customer:
        body.payment_check = await orders_service.payment_check_for_agents(session, ticket=ticket)
    return body


@router.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=schemas.TicketPublic,
             responses=responses(404, 422), tags=["tickets"])
async def create_ticket(body: schemas.TicketCreate, request: Request, session: SessionDep, principal: AnyRole,
                        accept_language: AcceptLanguage = None) -> schemas.TicketPublic:
    """Open a ticket: the order's diagnosis attached, what is missing listed, the description logged."""
    order = await orders_service.find_ticket_order(session, body=body, principal=principal)
    snapshot = await _snapshot(request, session, order.id, principal) if order else None
    lang = body.lang or pick_language(accept_language)
    ticket = await orders_service.create_ticket(session, body=body, principal=principal, lang=lang,
                                                snapshot=snapshot)
    if ticket.type == "payment_failed" and ticket.tx_hash and order is not None:
        # Commits the ticket first, then asks the chain within PAYMENT_CHECK_INLINE_SECONDS (else the worker).
        await flows.check_ticket_now(session, ticket=ticket, wallet=request.app.state.wallet_client,
                                     settings=request.app.state.settings,
                                     merchant_addresses=request.app.state.merchant_addresses)
        return await _ticket_body(request, session, ticket, principal)  # the check may have moved the order
    # Nothing else changed since the snapshot was read but the new ticket itself: no second read.
    fresh = dataclasses.replace(snapshot, tickets=[*snapshot.tickets, ticket]) if snapshot else None
    return await _ticket_body(request, session, ticket, principal, snapshot=fresh)


@router.get("/tickets", response_model=schemas.TicketList, tags=["tickets"])
async def list_tickets(session: SessionDep, principal: AnyRole, order_id: str | None = None,
                       status_filter: Annotated[schemas.TicketStatus | None, Query(alias="status")] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> schemas.TicketList:
    """Tickets, newest first (a customer key sees only its own); diagnosis is on the single-ticket read."""
    tickets = await repo.list_tickets(session, customer_id=principal.customer_id if principal.is_customer else None,
                                      order_id=order_id, status=status_filter, limit=limit, offset=offset)
    items = [presenters.ticket_public(t, [], None) for t in tickets]
    return schemas.TicketList(items=items, count=len(items))


@router.get("/tickets/{ticket_id}", response_model=schemas.TicketPublic, responses=responses(404), tags=["tickets"])
async def get_ticket(ticket_id: str, request: Request, session: SessionDep, principal: AnyRole) -> schemas.TicketPublic:
    """A ticket with its conversation log in order and its order's current diagnosis."""
    ticket = orders_service.ensure_ticket_visible(await repo.ticket_by_id(session, ticket_id), principal, ticket_id)
    return await _ticket_body(request, session, ticket, principal)


@router.patch("/tickets/{ticket_id}", response_model=schemas.TicketPublic, responses=responses(404, 409),
              tags=["tickets"])
async def move_ticket(ticket_id: str, body: schemas.TicketUpdate, request: Request, session: SessionDep,
                      principal: AgentOrService) -> schemas.TicketPublic:
    """Move a ticket's status (an optional note goes into the log)."""
    ticket = orders_service.ensure_ticket_visible(await repo.ticket_by_id(session, ticket_id, for_update=True),
                                                  principal, ticket_id)
    await orders_service.move_ticket(session, ticket=ticket, status=body.status, note=body.note)
    return await _ticket_body(request, session, ticket, principal)


@router.post("/tickets/{ticket_id}/messages", status_code=status.HTTP_201_CREATED, response_model=schemas.MessagePublic,
             responses=responses(404, 422), tags=["tickets"])
async def add_message(ticket_id: str, body: schemas.MessageCreate, session: SessionDep,
                      principal: AnyRole) -> schemas.MessagePublic:
    """Append to the conversation log (a customer key always writes as the customer)."""
    ticket = orders_service.ensure_ticket_visible(await repo.ticket_by_id(session, ticket_id, for_update=True),
                                                  principal, ticket_id)
    message = await orders_service.add_message(session, ticket=ticket, principal=principal, body=body)
    return schemas.MessagePublic.model_validate(message)



