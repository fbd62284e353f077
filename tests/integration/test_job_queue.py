"""Jobs that cannot be done twice or lost: one lease per job, a fencing token so that only the current owner
finishes it, a re-enqueue while running kept, errors backing off within the deadline; and real worker
processes on PostgreSQL killed (SIGKILL), frozen past their lease (SIGSTOP) and stopped (SIGTERM)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import repository as repo
from services.orders.flows import TICKET_JOB
from services.orders.models import Job, PaymentSettlement, TicketMessage
from services.orders.worker import Worker
from tests.conftest import API_KEYS, CUSTOMER_1, auth
from tests.integration.test_payment_hooks import get, usdt_order


async def _job(app: FastAPI, kind: str, ref: str) -> Job:
    async with app.state.sessionmaker() as session:
        return (await session.execute(select(Job).where(Job.kind == kind, Job.ref_id == ref))).scalar_one()


class TestFencing:
    async def test_a_stale_owner_cannot_finish_or_reschedule(self, hooked_app: FastAPI) -> None:
        maker, ref, now = hooked_app.state.sessionmaker, f"fence-{uuid.uuid4().hex[:8]}", utcnow()
        async with maker() as session, session.begin():
            await repo.enqueue_job(session, kind="test_job", ref_id=ref, run_at=now - timedelta(days=400),
                                   deadline=None)
        async with maker() as session, session.begin():
            first = await repo.claim_job(session, worker_id="a", now=now, lease_seconds=5)
        assert first is not None and first.ref_id == ref
        async with maker() as session, session.begin():  # a's lease ends; b takes the job over
            second = await repo.claim_job(session, worker_id="b", now=now + timedelta(seconds=6), lease_seconds=5)
        assert second is not None and second.id == first.id and second.fence == first.fence + 1
        async with maker() as session, session.begin():
            assert not await repo.hold_job(session, first)
            assert not await repo.finish_job(session, job=first, state="done")
            assert not await repo.finish_job(session, job=first, state="queued", run_at=now)
        job = await _job(hooked_app, "test_job", ref)
        assert (job.state, job.locked_by, job.fence) == ("running", "b", second.fence)
        async with maker() as session, session.begin():
            assert await repo.hold_job(session, second)
            assert await repo.finish_job(session, job=second, state="done")
        assert (await _job(hooked_app, "test_job", ref)).state == "done"

    async def test_a_reenqueue_while_running_is_kept(self, hooked_app: FastAPI) -> None:
        maker, ref, now = hooked_app.state.sessionmaker, f"rerun-{uuid.uuid4().hex[:8]}", utcnow()
        async with maker() as session, session.begin():
            await repo.enqueue_job(session, kind="test_job", ref_id=ref, run_at=now - timedelta(days=400),
                                   deadline=None)
        async with maker() as session, session.begin():
            job = await repo.claim_job(session, worker_id="a", now=now, lease_seconds=60)
        assert job is not None and job.ref_id == ref
        async with maker() as session, session.begin():  # something new to check arrives meanwhile
            await repo.enqueue_job(session, kind="test_job", ref_id=ref, run_at=now + timedelta(seconds=5),
                                   deadline=None)
        running = await _job(hooked_app, "test_job", ref)
        assert (running.state, running.locked_by, running.rerun) == ("running", "a", True)
        async with maker() as session, session.begin():
            assert await repo.finish_job(session, job=job, state="done")
        again = await _job(hooked_app, "test_job", ref)
        assert again.state == "queued" and not again.rerun

    async def test_one_lease_per_job(self, hooked_app: FastAPI) -> None:
        maker, now = hooked_app.state.sessionmaker, utcnow()
        refs = [f"lease-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        async with maker() as session, session.begin():
            for ref in refs:
                await repo.enqueue_job(session, kind="test_job", ref_id=ref, run_at=now - timedelta(days=500),
                                       deadline=None)
        async with maker() as session, session.begin():
            job = await repo.claim_job(session, worker_id="a", now=now, lease_seconds=60)
        assert job is not None and job.ref_id in refs
        other = await _job(hooked_app, "test_job", next(r for r in refs if r != job.ref_id))
        assert other.state == "queued" and other.locked_by is None
        async with maker() as session, session.begin():
            assert await repo.finish_job(session, job=job, state="done")
            second = await repo.claim_job(session, worker_id="a", now=now, lease_seconds=60)
            assert second is not None
            assert await repo.finish_job(session, job=second, state="done")


class Exploding:
    async def verify(self, **_: Any) -> dict[str, Any]:
        raise RuntimeError("li@example.com")  # what an error may carry must not reach the job record


class TestErrors:
    async def test_errors_back_off_and_the_deadline_holds(self, api: httpx.AsyncClient, hooked_app: FastAPI) -> None:
        order = await usdt_order(api)
        original = hooked_app.state.wallet_client
        hooked_app.state.wallet_client = None  # the ticket is written, its check left to the worker
        try:
            resp = await api.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
                "type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
                "description": "paid", "tx": {"chain": "eth", "tx_hash": "0x" + uuid.uuid4().hex * 2}})
        finally:
            hooked_app.state.wallet_client = original
        ticket = resp.json()
        worker = Worker(sessionmaker=hooked_app.state.sessionmaker, wallet=Exploding(),  # type: ignore[arg-type]
                        settings=hooked_app.state.settings, merchant_addresses=hooked_app.state.merchant_addresses)
        job = await _job(hooked_app, TICKET_JOB, ticket["id"])
        async with hooked_app.state.sessionmaker() as session, session.begin():  # earlier tests' leftovers aside
            await session.execute(update(Job).where(Job.id != job.id).values(state="done"))
        claimed = await worker.claim(job.run_at + timedelta(seconds=1))
        assert claimed is not None and claimed.id == job.id
        await worker.run_job(claimed, job.run_at + timedelta(seconds=1))
        failed = await _job(hooked_app, TICKET_JOB, ticket["id"])
        assert failed.state == "queued" and failed.last_error == "RuntimeError"
        assert failed.run_at > job.run_at + timedelta(seconds=10)  # backed off
        assert failed.deadline is not None
        past = failed.deadline + timedelta(minutes=1)
        claimed = await worker.claim(past)
        assert claimed is not None
        await worker.run_job(claimed, past)
        assert (await _job(hooked_app, TICKET_JOB, ticket["id"])).state == "expired"
        back = await get(api, f"/v1/tickets/{ticket['id']}")
        assert back["status"] == "open" and "an agent will look at it" in back["messages"][-1]["text"]


# -- real worker processes on PostgreSQL ------------------------------------------------------------------------

class FakeWallet:
    """wallet-support as the workers reach it over HTTP: every verify is recorded; the answer is `paid`, after
    `delay` seconds (so that a worker can be frozen or killed while it waits)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        self.seen = threading.Event()
        wallet = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                wallet.requests.append(body)
                wallet.seen.set()
                time.sleep(wallet.delay)
                answer = {"verdict": "paid", "paid_amount": body["expected"]["amount"], "difference": "0",
                          "explanation": "paid in full", "found_on": [], "retry_after": None,
                          "tx": {"chain": body["chain"], "tx_hash": body["tx_hash"], "status": "finalized",
                                 "confirmations": 20, "required_confirmations": 12, "block_number": 100,
                                 "block_time": utcnow().isoformat(), "head_block": 119, "from": "0xabc",
                                 "to": body["expected"]["to"], "transfers": [], "failure": None,
                                 "replaced_by": None}}
                data = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the worker was killed meanwhile

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def fake_wallet() -> Iterator[FakeWallet]:
    wallet = FakeWallet()
    yield wallet
    wallet.close()


