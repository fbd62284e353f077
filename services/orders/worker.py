"""The background worker: re-checks chain payments until final, watches settled ones for reorgs, sweeps parcels
whose tracking stalled, and runs the hooks other modules register (e.g. the outbox).

Jobs cannot be done twice or lost: each job is claimed on its own with its own lease and a new fencing token
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has a single writer); the chain is asked with no transaction
open; the result is recorded in one transaction that first checks the token, so a worker that lost its lease
(killed, frozen, slow) records nothing. A re-enqueue while a job runs is kept; errors back off and respect the
job's deadline; SIGTERM finishes the jobs in hand within a few seconds or gives their leases back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import flows
from services.orders import repository as repo
from services.orders import service as orders_service
from services.orders.clients.wallet import WalletClient
from services.orders.diagnosis import catalog
from services.orders.models import Job, Shipment, Ticket, TicketMessage

log = logging.getLogger("order_support.worker")
MAX_DELAY_SECONDS = 15 * 60
STOP_GRACE_SECONDS = 2.5
SWEEP_PAGE = 200

# Extra work run once per pass after the jobs (e.g. the outbox); each gets (sessionmaker, settings, now, worker_id).
PassHook = Callable[[async_sessionmaker[AsyncSession], Settings, datetime, str], Awaitable[int]]
PASS_HOOKS: list[PassHook] = []


def backoff(attempts: int, base: float = 15.0) -> float:
    return float(min(base * (2 ** max(attempts - 1, 0)), MAX_DELAY_SECONDS))


class StaleLease(Exception):
    """The job's lease was taken over: this worker's result is discarded."""


class Worker:
    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], wallet: WalletClient | None,
                 settings: Settings, merchant_addresses: dict[str, str], worker_id: str | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.wallet = wallet
        self.settings = settings
        self.merchant_addresses = merchant_addresses
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.gaps = settings.carrier_gap_hours()
        self.stopping = asyncio.Event()

    # -- jobs ---------------------------------------------------------------------------------------------------

    async def run_once(self, *, now: datetime | None = None, limit: int = 50) -> int:
        """One pass: up to `limit` due jobs (WORKER_CONCURRENCY at a time, each claimed on its own), then the
        parcel sweep and the registered hooks. Returns how many jobs were processed."""
        fixed_now = now
        processed = 0

        async def lane() -> None:
            nonlocal processed
            while processed < limit and not self.stopping.is_set():
                job = await self.claim(fixed_now or utcnow())
                if job is None:
                    return
                processed += 1
                await self.run_job(job, fixed_now)

        await asyncio.gather(*(lane() for _ in range(self.settings.worker_concurrency)))
        if not self.stopping.is_set():
            await self.sweep_parcels(fixed_now or utcnow())
            for hook in PASS_HOOKS:
                await hook(self.sessionmaker, self.settings, fixed_now or utcnow(), self.worker_id)
        return processed

    async def claim(self, now: datetime) -> Job | None:
        async with self.sessionmaker() as session, session.begin():
            return await repo.claim_job(session, worker_id=self.worker_id, now=now,
                                        lease_seconds=self.settings.job_lease_seconds)

    async def run_job(self, job: Job, now: datetime | None = None) -> None:
        """Plan (read), ask the chain (no transaction), record (one fenced transaction)."""
        try:
            async with self.sessionmaker() as session, session.begin():
                plan = await flows.plan_job(session, job, self.merchant_addresses)
            answer = None if plan.done else await flows.ask_chain(self.wallet, plan.expectation, lang=plan.lang,
                                                                  fresh=plan.fresh)
            async with self.sessionmaker() as session, session.begin():
                if not await repo.hold_job(session, job):
                    raise StaleLease
                when = now or utcnow()
                outcome = None if answer is None else await flows.apply_job(session, plan, answer, self.settings)
                await self._next(session, job, when, outcome)
        except StaleLease:
            log.warning("job lease was taken over; result discarded", extra={"job_id": job.id, "kind": job.kind})
        except asyncio.CancelledError:
            await asyncio.shield(self._release(job))
            raise
        except Exception as exc:  # one bad job must not stop the others; it backs off within its deadline
            log.exception("job failed", extra={"job_id": job.id, "kind": job.kind})
            await self._failed(job, now or utcnow(), type(exc).__name__)

    async def _next(self, session: AsyncSession, job: Job, now: datetime, outcome: flows.CheckOutcome | None) -> None:
        if outcome is None or outcome.final:
            await repo.finish_job(session, job=job, state="done")
            return
        if job.deadline is not None and now >= job.deadline:
            await self._expire(session, job)
            return
        delay = outcome.next_check if outcome.next_check is not None else backoff(job.attempts)
        await repo.finish_job(session, job=job, state="queued", run_at=now + timedelta(seconds=delay))

    async def _expire(self, session: AsyncSession, job: Job) -> None:
        ticket = await repo.ticket_by_id(session, job.ref_id, for_update=True) if job.kind == flows.TICKET_JOB \
            else None
        if ticket is not None and job.deadline is not None:
            await self._back_to_agent(session, ticket, job)
        await repo.finish_job(session, job=job, state="expired")

    async def _back_to_agent(self, session: AsyncSession, ticket: Ticket, job: Job) -> None:
        assert job.deadline is not None
        hours = round((job.deadline - ticket.created_at).total_seconds() / 3600, 1)
        session.add(TicketMessage(ticket_id=ticket.id, author="system", channel=ticket.channel,
                                  text=catalog.text(ticket.lang, "ticket", "deadline", {"hours": hours})))
        if ticket.status == "waiting_chain":
            await orders_service.move_ticket(session, ticket=ticket, status="open", note=None, author="system")

    async def _failed(self, job: Job, now: datetime, error: str) -> None:
        """A job that raised: back off, or expire past its deadline. Only the error's type is kept (no data)."""
        try:
            async with self.sessionmaker() as session, session.begin():
                if not await repo.hold_job(session, job):
                    return
                if job.deadline is not None and now >= job.deadline:
                    await self._expire(session, job)
                else:
                    await repo.finish_job(session, job=job, state="queued", error=error,
                                          run_at=now + timedelta(seconds=backoff(job.attempts)))
        except Exception:
            log.exception("could not record a job failure; its lease will expire", extra={"job_id": job.id})

    async def _release(self, job: Job) -> None:
        """Stopping mid-job: give the lease back so another worker takes the job at once."""
        try:
            async with self.sessionmaker() as session, session.begin():
                if await repo.hold_job(session, job):
                    await repo.finish_job(session, job=job, state="queued", run_at=utcnow())
        except Exception:
            log.exception("could not release a job lease; it will expire", extra={"job_id": job.id})

    # -- parcels ------------------------------------------------------------------------------------------------

    async def sweep_parcels(self, now: datetime) -> int:
        """Shipments with no carrier scan for longer than their carrier's usual gap get one proactive ticket per
        order (a parcel is flagged once per stall; flagged ones leave the query, so the sweep pages forward)."""
        flagged = 0
        smallest_gap = min(self.gaps.values()) if self.gaps else 72.0
        while not self.stopping.is_set():
            async with self.sessionmaker() as session, session.begin():
                await repo.serialize_sweeps(session)
                candidates = await repo.stalled_shipments(session, older_than=now - timedelta(hours=smallest_gap),
                                                          limit=SWEEP_PAGE)
                if not candidates:
                    return flagged
                for shipment, order in candidates:
                    if not self._stalled(shipment, now):
                        continue  # its carrier's gap is longer than the smallest one: look again on a later pass
                    assert shipment.last_event_at is not None
                    shipment.stall_flagged_at = shipment.last_event_at
                    if await repo.open_sweep_ticket(session, order.id) is not None:
                        continue
                    hours = round((now - shipment.last_event_at).total_seconds() / 3600, 1)
                    text = catalog.text("en", "ticket", "stalled", {"hours": hours, "carrier": shipment.carrier,
                                                                     "tracking_number": shipment.tracking_number})
                    ticket = Ticket(order_id=order.id, order_number=order.order_number,
                                    customer_id=order.customer_id, type="not_received", channel="email",
                                    status="open", description=text,
                                    details={"source": "stalled_parcel_sweep", "shipment_id": shipment.id})
                    session.add(ticket)
                    await session.flush()
                    session.add(TicketMessage(ticket_id=ticket.id, author="system", channel="email", text=text))
                    flagged += 1
                if not any(self._stalled(s, now) for s, _ in candidates):
                    return flagged  # only parcels with longer gaps are left
        return flagged

    def _stalled(self, shipment: Shipment, now: datetime) -> bool:
        """No scan for longer than this carrier's usual gap."""
        gap = self.gaps.get(shipment.carrier, self.gaps.get("default", 72.0))
        return shipment.last_event_at is not None and now - shipment.last_event_at >= timedelta(hours=gap)

    # -- the loop -----------------------------------------------------------------------------------------------

    async def run_forever(self, interval: float) -> None:
        log.info("worker started", extra={"worker_id": self.worker_id})
        while not self.stopping.is_set():
            try:
                processed = await self.run_once()
                with contextlib.suppress(OSError):
                    self.settings.worker_heartbeat_file.touch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker pass failed")
                processed = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=0.2 if processed else interval)
        log.info("worker stopped", extra={"worker_id": self.worker_id})

    async def serve_until_signalled(self, interval: float) -> None:
        """Run until SIGTERM/SIGINT: stop claiming, let the jobs in hand finish for a few seconds, then cancel
        them (their leases are given back) and return well within compose's 10 s stop timeout."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        task = asyncio.create_task(self.run_forever(interval))
        await self.stopping.wait()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=STOP_GRACE_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


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
            await worker.serve_until_signalled(settings.worker_interval_seconds)
    finally:
        if wallet is not None:
            await wallet.aclose()
        await engine.dispose()
