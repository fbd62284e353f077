"""Issue #14's tracking items: per-sender secrets and Standard Webhooks, webhook bodies in the OpenAPI, odd values
are 422s naming the field, dedup by the instant, events from the future refused, the fold not frozen, and a
webhook racing its shipment's registration never left orphaned."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.orders import repository as repo
from services.orders.models import Shipment
from services.orders.tracking.ingest import apply_events
from services.orders.tracking.normalized import NormalizedEvent
from services.orders.tracking.signatures import sign_aftership, sign_easypost, sign_generic
from tests.conftest import AGENT, SERVICE, WEBHOOK_SECRET, auth
from tests.factories import order_body
from tests.fixtures import aftership, easypost


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks, written from the spec (not from our code): base64 HMAC-SHA256 of id.timestamp.body, the
    key being the base64 after `whsec_`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def post(client: httpx.AsyncClient, fmt: str, payload: Any, secret: str = WEBHOOK_SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    header, sign = {"aftership": ("aftership-hmac-sha256", sign_aftership),
                    "easypost": ("X-Hmac-Signature", sign_easypost), "generic": ("X-Signature", sign_generic)}[fmt]
    return await client.post(f"/v1/webhooks/carriers/{fmt}", content=body,
                             headers={header: sign(secret, body), "content-type": "application/json"})


async def new_shipment(client: httpx.AsyncClient, carrier: str, number: str) -> dict[str, Any]:
    order = (await client.post("/v1/orders", json=order_body(status="paid"), headers=auth(AGENT))).json()
    resp = await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                             json={"carrier": carrier, "tracking_number": number})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def timeline(client: httpx.AsyncClient, shipment_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/shipments/{shipment_id}/timeline", headers=auth(AGENT))
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def batch(number: str, *events: dict[str, Any]) -> dict[str, Any]:
    return {"carrier": "sf-express", "tracking_number": number, "events": list(events)}


class TestPerSenderSecrets:
    async def test_a_leaked_aftership_secret_forges_nothing_else(self, client: httpx.AsyncClient, app: FastAPI,
                                                                  monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
        monkeypatch.setattr(app.state.settings, "aftership_webhook_secret", "aftership-only-secret")
        payload = aftership()
        payload["msg"]["tracking_number"] = f"PS{unique}"
        assert (await post(client, "aftership", payload, "aftership-only-secret")).status_code == 200
        # The shared secret no longer signs AfterShip's webhooks once AfterShip has its own...
        assert (await post(client, "aftership", payload)).status_code == 401
        # ...and AfterShip's secret signs neither the generic sender nor EasyPost.
        generic = batch(f"PS{unique}", {"status": "in_transit", "occurred_at": "2026-11-02T08:00:00+08:00"})
        assert (await post(client, "generic", generic, "aftership-only-secret")).status_code == 401
        assert (await post(client, "easypost", easypost(), "aftership-only-secret")).status_code == 401

    async def test_easypost_own_secret(self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch,
                                       unique: str) -> None:
        monkeypatch.setattr(app.state.settings, "easypost_webhook_secret", "easypost-only-secret")
        payload = easypost()
        payload["result"]["tracking_code"] = f"EO{unique}"
        assert (await post(client, "easypost", payload, "easypost-only-secret")).status_code == 200
        assert (await post(client, "easypost", payload)).status_code == 401


class TestStandardWebhooks:
    async def test_generic_sender_signed_per_the_spec(self, client: httpx.AsyncClient, app: FastAPI,
                                                      monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
        secret = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-0123").decode()
        monkeypatch.setattr(app.state.settings, "carrier_webhook_secret", secret)
        body = json.dumps(batch(f"SW{unique}", {"status": "in_transit",
                                                "occurred_at": "2026-11-02T08:00:00+08:00"})).encode()

        async def send(timestamp: int, signature: str | None = None) -> httpx.Response:
            return await client.post("/v1/webhooks/carriers/generic", content=body, headers={
                "webhook-id": "msg_2Lh9KRb0pzN4LePd3XiA4ZQr", "webhook-timestamp": str(timestamp),
                "webhook-signature": signature or standard_signature(secret, "msg_2Lh9KRb0pzN4LePd3XiA4ZQr",
                                                                     timestamp, body),
                "content-type": "application/json"})

        now = int(time.time())
        resp = await send(now)
        assert resp.status_code == 200, resp.text
        assert resp.json()["results"][0]["stored"] == 1
        # Several signatures (key rotation): one matching is enough.
        both = "v1,Zm9yZ2Vk " + standard_signature(secret, "msg_2Lh9KRb0pzN4LePd3XiA4ZQr", now, body)
        assert (await send(now, both)).status_code == 200
        stale = await send(now - 360)
        assert stale.status_code == 401 and "webhook-timestamp" in stale.json()["detail"]
        assert (await send(now + 360)).status_code == 401
        assert (await send(now - 240)).status_code == 200  # within the 5 minutes
        assert (await send(now, "v1,Zm9yZ2Vk")).status_code == 401


class TestOpenAPI:
    async def test_each_webhook_route_documents_its_body(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        paths = spec["paths"]
        assert "/v1/webhooks/carriers/{fmt}" not in paths
        for fmt, media in (("aftership", "application/json"), ("easypost", "application/json"),
                           ("generic", "application/json"), ("17track", "application/json"),
                           ("kuaidi100", "application/x-www-form-urlencoded"),
                           ("kdniao", "application/x-www-form-urlencoded")):
            operation = paths[f"/v1/webhooks/carriers/{fmt}"]["post"]
            schema = operation["requestBody"]["content"][media]["schema"]
            assert schema.get("properties") or schema.get("$ref"), fmt
            assert {"401", "422", "503"} <= set(operation["responses"]), fmt
        assert paths["/v1/webhooks/carriers/generic"]["post"]["requestBody"]["content"]["application/json"][
            "schema"] == {"$ref": "#/components/schemas/TrackingBatch"}
        assert "TrackingBatch" in spec["components"]["schemas"]

    async def test_unknown_format_is_404(self, client: httpx.AsyncClient) -> None:
        resp = await client.post("/v1/webhooks/carriers/dhl", content=b"{}")
        assert resp.status_code == 404 and "kuaidi100" in resp.json()["detail"]


def _aftership(unique: str, **checkpoint: Any) -> dict[str, Any]:
    payload = aftership()
    payload["msg"]["tracking_number"] = f"OV{unique}"
    payload["msg"]["checkpoints"][2].update(checkpoint)
    return payload


def _easypost(unique: str, **detail: Any) -> dict[str, Any]:
    payload = easypost()
    payload["result"]["tracking_code"] = f"OV{unique}"
    payload["result"]["tracking_details"][1].update(detail)
    return payload


class TestOddValues:
    @pytest.mark.parametrize(("fmt", "build", "field"), [
        ("easypost", lambda u: _easypost(u, tracking_location="x"), "result.tracking_details[1].tracking_location"),
        ("easypost", lambda u: _easypost(u, tracking_location={"country": 1}),
         "result.tracking_details[1].tracking_location.country"),
        ("easypost", lambda u: _easypost(u, message=5.5), "result.tracking_details[1].message"),
        ("easypost", lambda u: _easypost(u, source={"a": 10**30}), "result.tracking_details[1].source"),
        ("aftership", lambda u: _aftership(u, country_iso3=1), "msg.checkpoints[2].country_iso3"),
        ("aftership", lambda u: _aftership(u, message=["x"]), "msg.checkpoints[2].message"),
        ("aftership", lambda u: _aftership(u, subtag="InTransit_" + "9" * 300), "msg.checkpoints[2].subtag"),
        ("aftership", lambda u: _aftership(u, message="a\x00b"), "msg.checkpoints[2].message"),
        ("aftership", lambda u: {**_aftership(u), "msg": {**_aftership(u)["msg"], "tracking_number": "9" * 300}},
         "msg.tracking_number"),
        ("generic", lambda u: batch(f"OV{u}", {"status": "in_transit", "occurred_at": "2026-11-02T08:00:00Z",
                                               "description": "a\x00b"}), "description"),
    ])
    async def test_signed_payload_with_one_odd_value_is_422_naming_the_field(
            self, client: httpx.AsyncClient, unique: str, fmt: str, build: Any, field: str) -> None:
        resp = await post(client, fmt, build(unique))
        assert resp.status_code == 422, resp.text
        named = {e["field"] for e in resp.json()["errors"]} | {e["message"] for e in resp.json()["errors"]}
        assert any(field in name for name in named), resp.json()
        assert resp.headers["content-type"] == "application/problem+json"

    async def test_occurred_at_as_a_number_is_422(self, client: httpx.AsyncClient, unique: str) -> None:
        for value in (0, 1_764_000_000, 1.5, True):
            resp = await client.post("/v1/tracking/events", headers=auth(SERVICE),
                                     json=batch(f"Z{unique}", {"status": "in_transit", "occurred_at": value}))
            assert resp.status_code == 422, (value, resp.text)
            assert resp.json()["errors"][0]["field"] == "events.0.occurred_at"

    async def test_tracking_number_longer_than_its_column(self, client: httpx.AsyncClient) -> None:
        payload = easypost()
        payload["result"]["tracking_code"] = "EZ" + "4" * 200
        resp = await post(client, "easypost", payload)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "result.tracking_code"


class TestDedupAndTime:
    async def test_one_instant_two_offsets_is_one_scan(self, client: httpx.AsyncClient, unique: str) -> None:
        shipment = await new_shipment(client, "sf-express", f"IN{unique}")
        for stamp in ("2026-11-02T08:00:00+08:00", "2026-11-02T00:00:00Z", "2026-11-01T19:00:00-05:00"):
            resp = await client.post("/v1/tracking/events", headers=auth(SERVICE),
                                     json=batch(f"IN{unique}", {"status": "in_transit", "occurred_at": stamp}))
            assert resp.status_code == 200
        assert len((await timeline(client, shipment["id"]))["events"]) == 1

    async def test_events_from_the_future_are_refused_with_the_reason(self, client: httpx.AsyncClient,
                                                                       unique: str) -> None:
        shipment = await new_shipment(client, "sf-express", f"FU{unique}")
        now = datetime.now(UTC)
        resp = await client.post("/v1/tracking/events", headers=auth(SERVICE), json=batch(
            f"FU{unique}", {"status": "in_transit", "occurred_at": iso(now - timedelta(hours=5))},
            {"status": "exception", "occurred_at": "2099-01-01T00:00:00Z"},
            {"status": "in_transit", "occurred_at": iso(now + timedelta(hours=25))},
            {"status": "in_transit", "occurred_at": iso(now + timedelta(hours=1))}))
        assert resp.status_code == 200, resp.text
        result = resp.json()["results"][0]
        assert (result["received"], result["stored"], result["duplicates"]) == (4, 2, 0)
        assert [r["index"] for r in result["refused"]] == [1, 2]
        assert result["refused"][0]["occurred_at"] == "2099-01-01T00:00:00Z"
        assert "more than 24 hours after its receipt" in result["refused"][0]["reason"]
        # The parcel is not frozen by 2099: a later real scan still moves it.
        resp = await client.post("/v1/tracking/events", headers=auth(SERVICE), json=batch(
            f"FU{unique}", {"status": "out_for_delivery", "occurred_at": iso(now + timedelta(hours=2))}))
        assert resp.json()["results"][0]["shipment_status"] == "out_for_delivery"
        assert len((await timeline(client, shipment["id"]))["events"]) == 3

    def test_the_fold_leaves_out_stored_future_events_and_says_so(self, caplog: pytest.LogCaptureFixture) -> None:
        now = datetime(2026, 11, 26, tzinfo=UTC)
        shipment = Shipment(id="shp_x", order_id="ord_x", carrier="sf-express", tracking_number="X1", status="pending")
        changed = apply_events(shipment, [NormalizedEvent("exception", datetime(2099, 1, 1, tzinfo=UTC)),
                                          NormalizedEvent("in_transit", now - timedelta(hours=3))], now)
        assert changed and shipment.status == "in_transit"
        assert shipment.last_event_at == now - timedelta(hours=3)
        assert "left out of shipment shp_x" in caplog.text


class TestRegistrationRace:
    async def test_webhook_committing_while_its_shipment_is_registered(
            self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
        number = f"RACE{unique}"
        order = (await client.post("/v1/orders", json=order_body(status="paid"), headers=auth(AGENT))).json()
        original = repo.shipment_for_tracking
        registration: list[asyncio.Task[httpx.Response]] = []

        async def lookup_then_register(session: Any, carrier: str, tracking_number: str) -> Any:
            found = await original(session, carrier, tracking_number)
            if tracking_number == number and not registration:
                # The shipment is registered (and, unless something stops it, committed) between the webhook's
                # lookup and its insert: the window in which the events used to be orphaned for good.
                registration.append(asyncio.create_task(client.post(
                    f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                    json={"carrier": "sf-express", "tracking_number": number})))
                await asyncio.sleep(0.5)
            return found

        monkeypatch.setattr(repo, "shipment_for_tracking", lookup_then_register)
        resp = await client.post("/v1/tracking/events", headers=auth(SERVICE), json=batch(
            number, {"status": "in_transit", "occurred_at": "2026-11-02T08:00:00Z"},
            {"status": "out_for_delivery", "occurred_at": "2026-11-03T08:00:00Z"}))
        assert resp.status_code == 200, resp.text
        registered = await registration[0]
        assert registered.status_code == 201, registered.text
        monkeypatch.setattr(repo, "shipment_for_tracking", original)
        data = await timeline(client, registered.json()["id"])
        assert len(data["events"]) == 2
        assert data["shipment"]["status"] == "out_for_delivery"
