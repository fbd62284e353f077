"""The service under many concurrent clients on a realistic mix: order reads, diagnoses, carrier tracking
batches and new tickets, against one `order-support serve orders` process (or `--workers N`).

PostgreSQL (default): 200 clients for 60 s on the 100,000-order / 1,000,000-event database. Targets: p99 <= 1 s,
0 requests over 5 s, 0 errors. SQLite (`--sqlite`): 32 clients on the same mix against the default SQLite
file; target 0 "database is locked". The load comes from wrk (one connection per client, each sending its
next request when the last is answered); the server's log is searched for errors afterwards.

Run: make bench-load   (or python bench/load.py [--sqlite] [--seconds 20] [--clients N] [--workers N])
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BENCH_KEY, bench_database, raw_dsn  # noqa: E402
from bench.diagnosis import ADDRESS, STATUSES, free_port, seed  # noqa: E402
from bench.floor import ensure_wrk, server  # noqa: E402

# wrk drives the mix: each request picks its kind by weight and a random seeded order.
MIX_SCRIPT = """
local orders = {%(orders)s}
local tracking = {%(tracking)s}
local n = #orders
local w_read, w_diag, w_track = %(read)d, %(read)d + %(diag)d, %(read)d + %(diag)d + %(track)d
local seq = 0
local tag = ""
local post_headers = {}
local threads = {}
codes = {}
first_error = ""

setup = function(thread)
  table.insert(threads, thread)
end

response = function(status, headers, body)
  if status >= 300 then
    codes[status] = (codes[status] or 0) + 1
    if first_error == "" then first_error = string.sub(tostring(status) .. " " .. (body or ""), 1, 300) end
  end
end

init = function(args)
  math.randomseed(os.time() + math.random(1, 1000000))
  tag = string.format("%%08x%%04x", math.random(0, 0x7fffffff), math.random(0, 0xffff))
  wrk.headers["Authorization"] = "Bearer %(key)s"
  post_headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
end

request = function()
  local r = math.random(100)
  local i = math.random(n)
  if r <= w_read then
    return wrk.format("GET", "/v1/orders/" .. orders[i])
  elseif r <= w_diag then
    return wrk.format("GET", "/v1/orders/" .. orders[i] .. "/diagnosis")
  elseif r <= w_track then
    seq = seq + 1
    local t = os.time() - math.random(3600, 86400)
    local events = {}
    for k = 1, 3 do
      events[k] = string.format('{"event_id":"ld-%%s-%%d-%%d","status":"in_transit","occurred_at":"%%s",' ..
        '"description":"Departed sorting center","location":{"city":"Shanghai","country":"CN"}}',
        tag, seq, k, os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", t + k * 60))
    end
    local body = string.format('{"carrier":"sf-express","tracking_number":"%%s","events":[%%s]}',
      tracking[i], table.concat(events, ","))
    return wrk.format("POST", "/v1/tracking/events", post_headers, body)
  else
    local body = string.format('{"type":"not_received","channel":"chat","order_id":"%%s",' ..
      '"description":"Where is my parcel? It says delivered but nothing arrived."}', orders[i])
    return wrk.format("POST", "/v1/tickets", post_headers, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local over = e.timeout
  if latency.max > 5000000 then
    local lo, hi = 0.0, 100.0
    for _ = 1, 40 do
      local mid = (lo + hi) / 2
      if latency:percentile(mid) > 5000000 then hi = mid else lo = mid end
    end
    over = over + math.ceil(summary.requests * (100 - hi) / 100)
  end
  local merged = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("codes")) do merged[code] = (merged[code] or 0) + count end
    local sample = t:get("first_error")
    if sample ~= "" then io.write("FIRST_ERROR " .. string.gsub(sample, "\\n", " ") .. "\\n") end
  end
  for code, count in pairs(merged) do io.write(string.format("STATUS %%d %%d\\n", code, count)) end
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99),
    latency.max, over))
