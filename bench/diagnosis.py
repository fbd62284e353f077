"""Diagnosis against the plain order read, on one real server, in one run.

Seeds PostgreSQL with 100,000 orders (items, payments and their history, shipments) and 1,000,000 carrier
events, starts `order-support serve orders` (uvicorn, one process), then drives it with 32 concurrent clients:
first GET /v1/orders/{id}, then GET /v1/orders/{id}/diagnosis, each for the same duration over random orders.

Target: diagnosis requests/s >= 50% of the plain read's.   Run: make bench-diagnosis
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BENCH_KEY, bench_database, raw_dsn  # noqa: E402

STATUSES = ["info_received", "in_transit", "in_transit", "in_transit", "out_for_delivery"]
NOW = datetime.now(UTC)
ADDRESS = json.dumps({"recipient": "Li Lei", "line1": "88 Century Ave", "city": "Shanghai", "region": "Shanghai",
                      "postal_code": "200120", "country": "CN", "lat": 31.2304, "lon": 121.5060})


async def seed(dsn: str, orders: int, events_per_order: int) -> list[str]:
    conn = await asyncpg.connect(dsn)
    ids = [f"ord_bench{n:08d}" for n in range(orders)]
    chunk = 10_000
    for start in range(0, orders, chunk):
        part = range(start, min(start + chunk, orders))
        order_rows, item_rows, pay_rows, ship_rows, event_rows = [], [], [], [], []
        hist_rows: list[tuple[str, str | None, str, str, datetime]] = []
        for n in part:
            placed = NOW - timedelta(days=10, minutes=n % 5000)
            delivered = n % 3 == 0
            oid, pid, sid = ids[n], f"pay_bench{n:08d}", f"shp_bench{n:08d}"
            order_rows.append((oid, f"BENCH-{n:08d}", f"c-{n % 20000}", None, None, None, "CNY",
                               "delivered" if delivered else "shipped", Decimal("499.00"), placed, ADDRESS, placed,
                               placed))
            item_rows.append((oid, "HW-1", "Hardware wallet", "electronics", 1, Decimal("499.00")))
            pay_rows.append((pid, oid, "card", Decimal("499.00"), "CNY", "succeeded", None, placed, placed))
            hist_rows.append((pid, None, "pending", "api", placed))
            hist_rows.append((pid, "pending", "succeeded", "api", placed + timedelta(minutes=1)))
            last = placed + timedelta(hours=events_per_order * 6)
            ship_rows.append((sid, oid, "sf-express", f"SFB{n:010d}", "delivered" if delivered else "in_transit",
                              last, last if delivered else None, placed, placed))
            for i in range(events_per_order):
                is_last = i == events_per_order - 1
                status = "delivered" if delivered and is_last else STATUSES[i % len(STATUSES)]
                location = json.dumps({"lat": 31.2305, "lon": 121.5061}) if status == "delivered" else None
                event_rows.append(("sf-express", f"SFB{n:010d}", f"id:e{i}", f"e{i}", sid, status, None, status,
                                   placed + timedelta(hours=(i + 1) * 6), "scan", location, "bench", placed))
        await conn.copy_records_to_table("orders", records=order_rows, columns=[
            "id", "order_number", "customer_id", "customer_email", "customer_phone", "customer_name", "currency",
            "status", "total", "placed_at", "shipping_address", "created_at", "updated_at"])
        await conn.copy_records_to_table("order_items", records=item_rows, columns=[
            "order_id", "sku", "name", "category", "quantity", "unit_price"])
        await conn.copy_records_to_table("payments", records=pay_rows, columns=[
            "id", "order_id", "method", "amount", "currency", "status", "failure_code", "created_at", "updated_at"])
        await conn.copy_records_to_table("payment_status_history", records=hist_rows, columns=[
            "payment_id", "from_status", "to_status", "source", "occurred_at"])
        await conn.copy_records_to_table("shipments", records=ship_rows, columns=[
            "id", "order_id", "carrier", "tracking_number", "status", "last_event_at", "delivered_at", "created_at",
            "updated_at"])
        await conn.copy_records_to_table("tracking_events", records=event_rows, columns=[
            "carrier", "tracking_number", "dedup_key", "event_id", "shipment_id", "status", "substatus", "raw_status",
            "occurred_at", "description", "location", "source", "received_at"])
    # VACUUM now, not autovacuum in the middle of a measured run: it also sets the rows' hint bits and the
    # visibility map, which the first reads would otherwise write back while being timed.
    await conn.execute("VACUUM (ANALYZE)")
    await conn.execute("CHECKPOINT")
    counts = await conn.fetchrow("SELECT (SELECT count(*) FROM orders) o, (SELECT count(*) FROM tracking_events) e")
    await conn.close()
    print(f"seeded {counts['o']:,} orders and {counts['e']:,} tracking events")
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(base + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not become ready")


async def load(base: str, paths: list[str], clients: int, seconds: float) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds
        rng = random.Random(7)

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                path = rng.choice(paths)
                started = time.perf_counter()
                resp = await client.get(path)
                latencies.append(time.perf_counter() - started)
                if resp.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


async def main(orders: int, events: int, clients: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_database(Path(tmp)) as settings:
            ids = await seed(raw_dsn(settings), orders, events // orders)
            port = free_port()
            env = {**os.environ, "DATABASE_URL": settings.database_url, "API_KEYS": f"{BENCH_KEY}:agent",
                   "LOG_LEVEL": "WARNING", "RUN_WORKER_IN_PROCESS": "false", "MIGRATE_ON_START": "false"}
            server = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.cli", "serve", "orders", "--port", str(port), env=env, cwd=ROOT)
            try:
                base = f"http://127.0.0.1:{port}"
                await wait_ready(base)
                sample = random.Random(1).sample(ids, min(20_000, len(ids)))
                plain_paths = [f"/v1/orders/{i}" for i in sample]
                diag_paths = [f"/v1/orders/{i}/diagnosis" for i in sample]
                await load(base, plain_paths[:500], clients, 2)  # warm-up
                await load(base, diag_paths[:500], clients, 2)
                plain_rps, plain_lat, plain_err = await load(base, plain_paths, clients, seconds)
                diag_rps, diag_lat, diag_err = await load(base, diag_paths, clients, seconds)
            finally:
                server.terminate()
                await asyncio.wait_for(server.wait(), timeout=20)
    print(f"{clients} concurrent clients, {seconds:.0f} s each, one uvicorn process, PostgreSQL")
    print(f"GET /v1/orders/{{id}}:           {plain_rps:8.1f} req/s  p50 {pct(plain_lat, 50):6.1f} ms  "
          f"p99 {pct(plain_lat, 99):6.1f} ms  errors {plain_err}")
    print(f"GET /v1/orders/{{id}}/diagnosis: {diag_rps:8.1f} req/s  p50 {pct(diag_lat, 50):6.1f} ms  "
          f"p99 {pct(diag_lat, 99):6.1f} ms  errors {diag_err}")
    ratio = diag_rps / plain_rps
    print(f"ratio diagnosis/plain: {ratio:.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.events, args.clients, args.seconds))