def start_worker(settings: Settings, wallet: FakeWallet, tmp: Path, name: str, lease: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "WALLET_SUPPORT_URL": wallet.url,
           "WALLET_SUPPORT_API_KEY": "service-key-0001", "API_KEYS": API_KEYS, "JOB_LEASE_SECONDS": str(lease),
           "WORKER_INTERVAL_SECONDS": "0.2", "WORKER_HEARTBEAT_FILE": str(tmp / f"{name}.beat"),
           "MERCHANT_ADDRESS_ETH": "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc", "LOG_LEVEL": "INFO",
           "CARRIER_SCAN_GAPS": "default=100000", "API_KEY_FILE": str(tmp / "key")}
    log = (tmp / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])


async def queued_ticket(api: httpx.AsyncClient, hooked_app: FastAPI) -> dict[str, Any]:
    """A payment_failed ticket whose check is left to the workers (due now)."""
    order = await usdt_order(api)
    original = hooked_app.state.wallet_client
    hooked_app.state.wallet_client = None
    try:
        resp = await api.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
            "description": "paid", "tx": {"chain": "eth", "tx_hash": "0x" + uuid.uuid4().hex * 2}})
    finally:
        hooked_app.state.wallet_client = original
    ticket = resp.json()
    async with hooked_app.state.sessionmaker() as session, session.begin():
        await session.execute(update(Job).where(Job.ref_id == ticket["id"]).values(run_at=utcnow()))
    return ticket