end
"""


def sqlite_seed(url: str, orders: int, events_per_order: int) -> list[str]:
    """The same rows as bench/diagnosis.py's PostgreSQL seed, through SQLAlchemy (SQLite has no COPY)."""
    from sqlalchemy import create_engine

    from services.orders.models import Order, OrderItem, Payment, PaymentStatusHistory, Shipment, TrackingEvent

    now = datetime.now(UTC)
    address = json.loads(ADDRESS)
    engine = create_engine(url.replace("sqlite+aiosqlite://", "sqlite://"))
    ids = [f"ord_bench{n:08d}" for n in range(orders)]
    with engine.begin() as conn:
        for start in range(0, orders, 2000):
            rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in (Order, OrderItem, Payment, PaymentStatusHistory,
                                                                     Shipment, TrackingEvent)}
            for n in range(start, min(start + 2000, orders)):
                placed = now - timedelta(days=10, minutes=n % 5000)
                delivered = n % 3 == 0
                oid, pid, sid = ids[n], f"pay_bench{n:08d}", f"shp_bench{n:08d}"
                rows[Order].append(dict(id=oid, order_number=f"BENCH-{n:08d}", customer_id=f"c-{n % 20000}",
                                        currency="CNY", status="delivered" if delivered else "shipped",
                                        total=Decimal("499.00"), placed_at=placed, shipping_address=address,
                                        created_at=placed, updated_at=placed))
                rows[OrderItem].append(dict(order_id=oid, sku="HW-1", name="Hardware wallet", category="electronics",
                                            quantity=1, unit_price=Decimal("499.00")))
                rows[Payment].append(dict(id=pid, order_id=oid, method="card", amount=Decimal("499.00"),
                                          currency="CNY", status="succeeded", created_at=placed, updated_at=placed))
                rows[PaymentStatusHistory] += [
                    dict(payment_id=pid, from_status=None, to_status="pending", source="api", occurred_at=placed),
                    dict(payment_id=pid, from_status="pending", to_status="succeeded", source="api",
                         occurred_at=placed + timedelta(minutes=1))]
                last = placed + timedelta(hours=events_per_order * 6)
                rows[Shipment].append(dict(id=sid, order_id=oid, carrier="sf-express", tracking_number=f"SFB{n:010d}",
                                           status="delivered" if delivered else "in_transit", last_event_at=last,
                                           delivered_at=last if delivered else None, created_at=placed,
                                           updated_at=placed))
                for i in range(events_per_order):
                    is_last = i == events_per_order - 1
                    status = "delivered" if delivered and is_last else STATUSES[i % len(STATUSES)]
                    rows[TrackingEvent].append(dict(
                        carrier="sf-express", tracking_number=f"SFB{n:010d}", dedup_key=f"id:e{i}", event_id=f"e{i}",
                        shipment_id=sid, status=status, substatus=None, raw_status=status,
                        occurred_at=placed + timedelta(hours=(i + 1) * 6), description="scan",
                        location={"lat": 31.2305, "lon": 121.5061} if status == "delivered" else None,
                        source="bench", received_at=placed))
            for model, batch in rows.items():
                conn.execute(model.__table__.insert(), batch)  # type: ignore[attr-defined]
    engine.dispose()
    print(f"seeded {orders:,} orders and {orders * events_per_order:,} tracking events (SQLite)")
    return ids


def run_wrk_mix(wrk: str, base: str, ids: list[str], args: argparse.Namespace, tmp: Path,
                seconds: float) -> dict[str, float]:
    sample = random.Random(5).sample(range(len(ids)), min(20_000, len(ids)))
    read, diag, track, _ = args.mix
    script = tmp / "mix.lua"
    script.write_text(MIX_SCRIPT % {
        "orders": ",".join(f'"{ids[i]}"' for i in sample),
        "tracking": ",".join(f'"SFB{int(ids[i][9:]):010d}"' for i in sample),
        "read": read, "diag": diag, "track": track, "key": BENCH_KEY})
    threads = 2 if args.clients >= 64 else 1
    done = subprocess.run([wrk, f"-t{threads}", f"-c{args.clients}", f"-d{max(1, round(seconds))}s", "--timeout", "60s",
                          "-s", str(script), base], capture_output=True, text=True, check=True)
    out = done.stdout
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}\n{done.stderr}")
    requests, duration, status_errors, socket_errors, p50, p99, worst, over = map(int, match.groups())
    statuses = ", ".join(f"{code}: {count}" for code, count in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M))
    for line in re.findall(r"^FIRST_ERROR (.*)$", out, re.M)[:2]:
        print(f"  first error answer: {line[:300]}")
    if statuses:
        print(f"  error answers by status: {statuses}")
    return {"requests": requests, "rps": requests / (duration / 1e6), "p50": p50 / 1000, "p99": p99 / 1000,
            "max": worst / 1000, "errors": status_errors + socket_errors, "socket_errors": socket_errors,
            "over5": over}


def scan_log(log: Path) -> tuple[int, int, list[str]]:
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [line for line in text.splitlines() if '"level": "ERROR"' in line or "Traceback" in line]
    return len(lines), text.count("database is locked"), lines[:5]


