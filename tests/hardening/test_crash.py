"""Nothing acknowledged is lost: the orders server (a uvicorn process on PostgreSQL) is killed with SIGKILL while
clients stream signed generic webhooks; after each restart every event that got a 2xx is in the database,
and no event is there twice. Three rounds."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.cli import run_migrations
from services.orders.tracking.signatures import sign_generic
from tests.anvil import free_port
from tests.conftest import API_KEYS, Database, make_settings, require_postgres

SECRET = "whsec-crash-0123456789"
BIN = Path(sys.executable).parent
ROUNDS = 3


def _start(url: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "API_KEYS": API_KEYS, "CARRIER_WEBHOOK_SECRET": SECRET,
           "AFTERSHIP_WEBHOOK_SECRET": SECRET, "EASYPOST_WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "WARNING",
           "RUN_WORKER_IN_PROCESS": "false", "MIGRATE_ON_START": "false", "API_KEY_FILE": str(tmp / "key")}
    return subprocess.Popen([str(BIN / "order-support"), "serve", "orders", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            assert proc.poll() is None, "the server exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start")


def _batch(tracking: str, event_id: str) -> bytes:
    return json.dumps({"carrier": "sf-express", "tracking_number": tracking, "events": [
        {"event_id": event_id, "status": "in_transit", "occurred_at": "2026-11-20T08:00:00+08:00",
         "description": "Departed sorting centre"}]}).encode()


async def _stream(port: int, acked: list[tuple[str, str]], unanswered: list[tuple[str, str]],
                  stop: asyncio.Event, worker: int) -> None:
    """Send events one after another and record those answered 2xx; one that got no answer is sent again later
    (as a sender retries, possibly after the server stored it), which must not store it twice."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        n = 0
        while not stop.is_set():
            if unanswered:
                tracking, event_id = unanswered.pop()
            else:
                tracking, event_id = f"CR{worker}X{uuid.uuid4().hex[:10].upper()}", f"ev-{worker}-{n}"
                n += 1
            body = _batch(tracking, event_id)
            try:
                resp = await client.post("/v1/webhooks/carriers/generic", content=body, headers={
                    "content-type": "application/json", "X-Signature": sign_generic(SECRET, body)})
            except httpx.HTTPError:
                unanswered.insert(0, (tracking, event_id))
                await asyncio.sleep(0.05)
                continue
            if 200 <= resp.status_code < 300:
                acked.append((tracking, event_id))
            else:
                unanswered.insert(0, (tracking, event_id))


@pytest.mark.postgres
async def test_sigkill_loses_no_acknowledged_event(tmp_path: Path) -> None:
    await require_postgres()
    db = Database("postgres", tmp_path)
    await db.create()
    try:
        settings = make_settings(db.url, tmp_path)
        await asyncio.to_thread(run_migrations, settings)
        port = free_port()
        acked: list[tuple[str, str]] = []
        unanswered: list[tuple[str, str]] = []
        for _ in range(ROUNDS):
            proc = _start(db.url, port, tmp_path)
            try:
                await _wait_healthy(port, proc)
                stop = asyncio.Event()
                streams = [asyncio.create_task(_stream(port, acked, unanswered, stop, w)) for w in range(4)]
                before = len(acked)
                started = time.monotonic()
                while len(acked) - before < 40 and time.monotonic() - started < 20:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                os.kill(proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
                proc.wait(timeout=10)
                await asyncio.sleep(0.3)
                stop.set()
                await asyncio.gather(*streams)
                assert len(acked) - before >= 40, "the stream did not get going"
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch("SELECT tracking_number, event_id FROM tracking_events")
        finally:
            await conn.close()
        stored = [(r["tracking_number"], r["event_id"]) for r in rows]
        assert len(stored) == len(set(stored)), "an event is stored twice"
        missing = set(acked) - set(stored)
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
        assert len(acked) >= ROUNDS * 40
    finally:
        await db.drop()
