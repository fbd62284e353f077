"""Kuaidi100, Kdniao and 17TRACK pushes over HTTP: each provider's signature and answer, 503 without its secret,
nothing stored when unsigned, one scan pushed by two providers stored once, and the diagnosis of a parcel that
waits in a 驿站 naming the station in both languages."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from services.orders.tracking import kdniao, kuaidi100, seventeentrack
from tests.conftest import AGENT, auth
from tests.factories import order_body
from tests.fixtures import load

SALT, APP_KEY, KEY_17 = "123", "kdniao-test-app-key", "17track-test-key"


@pytest.fixture
def provider_secrets(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings = app.state.settings
    monkeypatch.setattr(settings, "kuaidi100_salt", SALT)
    monkeypatch.setattr(settings, "kdniao_app_key", APP_KEY)
    monkeypatch.setattr(settings, "seventeentrack_key", KEY_17)
    yield


def kuaidi100_body(param: str, salt: str = SALT, sign: str | None = None) -> bytes:
    return urlencode({"param": param, "sign": sign if sign is not None else kuaidi100.sign(param, salt)}).encode()


def kuaidi100_for(number: str) -> str:
    payload = json.loads(load("carriers", "kuaidi100_push_jd_station_go-tron.json")["param"])
    payload["lastResult"]["nu"] = number
    return json.dumps(payload, ensure_ascii=False)


def kdniao_body(payload: dict[str, Any], key: str = APP_KEY) -> bytes:
    request_data = json.dumps(payload, ensure_ascii=False)
    return urlencode({"RequestData": request_data, "DataSign": kdniao.data_sign(request_data, key),
                      "RequestType": "101"}).encode()


def seventeen_post(payload: dict[str, Any], key: str = KEY_17) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return body, {"sign": seventeentrack.sign(body, key), "content-type": "application/json"}


FORM = {"content-type": "application/x-www-form-urlencoded"}


async def new_shipment(client: httpx.AsyncClient, carrier: str, number: str) -> dict[str, Any]:
    order = (await client.post("/v1/orders", json=order_body(status="paid"), headers=auth(AGENT))).json()
    resp = await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                             json={"carrier": carrier, "tracking_number": number})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def events_of(client: httpx.AsyncClient, shipment_id: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/v1/shipments/{shipment_id}/timeline", headers=auth(AGENT))
    assert resp.status_code == 200, resp.text
    return resp.json()["events"]  # type: ignore[no-any-return]


class TestSecrets:
    @pytest.mark.parametrize("fmt", ["kuaidi100", "kdniao", "17track"])
    async def test_unset_secret_is_503(self, client: httpx.AsyncClient, fmt: str) -> None:
        resp = await client.post(f"/v1/webhooks/carriers/{fmt}", content=b"param=x&sign=y", headers=FORM)
        assert resp.status_code == 503
        assert resp.headers["retry-after"] == "300"
        assert {"kuaidi100": "KUAIDI100_SALT", "kdniao": "KDNIAO_APP_KEY",
                "17track": "SEVENTEENTRACK_KEY"}[fmt] in resp.json()["detail"]

    async def test_unsigned_or_wrongly_signed_stores_nothing(self, client: httpx.AsyncClient, unique: str,
                                                             provider_secrets: None) -> None:
        shipment = await new_shipment(client, "jd", f"JDU{unique}")
        param = kuaidi100_for(f"JDU{unique}")
        for body in (kuaidi100_body(param, salt="456"), urlencode({"param": param}).encode(),
                     kuaidi100_body(param)[:-2] + b"00"):
            resp = await client.post("/v1/webhooks/carriers/kuaidi100", content=body, headers=FORM)
            assert resp.status_code == 401, resp.text
        payload = load("carriers", "kdniao_push_ems_docs_example_lorderinterface2.json")
        payload["Data"][0]["LogisticCode"] = f"JDU{unique}"
        resp = await client.post("/v1/webhooks/carriers/kdniao", content=kdniao_body(payload, key="wrong"),
                                 headers=FORM)
        assert resp.status_code == 401
        body, headers = seventeen_post(load("carriers", "17track_v2_tracking_updated_jd_station_built.json"),
                                       key="wrong")
        assert (await client.post("/v1/webhooks/carriers/17track", content=body, headers=headers)).status_code == 401
        assert await events_of(client, shipment["id"]) == []


class TestKuaidi100Push:
    async def test_recorded_signed_push_and_the_answer_kuaidi100_expects(self, client: httpx.AsyncClient,
                                                                          provider_secrets: None) -> None:
        push = load("carriers", "kuaidi100_push_jd_station_go-tron.json")
        shipment = await new_shipment(client, "jd", "JD0076810060555")
        # The recorded form exactly: `param` and its real `sign`, made with salt "123".
        resp = await client.post("/v1/webhooks/carriers/kuaidi100",
                                 content=urlencode({"param": push["param"], "sign": push["sign"]}).encode(),
                                 headers=FORM)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"result": True, "returnCode": "200", "message": "成功"}
        events = await events_of(client, shipment["id"])
        assert len(events) == 5
        assert events[-1]["status"] == "available_for_pickup"
        assert events[-1]["raw_status"] == "304:投柜或站签收"
        assert events[-1]["occurred_at"] == "2022-06-30T02:34:33Z"
        assert events[-1]["location"]["pickup_point"] == "快递驿站"
        got = (await client.get(f"/v1/shipments/{shipment['id']}", headers=auth(AGENT))).json()
        assert got["status"] == "available_for_pickup"

        # The same scans pushed again by 17TRACK (its own carrier number, its own time format): stored once.
        body, headers = seventeen_post(load("carriers", "17track_v2_tracking_updated_jd_station_built.json"))
        resp = await client.post("/v1/webhooks/carriers/17track", content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        result = resp.json()["results"][0]
        assert (result["received"], result["stored"], result["duplicates"]) == (5, 0, 5)
        assert result["shipment_id"] == shipment["id"]
        assert len(await events_of(client, shipment["id"])) == 5

    async def test_two_providers_before_the_shipment_exists_are_one_timeline(
            self, client: httpx.AsyncClient, unique: str, provider_secrets: None) -> None:
        number = f"JDB{unique}"
        resp = await client.post("/v1/webhooks/carriers/kuaidi100", content=kuaidi100_body(kuaidi100_for(number)),
                                 headers=FORM)
        assert resp.status_code == 200
        seventeen = load("carriers", "17track_v2_tracking_updated_jd_station_built.json")
        seventeen["data"]["number"] = number
        body, headers = seventeen_post(seventeen)
        resp = await client.post("/v1/webhooks/carriers/17track", content=body, headers=headers)
        assert resp.json()["results"][0]["waiting_for_shipment"] is True
        shipment = await new_shipment(client, "jd", number)
        assert shipment["status"] == "available_for_pickup"
        events = await events_of(client, shipment["id"])
        assert len(events) == 5
        assert len({e["occurred_at"] for e in events}) == 5

    async def test_station_diagnosis_says_where_in_both_languages(self, client: httpx.AsyncClient, unique: str,
                                                                 provider_secrets: None) -> None:
        shipment = await new_shipment(client, "jd", f"JDS{unique}")
        resp = await client.post("/v1/webhooks/carriers/kuaidi100", content=kuaidi100_body(kuaidi100_for(f"JDS{unique}")),
                                 headers=FORM)
        assert resp.status_code == 200, resp.text
        found = {}
        for lang in ("zh-CN", "en"):
            diagnosis = (await client.get(f"/v1/orders/{shipment['order_id']}/diagnosis",
                                          headers={**auth(AGENT), "Accept-Language": lang})).json()
            [finding] = [f for f in diagnosis["findings"] if f["code"] == "awaiting_pickup"]
            found[lang] = finding
            assert finding["evidence"]["pickup_point"] == "快递驿站"
        assert "快递驿站" in found["zh-CN"]["title"]
        assert found["zh-CN"]["next_steps"][0].startswith("请到快递驿站取件")
        assert "collect it there" in found["en"]["title"]
        assert found["en"]["next_steps"][0].startswith("Collect it at 快递驿站")


class TestKdniaoPush:
    async def test_signed_push_station_then_collected(self, client: httpx.AsyncClient, unique: str,
                                                      provider_secrets: None) -> None:
        payload = load("carriers", "kdniao_push_htky_station_built_from_jiejushancheng.json")
        payload["Data"][0]["LogisticCode"] = f"HT{unique}"
        shipment = await new_shipment(client, "best-express", f"HT{unique}")
        # First the push as it stood at the station scan (the last trace not yet there, State 2).
        waiting = copy.deepcopy(payload)
        waiting["Data"][0]["Traces"] = waiting["Data"][0]["Traces"][:-1]
        waiting["Data"][0]["State"] = "2"
        resp = await client.post("/v1/webhooks/carriers/kdniao", content=kdniao_body(waiting), headers=FORM)
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert set(answer) == {"EBusinessID", "UpdateTime", "Success", "Reason"}
        assert answer["EBusinessID"] == "1444561" and answer["Success"] is True
        diagnosis = (await client.get(f"/v1/orders/{shipment['order_id']}/diagnosis",
                                      headers={**auth(AGENT), "Accept-Language": "zh-CN"})).json()
        [finding] = [f for f in diagnosis["findings"] if f["code"] == "awaiting_pickup"]
        assert "百世邻里 伟业百世邻里" in finding["next_steps"][0]
        assert "五号楼下百世（水站旁边）" in finding["next_steps"][0]
        # Then the full push: collected at the station, a delivery noting where.
        resp = await client.post("/v1/webhooks/carriers/kdniao", content=kdniao_body(payload), headers=FORM)
        assert resp.status_code == 200
        events = await events_of(client, shipment["id"])
        assert len(events) == 9
        assert events[-1]["status"] == "delivered"
        assert events[-1]["location"]["delivered_to"] == "百世邻里 伟业百世邻里"
        got = (await client.get(f"/v1/shipments/{shipment['id']}", headers=auth(AGENT))).json()
        assert got["status"] == "delivered" and got["delivered_at"] == "2019-10-15T01:08:48Z"


class TestSeventeenTrackPush:
    async def test_stopped_push_is_acknowledged(self, client: httpx.AsyncClient, provider_secrets: None) -> None:
        body, headers = seventeen_post(load("carriers", "17track_v2_tracking_stopped_docs_example.json"))
        resp = await client.post("/v1/webhooks/carriers/17track", content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["results"][0] | {"refused": []} == {
            "carrier": "correios", "tracking_number": "AA123456789BR", "received": 0, "stored": 0, "duplicates": 0,
            "shipment_id": None, "shipment_status": None, "waiting_for_shipment": True, "refused": []}
