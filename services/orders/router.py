"""HTTP routes of the orders service: orders, payments, shipments. HTTP only; rules live in service.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from services.common.auth import AgentOrService, AnyRole, current_principal
from services.common.db import ReadSessionDep, SessionDep, read_session
from services.common.errors import responses
from services.orders import flows, presenters, schemas
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.errors import (
    OrderNotFound,
)

router = APIRouter(prefix="/v1")



async def _order_body(session: SessionDep, order_id: str) -> schemas.OrderPublic:
    order = await repo.order_by_id(session, order_id)
    if order is None:
        raise OrderNotFound(order_id)
    items = (await repo.items_of(session, [order.id]))[order.id]
    return presenters.order_public(order, items)


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=schemas.OrderPublic,
             responses=responses(409, 422), tags=["orders"])
async def create_order(body: schemas.OrderCreate, session: SessionDep, _: AgentOrService) -> schemas.OrderPublic:
    """Create an order with its items; the order number is unique (409 on a duplicate)."""
    order, items = await orders_service.create_order(session, body=body)
    return presenters.order_public(order, items)


@router.get("/orders", response_model=schemas.OrderList, tags=["orders"])
async def list_orders(session: ReadSessionDep, principal: AnyRole,
                      order_number: Annotated[str | None, Query(max_length=64)] = None,
                      customer_id: Annotated[str | None, Query(max_length=64)] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    """Find orders by order number or customer (a customer key sees only its own)."""
    orders = await orders_service.list_orders(session, principal=principal, order_number=order_number,
                                              customer_id=customer_id, limit=limit, offset=offset)
    items = await repo.items_of(session, [o.id for o in orders])
    bodies = [presenters.order_public(o, items[o.id]) for o in orders]
    return presenters.json_response(schemas.OrderList(items=bodies, count=len(bodies)))


@router.get("/orders/{order_id}", response_model=schemas.OrderPublic, responses=responses(404), tags=["orders"])
async def get_order(order_id: str, request: Request) -> Response:
    """One order with its items and totals."""
    # The hottest read: AnyRole and ReadSessionDep done inline, without FastAPI solving two more dependencies.
    principal = await current_principal(request)
    async with read_session(request) as session:
        order, items = await orders_service.order_view(session, order_id=order_id, principal=principal)
    return presenters.json_response(presenters.order_public_row(order, items))


@router.patch("/orders/{order_id}", response_model=schemas.OrderPublic, responses=responses(404, 409), tags=["orders"])
async def update_order_status(order_id: str, body: schemas.OrderStatusUpdate, session: SessionDep,
                              principal: AgentOrService) -> schemas.OrderPublic:
    """Move an order's status along its lifecycle (409 for a move that makes no sense)."""
    order = await orders_service.get_order(session, order_id=order_id, principal=principal)
    await orders_service.set_order_status(session, order=order, status=body.status)
    return await _order_body(session, order.id)


@router.post("/orders/{order_id}/payments", status_code=status.HTTP_201_CREATED,
             response_model=schemas.PaymentPublic, responses=responses(404, 409, 422), tags=["payments"])
async def record_payment(order_id: str, body: schemas.PaymentCreate, request: Request, session: SessionDep,
                         principal: AgentOrService) -> schemas.PaymentPublic:
    """Record a payment attempt; a crypto payment defaults to MERCHANT_ADDRESS_<CHAIN> as recipient."""
    order = await orders_service.get_order(session, order_id=order_id, principal=principal)
    settings = request.app.state.settings
    payment = await orders_service.record_payment(session, order=order, body=body,
                                                  merchant_addresses=request.app.state.merchant_addresses,
                                                  reorg_watch_seconds=settings.reorg_watch_seconds)
    if payment.method == "crypto" and payment.tx_hash and payment.status == "pending":
        # Commits the payment first, then asks the chain within PAYMENT_CHECK_INLINE_SECONDS (else the worker).
        # What the check recorded is in `payment` itself: the session's one object for that row, re-read under its
        # lock (repository.first_row).
        await flows.check_payment_now(session, payment=payment, wallet=request.app.state.wallet_client,
                                      settings=settings, merchant_addresses=request.app.state.merchant_addresses)
    history = await repo.history_of(session, [payment.id])
    return presenters.payment_public(payment, history[payment.id])


@router.get("/orders/{order_id}/payments", response_model=schemas.PaymentList, responses=responses(404),
            tags=["payments"])
async def list_payments(order_id: str, session: SessionDep, principal: AnyRole) -> schemas.PaymentList:
    """An order's payments, each with its status timeline."""
    order = await orders_service.get_order(session, order_id=order_id, principal=principal)
    payments = await repo.payments_of(session, order.id)
    history = await repo.history_of(session, [p.id for p in payments])
    return schemas.PaymentList(items=[presenters.payment_public(p, history[p.id]) for p in payments])


@router.get("/payments/{payment_id}", response_model=schemas.PaymentPublic, responses=responses(404), tags=["payments"])
async def get_payment(payment_id: str, session: SessionDep, principal: AnyRole) -> schemas.PaymentPublic:
    """One payment with its status timeline."""
    payment = await orders_service.get_payment(session, payment_id=payment_id, principal=principal)
    history = await repo.history_of(session, [payment.id])
    return presenters.payment_public(payment, history[payment.id])


@router.patch("/payments/{payment_id}", response_model=schemas.PaymentPublic,
              responses=responses(404, 409, 422), tags=["payments"])
async def move_payment(payment_id: str, body: schemas.PaymentUpdate, request: Request, session: SessionDep,
                       principal: AgentOrService) -> schemas.PaymentPublic:
    """Move a payment's status, with a timeline entry (failure_code for a failure)."""
    payment = await orders_service.get_payment(session, payment_id=payment_id, principal=principal, for_update=True)
    await orders_service.move_payment(session, payment=payment, status=body.status, failure_code=body.failure_code,
                                      note=body.note,
                                      reorg_watch_seconds=request.app.state.settings.reorg_watch_seconds)
    history = await repo.history_of(session, [payment.id])
    return presenters.payment_public(payment, history[payment.id])


@router.post("/orders/{order_id}/shipments", status_code=status.HTTP_201_CREATED,
             response_model=schemas.ShipmentPublic, responses=responses(404, 409), tags=["shipments"])
async def register_shipment(order_id: str, body: schemas.ShipmentCreate, session: SessionDep,
                            principal: AgentOrService) -> schemas.ShipmentPublic:
    """Register a parcel; carrier events already received for its tracking number are attached."""
    order = await orders_service.get_order(session, order_id=order_id, principal=principal)
    shipment = await orders_service.register_shipment(session, order=order, body=body)
    return presenters.shipment_public(shipment)


@router.get("/orders/{order_id}/shipments", response_model=list[schemas.ShipmentPublic], responses=responses(404),
            tags=["shipments"])
async def list_shipments(order_id: str, session: SessionDep, principal: AnyRole) -> list[schemas.ShipmentPublic]:
    """An order's shipments with their current status."""
    order = await orders_service.get_order(session, order_id=order_id, principal=principal)
    return [presenters.shipment_public(s) for s in await repo.shipments_of(session, order.id)]

