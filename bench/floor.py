"""Our request path against the stack's floor, on one real PostgreSQL database, in one run, driven by wrk.

The floor is the least a FastAPI service can do for `GET /v1/orders/{id}`: a minimal FastAPI app with an
asyncpg pool that checks the same bearer key (SHA-256 digest, constant-time compare), reads the same order
and its items and answers JSON. Ours is `order-support serve orders` with everything on (auth, metrics,
request ids, access log, the request-owned transaction). Both are one uvicorn process, both have the same
data (100,000 orders and 1,000,000 carrier events by default, seeded with COPY), and wrk (a C load
generator: 1 thread, 32 connections) drives each in turn over the same random orders, so the client is
not the bottleneck and the ratios are taken under the same machine load. That round runs three times
(`--rounds`) and each target is judged on its median round. Then `serve --workers N` shows how ours scales
past one process (each process has its own pool).

Targets: GET /v1/orders/{id} >= 0.6x floor, p99 <= 40 ms; GET /v1/orders/{id}/diagnosis >= 0.4x floor,
p99 <= 60 ms.   Run: make bench-floor   (installs Debian's wrk when it is missing)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BENCH_KEY, bench_database, raw_dsn  # noqa: E402
from bench.diagnosis import free_port, seed  # noqa: E402

# ---------------------------------------------------------------------------------------------------------
# The floor: what a hand-written handler over an asyncpg pool costs.

ORDER_SQL = ("SELECT id, order_number, status, customer_id, customer_email, customer_phone, customer_name, "
             "currency, placed_at, total, shipping_address, created_at, updated_at FROM orders WHERE id = $1")
ITEMS_SQL = "SELECT sku, name, category, quantity, unit_price FROM order_items WHERE order_id = $1 ORDER BY id"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def floor_app(dsn: str, key: str) -> FastAPI:
    digest = hashlib.sha256(key.encode()).digest()
    pool: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool["p"] = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        yield
        await pool["p"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/orders/{order_id}")
    async def get_order(order_id: str, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(hashlib.sha256(token.strip().encode()).digest(),
                                                                 digest):
            return Response(b'{"status":401}', status_code=401, media_type="application/problem+json")
        async with pool["p"].acquire() as conn:
            order = await conn.fetchrow(ORDER_SQL, order_id)
            if order is None:
                return Response(b'{"status":404}', status_code=404, media_type="application/problem+json")
            items = await conn.fetch(ITEMS_SQL, order_id)
        body = {
            "id": order["id"], "order_number": order["order_number"], "status": order["status"],
            "customer": {"id": order["customer_id"], "email": order["customer_email"],
                         "phone": order["customer_phone"], "name": order["customer_name"]},
            "currency": order["currency"], "placed_at": _ts(order["placed_at"]),
            "items": [{"sku": i["sku"], "name": i["name"], "category": i["category"], "quantity": i["quantity"],
                       "unit_price": _money(i["unit_price"]), "line_total": _money(i["unit_price"] * i["quantity"])}
                      for i in items],
            "item_count": sum(i["quantity"] for i in items), "total": _money(order["total"]),
            "shipping_address": orjson.loads(order["shipping_address"]) if order["shipping_address"] else None,
            "created_at": _ts(order["created_at"]), "updated_at": _ts(order["updated_at"]),
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def serve_floor(dsn: str, port: int, key: str) -> None:
    import uvicorn

    uvicorn.run(floor_app(dsn, key), host="127.0.0.1", port=port, log_level="warning")


# ---------------------------------------------------------------------------------------------------------
# wrk

WRK_SCRIPT = """
local paths = {%s}
local n = #paths
math.randomseed(%d)
request = function()
  return wrk.format("GET", paths[math.random(n)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Figure:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing Debian's wrk package")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=False)
    found = shutil.which("wrk")
    if not found:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and could not be installed (apt-get install wrk)")
    return found


def run_wrk(wrk: str, base: str, paths: list[str], *, connections: int, seconds: float, label: str,
            tmp: Path, seed_value: int = 7) -> Figure:
    script = tmp / f"wrk_{abs(hash(label))}.lua"
    script.write_text(WRK_SCRIPT % (",".join(f'"{p}"' for p in paths), seed_value))
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                          "-H", f"Authorization: Bearer {BENCH_KEY}", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, duration_us, status_errors, socket_errors, p50, p99 = map(int, match.groups())
    return Figure(label, requests / (duration_us / 1e6), p50 / 1000, p99 / 1000, status_errors + socket_errors)


# ---------------------------------------------------------------------------------------------------------
# Servers

async def wait_ready(base: str, proc: asyncio.subprocess.Process, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and proc.returncode is None:
            try:
                if (await client.get(base + "/readyz", timeout=5)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become ready")


@asynccontextmanager
async def server(argv: list[str], env: dict[str, str], base: str, log: Path) -> AsyncIterator[None]:
    """A server process whose output goes to `log` (appended), stopped when the block ends."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd=ROOT, stdout=out, stderr=out)
    try:
        try:
            await wait_ready(base, proc)
        except RuntimeError:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:]
            raise RuntimeError(f"{' '.join(argv[1:4])} did not become ready; its log ends:\n{tail}") from None
        yield
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def ours_argv(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "services.cli", "serve", "orders", "--port", str(port), "--workers", str(workers)]


def show(figures: list[Figure], floor: Figure | None) -> None:
    for f in figures:
        ratio = f"{f.rps / floor.rps:5.2f}x floor" if floor else ""
        print(f"  {f.label:<44} {f.rps:8.1f} req/s  p50 {f.p50_ms:6.1f} ms  p99 {f.p99_ms:6.1f} ms  "
              f"errors {f.errors:<4} {ratio}")


def verdict(name: str, fig: Figure, floor: Figure, ratio_target: float, p99_target: float) -> str:
    ratio = fig.rps / floor.rps
    ok = ratio >= ratio_target and fig.p99_ms <= p99_target and fig.errors == 0
    return (f"{name}: {ratio:.2f}x floor (target >= {ratio_target}), p99 {fig.p99_ms:.1f} ms "
            f"(target <= {p99_target:.0f}), errors {fig.errors}: {'met' if ok else 'NOT met'}")


async def main(args: argparse.Namespace) -> None:
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with bench_database(tmp) as settings:
            started = time.perf_counter()
            ids = await seed(raw_dsn(settings), args.orders, max(1, args.events // args.orders))
            print(f"seeding took {time.perf_counter() - started:.0f} s")
            sample = random.Random(1).sample(ids, min(20_000, len(ids)))
            reads = [f"/v1/orders/{i}" for i in sample]
            diags = [f"/v1/orders/{i}/diagnosis" for i in sample]
            env = {**os.environ, "DATABASE_URL": settings.database_url, "API_KEYS": f"{BENCH_KEY}:agent",
                   "LOG_LEVEL": "WARNING", "RUN_WORKER_IN_PROCESS": "false", "MIGRATE_ON_START": "false"}
            c, s = args.connections, args.seconds

            def drive(base: str, paths: list[str], label: str) -> Figure:
                run_wrk(wrk, base, paths[:2000], connections=c, seconds=args.warmup, label="warm-" + label, tmp=tmp)
                return run_wrk(wrk, base, paths, connections=c, seconds=s, label=label, tmp=tmp)

            floor_port, ours_port = free_port(), free_port()
            floor_base, ours_base = f"http://127.0.0.1:{floor_port}", f"http://127.0.0.1:{ours_port}"
            floor_argv = [sys.executable, str(ROOT / "bench" / "floor.py"), "serve-floor", "--dsn", raw_dsn(settings),
                          "--port", str(floor_port)]
            log = tmp / "servers.log"
            load_before = os.getloadavg()
            rounds: list[tuple[Figure, Figure, Figure]] = []
            async with server(floor_argv, env, floor_base, log), server(ours_argv(ours_port, 1), env, ours_base, log):
                for n in range(args.rounds):
                    suffix = f" (round {n + 1})" if args.rounds > 1 else ""
                    floor = drive(floor_base, reads, "floor: FastAPI + asyncpg, GET order" + suffix)
                    read = drive(ours_base, reads, "ours: GET /v1/orders/{id}" + suffix)
                    diag = drive(ours_base, diags, "ours: GET /v1/orders/{id}/diagnosis" + suffix)
                    rounds.append((floor, read, diag))
            scaling: list[Figure] = []
            for workers in args.workers:
                if workers == 1:
                    continue  # the main run above is `serve orders --workers 1`
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                async with server(ours_argv(port, workers), env, base, log):
                    scaling.append(drive(base, reads, f"serve --workers {workers}: GET /v1/orders/{{id}}"))
                    scaling.append(drive(base, diags, f"serve --workers {workers}: GET .../diagnosis"))
            load_after = os.getloadavg()
            server_errors = [line for line in log.read_text(errors="replace").splitlines()
                             if '"level": "ERROR"' in line or "Traceback" in line]

    print()
    print(f"{args.orders:,} orders, {args.events:,} events; wrk -t1 -c{args.connections} -d{args.seconds:.0f}s "
          f"per line over {len(reads):,} random orders; one uvicorn process each; PostgreSQL")
    print(f"machine load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} "
          f"({os.cpu_count()} cores)")
    for floor, read, diag in rounds:
        show([floor, read, diag], floor)
    # The machine's own noise moves a 20 s figure by 10-30%; each endpoint is judged on its median round (the
    # ratio taken within that round, where both sides ran back to back), not on a lucky or unlucky one.
    read_round = median_round(rounds, 1)
    diag_round = median_round(rounds, 2)
    floor = sorted((r[0] for r in rounds), key=lambda f: f.rps)[len(rounds) // 2]
    if scaling:
        print("scaling past one process: `order-support serve orders --workers N`, each process with its own pool "
              "(against the median floor)")
        read, diag = read_round[1], diag_round[2]
        one = [Figure("serve --workers 1: GET /v1/orders/{id}", read.rps, read.p50_ms, read.p99_ms, read.errors),
               Figure("serve --workers 1: GET .../diagnosis", diag.rps, diag.p50_ms, diag.p99_ms, diag.errors)]
        show(one + scaling, floor)
    print(f"server log: {len(server_errors)} error lines" + "".join(f"\n  {line[:900]}" for line in server_errors[:5]))
    label = f"median of {len(rounds)} rounds" if len(rounds) > 1 else "one round"
    print(verdict(f"GET /v1/orders/{{id}} ({label})", read_round[1], read_round[0], 0.6, 40))
    print(verdict(f"GET /v1/orders/{{id}}/diagnosis ({label})", diag_round[2], diag_round[0], 0.4, 60))


def median_round(rounds: list[tuple[Figure, Figure, Figure]], which: int) -> tuple[Figure, Figure, Figure]:
    """The round whose ratio for `which` (1: read, 2: diagnosis) is the median (the lower one of an even count)."""
    ranked = sorted(rounds, key=lambda r: r[which].rps / r[0].rps)
    return ranked[(len(ranked) - 1) // 2]


def _parse_workers(text: str) -> list[int]:
    return [int(w) for w in text.split(",") if w.strip()]


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve-floor", help="(internal) run the floor app")
    serve.add_argument("--dsn", required=True)
    serve.add_argument("--port", type=int, required=True)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="floor/read/diagnosis rounds, back to back; each target is judged on its median round")
    parser.add_argument("--workers", type=_parse_workers, default=[1, 2],
                        help="`serve --workers N` runs, comma-separated (N=1 is the main run); '1' to skip scaling")
    args = parser.parse_args(argv)
    if args.command == "serve-floor":
        serve_floor(args.dsn, args.port, BENCH_KEY)
        return
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
