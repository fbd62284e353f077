"""The durable outbox: real SMTP (aiosmtpd on loopback), relay down then up, leases and fencing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from services.common.settings import Settings
from services.common.types import utcnow
from services.orders.channels import outbox
from services.orders.channels import repository as repo
from services.orders.channels.models import DeliveryAttempt, OutboxItem
from tests.channels.conftest import Inbox, drain


def with_smtp(settings: Settings, inbox: Inbox) -> Settings:
    return settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                                       "mail_from": "Support <support@shop.example>", "webhook_endpoints": None})


async def queue(app: FastAPI, to: str, lang: str = "en", ticket_id: str | None = None) -> OutboxItem:
    async with app.state.sessionmaker() as session, session.begin():
        return await outbox.enqueue_mail(session, to=to, lang=lang, template="ticket_ack", auto_submitted=True,
                                         params={"ticket_id": ticket_id or "tkt_test", "subject": "订单未收到"})


class TestOutboundMail:
    async def test_sent_once_over_real_smtp_in_both_parts(self, app: FastAPI, settings: Settings,
                                                          smtp_inbox: Inbox, unique: str) -> None:
        to = f"li-{unique.lower()}@example.com"
        item = await queue(app, to, lang="zh-CN")
        cfg = with_smtp(settings, smtp_inbox)
        await drain(app, cfg)
        await drain(app, cfg)  # a second pass sends nothing again
        received = smtp_inbox.to(to)
        assert len(received) == 1
        msg = received[0]
        assert msg["Subject"] == "[tkt_test] 我们已收到您的来信"
        assert msg["Message-ID"] == item.payload["message_id"]
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg.get_content_type() == "multipart/alternative"
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        assert "工单 tkt_test" in plain.get_content() and "<p>" in html.get_content()
        assert smtp_inbox.envelopes[-1] == ("support@shop.example", [to])

    async def test_without_smtp_url_mail_stays_queued(self, app: FastAPI, settings: Settings, unique: str) -> None:
        to = f"queued-{unique.lower()}@example.com"
        item = await queue(app, to)
        assert await outbox.run_outbox_once(app.state.sessionmaker, settings.model_copy(
            update={"smtp_url": None, "webhook_endpoints": None}), worker_id="w") == 0
        async with app.state.sessionmaker() as session:
            row = await session.get(OutboxItem, item.id)
        assert row is not None and row.state == "queued" and row.attempts == 0

    async def test_relay_down_loses_nothing_and_sends_nothing_twice(self, app: FastAPI, settings: Settings,
                                                                    smtp_inbox: Inbox, unique: str) -> None:
        cfg = with_smtp(settings, smtp_inbox)
        await drain(app, cfg)  # whatever other tests left
        recipients = [f"down{i}-{unique.lower()}@example.com" for i in range(3)]
        items = [await queue(app, to) for to in recipients]
        smtp_inbox.stop()  # the relay is down for a while
        now = utcnow()
        tried = await drain(app, cfg, now=now)
        assert tried >= 3
        async with app.state.sessionmaker() as session:
            rows = [await session.get(OutboxItem, i.id) for i in items]
            attempts = (await session.execute(select(DeliveryAttempt).where(
                DeliveryAttempt.outbox_id.in_([i.id for i in items])))).scalars().all()  # type: ignore[union-attr]
        assert all(r is not None and r.state == "queued" and r.attempts == 1 for r in rows)
        assert all(r is not None and r.run_at >= now + timedelta(seconds=30) for r in rows)
        assert {a.outcome for a in attempts} == {"failed"} and "ConnectionRefused" in (attempts[0].error or "")
        # Still down a minute later: another try, still nothing lost.
        await drain(app, cfg, now=now + timedelta(seconds=31))
        smtp_inbox.start()  # back up on the same port
        assert await drain(app, cfg, now=now + timedelta(seconds=20)) == 0  # backoff not over yet
        await drain(app, cfg, now=now + timedelta(minutes=5))
        await drain(app, cfg, now=now + timedelta(minutes=30))
        for to, item in zip(recipients, items, strict=True):
            got = smtp_inbox.to(to)
            assert len(got) == 1, to
            assert got[0]["Message-ID"] == item.payload["message_id"]
        async with app.state.sessionmaker() as session:
            states = [(await session.get(OutboxItem, i.id)) for i in items]
        assert [(r.state, r.attempts) for r in states if r] == [("sent", 3)] * 3


class TestLeaseAndFencing:
    async def test_expired_lease_is_taken_over_and_the_old_holder_cannot_record(self, app: FastAPI,
                                                                                unique: str) -> None:
        item = await queue(app, f"lease-{unique.lower()}@example.com")
        now = utcnow()
        maker = app.state.sessionmaker

        async def claim(worker: str, at: Any) -> list[OutboxItem]:
            async with maker() as session, session.begin():
                return await repo.claim(session, kinds=["email"], worker_id=worker, now=at, lease_seconds=60,
                                        limit=500)

        first = [i for i in await claim("a", now) if i.id == item.id]
        assert len(first) == 1 and first[0].lease == 1
        assert [i for i in await claim("b", now + timedelta(seconds=30)) if i.id == item.id] == []  # leased
        second = [i for i in await claim("b", now + timedelta(seconds=61)) if i.id == item.id]
        assert len(second) == 1 and second[0].lease == 2 and second[0].locked_by == "b"
        async with maker() as session, session.begin():
            stale = await repo.record_outcome(session, item_id=item.id or 0, lease=1, state="sent", now=now)
            current = await repo.record_outcome(session, item_id=item.id or 0, lease=2, state="sent", now=now)
        assert (stale, current) == (False, True)


class TestWorkerHook:
    async def test_the_worker_pass_sends_the_outbox(self, app: FastAPI, settings: Settings, smtp_inbox: Inbox,
                                                    unique: str) -> None:
        from services.orders.worker import PASS_HOOKS, Worker

        assert outbox.run_outbox_once in PASS_HOOKS
        to = f"worker-{unique.lower()}@example.com"
        await queue(app, to)
        worker = Worker(sessionmaker=app.state.sessionmaker, wallet=None, settings=with_smtp(settings, smtp_inbox),
                        merchant_addresses={}, worker_id="w-hook")
        await worker.run_once()
        assert len(smtp_inbox.to(to)) == 1
