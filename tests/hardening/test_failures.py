"""Bad days: the database down is a 503 problem with Retry-After on every route (never a 500); an unexpected
error is one log record with the request id and no personal data; a client gone mid-body is not a 500."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.errors import ScrubFilter, scrub
from services.common.observability import _RequestIdFilter
from services.orders import service as orders_service
from tests.conftest import AGENT, SERVICE, auth, make_settings, require_postgres
from tests.factories import order_body

EMAIL, PHONE = "secret.customer@example.org", "+8613912345678"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The service's own log handler (JSON, request id, scrubbing) writing into a buffer."""
    from pythonjsonlogger.json import JsonFormatter

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"))
    handler.addFilter(_RequestIdFilter())
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_level)


def _records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


async def _down_app(url: str, tmp: Path) -> AsyncIterator[httpx.AsyncClient]:
    from services.cli import build_app

    application = build_app(None, make_settings(url, tmp))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
async def test_database_down_is_503_everywhere(kind: str, tmp_path: Path, captured_logs: io.StringIO) -> None:
    if kind == "postgres":
        await require_postgres()
        url = "postgresql+asyncpg://postgres@127.0.0.1:9/nothing"  # a closed port
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}"  # cannot be opened
    async for client in _down_app(url, tmp_path):
        calls: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", "/v1/orders/ord_1", None), ("GET", "/v1/orders", None),
            ("POST", "/v1/orders", order_body()), ("GET", "/v1/orders/ord_1/diagnosis", None),
            ("GET", "/v1/tickets", None), ("POST", "/v1/tickets", {"type": "order_status", "channel": "chat",
                                                                  "description": "x"}),
            ("GET", "/v1/payments/pay_1", None), ("PATCH", "/v1/orders/ord_1", {"status": "paid"}),
        ]
        for method, path, body in calls:
            resp = await client.request(method, path, json=body, headers=auth(AGENT))
            assert resp.status_code == 503, (method, path, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert int(resp.headers["retry-after"]) > 0 and resp.json()["type"].endswith("database-unavailable")
        keyed = await client.post("/v1/orders", json=order_body(), headers={**auth(SERVICE),
                                                                          "Idempotency-Key": "down-1"})
        assert keyed.status_code == 503 and keyed.headers["retry-after"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503
    assert not [r for r in _records(captured_logs) if r.get("message") == "unhandled error"]


async def test_unexpected_error_logged_once_with_request_id_and_no_personal_data(
        client: httpx.AsyncClient, app: FastAPI, captured_logs: io.StringIO,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any, body: Any, **__: Any) -> Any:
        raise RuntimeError(f"cannot place order for {body.customer.email} / {body.customer.phone}")

    monkeypatch.setattr(orders_service, "create_order", broken)
    body = order_body(customer={"id": "c-1001", "email": EMAIL, "phone": PHONE})
    resp = await client.post("/v1/orders", json=body, headers={**auth(SERVICE), "X-Request-Id": "req-boom-1"})
    assert resp.status_code == 500 and resp.headers["x-request-id"] == "req-boom-1"
    assert resp.json()["type"].endswith("internal") and EMAIL not in resp.text
    records = [r for r in _records(captured_logs) if r.get("level", r.get("levelname")) == "ERROR"]
    assert len(records) == 1, records
    assert records[0]["request_id"] == "req-boom-1" and "RuntimeError" in records[0]["error"]
    text = captured_logs.getvalue()
    assert EMAIL not in text and PHONE not in text and "8613912345678" not in text


async def test_database_error_with_parameters_is_scrubbed(
        client: httpx.AsyncClient, app: FastAPI, captured_logs: io.StringIO,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text as sql

    async def failing(session: Any, *, body: Any) -> Any:
        # A statement that fails on both databases, carrying the customer's data as parameters.
        await session.execute(sql("INSERT INTO no_such_table (email, phone) VALUES (:e, :p)"),
                              {"e": body.customer.email, "p": body.customer.phone})

    monkeypatch.setattr(orders_service, "create_order", failing)
    body = order_body(customer={"id": "c-1001", "email": EMAIL, "phone": PHONE})
    resp = await client.post("/v1/orders", json=body, headers=auth(SERVICE))
    assert resp.status_code == 500
    text = captured_logs.getvalue()
    assert "no_such_table" in text  # the error is there...
    assert EMAIL not in text and PHONE not in text  # ...the customer is not


def test_scrub_and_filter_cover_other_loggers(captured_logs: io.StringIO) -> None:
    assert scrub(f"Key (email)=({EMAIL}) already exists.") == "Key (email)=(…) already exists."
    assert EMAIL not in scrub(f"to {EMAIL}") and PHONE not in scrub(f"call {PHONE}")
    try:
        raise ValueError(f"worker failed for {EMAIL} {PHONE}")
    except ValueError:
        logging.getLogger("order_support.worker").exception("job failed for %s", EMAIL)
    text = captured_logs.getvalue()
    assert "ValueError" in text and "job failed" in text
    assert EMAIL not in text and PHONE not in text


async def test_client_gone_mid_body_is_not_a_500(app: FastAPI, captured_logs: io.StringIO) -> None:
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b'{"order_number": "X', "more_body": True},
              {"type": "http.disconnect"}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for path, headers in (("/v1/orders", []), ("/v1/orders", [(b"idempotency-key", b"gone-1")]),
                          ("/v1/tracking/events", [])):
        chunks[:] = [{"type": "http.request", "body": b'{"order_number": "X', "more_body": True},
                     {"type": "http.disconnect"}]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
                 "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                             (b"authorization", f"Bearer {SERVICE}".encode()), *headers]}
        await asyncio.wait_for(app(scope, receive, send), 10)
    starts = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert 500 not in starts, starts
    assert not [r for r in _records(captured_logs) if r.get("level", r.get("levelname")) == "ERROR"]
