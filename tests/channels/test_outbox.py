"""The durable outbox: real SMTP (aiosmtpd on loopback), relay down then up, leases and fencing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
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


class TestStartTls:
    async def test_login_only_after_starttls_with_the_relays_certificate(self, tmp_path: Any) -> None:
        import shutil
        import ssl
        import subprocess

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        from services.orders.channels import mail
        from tests.channels.conftest import free_port

        if shutil.which("openssl") is None:
            pytest.skip("openssl is needed to make the relay's certificate")
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        logins: list[tuple[bytes, bytes]] = []

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            assert isinstance(data, LoginPassword)
            logins.append((data.login, data.password))
            return AuthResult(success=data.login == b"mailer" and data.password == b"s3cret")

        received: list[bytes] = []

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                received.append(envelope.content)
                return "250 OK"

        port = free_port()
        relay = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True,
                           auth_required=True, auth_require_tls=True, authenticator=authenticator)
        relay.start()
        try:
            client_tls = ssl.create_default_context(cafile=str(cert))
            config = mail.parse_smtp_url(f"smtp://mailer:s3cret@127.0.0.1:{port}")
            assert (config.port, config.starttls, config.implicit_tls) == (port, "auto", False)
            payload = {"to": "li@example.com", "subject": "hi", "text": "你好", "message_id": mail.new_message_id()}
            await mail.SmtpTransport(config, tls_context=client_tls).send(
                mail.build_message(payload, mail_from="support@shop.example"))
            assert logins == [(b"mailer", b"s3cret")] and len(received) == 1
            untrusted = mail.SmtpTransport(config)  # the system's CAs do not know this self-signed relay
            with pytest.raises(mail.MailSendError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusted.send(mail.build_message(payload, mail_from="support@shop.example"))
            assert len(received) == 1
        finally:
            relay.stop()

    def test_smtp_url_forms(self) -> None:
        from services.orders.channels import mail

        tls = mail.parse_smtp_url("smtps://u%40x:p%3Aw@mail.example.com")
        assert (tls.host, tls.port, tls.username, tls.password, tls.implicit_tls) == (
            "mail.example.com", 465, "u@x", "p:w", True)
        assert mail.parse_smtp_url("smtp://relay:25?starttls=required").starttls == "required"
        with pytest.raises(mail.MailConfigError):
            mail.parse_smtp_url("http://relay")


class TestTwoWorkers:
    async def test_concurrent_workers_send_each_mail_once(self, app: FastAPI, settings: Settings,
                                                          smtp_inbox: Inbox, unique: str) -> None:
        cfg = with_smtp(settings, smtp_inbox)
        await drain(app, cfg)
        recipients = [f"pair{i}-{unique.lower()}@example.com" for i in range(12)]
        for to in recipients:
            await queue(app, to)
        for _ in range(6):
            done = await asyncio.gather(*(outbox.run_outbox_once(app.state.sessionmaker, cfg, worker_id=w, limit=3)
                                          for w in ("w1", "w2")))
            if sum(done) == 0:
                break
        assert [len(smtp_inbox.to(to)) for to in recipients] == [1] * 12
