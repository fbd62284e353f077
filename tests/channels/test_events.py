"""Events to the shop: Standard Webhooks signatures checked by a real receiver on loopback, which goes down and
comes back; every event arrives once, in order per order; the delivery log; redelivery by an agent."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from services.common.settings import Settings
from services.common.types import utcnow
from services.orders.channels import webhooks
from tests.channels.conftest import Receiver, drain
from tests.conftest import AGENT, CUSTOMER_1, SERVICE, auth
from tests.factories import order_body


def with_endpoint(settings: Settings, receiver: Receiver) -> tuple[Settings, str]:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return settings.model_copy(update={"webhook_endpoints": f"{receiver.url}|{secret}", "smtp_url": None}), secret


async def order_story(client: httpx.AsyncClient, unique: str, suffix: str) -> dict[str, Any]:
    """An order whose ticket is opened and moved, and whose parcel is delivered: four events, in this order."""
    order = (await client.post("/v1/orders", json=order_body(), headers=auth(SERVICE))).json()
    await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE), json={
        "method": "card", "amount": order["total"], "currency": order["currency"], "status": "succeeded"})
    ticket = (await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
        "type": "order_status", "channel": "chat", "order_id": order["id"], "description": "where is it?"})).json()
    await client.patch(f"/v1/tickets/{ticket['id']}", headers=auth(AGENT), json={"status": "waiting_customer"})
    tracking = f"EV{suffix}{unique}"
    await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                      json={"carrier": "sf-express", "tracking_number": tracking})
    when = datetime.now(UTC) - timedelta(hours=1)
    for event in ({"event_id": "x1", "status": "exception", "occurred_at": (when - timedelta(hours=5)).isoformat()},
                  {"event_id": "d1", "status": "delivered", "occurred_at": when.isoformat()}):
        resp = await client.post("/v1/tracking/events", headers=auth(SERVICE), json={
            "carrier": "sf-express", "tracking_number": tracking, "events": [event]})
        assert resp.status_code == 200, resp.text
    return order


def received_for(receiver: Receiver, secret: str, order_id: str) -> list[tuple[str, str]]:
    """(webhook-id, type) of what the receiver accepted for one order, each signature verified."""
    hook = Webhook(secret)
    out = []
    for headers, body in receiver.deliveries:
        payload = json.loads(body)
        if payload["data"].get("order_id") != order_id:
            continue
        assert hook.verify(body, headers) == payload  # raises when the signature is wrong
        out.append((headers["webhook-id"], payload["type"]))
    return out


class TestEvents:
    async def test_receiver_down_then_up_every_event_once_in_order(self, app: FastAPI, client: httpx.AsyncClient,
                                                                   settings: Settings, receiver: Receiver,
                                                                   unique: str) -> None:
        cfg, secret = with_endpoint(settings, receiver)
        await drain(app, cfg)  # what earlier tests left (delivered to this receiver, ignored below)
        receiver.answer = 503  # the shop is down: first it answers errors ...
        orders = [await order_story(client, unique, s) for s in ("A", "B")]
        now = utcnow()
        await drain(app, cfg, now=now)
        await receiver.stop()  # ... then its port is closed
        await drain(app, cfg, now=now + timedelta(minutes=1))
        await receiver.start()
        receiver.answer = 200
        assert await drain(app, cfg, now=now + timedelta(seconds=70)) == 0  # backoff: nothing due yet
        for minutes in (10, 30, 60, 120):
            await drain(app, cfg, now=now + timedelta(minutes=minutes))
        expected = ["ticket.created", "ticket.status_changed", "shipment.exception", "shipment.delivered"]
        for order in orders:
            got = received_for(receiver, secret, order["id"])
            # The payment code emits order.paid too (its own events may join): ours keep their order among them.
            assert [t for _, t in got if t in expected] == expected, got
            assert len({i for i, _ in got}) == len(got)  # each event once
            listed = (await client.get("/v1/events", params={"order_id": order["id"]}, headers=auth(AGENT))).json()
            assert sorted(e["id"] for e in listed["items"]) == sorted(i for i, _ in got)  # none lost
        head = received_for(receiver, secret, orders[0]["id"])[0][0]  # the order's first event met the outage
        log = (await client.get(f"/v1/events/{head}", headers=auth(AGENT))).json()
        outcomes = [(d["outcome"], d["status_code"]) for d in log["deliveries"]]
        assert outcomes[0] == ("failed", 503) and outcomes[1] == ("failed", None) and outcomes[-1] == ("sent", 200)
        assert log["endpoints"][0]["state"] == "sent" and log["endpoints"][0]["attempts"] == len(outcomes)
        assert "ConnectError" in log["deliveries"][1]["error"]

    async def test_agent_redelivers_with_the_same_webhook_id(self, app: FastAPI, client: httpx.AsyncClient,
                                                             settings: Settings, receiver: Receiver,
                                                             unique: str) -> None:
        cfg, secret = with_endpoint(settings, receiver)
        app.state.settings = cfg  # the route reads the endpoints from the app's settings
        try:
            order = await order_story(client, unique, "R")
            await drain(app, cfg)
            event = next(e for e in (await client.get("/v1/events", params={"order_id": order["id"]},
                                                      headers=auth(AGENT))).json()["items"]
                         if e["type"] == "shipment.delivered")
            assert (await client.post(f"/v1/events/{event['id']}/redeliver", headers=auth(SERVICE))).status_code == 403
            again = await client.post(f"/v1/events/{event['id']}/redeliver", headers=auth(AGENT))
            assert again.status_code == 202
            assert [e["redelivery"] for e in again.json()["endpoints"]] == [False, True]
            await drain(app, cfg)
            ids = [i for i, t in received_for(receiver, secret, order["id"]) if t == "shipment.delivered"]
            assert ids == [event["id"], event["id"]]
            assert (await client.post("/v1/events/evt_nope/redeliver", headers=auth(AGENT))).status_code == 404
        finally:
            app.state.settings = settings


class TestSigning:
    def test_signature_is_standard_webhooks(self) -> None:
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret
        body = webhooks.body_of(event_id="evt_1", event_type="order.paid", created_at=datetime(2026, 11, 26, tzinfo=UTC),
                                data={"order_id": "ord_1"})
        headers = webhooks.signed_headers(secret=secret, event_id="evt_1", body=body, now=utcnow())
        assert Webhook(secret).verify(body, headers)["type"] == "order.paid"
        tampered = body.replace("ord_1", "ord_2")
        try:
            Webhook(secret).verify(tampered, headers)
        except Exception as exc:
            assert "signature" in str(exc).lower()
        else:
            raise AssertionError("a tampered body verified")

    def test_endpoint_list_is_checked(self) -> None:
        assert webhooks.parse_endpoints("https://shop.example/hooks|whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")[0].url \
            == "https://shop.example/hooks"
        for bad in ("https://shop.example/hooks", "ftp://x|whsec_abc", "https://x|secret"):
            try:
                webhooks.parse_endpoints(bad)
            except ValueError as exc:
                assert "WEBHOOK_ENDPOINTS entry 1" in str(exc)
            else:
                raise AssertionError(bad)


class TestPaymentEvents:
    async def test_the_calls_the_payment_code_makes_reach_the_shop_in_order(
            self, app: FastAPI, client: httpx.AsyncClient, settings: Settings, receiver: Receiver) -> None:
        from services.orders import repository as orders_repo
        from services.orders.channels import hooks

        cfg, secret = with_endpoint(settings, receiver)
        await drain(app, cfg)
        order = (await client.post("/v1/orders", json=order_body(), headers=auth(SERVICE))).json()
        pay = (await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE), json={
            "method": "alipay", "amount": "499.00", "currency": "CNY", "status": "pending"})).json()
        async with app.state.sessionmaker() as session, session.begin():
            row = await orders_repo.order_by_id(session, order["id"])
            payment = await orders_repo.payment_by_id(session, pay["id"])
            assert row is not None and payment is not None
            await hooks.payment_reconciled(session, payment=payment, order=row, verdict="paid")
            await hooks.order_paid(session, row, payment)
            await hooks.payment_reversed(session, payment=payment, order=row, reason="tx_not_found")
        await drain(app, cfg)
        got = received_for(receiver, secret, order["id"])
        assert [t for _, t in got] == ["payment.reconciled", "order.paid", "payment.reversed"]
        body = json.loads(next(b for h, b in receiver.deliveries if h["webhook-id"] == got[0][0]))
        assert body["data"]["amount"] == "499.00" and body["data"]["method"] == "alipay"


class TestShipmentRegisteredAfterItsEvents:
    async def test_a_delivery_that_came_first_is_an_event_when_the_shipment_is_registered(
            self, app: FastAPI, client: httpx.AsyncClient, settings: Settings, receiver: Receiver,
            unique: str) -> None:
        cfg, secret = with_endpoint(settings, receiver)
        order = (await client.post("/v1/orders", json=order_body(), headers=auth(SERVICE))).json()
        tracking = f"EF{unique}"
        await client.post("/v1/tracking/events", headers=auth(SERVICE), json={
            "carrier": "sf-express", "tracking_number": tracking, "events": [
                {"event_id": "d", "status": "delivered", "occurred_at": utcnow().isoformat()}]})
        await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                          json={"carrier": "sf-express", "tracking_number": tracking})
        await drain(app, cfg)
        assert [t for _, t in received_for(receiver, secret, order["id"])] == ["shipment.delivered"]
