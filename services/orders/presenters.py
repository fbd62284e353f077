"""Rows to API bodies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi.responses import Response
from pydantic import BaseModel

from services.orders import schemas
from services.orders.diagnosis.engine import diagnose
from services.orders.diagnosis.returns import ItemEligibility, snapshot_eligibility, snapshot_zone
from services.orders.diagnosis.snapshot import OrderSnapshot
from services.orders.models import (
    Order,
    OrderItem,
    Payment,
    PaymentStatusHistory,
    Return,
    Shipment,
    Ticket,
    TicketMessage,
)


def order_public(order: Order, items: Sequence[OrderItem]) -> schemas.OrderPublic:
    return schemas.OrderPublic(
        id=order.id, order_number=order.order_number, status=order.status,  # type: ignore[arg-type]
        customer=schemas.CustomerPublic(id=order.customer_id, email=order.customer_email,
                                        phone=order.customer_phone, name=order.customer_name),
        currency=order.currency, placed_at=order.placed_at,
        items=[schemas.OrderItemPublic(sku=i.sku, name=i.name, category=i.category, quantity=i.quantity,
                                       unit_price=i.unit_price, line_total=i.unit_price * i.quantity)
               for i in items],
        item_count=sum(i.quantity for i in items), total=order.total,
        shipping_address=order.shipping_address, created_at=order.created_at, updated_at=order.updated_at)


def order_public_row(order: Any, items: Sequence[Any]) -> schemas.OrderPublic:
    """The same body from the hot read's plain rows (repo.order_read) instead of ORM objects.

    Built without validation (model_construct): the values are the database's own, already of the fields'
    types (Decimal, aware datetime, int, str), which the models' validators return unchanged; serializing
    formats them exactly as for a validated model (tests/orders/test_read_path.py compares the bodies)."""
    item_model, customer_model, order_model = (schemas.OrderItemPublic.model_construct,
                                               schemas.CustomerPublic.model_construct,
                                               schemas.OrderPublic.model_construct)
    lines = [item_model(sku=i["item_sku"], name=i["item_name"], category=i["item_category"],
                        quantity=i["item_quantity"], unit_price=i["item_unit_price"],
                        line_total=i["item_unit_price"] * i["item_quantity"]) for i in items]
    address = order["shipping_address"]
    return order_model(
        id=order["id"], order_number=order["order_number"], status=order["status"],
        customer=customer_model(id=order["customer_id"], email=order["customer_email"],
                                phone=order["customer_phone"], name=order["customer_name"]),
        currency=order["currency"], placed_at=order["placed_at"], items=lines,
        item_count=sum(i["item_quantity"] for i in items), total=order["total"],
        shipping_address=orjson.loads(address) if isinstance(address, str) else address,
        created_at=order["created_at"], updated_at=order["updated_at"])


def json_response(body: BaseModel, status_code: int = 200) -> Response:
    """A body validated once, serialized once: FastAPI would check a returned model against the route's
    response_model a second time before encoding it. The route keeps response_model for its documentation."""
    return Response(type(body).__pydantic_serializer__.to_json(body), status_code=status_code,
                    media_type="application/json")


def payment_public(payment: Payment, history: Sequence[PaymentStatusHistory]) -> schemas.PaymentPublic:
    crypto = None
    if payment.method == "crypto" and payment.chain:
        crypto = schemas.CryptoPublic(chain=payment.chain, tx_hash=payment.tx_hash, token=payment.token,
                                      to_address=payment.to_address, from_address=payment.from_address)
    return schemas.PaymentPublic(
        id=payment.id, order_id=payment.order_id, method=payment.method,  # type: ignore[arg-type]
        amount=payment.amount, currency=payment.currency, status=payment.status,  # type: ignore[arg-type]
        failure_code=payment.failure_code, crypto=crypto, payment_check=payment.payment_check,
        history=[schemas.PaymentHistoryEntry.model_validate(h) for h in history],
        created_at=payment.created_at, updated_at=payment.updated_at)


def shipment_public(shipment: Shipment) -> schemas.ShipmentPublic:
    return schemas.ShipmentPublic.model_validate(shipment)


def eligibility_public(items: Sequence[ItemEligibility], zone: str) -> schemas.ReturnEligibility:
    return schemas.ReturnEligibility(time_zone=zone, items=[
        schemas.ReturnItemEligibility(sku=e.sku, eligible=e.eligible, window_days=e.window_days, deadline=e.deadline,
                                      counted_from=e.counted_from,  # type: ignore[arg-type]
                                      returnable_quantity=e.returnable_quantity, reasons=e.reasons,
                                      refund_method=e.refund_method, refund_destination=e.refund_destination)
        for e in items])


def render_diagnosis(snapshot: OrderSnapshot, lang: str) -> schemas.DiagnosisPublic:
    """An order's diagnosis body: its findings in the asker's language and its return eligibility (the route,
    the ticket that carries it and the console all show this one)."""
    diagnosis = diagnose(snapshot, lang)
    zone = str(snapshot_zone(snapshot))
    return schemas.DiagnosisPublic(
        order_id=snapshot.order.id, order_number=snapshot.order.order_number, computed_at=snapshot.now,
        lang=lang, state=diagnosis.state, headline=diagnosis.headline,  # type: ignore[arg-type]
        # Field by field: dataclasses.asdict would deep-copy every evidence dict only for pydantic to copy it again.
        findings=[schemas.FindingPublic(code=f.code, severity=f.severity, title=f.title,  # type: ignore[arg-type]
                                        detail=f.detail, evidence=f.evidence, next_steps=f.next_steps,
                                        contact_channel=f.contact_channel)
                  for f in diagnosis.findings],
        return_eligibility=eligibility_public(snapshot_eligibility(snapshot), zone))


def return_public(ret: Return) -> schemas.ReturnPublic:
    return schemas.ReturnPublic.model_validate(ret)


def ticket_public(ticket: Ticket, messages: Sequence[TicketMessage],
                  diagnosis: schemas.DiagnosisPublic | None) -> schemas.TicketPublic:
    return schemas.TicketPublic(
        id=ticket.id, type=ticket.type, channel=ticket.channel, status=ticket.status,  # type: ignore[arg-type]
        order_id=ticket.order_id, order_number=ticket.order_number, customer_id=ticket.customer_id,
        description=ticket.description, lang=ticket.lang,  # type: ignore[arg-type]
        tx={"chain": ticket.tx_chain, "tx_hash": ticket.tx_hash} if ticket.tx_hash else None,
        payment_check=ticket.payment_check, missing_information=ticket.missing_information, details=ticket.details,
        diagnosis=diagnosis, messages=[schemas.MessagePublic.model_validate(m) for m in messages],
        suggested_articles=(ticket.details or {}).get("suggested_articles") or [],
        created_at=ticket.created_at, updated_at=ticket.updated_at)
