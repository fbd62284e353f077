"""Ingest 200,000 tracking events in batches of 500 into PostgreSQL: the service path (HTTP API in process:
auth, validation, dedup by the unique constraint, shipment status folding, one commit per batch) against a
raw bulk insert of the same rows (asyncpg copy_records_to_table, one transaction per batch), in one run.

Target: service events/s >= 40% of raw events/s.   Run: make bench-ingest (or python bench/ingest.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_KEY, bench_database, raw_dsn
from services.orders.main import create_app
from services.orders.repository import EVENT_COLUMNS
from services.orders.tracking.ingest import event_record
from services.orders.tracking.normalized import NormalizedEvent

STATUSES = ["info_received", "in_transit", "in_transit", "out_for_delivery", "in_transit"]
BASE = datetime(2026, 11, 1, tzinfo=UTC)


def make_batches(total: int, size: int) -> list[dict[str, Any]]:
    batches = []
    for b in range(total // size):
        events = [{"event_id": f"e-{b}-{i}", "status": STATUSES[i % len(STATUSES)],
                   "occurred_at": (BASE + timedelta(minutes=b * size + i)).isoformat(),
                   "description": "Departed sorting center",
                   "location": {"city": "Shanghai", "postal_code": "200000", "country": "CN",
                                "lat": 31.23, "lon": 121.47}} for i in range(size)]
        batches.append({"carrier": "sf-express", "tracking_number": f"SFBENCH{b:08d}", "events": events})
    return batches


async def service_path(settings: Any, batches: list[dict[str, Any]], concurrency: int) -> float:
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        # Half of the parcels are registered first, so the run also folds shipment status.
        order = await client.post("/v1/orders", headers=headers, json={
            "order_number": "BENCH-1", "customer": {"id": "c-bench"}, "currency": "CNY",
            "placed_at": "2026-11-01T00:00:00Z",
            "items": [{"sku": "S", "name": "n", "quantity": 1, "unit_price": "1.00"}]})
        for batch in batches[::2]:
            await client.post(f"/v1/orders/{order.json()['id']}/shipments", headers=headers,
                              json={"carrier": "sf-express", "tracking_number": batch["tracking_number"]})
        # Bodies are encoded before the clock starts, as the raw path's rows are prepared before its clock.
        bodies = [json.dumps(batch).encode() for batch in batches]
        post_headers = {**headers, "content-type": "application/json"}
        queue = list(reversed(bodies))

        async def sender() -> None:
            while queue:
                resp = await client.post("/v1/tracking/events", headers=post_headers, content=queue.pop())
                assert resp.status_code == 200 and resp.json()["results"][0]["duplicates"] == 0, resp.text

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        # Replaying everything stores nothing new: the dedup is real.
        resp = await client.post("/v1/tracking/events", headers=headers, json=batches[0])
        assert resp.json()["results"][0]["duplicates"] == len(batches[0]["events"])
    return elapsed


async def raw_path(settings: Any, batches: list[dict[str, Any]], concurrency: int) -> float:
    conn = await asyncpg.connect(raw_dsn(settings))
    pool = await asyncpg.create_pool(raw_dsn(settings), min_size=concurrency, max_size=concurrency)
    # The same rows as the service stored, shipment links included (their foreign keys are checked too).
    shipment_of = dict(await conn.fetch("SELECT tracking_number, id FROM shipments"))
    await conn.execute("TRUNCATE tracking_events")
    columns = list(EVENT_COLUMNS)
    prepared = []
    for batch in batches:
        rows = []
        for e in batch["events"]:
            event = NormalizedEvent(status=e["status"], occurred_at=datetime.fromisoformat(e["occurred_at"]),
                                    event_id=e["event_id"], description=e["description"], location=e["location"])
            record = list(event_record("sf-express", batch["tracking_number"], event,
                                       shipment_of.get(batch["tracking_number"]), "raw", datetime.now(UTC)))
            record[columns.index("location")] = json.dumps(record[columns.index("location")])
            rows.append(tuple(record))
        prepared.append(rows)
    queue = list(reversed(prepared))

    async def copier() -> None:
        async with pool.acquire() as pooled:
            while queue:
                rows = queue.pop()
                async with pooled.transaction():
                    await pooled.copy_records_to_table("tracking_events", records=rows, columns=columns)

    started = time.perf_counter()
    await asyncio.gather(*(copier() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    count = await conn.fetchval("SELECT count(*) FROM tracking_events")
    assert count == sum(len(r) for r in prepared), count
    await conn.close()
    return elapsed


async def main(total: int, size: int, concurrency: int) -> None:
    batches = make_batches(total, size)
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_database(Path(tmp)) as settings:
            service_s = await service_path(settings, batches, concurrency)
            raw_s = await raw_path(settings, batches, concurrency)
    service_rate, raw_rate = total / service_s, total / raw_s
    print(f"events: {total:,} in batches of {size}, {concurrency} concurrent senders on each path")
    print(f"service path (HTTP API, dedup, status fold, commit per batch): {service_rate:,.0f} events/s "
          f"({service_s:.2f} s)")
    print(f"raw path (asyncpg copy_records_to_table, commit per batch):   {raw_rate:,.0f} events/s ({raw_s:.2f} s)")
    ratio = service_rate / raw_rate
    print(f"ratio service/raw: {ratio:.2f}  (target >= 0.40: {'met' if ratio >= 0.40 else 'NOT met'})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1, help="senders at once, the same on both paths")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch, args.concurrency))
