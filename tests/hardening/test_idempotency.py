"""Idempotency-Key on POST: same key and body replay the first answer, another body is a 422, keys are scoped
to the API key, concurrent requests with one key run once, and the record is kept 24 hours."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from services.common.idempotency import IdempotencyRecord
from services.common.types import utcnow
from tests.conftest import AGENT, CUSTOMER_1, SERVICE, auth
from tests.factories import order_body


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def _orders_numbered(client: httpx.AsyncClient, number: str) -> int:
    resp = await client.get("/v1/orders", params={"order_number": number}, headers=auth(AGENT))
    return int(resp.json()["count"])


class TestIdempotencyKey:
    async def test_same_key_same_body_replays(self, client: httpx.AsyncClient) -> None:
        body, key = order_body(), _key()
        first = await client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})
        again = await client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await _orders_numbered(client, body["order_number"]) == 1

    async def test_same_key_other_body_is_422(self, client: httpx.AsyncClient) -> None:
        body, key = order_body(), _key()
        assert (await client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})).status_code == 201
        other = order_body()
        resp = await client.post("/v1/orders", json=other, headers={**auth(SERVICE), **key})
        assert resp.status_code == 422 and resp.json()["type"].endswith("idempotency-key-reused")
        assert await _orders_numbered(client, other["order_number"]) == 0

    async def test_replays_a_4xx_and_every_post_route(self, client: httpx.AsyncClient) -> None:
        order = (await client.post("/v1/orders", json=order_body(), headers=auth(SERVICE))).json()
        posts: list[tuple[str, dict[str, Any], str]] = [
            (f"/v1/orders/{order['id']}/payments", {"method": "card", "amount": "499.00", "currency": "CNY",
                                                    "status": "succeeded"}, SERVICE),
            (f"/v1/orders/{order['id']}/shipments", {"carrier": "sf-express",
                                                     "tracking_number": f"SF{uuid.uuid4().hex[:10]}"}, AGENT),
            ("/v1/tickets", {"type": "order_status", "channel": "chat", "order_id": order["id"],
                             "description": "where is it"}, AGENT),
            (f"/v1/orders/{order['id']}/returns", {"items": [{"sku": "TP-HW-01", "quantity": 1}],
                                                   "reason": "damaged"}, AGENT),
        ]
        for path, body, who in posts:
            key = _key()
            first = await client.post(path, json=body, headers={**auth(who), **key})
            again = await client.post(path, json=body, headers={**auth(who), **key})
            assert first.status_code in (200, 201, 422), (path, first.text)
            assert (again.status_code, again.json()) == (first.status_code, first.json()), path
            assert again.headers.get("idempotent-replayed") == "true"
        ticket = (await client.post("/v1/tickets", json={"type": "order_status", "channel": "chat",
                                                          "description": "x"}, headers=auth(AGENT))).json()
        key = _key()
        texts = []
        for _ in range(2):
            resp = await client.post(f"/v1/tickets/{ticket['id']}/messages", json={"text": "hello"},
                                     headers={**auth(AGENT), **key})
            texts.append((resp.status_code, resp.json()["id"]))
        assert texts[0] == texts[1]
        messages = (await client.get(f"/v1/tickets/{ticket['id']}", headers=auth(AGENT))).json()["messages"]
        assert [m["text"] for m in messages].count("hello") == 1

    async def test_scoped_per_api_key(self, client: httpx.AsyncClient) -> None:
        key = _key()
        body = order_body()
        assert (await client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})).status_code == 201
        # Another caller with the same key is another request: it runs (and here meets the duplicate number).
        other = await client.post("/v1/orders", json=body, headers={**auth(AGENT), **key})
        assert other.status_code == 409 and "idempotent-replayed" not in other.headers
        # A customer key cannot create orders: 403 is about the caller and is not kept.
        for _ in range(2):
            denied = await client.post("/v1/orders", json=order_body(), headers={**auth(CUSTOMER_1), **key})
            assert denied.status_code == 403 and "idempotent-replayed" not in denied.headers

    async def test_concurrent_same_key_runs_once(self, client: httpx.AsyncClient) -> None:
        body, key = order_body(), _key()
        answers = await asyncio.gather(*[client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})
                                         for _ in range(6)])
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json()["type"].endswith("idempotency-key-in-use") and answer.headers["retry-after"]
        created = {a.json()["id"] for a in answers if a.status_code == 201}
        assert len(created) == 1
        assert await _orders_numbered(client, body["order_number"]) == 1

    async def test_kept_24_hours(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        body, key = order_body(), _key()
        first = await client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})
        assert first.status_code == 201
        async with app.state.sessionmaker() as session, session.begin():
            record = (await session.execute(select(IdempotencyRecord).where(
                IdempotencyRecord.key == key["Idempotency-Key"]))).scalar_one()  # type: ignore[arg-type]
            assert record.state == "done" and record.status_code == 201
            await session.execute(update(IdempotencyRecord).where(
                IdempotencyRecord.key == key["Idempotency-Key"])  # type: ignore[arg-type]
                .values(created_at=record.created_at - timedelta(hours=24, minutes=1)))
        # Past 24 h the key is free again: the request runs (and meets the duplicate order number).
        later = await client.post("/v1/orders", json=body, headers={**auth(SERVICE), **key})
        assert later.status_code == 409 and "idempotent-replayed" not in later.headers

    async def test_bad_key_is_400(self, client: httpx.AsyncClient) -> None:
        resp = await client.post("/v1/orders", json=order_body(),
                                 headers={**auth(SERVICE), "Idempotency-Key": "k" * 300})
        assert resp.status_code == 400 and resp.headers["content-type"].startswith("application/problem+json")


class TestCrashBetweenCommitAndAnswer:
    async def test_a_committed_request_whose_answer_was_lost_is_never_run_again(
            self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        from services.common import idempotency

        async def dies_before_storing(self: Any, *args: Any) -> None:
            return None  # the process stopped right after the request's commit

        monkeypatch.setattr(idempotency.IdempotencyMiddleware, "_store", dies_before_storing)
        key = f"crash-{uuid.uuid4().hex}"
        body = order_body()
        first = await client.post("/v1/orders", json=body, headers={**auth(AGENT), "Idempotency-Key": key})
        assert first.status_code == 201
        monkeypatch.undo()
        async with app.state.sessionmaker() as session:
            record = (await session.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == key))).scalar_one()
        assert record.state == "committed"  # marked in the order's own transaction
        soon = await client.post("/v1/orders", json=body, headers={**auth(AGENT), "Idempotency-Key": key})
        assert soon.status_code == 409 and soon.headers.get("retry-after")  # its lock still holds
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(IdempotencyRecord).where(IdempotencyRecord.key == key)
                                  .values(locked_until=utcnow() - timedelta(seconds=1)))
        later = await client.post("/v1/orders", json=body, headers={**auth(AGENT), "Idempotency-Key": key})
        assert later.status_code == 409 and later.json()["type"].endswith("idempotency-answer-lost")
        found = await client.get("/v1/orders", params={"order_number": body["order_number"]}, headers=auth(AGENT))
        assert found.json()["count"] == 1  # carried out once, never twice

    async def test_a_request_that_failed_after_its_own_commit_says_so_at_once(
            self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        # Recording a crypto payment commits it, then asks the chain. When what follows fails, the retry must hear
        # "carried out, answer lost" at once, not "being processed" until the claim's lock runs out.
        from services.orders import flows

        async def chain_call_breaks(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the process broke after the commit")

        order = (await client.post("/v1/orders", json=order_body(currency="USDT"), headers=auth(AGENT))).json()
        body = {"method": "crypto", "amount": order["total"], "currency": "USDT", "status": "pending",
                "crypto": {"chain": "eth", "tx_hash": "0x" + uuid.uuid4().hex * 2, "token": "USDT"}}
        headers = {**auth(AGENT), "Idempotency-Key": f"late-{uuid.uuid4().hex}"}
        monkeypatch.setattr(flows, "ask_chain", chain_call_breaks)
        first = await client.post(f"/v1/orders/{order['id']}/payments", json=body, headers=headers)
        monkeypatch.undo()
        assert first.status_code == 500, first.text
        again = await client.post(f"/v1/orders/{order['id']}/payments", json=body, headers=headers)
        assert again.status_code == 409 and again.json()["type"].endswith("idempotency-answer-lost"), again.text
        payments = await client.get(f"/v1/orders/{order['id']}/payments", headers=auth(AGENT))
        assert len(payments.json()["items"]) == 1  # carried out once, never twice
