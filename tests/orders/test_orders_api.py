"""Orders, payments and shipments over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, SERVICE, auth
from tests.factories import order_body

PROBLEM = "application/problem+json"


async def create_order(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/v1/orders", json=order_body(**overrides), headers=auth(SERVICE))
    assert resp.status_code == 201, resp.text
    return resp.json()


async def assert_not_stored(client: httpx.AsyncClient, order_number: str) -> None:
    resp = await client.get("/v1/orders", params={"order_number": order_number}, headers=auth(AGENT))
    assert resp.status_code == 200
    assert resp.json()["items"] == []


class TestOrders:
    async def test_create_and_read_back(self, client: httpx.AsyncClient) -> None:
        body = order_body(items=[
            {"sku": "A-1", "name": "Case", "category": "apparel", "quantity": 2, "unit_price": "19.90"},
            {"sku": "B-2", "name": "Cable", "category": "electronics", "quantity": 3, "unit_price": "0.10"}])
        resp = await client.post("/v1/orders", json=body, headers=auth(AGENT))
        assert resp.status_code == 201, resp.text
        created = resp.json()
        assert created["status"] == "pending_payment"
        assert created["total"] == "40.10"
        assert created["item_count"] == 5
        assert created["placed_at"] == "2026-11-01T02:00:00Z"
        assert created["items"][0]["line_total"] == "39.80"

        got = await client.get(f"/v1/orders/{created['id']}", headers=auth(AGENT))
        assert got.status_code == 200
        assert got.json() == created

    async def test_list_by_order_number_and_customer(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client, customer={"id": "c-list-1"})
        by_number = await client.get("/v1/orders", params={"order_number": order["order_number"]}, headers=auth(AGENT))
        assert [o["id"] for o in by_number.json()["items"]] == [order["id"]]
        other = await create_order(client, customer={"id": "c-list-1"})
        by_customer = await client.get("/v1/orders", params={"customer_id": "c-list-1"}, headers=auth(AGENT))
        assert {o["id"] for o in by_customer.json()["items"]} == {order["id"], other["id"]}

    async def test_duplicate_order_number_is_409_and_first_order_kept(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client)
        again = order_body(order_number=order["order_number"], currency="USD")
        resp = await client.post("/v1/orders", json=again, headers=auth(AGENT))
        assert resp.status_code == 409
        assert resp.headers["content-type"] == PROBLEM
        assert order["order_number"] in resp.json()["detail"]
        kept = await client.get(f"/v1/orders/{order['id']}", headers=auth(AGENT))
        assert kept.json()["currency"] == "CNY"

    async def test_unknown_order_is_404_problem(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/v1/orders/ord_nope", headers=auth(AGENT))
        assert resp.status_code == 404
        assert resp.headers["content-type"] == PROBLEM
        assert resp.json()["status"] == 404

    async def test_status_transition(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client)
        bad = await client.patch(f"/v1/orders/{order['id']}", json={"status": "delivered"}, headers=auth(AGENT))
        assert bad.status_code == 409
        assert "pending_payment" in bad.json()["detail"]
        ok = await client.patch(f"/v1/orders/{order['id']}", json={"status": "cancelled"}, headers=auth(AGENT))
        assert ok.status_code == 200 and ok.json()["status"] == "cancelled"


class TestAuth:
    async def test_missing_and_unknown_keys_are_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/orders")).status_code == 401
        resp = await client.get("/v1/orders", headers=auth("nope"))
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/v1/orders", headers={"Authorization": "Basic abc"})).status_code == 401

    async def test_customer_cannot_create_orders(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        resp = await client.post("/v1/orders", json=body, headers=auth(CUSTOMER_1))
        assert resp.status_code == 403
        await assert_not_stored(client, body["order_number"])

    async def test_customer_sees_only_own_orders(self, client: httpx.AsyncClient) -> None:
        mine = await create_order(client, customer={"id": "c-1001"})
        theirs = await create_order(client, customer={"id": "c-2002"})
        assert (await client.get(f"/v1/orders/{mine['id']}", headers=auth(CUSTOMER_1))).status_code == 200
        hidden = await client.get(f"/v1/orders/{theirs['id']}", headers=auth(CUSTOMER_1))
        assert hidden.status_code == 404
        listed = await client.get("/v1/orders", params={"customer_id": "c-2002"}, headers=auth(CUSTOMER_1))
        assert listed.json()["items"] == []
        own = await client.get("/v1/orders", headers=auth(CUSTOMER_2))
        assert theirs["id"] in {o["id"] for o in own.json()["items"]}
        assert mine["id"] not in {o["id"] for o in own.json()["items"]}
        pays = await client.get(f"/v1/orders/{theirs['id']}/payments", headers=auth(CUSTOMER_1))
        assert pays.status_code == 404


class TestBadInput:
    async def _rejected(self, client: httpx.AsyncClient, body: dict[str, Any], status: int, field: str) -> None:
        resp = await client.post("/v1/orders", json=body, headers=auth(AGENT))
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == PROBLEM
        problem = resp.json()
        assert field in problem["detail"]
        assert any(field in e["field"] for e in problem["errors"])
        await assert_not_stored(client, body["order_number"])

    async def test_naive_timestamp(self, client: httpx.AsyncClient) -> None:
        await self._rejected(client, order_body(placed_at="2026-11-01T10:00:00"), 422, "placed_at")

    async def test_negative_quantity(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        body["items"][0]["quantity"] = -1
        await self._rejected(client, body, 422, "items.0.quantity")

    async def test_negative_price(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        body["items"][0]["unit_price"] = "-1.00"
        await self._rejected(client, body, 422, "items.0.unit_price")

    async def test_money_as_float(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        body["items"][0]["unit_price"] = 499.0
        await self._rejected(client, body, 422, "items.0.unit_price")

    async def test_unknown_enum(self, client: httpx.AsyncClient) -> None:
        await self._rejected(client, order_body(status="teleported"), 422, "status")

    async def test_unknown_field(self, client: httpx.AsyncClient) -> None:
        await self._rejected(client, order_body(coupon="FREE"), 422, "coupon")

    async def test_half_coordinates(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        del body["shipping_address"]["lon"]
        await self._rejected(client, body, 422, "shipping_address")

    async def test_malformed_json(self, client: httpx.AsyncClient) -> None:
        resp = await client.post("/v1/orders", content=b'{"order_number": "X-1", ',
                                 headers={**auth(AGENT), "content-type": "application/json"})
        assert resp.status_code == 400
        assert resp.headers["content-type"] == PROBLEM
        assert "JSON" in resp.json()["detail"]

    async def test_oversized_body(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        body["items"][0]["name"] = "x" * 2_000_000
        resp = await client.post("/v1/orders", json=body, headers=auth(AGENT))
        assert resp.status_code == 413
        assert resp.headers["content-type"] == PROBLEM
        await assert_not_stored(client, body["order_number"])

    async def test_bad_query(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/v1/orders", params={"limit": "0"}, headers=auth(AGENT))
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "limit"


class TestPayments:
    async def test_record_and_move_with_timeline(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client)
        resp = await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE),
                                 json={"method": "card", "amount": "499.00", "currency": "CNY", "status": "pending"})
        assert resp.status_code == 201, resp.text
        payment = resp.json()
        assert payment["amount"] == "499.00" and payment["status"] == "pending"
        failed = await client.patch(f"/v1/payments/{payment['id']}", headers=auth(SERVICE),
                                    json={"status": "failed", "failure_code": "card_declined"})
        assert failed.status_code == 200
        assert failed.json()["failure_code"] == "card_declined"
        ok = await client.patch(f"/v1/payments/{payment['id']}", headers=auth(SERVICE), json={"status": "succeeded"})
        assert ok.status_code == 200
        history = ok.json()["history"]
        assert [(h["from_status"], h["to_status"]) for h in history] == [
            (None, "pending"), ("pending", "failed"), ("failed", "succeeded")]
        assert history[1]["failure_code"] == "card_declined"
        got = await client.get(f"/v1/orders/{order['id']}", headers=auth(AGENT))
        assert got.json()["status"] == "paid"

    async def test_invalid_transition_is_409_and_changes_nothing(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client)
        payment = (await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE),
                                     json={"method": "alipay", "amount": "10.00", "currency": "CNY",
                                           "status": "succeeded"})).json()
        resp = await client.patch(f"/v1/payments/{payment['id']}", headers=auth(SERVICE), json={"status": "failed"})
        assert resp.status_code == 409
        again = await client.get(f"/v1/payments/{payment['id']}", headers=auth(AGENT))
        assert again.json()["status"] == "succeeded"
        assert len(again.json()["history"]) == 1

    async def test_crypto_payment_uses_merchant_address(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client)
        body = {"method": "crypto", "amount": "499.000001", "currency": "USDT", "status": "pending",
                "crypto": {"chain": "TRON", "tx_hash": "ab" * 32, "token": "usdt", "to_address": "TXYZ"}}
        resp = await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE), json=body)
        assert resp.status_code == 201, resp.text
        crypto = resp.json()["crypto"]
        assert crypto == {"chain": "tron", "tx_hash": "ab" * 32, "token": "USDT", "to_address": "TXYZ",
                          "from_address": None}
        assert resp.json()["amount"] == "499.000001"

    async def test_bad_payment_bodies(self, client: httpx.AsyncClient) -> None:
        order = await create_order(client)
        url = f"/v1/orders/{order['id']}/payments"
        for body in ({"method": "crypto", "amount": "1", "currency": "USDT"},
                     {"method": "paypal", "amount": "1", "currency": "USD"},
                     {"method": "card", "amount": "-1", "currency": "USD"},
                     {"method": "card", "amount": "1", "currency": "USD", "status": "pending",
                      "failure_code": "expired"}):
            resp = await client.post(url, headers=auth(SERVICE), json=body)
            assert resp.status_code == 422, body
        listed = await client.get(url, headers=auth(AGENT))
        assert listed.json()["items"] == []

    async def test_unknown_payment_404(self, client: httpx.AsyncClient) -> None:
        resp = await client.patch("/v1/payments/pay_nope", headers=auth(AGENT), json={"status": "failed"})
        assert resp.status_code == 404


class TestShipments:
    async def test_register_and_duplicate(self, client: httpx.AsyncClient, unique: str) -> None:
        order = await create_order(client)
        await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE),
                          json={"method": "card", "amount": "499.00", "currency": "CNY", "status": "succeeded"})
        body = {"carrier": "SF-Express", "tracking_number": f"sf{unique}"}
        resp = await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT), json=body)
        assert resp.status_code == 201, resp.text
        assert resp.json()["carrier"] == "sf-express"
        assert resp.json()["tracking_number"] == f"SF{unique}"
        assert resp.json()["status"] == "pending"
        shipped = await client.get(f"/v1/orders/{order['id']}", headers=auth(AGENT))
        assert shipped.json()["status"] == "shipped"
        dup = await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT), json=body)
        assert dup.status_code == 409
        listed = await client.get(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT))
        assert len(listed.json()) == 1
