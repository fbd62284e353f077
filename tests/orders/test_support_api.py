"""Diagnosis, return eligibility and returns, tickets over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, SERVICE, auth
from tests.factories import order_body


async def make_order(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/v1/orders", json=order_body(**overrides), headers=auth(SERVICE))
    assert resp.status_code == 201, resp.text
    return resp.json()


async def pay(client: httpx.AsyncClient, order: dict[str, Any], status: str = "succeeded", **extra: Any) -> dict:
    body = {"method": "card", "amount": order["total"], "currency": order["currency"], "status": status, **extra}
    resp = await client.post(f"/v1/orders/{order['id']}/payments", json=body, headers=auth(SERVICE))
    assert resp.status_code == 201, resp.text
    return resp.json()


async def deliver(client: httpx.AsyncClient, order: dict[str, Any], tracking: str, delivered_at: datetime,
                  location: dict[str, Any], extra_events: int = 0) -> dict[str, Any]:
    shipment = (await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                                  json={"carrier": "sf-express", "tracking_number": tracking})).json()
    events = [{"event_id": f"t{i}", "status": "in_transit",
               "occurred_at": (delivered_at - timedelta(minutes=extra_events - i + 1)).isoformat()}
              for i in range(extra_events)]
    events.append({"event_id": "d", "status": "delivered", "occurred_at": delivered_at.isoformat(),
                   "location": location})
    resp = await client.post("/v1/tracking/events", headers=auth(SERVICE),
                             json={"carrier": "sf-express", "tracking_number": tracking, "events": events})
    assert resp.status_code == 200, resp.text
    return shipment


@contextmanager
def count_statements(app: FastAPI) -> Iterator[list[str]]:
    """Every statement sent, through SQLAlchemy or straight on the session's asyncpg connection (hot reads do
    that on PostgreSQL; asyncpg's query logger sees those, not SQLAlchemy's prepared ones)."""
    statements: list[str] = []
    logged: list[Any] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def on_query(record: Any) -> None:
        if record.query.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
            statements.append(record.query)

    def checkout(dbapi_connection: Any, *args: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and hasattr(driver, "add_query_logger") and driver not in logged:
            driver.add_query_logger(on_query)
            logged.append(driver)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)
        event.remove(engine.pool, "checkout", checkout)
        for driver in logged:
            driver.remove_query_logger(on_query)


NEAR_HOME = {"lat": 31.2305, "lon": 121.5061, "city": "Shanghai"}
FAR = {"lat": 31.2304, "lon": 121.4500, "city": "Shanghai"}


class TestDiagnosisApi:
    async def test_delivered_elsewhere_in_both_languages(self, client: httpx.AsyncClient, unique: str) -> None:
        order = await make_order(client)
        await pay(client, order)
        await deliver(client, order, f"DX{unique}", datetime.now(UTC) - timedelta(hours=2), FAR)
        en = await client.get(f"/v1/orders/{order['id']}/diagnosis", headers=auth(AGENT))
        assert en.status_code == 200, en.text
        body = en.json()
        assert body["state"] == "needs_action" and body["lang"] == "en"
        assert body["headline"].startswith("Parcel marked delivered 5.3")
        top = body["findings"][0]
        assert top["code"] == "delivered_to_different_address" and top["contact_channel"] == "phone"
        assert top["evidence"]["delivered_location"]["lat"] == 31.2304
        codes = {f["code"] for f in body["findings"]}
        assert {"status_mismatch", "return_window_open"} <= codes  # order still "shipped"
        zh = await client.get(f"/v1/orders/{order['id']}/diagnosis", headers={**auth(AGENT), "Accept-Language": "zh-CN"})
        assert zh.json()["headline"].startswith("包裹签收位置距收货地址")
        assert zh.json()["findings"][0]["evidence"] == top["evidence"]

    async def test_failed_payment_then_ok(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client)
        payment = await pay(client, order, status="failed", failure_code="card_declined")
        body = (await client.get(f"/v1/orders/{order['id']}/diagnosis", headers=auth(CUSTOMER_1))).json()
        assert body["findings"][0]["code"] == "payment_failed"
        assert body["findings"][0]["next_steps"][0].startswith("Check the payment details")
        await client.patch(f"/v1/payments/{payment['id']}", json={"status": "succeeded"}, headers=auth(SERVICE))
        body = (await client.get(f"/v1/orders/{order['id']}/diagnosis", headers=auth(AGENT))).json()
        assert body["state"] == "ok" and body["findings"][0]["code"] == "not_shipped_yet"

    async def test_customer_scoping(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client)
        assert (await client.get(f"/v1/orders/{order['id']}/diagnosis", headers=auth(CUSTOMER_2))).status_code == 404

    async def test_statement_count_does_not_grow_with_events(self, app: FastAPI, client: httpx.AsyncClient,
                                                             unique: str) -> None:
        counts = []
        for n, suffix in ((0, "A"), (999, "B")):
            order = await make_order(client)
            await pay(client, order)
            await deliver(client, order, f"SC{suffix}{unique}", datetime.now(UTC) - timedelta(hours=1), NEAR_HOME,
                          extra_events=n)
            timeline = (await client.get(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT))).json()
            assert len(timeline) == 1
            with count_statements(app) as statements:
                resp = await client.get(f"/v1/orders/{order['id']}/diagnosis", headers=auth(AGENT))
                await asyncio.sleep(0.01)  # asyncpg calls its query loggers with loop.call_soon
            assert resp.status_code == 200
            counts.append(len([s for s in statements if s.strip().upper() != "SELECT 1"]))
        # PostgreSQL reads the whole snapshot in one statement; SQLite in five.
        expected = 1 if app.state.engine.dialect.name == "postgresql" else 5
        assert counts[0] == counts[1] == expected, counts


class TestReturns:
    async def test_window_edges_in_the_shipping_time_zone(self, client: httpx.AsyncClient, unique: str) -> None:
        order = await make_order(client)
        await pay(client, order)
        # Delivered 23:30 Shanghai time seven days ago: the 7-day window ends at midnight tonight, Shanghai time.
        shanghai = timedelta(hours=8)
        local_now = datetime.now(UTC) + shanghai
        delivered_local = (local_now - timedelta(days=7)).replace(hour=23, minute=30, second=0, microsecond=0)
        delivered_at = (delivered_local - shanghai).replace(tzinfo=UTC)
        await deliver(client, order, f"RW{unique}", delivered_at, NEAR_HOME)
        resp = await client.get(f"/v1/orders/{order['id']}/return-eligibility", headers=auth(AGENT))
        item = resp.json()["items"][0]
        expected_deadline = (delivered_local.replace(hour=0, minute=0) + timedelta(days=8) - shanghai)
        assert item["deadline"] == expected_deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert resp.json()["time_zone"] == "Asia/Shanghai"
        assert item["eligible"] is True and item["window_days"] == 7 and item["counted_from"] == "delivery"
        assert item["refund_method"] == "original_payment"
        assert item["refund_destination"]["method"] == "card"

    async def test_deadlines_and_their_zone_from_the_delivered_place(self, client: httpx.AsyncClient,
                                                                     unique: str) -> None:
        # Shipped to Shanghai, delivered (scan with coordinates) in Tokyo at 23:30 local time seven days ago: the
        # window ends at midnight tonight Tokyo time, and the answers name the zone the deadline was counted in.
        order = await make_order(client)
        await pay(client, order)
        tokyo = timedelta(hours=9)
        delivered_local = (datetime.now(UTC) + tokyo - timedelta(days=7)).replace(hour=23, minute=30, second=0,
                                                                                microsecond=0)
        await deliver(client, order, f"TZ{unique}", (delivered_local - tokyo).replace(tzinfo=UTC),
                      {"lat": 35.6812, "lon": 139.7671, "city": "Tokyo", "country": "JP"})
        expected = (delivered_local.replace(hour=0, minute=0) + timedelta(days=8) - tokyo).strftime("%Y-%m-%dT%H:%M:%SZ")
        route = (await client.get(f"/v1/orders/{order['id']}/return-eligibility", headers=auth(AGENT))).json()
        diagnosis = (await client.get(f"/v1/orders/{order['id']}/diagnosis", headers=auth(AGENT))).json()
        for answer in (route, diagnosis["return_eligibility"]):
            assert answer["time_zone"] == "Asia/Tokyo" and answer["items"][0]["deadline"] == expected, answer

    async def test_window_closed_but_wrong_item_allowed(self, client: httpx.AsyncClient, unique: str) -> None:
        order = await make_order(client)
        await pay(client, order)
        await deliver(client, order, f"RC{unique}", datetime.now(UTC) - timedelta(days=9), NEAR_HOME)
        closed = (await client.get(f"/v1/orders/{order['id']}/return-eligibility", headers=auth(AGENT))).json()
        assert closed["items"][0]["eligible"] is False and closed["items"][0]["reasons"] == ["window_closed"]
        refused = await client.post(f"/v1/orders/{order['id']}/returns", headers=auth(CUSTOMER_1),
                                    json={"items": [{"sku": "TP-HW-01", "quantity": 1}], "reason": "changed_mind"})
        assert refused.status_code == 422 and "window_closed" in refused.json()["detail"]
        assert (await client.get(f"/v1/orders/{order['id']}/returns", headers=auth(AGENT))).json() == []
        wrong = (await client.get(f"/v1/orders/{order['id']}/return-eligibility", params={"reason": "wrong_item"},
                                  headers=auth(AGENT))).json()
        assert wrong["items"][0]["eligible"] is True
        created = await client.post(f"/v1/orders/{order['id']}/returns", headers=auth(CUSTOMER_1),
                                    json={"items": [{"sku": "TP-HW-01", "quantity": 1}], "reason": "wrong_item",
                                          "condition": "unopened"})
        assert created.status_code == 201, created.text
        ret = created.json()
        assert ret["status"] == "requested" and ret["refund_amount"] == "499.00"
        again = await client.post(f"/v1/orders/{order['id']}/returns", headers=auth(CUSTOMER_1),
                                  json={"items": [{"sku": "TP-HW-01", "quantity": 1}], "reason": "wrong_item"})
        assert again.status_code == 422 and "already_returned" in again.json()["detail"]
        for step in ("approved", "received", "refunded"):
            moved = await client.patch(f"/v1/returns/{ret['id']}", json={"status": step}, headers=auth(AGENT))
            assert moved.status_code == 200 and moved.json()["status"] == step
        assert (await client.patch(f"/v1/returns/{ret['id']}", json={"status": "requested"},
                                   headers=auth(AGENT))).status_code == 409

    async def test_quantity_and_unknown_sku(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client)
        await pay(client, order)
        resp = await client.post(f"/v1/orders/{order['id']}/returns", headers=auth(AGENT), json={
            "items": [{"sku": "TP-HW-01", "quantity": 2}, {"sku": "NOPE", "quantity": 1}], "reason": "damaged"})
        assert resp.status_code == 422
        assert {e["field"] for e in resp.json()["errors"]} == {"items.0.quantity", "items.1.sku"}

    async def test_crypto_refund_goes_back_to_sender(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client, currency="USDT")
        await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE), json={
            "method": "crypto", "amount": "499.00", "currency": "USDT", "status": "succeeded",
            "crypto": {"chain": "tron", "tx_hash": "cd" * 32, "token": "USDT", "to_address": "TMerchant",
                       "from_address": "TCustomer"}})
        item = (await client.get(f"/v1/orders/{order['id']}/return-eligibility", headers=auth(AGENT))).json()["items"][0]
        assert item["refund_destination"] == {"method": "crypto", "chain": "tron", "token": "USDT",
                                              "to_address": "TCustomer", "payment_id": item["refund_destination"]
                                              ["payment_id"], "note": None}
        assert item["counted_from"] == "placement"


class TestTickets:
    async def test_create_with_diagnosis_log_and_missing_info(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client)
        resp = await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "wrong_item", "channel": "chat", "order_number": order["order_number"],
            "description": "I ordered a hardware wallet and got a phone case"})
        assert resp.status_code == 201, resp.text
        ticket = resp.json()
        assert ticket["status"] == "open" and ticket["customer_id"] == "c-1001"
        assert ticket["missing_information"] == ["photos"]
        assert ticket["diagnosis"]["order_id"] == order["id"]
        assert "wrong_item_reported" in {f["code"] for f in ticket["diagnosis"]["findings"]}
        assert [m["author"] for m in ticket["messages"]] == ["customer"]
        reply = await client.post(f"/v1/tickets/{ticket['id']}/messages", headers=auth(AGENT),
                                  json={"text": "Please send photos of the item and its label.", "channel": "email"})
        assert reply.status_code == 201 and reply.json()["author"] == "agent"
        forged = await client.post(f"/v1/tickets/{ticket['id']}/messages", headers=auth(CUSTOMER_1),
                                   json={"author": "agent", "text": "Here are the photos."})
        assert forged.json()["author"] == "customer"
        log = (await client.get(f"/v1/tickets/{ticket['id']}", headers=auth(CUSTOMER_1))).json()["messages"]
        assert [(m["author"], m["channel"]) for m in log] == [("customer", "chat"), ("agent", "email"),
                                                             ("customer", "chat")]
        times = [m["created_at"] for m in log]
        assert times == sorted(times)

    async def test_customer_scoping(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client)
        other = await client.post("/v1/tickets", headers=auth(CUSTOMER_2), json={
            "type": "order_status", "channel": "chat", "order_number": order["order_number"], "description": "?"})
        assert other.status_code == 404
        mine = (await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "order_status", "channel": "chat", "order_number": order["order_number"],
            "description": "where is it"})).json()
        assert (await client.get(f"/v1/tickets/{mine['id']}", headers=auth(CUSTOMER_2))).status_code == 404
        assert (await client.post(f"/v1/tickets/{mine['id']}/messages", headers=auth(CUSTOMER_2),
                                  json={"text": "hi"})).status_code == 404
        listed = (await client.get("/v1/tickets", headers=auth(CUSTOMER_2))).json()["items"]
        assert mine["id"] not in {t["id"] for t in listed}
        assert (await client.patch(f"/v1/tickets/{mine['id']}", headers=auth(CUSTOMER_1),
                                   json={"status": "closed"})).status_code == 403

    async def test_missing_information_by_type(self, client: httpx.AsyncClient) -> None:
        cases = [
            ({"type": "order_status"}, ["order_number"]),
            ({"type": "not_received"}, ["order_number", "tracking_number"]),
            ({"type": "return_request"}, ["order_number", "product", "purchase_date"]),
            ({"type": "tech_support"}, ["device_model", "product"]),
            ({"type": "tech_support", "details": {"device_model": "iPhone 15", "product": "TP app"}}, []),
            ({"type": "account_change"}, ["account_email"]),
            ({"type": "wrong_item", "details": {"photos": ["https://img/1.jpg"], "product": "HW"}}, ["order_number"]),
        ]
        for extra, expected in cases:
            body = {"channel": "email", "description": "help", "customer_id": "c-9", **extra}
            resp = await client.post("/v1/tickets", headers=auth(AGENT), json=body)
            assert resp.status_code == 201, resp.text
            assert resp.json()["missing_information"] == expected, extra
            assert resp.json()["diagnosis"] is None

    async def test_crypto_payment_ticket_asks_for_tx(self, client: httpx.AsyncClient) -> None:
        order = await make_order(client, currency="USDT")
        await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE), json={
            "method": "crypto", "amount": "499.00", "currency": "USDT", "crypto": {"chain": "tron", "token": "USDT"}})
        resp = await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "payment_failed", "channel": "chat", "order_id": order["id"], "description": "paid, still unpaid"})
        assert resp.json()["missing_information"] == ["tx_hash", "chain"]

    async def test_ticket_status_moves(self, client: httpx.AsyncClient) -> None:
        resp = await client.post("/v1/tickets", headers=auth(AGENT), json={
            "type": "account_change", "channel": "phone", "description": "change email",
            "details": {"account_email": "a@b.c"}})
        tid = resp.json()["id"]
        moved = await client.patch(f"/v1/tickets/{tid}", headers=auth(AGENT),
                                   json={"status": "waiting_customer", "note": "Asked for ID"})
        assert moved.json()["status"] == "waiting_customer"
        assert moved.json()["messages"][-1]["text"] == "Asked for ID"
        bad = await client.post("/v1/tickets", headers=auth(AGENT), json={
            "type": "teleport", "channel": "chat", "description": "x"})
        assert bad.status_code == 422
