"""The fast read path (issue #15): same bodies as before, fresh data, no thread hops, read-only sessions, and
`serve --workers N`. On SQLite and on PostgreSQL."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import services.cli as cli
from services.common import auth as auth_module
from services.common.db import read_session, read_sessionmaker
from services.orders import repository as repo
from services.orders.models import Ticket
from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, SERVICE, auth
from tests.factories import order_body


async def make_order(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/v1/orders", json=order_body(**overrides), headers=auth(SERVICE))
    assert resp.status_code == 201, resp.text
    return resp.json()


class TestOrderRead:
    async def test_body_is_the_one_the_create_returned(self, client: httpx.AsyncClient) -> None:
        items = [{"sku": "A-1", "name": "Cable", "category": "Electronics", "quantity": 3, "unit_price": "19.90"},
                 {"sku": "B-2", "name": "Case", "category": "apparel", "quantity": 1, "unit_price": "0.005"}]
        created = await make_order(client, items=items)
        resp = await client.get(f"/v1/orders/{created['id']}", headers=auth(CUSTOMER_1))
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        body = resp.json()
        assert body == created
        assert [(i["sku"], i["line_total"]) for i in body["items"]] == [("A-1", "59.70"), ("B-2", "0.005")]
        assert body["item_count"] == 4 and body["total"] == "59.705"
        assert body["shipping_address"]["lat"] == 31.2304 and body["placed_at"] == "2026-11-01T02:00:00Z"

    async def test_other_customer_and_unknown_are_404(self, client: httpx.AsyncClient) -> None:
        created = await make_order(client)
        assert (await client.get(f"/v1/orders/{created['id']}", headers=auth(CUSTOMER_2))).status_code == 404
        missing = await client.get("/v1/orders/ord_nope", headers=auth(AGENT))
        assert missing.status_code == 404 and missing.json()["status"] == 404

    async def test_list_still_documents_and_returns_orders(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        created = await make_order(client)
        listed = await client.get("/v1/orders", params={"order_number": created["order_number"]},
                                  headers=auth(AGENT))
        assert listed.status_code == 200 and listed.json() == {"items": [created], "count": 1}
        spec = app.openapi()["paths"]
        for path in ("/v1/orders/{order_id}", "/v1/orders", "/v1/orders/{order_id}/diagnosis"):
            schema = spec[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            assert schema["$ref"].rsplit("/", 1)[1] in ("OrderPublic", "OrderList", "DiagnosisPublic"), path


class TestNoThreadHops:
    def test_auth_dependencies_are_coroutines(self) -> None:
        assert inspect.iscoroutinefunction(auth_module.current_principal)
        check = auth_module.require("agent").dependency  # type: ignore[attr-defined]
        assert inspect.iscoroutinefunction(check)

    async def test_hot_reads_never_enter_the_threadpool(self, client: httpx.AsyncClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        import fastapi.dependencies.utils as dep_utils
        import fastapi.routing as routing

        created = await make_order(client)
        hops: list[str] = []
        for module in (dep_utils, routing):
            original = module.run_in_threadpool

            async def counting(func: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                hops.append(getattr(func, "__name__", repr(func)))
                return await _original(func, *args, **kwargs)

            monkeypatch.setattr(module, "run_in_threadpool", counting)
        for path in (f"/v1/orders/{created['id']}", f"/v1/orders/{created['id']}/diagnosis"):
            assert (await client.get(path, headers=auth(AGENT))).status_code == 200
        assert hops == []


class TestFreshness:
    async def test_diagnosis_reflects_an_event_committed_before_the_request(self, client: httpx.AsyncClient,
                                                                           unique: str) -> None:
        order = await make_order(client)
        await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE),
                          json={"method": "card", "amount": order["total"], "currency": "CNY",
                                "status": "succeeded"})
        tracking = f"FR{unique[:10].upper()}"
        shipment = await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                                     json={"carrier": "sf-express", "tracking_number": tracking})
        assert shipment.status_code == 201, shipment.text
        url = f"/v1/orders/{order['id']}/diagnosis"
        before = (await client.get(url, headers=auth(AGENT))).json()
        assert "return_window_open" not in {f["code"] for f in before["findings"]}
        delivered = datetime.now(UTC) - timedelta(hours=1)
        ingest = await client.post("/v1/tracking/events", headers=auth(SERVICE), json={
            "carrier": "sf-express", "tracking_number": tracking,
            "events": [{"event_id": "d", "status": "delivered", "occurred_at": delivered.isoformat(),
                        "location": {"lat": 31.2305, "lon": 121.5061}}]})
        assert ingest.status_code == 200, ingest.text
        after = (await client.get(url, headers=auth(AGENT))).json()
        assert after != before
        assert "return_window_open" in {f["code"] for f in after["findings"]}
        # And the plain read sees a status written just before it.
        moved = await client.patch(f"/v1/orders/{order['id']}", json={"status": "delivered"}, headers=auth(AGENT))
        assert moved.status_code == 200, moved.text
        assert (await client.get(f"/v1/orders/{order['id']}", headers=auth(AGENT))).json()["status"] == "delivered"


class TestReadOnlySession:
    async def test_cannot_write(self, app: FastAPI) -> None:
        async with read_sessionmaker(app)() as session:
            session.add(Ticket(customer_id="c-x", type="order_status", channel="chat", status="open",
                               description="never stored", lang="en"))
            with pytest.raises(RuntimeError, match="read-only"):
                await session.flush()

    async def test_only_an_untouched_session_is_handed_to_the_next_request(self, app: FastAPI) -> None:
        request = SimpleNamespace(app=app)
        async with read_session(request) as untouched:  # type: ignore[arg-type]
            pass
        async with read_session(request) as again:  # type: ignore[arg-type]
            assert again is untouched
            await repo.order_by_id(again, "ord_nothing_here")  # starts it (SQLite) or not (autocommit PostgreSQL)
            used = again.in_transaction()
        async with read_session(request) as third:  # type: ignore[arg-type]
            assert (third is not again) == used
            third.add(Ticket(customer_id="c-x", type="order_status", channel="chat", status="open",
                             description="never stored", lang="en"))
        async with read_session(request) as fourth:  # type: ignore[arg-type]
            assert fourth is not third and not fourth.new

    async def test_postgresql_reads_run_without_a_transaction(self, app: FastAPI) -> None:
        engine = read_sessionmaker(app).kw["bind"]
        expected = "AUTOCOMMIT" if app.state.engine.dialect.name == "postgresql" else None
        assert engine.get_execution_options().get("isolation_level") == expected


class TestServeWorkers:
    def test_several_processes_share_one_port_through_the_app_factory(self, monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Any) -> None:
        calls: list[tuple[Any, dict[str, Any]]] = []
        monkeypatch.setattr(cli.uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
        monkeypatch.setenv("API_KEYS", f"{AGENT}:agent")
        monkeypatch.setenv("MIGRATE_ON_START", "false")
        monkeypatch.setenv("RUN_WORKER_IN_PROCESS", "false")
        cli.get_settings.cache_clear()
        try:
            cli.serve(which=cli.Which.orders, host="127.0.0.1", port=18999, workers=2)
            target, kw = calls[-1]
            assert target == "services.cli:worker_process_app" and kw["factory"] is True and kw["workers"] == 2
            app = cli.worker_process_app()  # what each process builds
            assert app.title == "order-support: orders"
            cli.serve(which=cli.Which.orders, host="127.0.0.1", port=18999, workers=1)
            assert isinstance(calls[-1][0], FastAPI)
        finally:
            cli.get_settings.cache_clear()
