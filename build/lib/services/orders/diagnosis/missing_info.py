"""What an agent would have to ask for before working a ticket, by ticket type. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.orders.models import Order, OrderItem, Payment, Shipment

ORDER_TYPES = ("payment_failed", "order_status", "wrong_item", "not_received", "return_request")


def missing_information(*, ticket_type: str, order: Order | None, items: Sequence[OrderItem],
                        payments: Sequence[Payment], shipments: Sequence[Shipment], details: dict[str, Any],
                        tx: dict[str, Any] | None) -> list[str]:
    missing: list[str] = []
    if ticket_type in ORDER_TYPES and order is None:
        missing.append("order_number")
    product_known = bool(details.get("product")) or len(items) == 1
    if ticket_type == "payment_failed":
        crypto = [p for p in payments if p.method == "crypto"]
        has_tx = bool(tx) or any(p.tx_hash and p.chain for p in crypto)
        if order is not None and not payments:
            missing.append("payment_method")
        if crypto and not has_tx:
            missing.extend(["tx_hash", "chain"])
    elif ticket_type == "wrong_item":
        if not product_known:
            missing.append("product")
        if not details.get("photos"):
            missing.append("photos")
    elif ticket_type == "not_received":
        if not shipments and not details.get("tracking_number"):
            missing.append("tracking_number")
    elif ticket_type == "return_request":
        if not product_known:
            missing.append("product")
        if order is None and not details.get("purchase_date"):
            missing.append("purchase_date")
    elif ticket_type == "tech_support":
        if not details.get("device_model"):
            missing.append("device_model")
        if not details.get("product") and order is None:
            missing.append("product")
    elif ticket_type == "account_change":
        if not details.get("account_email"):
            missing.append("account_email")
    return missing
