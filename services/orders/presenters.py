"""Rows to API bodies."""

from __future__ import annotations

from collections.abc import Sequence

from services.orders import schemas
from services.orders.models import Order, OrderItem, Payment, PaymentStatusHistory, Shipment


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
