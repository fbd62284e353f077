"""Health, readiness, metrics, request ids, the embedded wallet app, and migrations without drift."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.settings import Settings
from services.orders.channels import models as channel_models  # noqa: F401  (registers its tables)
from services.orders.models import metadata
from tests.conftest import AGENT, auth


class TestOperations:
    async def test_health_ready_metrics(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["database"] is True
        await client.get("/v1/orders/ord_x", headers=auth(AGENT))
        metrics = (await client.get("/metrics")).text
        assert 'route="/v1/orders/{order_id}"' in metrics
        assert "http_request_duration_seconds_bucket" in metrics

    async def test_request_id_round_trip(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert resp.headers["x-request-id"] == "abc-123"
        assert len((await client.get("/healthz")).headers["x-request-id"]) == 32

    async def test_wallet_mounted_in_one_process(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/wallet/v1/chains", headers=auth(AGENT))
        assert resp.status_code == 200
        chains = {c["key"]: c for c in resp.json()["items"]}
        assert {"eth", "bsc", "polygon", "tron"} <= set(chains)
        bsc_usdt = next(t for t in chains["bsc"]["tokens"] if t["symbol"] == "USDT")
        assert bsc_usdt["decimals"] == 18
        assert (await client.get("/wallet/healthz")).status_code == 200
        assert (await client.get("/wallet/v1/chains")).status_code == 401

    async def test_unknown_route_is_problem(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/v1/nothing-here", headers=auth(AGENT))
        assert resp.status_code == 404
        assert resp.headers["content-type"] == "application/problem+json"

    async def test_openapi_refs_all_resolve(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        assert "/v1/orders" in spec["paths"] and "/v1/tracking/events" in spec["paths"]
        refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
        assert "TrackingBatch" in refs
        assert refs <= set(spec["components"]["schemas"]), refs - set(spec["components"]["schemas"])
        wallet = (await client.get("/wallet/openapi.json")).json()
        assert "/v1/payments/verify" in wallet["paths"]


class TestMigrations:
    async def test_models_match_migrations(self, settings: Settings) -> None:
        engine = create_async_engine(settings.database_url)

        def diff(conn: object) -> list[object]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})  # type: ignore[arg-type]
            return list(compare_metadata(ctx, metadata))

        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
        await engine.dispose()
        assert changes == []

    async def test_concurrent_duplicate_orders_store_one(self, client: httpx.AsyncClient) -> None:
        from tests.factories import order_body

        body = order_body()
        results = await asyncio.gather(*(client.post("/v1/orders", json=body, headers=auth(AGENT)) for _ in range(5)))
        codes = sorted(r.status_code for r in results)
        assert codes.count(201) == 1 and codes.count(409) == 4