async def wait_for(check: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def settled_once(api: httpx.AsyncClient, hooked_app: FastAPI, ticket: dict[str, Any]) -> None:
    """Exactly one settlement, one succeeded move, one "paid" message: no double work."""
    async with hooked_app.state.sessionmaker() as session:
        settlements = (await session.execute(select(PaymentSettlement).where(
            PaymentSettlement.order_id == ticket["order_id"]))).scalars().all()
        paid_notes = (await session.execute(select(TicketMessage).where(
            TicketMessage.ticket_id == ticket["id"], TicketMessage.text.contains("order is paid")))).scalars().all()
    assert len(settlements) == 1 and len(paid_notes) == 1
    [payment] = (await get(api, f"/v1/orders/{ticket['order_id']}/payments"))["items"]
    assert [h["to_status"] for h in payment["history"]].count("succeeded") == 1


def stop(*workers: subprocess.Popen[bytes]) -> None:
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(10)


@pytest.mark.postgres
class TestWorkerProcesses:
    async def test_frozen_past_its_lease_then_resumed(self, api: httpx.AsyncClient, hooked_app: FastAPI,
                                                      settings: Settings, fake_wallet: FakeWallet,
                                                      tmp_path: Path) -> None:
        if not settings.database_url.startswith("postgresql"):
            pytest.skip("worker processes run on PostgreSQL (SQLite has one writer)")
        ticket = await queued_ticket(api, hooked_app)
        fake_wallet.delay = 1.0
        first = start_worker(settings, fake_wallet, tmp_path, "a", lease=2)
        second = None
        try:
            await asyncio.to_thread(fake_wallet.seen.wait, 30)
            first.send_signal(signal.SIGSTOP)  # frozen while it waits for the chain's answer
            await asyncio.sleep(3)  # its lease (2 s) ends
            fake_wallet.delay = 0
            second = start_worker(settings, fake_wallet, tmp_path, "b", lease=2)

            async def resolved() -> bool:
                return (await get(api, f"/v1/tickets/{ticket['id']}"))["status"] == "resolved"

            await wait_for(resolved, 30)
            first.send_signal(signal.SIGCONT)  # it wakes up with its stale answer
            await asyncio.sleep(2)
        finally:
            stop(first, *([second] if second else []))
        assert len(fake_wallet.requests) >= 2
        await settled_once(api, hooked_app, ticket)
        job = await _job(hooked_app, TICKET_JOB, ticket["id"])
        assert job.state == "done" and job.fence >= 2
        assert "lease was taken over" in (tmp_path / "a.log").read_text()

    async def test_killed_worker_with_three_workers(self, api: httpx.AsyncClient, hooked_app: FastAPI,
                                                    settings: Settings, fake_wallet: FakeWallet,
                                                    tmp_path: Path) -> None:
        if not settings.database_url.startswith("postgresql"):
            pytest.skip("worker processes run on PostgreSQL (SQLite has one writer)")
        ticket = await queued_ticket(api, hooked_app)
        fake_wallet.delay = 5.0
        doomed = start_worker(settings, fake_wallet, tmp_path, "doomed", lease=2)
        others: list[subprocess.Popen[bytes]] = []
        try:
            await asyncio.to_thread(fake_wallet.seen.wait, 30)
            doomed.send_signal(signal.SIGKILL)
            fake_wallet.delay = 0.2
            others = [start_worker(settings, fake_wallet, tmp_path, f"w{i}", lease=2) for i in range(2)]

            async def resolved() -> bool:
                return (await get(api, f"/v1/tickets/{ticket['id']}"))["status"] == "resolved"

            await wait_for(resolved, 40)
            await asyncio.sleep(1)
        finally:
            stop(doomed, *others)
        await settled_once(api, hooked_app, ticket)

    async def test_sigterm_gives_the_lease_back_within_five_seconds(self, api: httpx.AsyncClient,
                                                                    hooked_app: FastAPI, settings: Settings,
                                                                    fake_wallet: FakeWallet, tmp_path: Path) -> None:
        if not settings.database_url.startswith("postgresql"):
            pytest.skip("worker processes run on PostgreSQL (SQLite has one writer)")
        ticket = await queued_ticket(api, hooked_app)
        fake_wallet.delay = 30.0  # the chain never answers in time
        proc = start_worker(settings, fake_wallet, tmp_path, "term", lease=60)
        try:
            await asyncio.to_thread(fake_wallet.seen.wait, 30)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 10)
            took = time.monotonic() - started
        finally:
            stop(proc)
        assert code == 0 and took < 5, (code, took)
        job = await _job(hooked_app, TICKET_JOB, ticket["id"])
        assert job.state == "queued" and job.locked_by is None  # another worker may take it at once
