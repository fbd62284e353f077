"""Request bodies as a storefront would send them."""

from __future__ import annotations

import copy
import uuid
from typing import Any

ORDER: dict[str, Any] = {
    "order_number": "TP20261124-0001",
    "customer": {"id": "c-1001", "email": "li@example.com", "phone": "+8613800000000"},
    "currency": "CNY",
    "placed_at": "2026-11-01T10:00:00+08:00",
    "items": [{"sku": "TP-HW-01", "name": "Hardware wallet", "category": "electronics",
               "quantity": 1, "unit_price": "499.00"}],
    "shipping_address": {"recipient": "Li Lei", "line1": "88 Century Ave", "line2": "Apt 1201",
                         "city": "Shanghai", "region": "Shanghai", "postal_code": "200120",
                         "country": "CN", "lat": 31.2304, "lon": 121.5060},
}


def order_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body["order_number"] = f"TP-{uuid.uuid4().hex[:12].upper()}"
    body.update(overrides)
    return body
