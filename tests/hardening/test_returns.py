"""Returns: windows in the delivery place's zone for countries with several zones, per-item delivery as far as
the data model tells, no returns before payment or after cancellation, and concurrent requests never return
more than was bought."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.zones import place_zone, region_zone
from services.orders.diagnosis.returns import order_zone
from tests.conftest import AGENT, SERVICE, auth
from tests.factories import order_body
from tests.orders.test_support_api import deliver, make_order, pay


@pytest.mark.parametrize(("place", "zone", "how"), [
    ({"country": "US", "region": "California"}, "America/Los_Angeles", "region"),
    ({"country": "US", "region": "new york"}, "America/New_York", "region"),
    ({"country": "US", "region": "TX"}, "America/Chicago", "region"),
    ({"country": "CA", "region": "British Columbia"}, "America/Vancouver", "region"),
    ({"country": "AU", "region": "Western Australia"}, "Australia/Perth", "region"),
    ({"country": "AU", "region": "NSW"}, "Australia/Sydney", "region"),
    ({"country": "BR", "region": "Amazonas"}, "America/Manaus", "region"),
    ({"country": "MX", "region": "Baja California"}, "America/Tijuana", "region"),
    ({"country": "ID", "region": "Bali"}, "Asia/Makassar", "region"),
    ({"country": "RU", "region": "Primorskiy kray"}, "Asia/Vladivostok", "region"),
    ({"country": "US", "lat": 21.3069, "lon": -157.8583}, "Pacific/Honolulu", "coordinates"),
    ({"country": "RU", "lat": 55.03, "lon": 82.92}, "Asia/Novosibirsk", "coordinates"),
    ({"country": "BR", "lat": -3.119, "lon": -60.0217, "region": "São Paulo"}, "America/Manaus", "coordinates"),
    ({"country": "CN", "region": "Shanghai"}, "Asia/Shanghai", "region"),
])
def test_zone_of_a_place(place: dict[str, Any], zone: str, how: str) -> None:
    assert place_zone(place) == (zone, how)


def test_multi_zone_country_without_region_ends_latest() -> None:
    assert region_zone("US", None) == "Pacific/Honolulu"
    assert region_zone("AU", "nowhere") == "Australia/Perth"
    assert region_zone(None, "California") is None
    # The delivered scan's coordinates win over the address's region.
    assert str(order_zone({"country": "US", "region": "NY"}, {"lat": 34.05, "lon": -118.24})) == "America/Los_Angeles"


async def test_window_in_a_us_state_named_in_full(client: httpx.AsyncClient, unique: str) -> None:
    address = {"recipient": "A B", "line1": "1 Main St", "city": "Los Angeles", "region": "California",
               "postal_code": "90001", "country": "US"}
    order = await make_order(client, currency="USD", shipping_address=address)
    await pay(client, order)
    la = timedelta(hours=-8)  # PST in late November
    local_now = datetime.now(UTC) + la
    delivered_local = (local_now - timedelta(days=7)).replace(hour=23, minute=30, second=0, microsecond=0)
    await deliver(client, order, f"US{unique}", (delivered_local - la).replace(tzinfo=UTC),
                  {"city": "Los Angeles", "region": "CA", "country": "US"})
    resp = (await client.get(f"/v1/orders/{order['id']}/return-eligibility", headers=auth(AGENT))).json()
    assert resp["time_zone"] == "America/Los_Angeles"
    expected = delivered_local.replace(hour=0, minute=0) + timedelta(days=8) - la
    assert resp["items"][0]["deadline"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_no_returns_unpaid_or_cancelled(client: httpx.AsyncClient) -> None:
    unpaid = await make_order(client)
    resp = await client.post(f"/v1/orders/{unpaid['id']}/returns", headers=auth(AGENT),
                             json={"items": [{"sku": "TP-HW-01", "quantity": 1}], "reason": "damaged"})
    assert resp.status_code == 422 and "order_not_paid" in resp.json()["detail"]
    cancelled = await make_order(client)
    moved = await client.patch(f"/v1/orders/{cancelled['id']}", json={"status": "cancelled"}, headers=auth(AGENT))
    assert moved.status_code == 200, moved.text
    resp = await client.post(f"/v1/orders/{cancelled['id']}/returns", headers=auth(AGENT),
                             json={"items": [{"sku": "TP-HW-01", "quantity": 1}], "reason": "damaged"})
    assert resp.status_code == 422 and "order_cancelled" in resp.json()["detail"]
    eligibility = (await client.get(f"/v1/orders/{cancelled['id']}/return-eligibility", headers=auth(AGENT))).json()
    assert eligibility["items"][0]["eligible"] is False
    assert (await client.get(f"/v1/orders/{cancelled['id']}/returns", headers=auth(AGENT))).json() == []


async def test_partly_delivered_order_counts_from_the_delivery(client: httpx.AsyncClient, unique: str) -> None:
    order = await make_order(client)
    await pay(client, order)
    delivered = datetime.now(UTC) - timedelta(days=20)
    await deliver(client, order, f"P1{unique}", delivered, {"lat": 31.2305, "lon": 121.5061})
    await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                      json={"carrier": "sf-express", "tracking_number": f"P2{unique}"})
    item = (await client.get(f"/v1/orders/{order['id']}/return-eligibility",
                             headers=auth(AGENT))).json()["items"][0]
    # Counted from the delivery that happened (not from placement), and not closed while a parcel is under way.
    assert item["counted_from"] == "delivery" and item["eligible"] is True
    assert "awaiting_other_parcels" in item["reasons"]


async def test_concurrent_returns_never_exceed_what_was_bought(client: httpx.AsyncClient, unique: str,
                                                               app: FastAPI) -> None:
    body = order_body()
    body["items"][0]["quantity"] = 3
    order = (await client.post("/v1/orders", json=body, headers=auth(SERVICE))).json()
    await pay(client, order)
    await deliver(client, order, f"CR{unique}", datetime.now(UTC) - timedelta(days=1),
                  {"lat": 31.2305, "lon": 121.5061})
    line = {"items": [{"sku": "TP-HW-01", "quantity": 2}], "reason": "changed_mind"}
    # Separate connections: each request is its own transaction racing the others.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        answers = await asyncio.gather(*[other.post(f"/v1/orders/{order['id']}/returns", json=line,
                                                    headers=auth(AGENT)) for _ in range(5)])
    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 422, 503}, statuses
    returns = (await client.get(f"/v1/orders/{order['id']}/returns", headers=auth(AGENT))).json()
    assert sum(r["items"][0]["quantity"] for r in returns) == 2
