"""The background worker: re-checks chain payments until final, sweeps parcels whose tracking stalled.

Several workers may run at once: jobs are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite has a
single writer), each job runs in its own transaction, and every reconciliation is idempotent."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import flows
from services.orders import repository as repo
from services.orders.clients.wallet import WalletClient
from services.orders.diagnosis import catalog
from services.orders.models import Job, Ticket, TicketMessage

log = logging.getLogger("order_support.worker")
MAX_DELAY_SECONDS = 15 * 60
LEASE_SECONDS = 120


def backoff(attempts: int, base: float = 15.0) -> float:
    return float(min(base * (2 ** max(attempts - 1, 0)), MAX_DELAY_SECONDS))


class Worker:
    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], wallet: WalletClient | None,
                 settings: Settings, merchant_addresses: dict[str, str], worker_id: str | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.wallet = wallet
        self.settings = settings
        self.merchant_addresses = merchant_addresses
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.gaps = settings.carrier_gap_hours()

    async def run_once(self, *, now: datetime | None = None, limit: int = 50) -> int:
        """One pass: due jobs, then the parcel sweep. Returns how many jobs were processed."""
        now = now or utcnow()
        async with self.sessionmaker() as session, session.begin():
            jobs = await repo.claim_jobs(session, worker_id=self.worker_id, now=now, lease_seconds=LEASE_SECONDS,
                                         limit=limit)
        for job in jobs:
            try:
                async with self.sessionmaker() as session, session.begin():
                    await self.process(session, job, now)
            except Exception as exc:  # one bad job must not stop the others; it is retried later
                log.exception("job failed", extra={"job_id": job.id, "kind": job.kind})
                async with self.sessionmaker() as session, session.begin():
                    await repo.finish_job(session, job_id=job.id or 0, state="queued",
                                          run_at=now + timedelta(seconds=backoff(job.attempts)), error=repr(exc))
        await self.sweep_parcels(now)
        return len(jobs)

    async def process(self, session: AsyncSession, job: Job, now: datetime) -> None:
        assert job.id is not None
        if job.kind == flows.TICKET_JOB:
            ticket = await repo.ticket_by_id(session, job.ref_id, for_update=True)
            if ticket is None or ticket.status in ("resolved", "closed"):
                await repo.finish_job(session, job_id=job.id, state="done")
                return
            outcome = await flows.check_ticket(session, ticket=ticket, wallet=self.wallet, settings=self.settings,
                                               merchant_addresses=self.merchant_addresses, now=now)
            done = outcome is None or outcome.final
            await self._next(session, job, now, done, ticket=ticket)
        elif job.kind == flows.PAYMENT_JOB:
            payment = await repo.payment_by_id(session, job.ref_id, for_update=True)
            if payment is None:
                await repo.finish_job(session, job_id=job.id, state="done")
                return
            # Past the cache: this re-check exists to catch a reorg deeper than "final".
            outcome = await flows.check_payment(session, wallet=self.wallet, payment=payment, lang="en", fresh=True)
            if outcome.changed == "reorg":
                await flows.tell_tickets_reorg(session, payment=payment)
            await self._next(session, job, now, outcome.final)
        else:
            await repo.finish_job(session, job_id=job.id, state="done", error=f"unknown job kind {job.kind}")

    async def _next(self, session: AsyncSession, job: Job, now: datetime, done: bool,
                    ticket: Ticket | None = None) -> None:
        assert job.id is not None
        if done:
            await repo.finish_job(session, job_id=job.id, state="done")
            return
        if job.deadline is not None and now >= job.deadline:
            if ticket is not None:
                hours = round((job.deadline - ticket.created_at).total_seconds() / 3600, 1)
                session.add(TicketMessage(ticket_id=ticket.id, author="system", channel=ticket.channel,
                                          text=catalog.text(ticket.lang, "ticket", "deadline", {"hours": hours})))
                ticket.status = "open"
                ticket.updated_at = utcnow()
            await repo.finish_job(session, job_id=job.id, state="expired")
            return
        await repo.finish_job(session, job_id=job.id, state="queued",
                              run_at=now + timedelta(seconds=backoff(job.attempts)))

    async def sweep_parcels(self, now: datetime) -> int:
        """Shipments with no carrier scan for longer than their carrier's usual gap get one proactive ticket."""
        flagged = 0
        smallest_gap = min(self.gaps.values()) if self.gaps else 72.0
        async with self.sessionmaker() as session, session.begin():
            candidates = await repo.stalled_shipments(session, older_than=now - timedelta(hours=smallest_gap))
            for shipment, order in candidates:
                gap = self.gaps.get(shipment.carrier, self.gaps.get("default", 72.0))
                if shipment.last_event_at is None or now - shipment.last_event_at < timedelta(hours=gap):
                    continue
                if not await repo.insert_marker(session, kind="stalled_parcel",
                                                ref_id=f"{shipment.id}@{int(shipment.last_event_at.timestamp())}"):
                    continue
                hours = round((now - shipment.last_event_at).total_seconds() / 3600, 1)
                text = catalog.text("en", "ticket", "stalled", {"hours": hours, "carrier": shipment.carrier,
                                                                 "tracking_number": shipment.tracking_number})
                ticket = Ticket(order_id=order.id, order_number=order.order_number, customer_id=order.customer_id,
                                type="not_received", channel="email", status="open", description=text,
                                details={"source": "stalled_parcel_sweep", "shipment_id": shipment.id})
                session.add(ticket)
                await session.flush()
                session.add(TicketMessage(ticket_id=ticket.id, author="system", channel="email", text=text))
                flagged += 1
        return flagged

    async def run_forever(self, interval: float) -> None:
        log.info("worker started", extra={"worker_id": self.worker_id})
        while True:
            try:
                processed = await self.run_once()
                self.settings.worker_heartbeat_file.touch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker pass failed")
                processed = 0
            await asyncio.sleep(0.5 if processed else interval)


async def run_worker(settings: Settings, *, once: bool = False) -> None:
    """`order-support worker`: its own engine and wallet client (WALLET_SUPPORT_URL)."""
    from services.common.db import make_engine, make_sessionmaker
    from services.common.observability import configure_logging
    from services.orders.main import build_wallet_client

    configure_logging(settings.log_level)
    engine = make_engine(settings)
    wallet = build_wallet_client(settings, wallet_app=None, keyring=None)
    worker = Worker(sessionmaker=make_sessionmaker(engine), wallet=wallet, settings=settings,
                    merchant_addresses=settings.per_chain("MERCHANT_ADDRESS_"))
    try:
        if once:
            processed = await worker.run_once()
            settings.worker_heartbeat_file.touch()
            log.info("worker pass done", extra={"jobs": processed})
        else:
            await worker.run_forever(settings.worker_interval_seconds)
    finally:
        if wallet is not None:
            await wallet.aclose()
        await engine.dispose()
