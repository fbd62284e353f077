"""Carrier webhooks and normalized batches over HTTP: signatures, dedup, late shipments, ordering, timelines."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.common.types import utcnow
from services.orders import repository as repo
from services.orders.channels.models import Event
from services.orders.tracking.ingest import attach_waiting, event_record
from services.orders.tracking.normalized import NormalizedEvent
from services.orders.tracking.signatures import sign_aftership, sign_easypost, sign_generic
from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, SERVICE, WEBHOOK_SECRET, auth
from tests.factories import order_body
from tests.fixtures import aftership, easypost


def signed(fmt: str, payload: Any, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    header, value = {"aftership": ("aftership-hmac-sha256", sign_aftership),
                     "easypost": ("X-Hmac-Signature", sign_easypost),
                     "generic": ("X-Signature", sign_generic)}[fmt]
    return body, {header: value(secret, body), "content-type": "application/json"}


async def post_webhook(client: httpx.AsyncClient, fmt: str, payload: Any) -> httpx.Response:
    body, headers = signed(fmt, payload)
    return await client.post(f"/v1/webhooks/carriers/{fmt}", content=body, headers=headers)


def aftership_for(tracking_number: str) -> dict[str, Any]:
    payload = aftership()
    payload["msg"]["tracking_number"] = tracking_number
    return payload


def easypost_for(tracking_number: str) -> dict[str, Any]:
    payload = easypost()
    payload["result"]["tracking_code"] = tracking_number
    return payload


async def new_shipment(client: httpx.AsyncClient, carrier: str, tracking_number: str,
                       customer: str = "c-1001", address: dict[str, Any] | None = None) -> dict[str, Any]:
    body = order_body(customer={"id": customer})
    if address is not None:
        body["shipping_address"] = address
    order = (await client.post("/v1/orders", json=body, headers=auth(AGENT))).json()
    resp = await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                             json={"carrier": carrier, "tracking_number": tracking_number})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def timeline(client: httpx.AsyncClient, shipment_id: str, key: str = AGENT) -> dict[str, Any]:
    resp = await client.get(f"/v1/shipments/{shipment_id}/timeline", headers=auth(key))
    assert resp.status_code == 200, resp.text
    return resp.json()


class TestSignatures:
    async def test_each_sender_scheme_accepted(self, client: httpx.AsyncClient, unique: str) -> None:
        for fmt, payload in (("aftership", aftership_for(f"AS{unique}")), ("easypost", easypost_for(f"EP{unique}")),
                             ("generic", {"carrier": "sf-express", "tracking_number": f"SF{unique}",
                                          "events": [{"status": "in_transit",
                                                      "occurred_at": "2026-11-02T08:00:00+08:00"}]})):
            resp = await post_webhook(client, fmt, payload)
            assert resp.status_code == 200, (fmt, resp.text)
            assert resp.json()["results"][0]["stored"] > 0

    async def test_wrong_or_missing_signature_stores_nothing(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "usps", f"BAD{unique}")
        payload = aftership_for(f"BAD{unique}")
        body, headers = signed("aftership", payload, secret="not-the-secret")
        resp = await client.post("/v1/webhooks/carriers/aftership", content=body, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/problem+json"
        resp = await client.post("/v1/webhooks/carriers/aftership", content=body,
                                 headers={"content-type": "application/json"})
        assert resp.status_code == 401
        # A valid signature over a different body does not carry over.
        good_body, good_headers = signed("aftership", payload)
        resp = await client.post("/v1/webhooks/carriers/aftership", content=good_body + b" ", headers=good_headers)
        assert resp.status_code == 401
        assert (await timeline(client, shipment["id"]))["events"] == []

    async def test_unknown_format(self, client: httpx.AsyncClient) -> None:
        resp = await client.post("/v1/webhooks/carriers/dhl", content=b"{}")
        assert resp.status_code == 404
        assert "aftership" in resp.json()["detail"]


class TestIngest:
    async def test_same_webhook_twice_is_stored_once(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "usps", f"DUP{unique}")
        first = await post_webhook(client, "aftership", aftership_for(f"DUP{unique}"))
        again = await post_webhook(client, "aftership", aftership_for(f"DUP{unique}"))
        assert first.json()["results"][0]["stored"] == 7
        assert again.json()["results"][0] | {"shipment_id": None} == {
            "carrier": "usps", "tracking_number": f"DUP{unique}", "received": 7, "stored": 0, "duplicates": 7,
            "shipment_id": None, "shipment_status": "in_transit", "waiting_for_shipment": False,
            "refused": []}
        assert len((await timeline(client, shipment["id"]))["events"]) == 7

    async def test_concurrent_deliveries_store_once(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "ups", f"CC{unique}")
        results = await asyncio.gather(*(post_webhook(client, "easypost", easypost_for(f"CC{unique}"))
                                         for _ in range(6)))
        assert all(r.status_code == 200 for r in results), [r.text for r in results]
        assert sum(r.json()["results"][0]["stored"] for r in results) == 6
        assert len((await timeline(client, shipment["id"]))["events"]) == 6

    async def test_events_before_shipment_are_kept_and_attached(self, client: httpx.AsyncClient, unique: str) -> None:
        resp = await post_webhook(client, "aftership", aftership_for(f"EARLY{unique}"))
        assert resp.status_code == 200
        assert resp.json()["results"][0]["waiting_for_shipment"] is True
        shipment = await new_shipment(client, "usps", f"EARLY{unique}")
        assert shipment["status"] == "in_transit"
        assert shipment["last_event_at"] == "2021-05-17T07:45:00Z"
        assert len((await timeline(client, shipment["id"]))["events"]) == 7

    async def test_waiting_events_attached_to_a_delivered_parcel_tell_the_shop_nothing_new(
            self, app: FastAPI, client: httpx.AsyncClient, unique: str) -> None:
        # What ingest does when a shipment was registered between its lookup and its insert: the parcel may already
        # be delivered, and a scan attached to it then must not announce that delivery a second time.
        number = f"SFW{unique}"
        shipment = await new_shipment(client, "sf-express", number)
        delivered = {"carrier": "sf-express", "tracking_number": number, "events": [
            {"event_id": "d-1", "status": "delivered", "occurred_at": "2026-11-04T15:00:00+08:00"}]}
        assert (await client.post("/v1/tracking/events", json=delivered, headers=auth(SERVICE))).status_code == 200
        scan = NormalizedEvent("delivered", datetime(2026, 11, 4, 9, 30, tzinfo=UTC), event_id="d-2")
        async with app.state.sessionmaker() as session:
            await repo.insert_events(session, [event_record("sf-express", number, scan, None, "test", utcnow())])
            row = await repo.shipment_for_tracking(session, "sf-express", number)
            assert row is not None and row.status == "delivered"
            await attach_waiting(session, row)
            assert row.last_event_at == scan.occurred_at  # the scan was folded in
            await session.commit()
            announced = (await session.execute(select(func.count()).select_from(Event).where(
                Event.type == "shipment.delivered", Event.order_id == shipment["order_id"]))).scalar_one()
        assert announced == 1

    async def test_order_by_time_and_events_after_delivery(self, client: httpx.AsyncClient, unique: str) -> None:
        # The real EasyPost sample has its delivery stamped before the other scans.
        shipment = await new_shipment(client, "ups", f"ORD{unique}")
        await post_webhook(client, "easypost", easypost_for(f"ORD{unique}"))
        data = await timeline(client, shipment["id"])
        times = [e["occurred_at"] for e in data["events"]]
        assert times == sorted(times)
        assert data["shipment"]["status"] == "delivered"
        assert data["shipment"]["delivered_at"] == "2014-11-19T10:51:54Z"
        assert [e["after_delivery"] for e in data["events"]] == [False, True, True, True, True, True]

    async def test_late_older_event_does_not_undo_delivery(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "sf-express", f"SF{unique}")
        batch = {"carrier": "sf-express", "tracking_number": f"SF{unique}", "events": [
            {"event_id": "d-1", "status": "delivered", "occurred_at": "2026-11-04T15:00:00+08:00",
             "location": {"address": "88 Century Ave", "city": "Shanghai", "postal_code": "200120", "country": "CN",
                          "lat": 31.2306, "lon": 121.5062}}]}
        assert (await client.post("/v1/tracking/events", json=batch, headers=auth(SERVICE))).status_code == 200
        late = {**batch, "events": [{"event_id": "t-1", "status": "in_transit",
                                     "occurred_at": "2026-11-02T08:00:00+08:00"}]}
        resp = await client.post("/v1/tracking/events", json=late, headers=auth(SERVICE))
        assert resp.json()["results"][0]["shipment_status"] == "delivered"
        data = await timeline(client, shipment["id"])
        assert [e["event_id"] for e in data["events"]] == ["t-1", "d-1"]
        assert data["delivered_address_check"]["verdict"] == "match"
        assert data["delivered_address_check"]["evidence"]["distance_km"] < 0.3

    async def test_unreadable_payload_is_422_and_nothing_stored(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "usps", f"HALF{unique}")
        payload = aftership_for(f"HALF{unique}")
        payload["msg"]["checkpoints"][5]["tag"] = "Teleported"
        resp = await post_webhook(client, "aftership", payload)
        assert resp.status_code == 422
        assert "Teleported" in resp.json()["detail"]
        assert (await timeline(client, shipment["id"]))["events"] == []
        resp = await post_webhook(client, "generic", {"carrier": "x", "events": []})
        assert resp.status_code == 422
        assert {e["field"] for e in resp.json()["errors"]} >= {"tracking_number", "events"}

    async def test_malformed_json_webhook(self, client: httpx.AsyncClient) -> None:
        body = b'{"msg": '
        resp = await client.post("/v1/webhooks/carriers/aftership", content=body,
                                 headers={"aftership-hmac-sha256": sign_aftership(WEBHOOK_SECRET, body)})
        assert resp.status_code == 400

    async def test_normalized_batch_rules(self, client: httpx.AsyncClient, unique: str) -> None:
        batch = {"carrier": "sf-express", "tracking_number": f"N{unique}",
                 "events": [{"status": "in_transit", "occurred_at": "2026-11-02T08:00:00"}]}
        resp = await client.post("/v1/tracking/events", json=batch, headers=auth(SERVICE))
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "events.0.occurred_at"
        batch["events"][0]["occurred_at"] = "2026-11-02T08:00:00Z"
        assert (await client.post("/v1/tracking/events", json=batch, headers=auth(CUSTOMER_1))).status_code == 403
        bad_status = copy.deepcopy(batch)
        bad_status["events"][0]["status"] = "lost_in_space"
        assert (await client.post("/v1/tracking/events", json=bad_status, headers=auth(SERVICE))).status_code == 422


class TestTimelineAccess:
    async def test_customer_scoping(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "usps", f"CS{unique}", customer="c-1001")
        await timeline(client, shipment["id"], key=CUSTOMER_1)
        resp = await client.get(f"/v1/shipments/{shipment['id']}/timeline", headers=auth(CUSTOMER_2))
        assert resp.status_code == 404
        assert (await client.get("/v1/shipments/shp_none/timeline", headers=auth(AGENT))).status_code == 404

    async def test_mismatch_evidence(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "sf-express", f"MM{unique}")
        batch = {"carrier": "sf-express", "tracking_number": f"MM{unique}", "events": [
            {"status": "delivered", "occurred_at": "2026-11-04T15:00:00+08:00",
             "location": {"lat": 31.2304, "lon": 121.4500}}]}
        await client.post("/v1/tracking/events", json=batch, headers=auth(SERVICE))
        check = (await timeline(client, shipment["id"]))["delivered_address_check"]
        assert check["verdict"] == "mismatch"
        assert 5.2 < check["evidence"]["distance_km"] < 5.5  # 0.056° of longitude at 31.23°N