async def main(args: argparse.Namespace) -> int:
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "server.log"
        env = {**os.environ, "API_KEYS": f"{BENCH_KEY}:agent", "LOG_LEVEL": args.log_level,
               "RUN_WORKER_IN_PROCESS": "false", "MIGRATE_ON_START": "false", "API_KEY_FILE": str(tmp / "key")}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "services.cli", "serve", "orders", "--port", str(port),
                "--workers", str(args.workers)]
        started = time.perf_counter()
        if args.sqlite:
            from services.cli import run_migrations
            from services.common.settings import Settings

            url = f"sqlite+aiosqlite:///{tmp / 'order_support.db'}"
            await asyncio.to_thread(run_migrations, Settings(DATABASE_URL=url))  # type: ignore[call-arg]
            ids = await asyncio.to_thread(sqlite_seed, url, args.orders, max(1, args.events // args.orders))
            env["DATABASE_URL"] = url
            label = "SQLite"
            result, load = await _drive(argv, env, base, log, wrk, ids, args, tmp, started)
        else:
            async with bench_database(tmp) as settings:
                ids = await seed(raw_dsn(settings), args.orders, max(1, args.events // args.orders))
                env["DATABASE_URL"] = settings.database_url
                label = "PostgreSQL"
                result, load = await _drive(argv, env, base, log, wrk, ids, args, tmp, started)
        errors, locked, samples = scan_log(log)
    read, diag, track, ticket = args.mix
    print(f"\n{label}: {args.clients} concurrent clients for {args.seconds:.0f} s, mix {read}% order reads, "
          f"{diag}% diagnoses, {track}% tracking batches (3 events), {ticket}% new tickets; "
          f"`serve orders --workers {args.workers}`; machine load average {load[0]:.2f} / {load[1]:.2f} "
          f"(before / after, {os.cpu_count()} cores)")
    print(f"  throughput {result['rps']:.1f} req/s ({result['requests']:,} requests)  p50 {result['p50']:.1f} ms  "
          f"p99 {result['p99']:.1f} ms  max {result['max']:.1f} ms")
    print(f"  errors {result['errors']} (non-2xx or socket: {result['socket_errors']} socket)  "
          f"requests over 5 s: {result['over5']}")
    print(f"  server log: {errors} error lines, {locked} 'database is locked'"
          + "".join(f"\n    {line[:400]}" for line in samples))
    if args.sqlite:
        ok = locked == 0 and result["errors"] == 0
        print(f"target (SQLite): 0 'database is locked', 0 errors: {'met' if ok else 'NOT met'}")
    else:
        ok = result["p99"] <= 1000 and result["over5"] == 0 and result["errors"] == 0 and errors == 0
        print(f"target (PostgreSQL): p99 <= 1 s, 0 over 5 s, 0 errors: {'met' if ok else 'NOT met'}")
    return 0 if ok or not args.check else 1


async def _drive(argv: list[str], env: dict[str, str], base: str, log: Path, wrk: str, ids: list[str],
                 args: argparse.Namespace, tmp: Path, started: float) -> tuple[dict[str, float], tuple[float, float]]:
    print(f"seeding took {time.perf_counter() - started:.0f} s")
    async with server(argv, env, base, log):
        before = os.getloadavg()[0]
        result = await asyncio.to_thread(run_wrk_mix, wrk, base, ids, args, tmp, args.seconds)
        after = os.getloadavg()[0]
    return result, (before, after)


def _mix(text: str) -> tuple[int, int, int, int]:
    parts = tuple(int(p) for p in text.split(","))
    if len(parts) != 4 or sum(parts) != 100:
        raise argparse.ArgumentTypeError("four weights that add up to 100: reads,diagnoses,tracking,tickets")
    return parts  # type: ignore[return-value]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", action="store_true", help="the SQLite default instead of PostgreSQL")
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (200 on PostgreSQL, 32 SQLite)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--orders", type=int, default=None, help="100,000 on PostgreSQL, 5,000 on SQLite")
    parser.add_argument("--events", type=int, default=None, help="10 per order by default")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers N`")
    parser.add_argument("--mix", type=_mix, default=(60, 20, 10, 10), help="reads,diagnoses,tracking,tickets (%%)")
    parser.add_argument("--log-level", default="INFO", help="the server's LOG_LEVEL (INFO: access log on, as deployed)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ns = parser.parse_args()
    ns.clients = ns.clients or (32 if ns.sqlite else 200)
    ns.orders = ns.orders or (5_000 if ns.sqlite else 100_000)
    ns.events = ns.events or ns.orders * 10
    sys.exit(asyncio.run(main(ns)))
