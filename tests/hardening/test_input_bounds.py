"""Bad input is a clear 4xx problem on both databases and changes nothing: bounded decimals and quantities,
no NUL or lone surrogate in any text or path, integers within range, header bytes checked, and the OpenAPI
documents the 400 and the problem+json 422s."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AGENT, SERVICE, auth
from tests.factories import order_body

PROBLEM = "application/problem+json"


async def _order(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.post("/v1/orders", json=order_body(), headers=auth(SERVICE))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _problem(resp: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    if field is not None:
        assert field in {e["field"] for e in body.get("errors", [])} or field in body["detail"], body
    return body


class TestDecimals:
    @pytest.mark.parametrize("price", ["1e21", "100000000000000000000", "1.0000000000000000001", "NaN", "Infinity",
                                       " 1", "1_000", "-0.01"])
    async def test_unit_price_outside_the_column_is_422(self, client: httpx.AsyncClient, price: str) -> None:
        body = order_body()
        body["items"][0]["unit_price"] = price
        resp = await client.post("/v1/orders", json=body, headers=auth(SERVICE))
        _problem(resp, 422, "items.0.unit_price")
        found = await client.get("/v1/orders", params={"order_number": body["order_number"]}, headers=auth(AGENT))
        assert found.json()["count"] == 0

    async def test_largest_price_fits_and_total_is_bounded(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        body["items"][0]["unit_price"] = "99999999999999999999.999999999999999999"
        resp = await client.post("/v1/orders", json=body, headers=auth(SERVICE))
        assert resp.status_code == 201, resp.text
        assert resp.json()["total"] == "99999999999999999999.999999999999999999"
        body = order_body()
        body["items"][0].update(unit_price="99999999999999999999", quantity=2)
        _problem(await client.post("/v1/orders", json=body, headers=auth(SERVICE)), 422)

    @pytest.mark.parametrize("quantity", [0, -1, 10**30, 2**63, "1", 1.5])
    async def test_quantity_bounds(self, client: httpx.AsyncClient, quantity: Any) -> None:
        body = order_body()
        body["items"][0]["quantity"] = quantity
        _problem(await client.post("/v1/orders", json=body, headers=auth(SERVICE)), 422, "items.0.quantity")

    @pytest.mark.parametrize("amount", [0, 10, 10.5, "0", "0.00", "-5", "1e3", True])
    async def test_payment_amount_is_a_positive_decimal_string(self, client: httpx.AsyncClient, amount: Any) -> None:
        order = await _order(client)
        resp = await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE),
                                 json={"method": "card", "amount": amount, "currency": "CNY"})
        _problem(resp, 422, "amount")
        assert (await client.get(f"/v1/orders/{order['id']}/payments", headers=auth(AGENT))).json()["items"] == []

    @pytest.mark.parametrize("placed_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", 0,
                                           "1900-01-01T00:00:00Z"])
    async def test_timestamps_in_range(self, client: httpx.AsyncClient, placed_at: Any) -> None:
        _problem(await client.post("/v1/orders", json=order_body(placed_at=placed_at), headers=auth(SERVICE)),
                 422, "placed_at")


class TestText:
    @pytest.mark.parametrize("text", ["a\u0000b", "a\ud800b", "\udfff"])
    async def test_nul_and_lone_surrogates_in_bodies(self, client: httpx.AsyncClient, text: str) -> None:
        body = order_body()
        body["items"][0]["name"] = text
        payload = json.dumps(body, ensure_ascii=True)  # \u0000 and \ud800 as JSON escapes, as a client sends them
        resp = await client.post("/v1/orders", content=payload, headers={**auth(SERVICE),
                                                                          "content-type": "application/json"})
        _problem(resp, 422)
        ticket = {"type": "order_status", "channel": "chat", "description": "x"}
        ticket["description"] = text
        resp = await client.post("/v1/tickets", content=json.dumps(ticket), headers={
            **auth(AGENT), "content-type": "application/json"})
        _problem(resp, 422)

    @pytest.mark.parametrize("path", ["/v1/orders/a%00b", "/v1/payments/a%00b", "/v1/tickets/a%00b",
                                      "/v1/orders/a%00b/diagnosis", "/v1/orders/a%00b/returns"])
    async def test_nul_in_path_id(self, client: httpx.AsyncClient, path: str) -> None:
        resp = await client.get(path, headers=auth(AGENT))
        assert 400 <= resp.status_code < 500, resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_nul_and_huge_values_in_query(self, client: httpx.AsyncClient) -> None:
        for params in ({"order_number": "a\x00b"}, {"customer_id": "x" * 60_000}, {"offset": str(2**63)},
                       {"offset": "9223372036854775808"}, {"limit": "-1"}, {"offset": "1e3"}):
            resp = await client.get("/v1/orders", params=params, headers=auth(AGENT))
            assert 400 <= resp.status_code < 500, (params.keys(), resp.status_code)
            assert resp.headers["content-type"].startswith(PROBLEM)
        resp = await client.get("/v1/tickets", params={"offset": "9223372036854775808"}, headers=auth(AGENT))
        _problem(resp, 422, "offset")

    async def test_ten_megabyte_string_is_413(self, client: httpx.AsyncClient) -> None:
        body = order_body()
        body["items"][0]["name"] = "x" * 10_000_000
        resp = await client.post("/v1/orders", json=body, headers=auth(SERVICE))
        _problem(resp, 413)


class TestHeadersAndJson:
    async def test_header_bytes_not_utf8_is_400_before_auth(self, client: httpx.AsyncClient) -> None:
        for name in (b"X-Request-Id", b"Authorization", b"Accept-Language"):
            request = client.build_request("GET", "/v1/orders")
            request.headers[name.decode()] = "x"
            raw = [(k, v) for k, v in request.headers.raw if k.lower() != name.lower()] + [(name, b"\xff\xfe")]
            request.headers = httpx.Headers(raw)
            resp = await client.send(request)
            body = _problem(resp, 400)
            assert name.decode().lower() in body["detail"].lower()

    async def test_odd_request_id_is_replaced_not_echoed(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/healthz", headers={"X-Request-Id": "a" * 300})
        assert resp.status_code == 200 and len(resp.headers["x-request-id"]) <= 64

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        resp = await client.post("/v1/orders", content=b'{"order_number": ', headers={
            **auth(SERVICE), "content-type": "application/json"})
        _problem(resp, 400)

    async def test_openapi_documents_problems(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        spec = (await client.get("/openapi.json")).json()
        assert "Problem" in spec["components"]["schemas"]
        assert "HTTPValidationError" not in spec["components"]["schemas"]
        create = spec["paths"]["/v1/orders"]["post"]["responses"]
        for code in ("400", "401", "422", "503"):
            assert list(create[code]["content"]) == [PROBLEM], code
        get = spec["paths"]["/v1/orders/{order_id}"]["get"]["responses"]
        assert list(get["422"]["content"]) == [PROBLEM] and list(get["404"]["content"]) == [PROBLEM]
        unit_price = spec["components"]["schemas"]["OrderItemIn"]["properties"]["unit_price"]
        assert unit_price["type"] == "string" and "{1,20}" in unit_price["pattern"]
