"""The cheaper request path (issue #15): the edge is one middleware layer and a GET never enters the POST-only
Idempotency-Key middleware; the order read borrows a pooled connection for its one statement and gives it back;
generated request ids stay 32 hex digits and unique. On SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.idempotency import IdempotencyMiddleware
from tests.conftest import AGENT, CUSTOMER_2, SERVICE, auth
from tests.factories import order_body


async def test_get_skips_the_idempotency_middleware_and_post_still_uses_it(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    entered: list[str] = []
    original = IdempotencyMiddleware.__call__

    async def counting(self: IdempotencyMiddleware, scope: Any, receive: Any, send: Any) -> None:
        entered.append(scope["method"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(IdempotencyMiddleware, "__call__", counting)
    body = order_body()
    headers = {**auth(SERVICE), "Idempotency-Key": f"edge-{body['order_number']}"}
    first = await client.post("/v1/orders", json=body, headers=headers)
    again = await client.post("/v1/orders", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    read = await client.get(f"/v1/orders/{first.json()['id']}", headers={**auth(AGENT), "Idempotency-Key": "x"})
    assert read.status_code == 200 and read.json() == first.json()
    assert entered == ["POST", "POST"]


async def test_order_read_returns_its_connection(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/orders", json=order_body(), headers=auth(SERVICE))).json()
    pool = app.state.engine.sync_engine.pool
    for _ in range(5):
        assert (await client.get(f"/v1/orders/{created['id']}", headers=auth(AGENT))).json() == created
    assert (await client.get(f"/v1/orders/{created['id']}", headers=auth(CUSTOMER_2))).status_code == 404
    assert (await client.get("/v1/orders/ord_missing", headers=auth(AGENT))).status_code == 404
    unauthorized = await client.get(f"/v1/orders/{created['id']}")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["content-type"].startswith("application/problem+json")
    if hasattr(pool, "checkedout"):
        assert pool.checkedout() == 0


async def test_generated_request_ids_are_32_hex_and_unique(client: httpx.AsyncClient) -> None:
    ids = [(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 3
    assert (await client.get("/healthz", headers={"X-Request-Id": "mine-1"})).headers["x-request-id"] == "mine-1"
