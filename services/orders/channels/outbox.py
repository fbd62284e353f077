"""The durable outbox: rows written in the transaction of the change that causes them, sent by the worker.

Claim (one short transaction: lease + fencing token) → commit → send (no transaction open) → record the
outcome (a second short transaction, accepted only with the current fencing token). A relay or receiver that is
down costs a retry with backoff, never the message; an item is sent again only if its worker died between the
send and the record (its lease ran out): the e-mail keeps its Message-ID and the event its webhook-id, so the
receiver can tell."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import repository as orders_repo
from services.orders.channels import catalog, mail, webhooks
from services.orders.channels import repository as repo
from services.orders.channels.models import DeliveryAttempt, Event, MailMessage, OutboxItem

log = logging.getLogger("order_support.outbox")
LEASE_SECONDS = 120.0  # longer than any single send may take (SMTP 30 s, HTTP 10 s)
WEBHOOK_TIMEOUT_SECONDS = 10.0
MAX_DELAY_SECONDS = 3600.0


def backoff(attempts: int, base: float = 30.0) -> float:
    """30 s, 1 min, 2 min … capped at an hour: about 30 tries in the first day."""
    return float(min(base * (2 ** max(attempts - 1, 0)), MAX_DELAY_SECONDS))


# Writing (inside the caller's transaction: flush only) ------------------------------------------------------

async def enqueue_mail(session: AsyncSession, *, to: str, lang: str, template: str, params: dict[str, Any],
                       ticket_id: str | None = None, in_reply_to: str | None = None,
                       references: list[str] | None = None, auto_submitted: bool = False) -> OutboxItem:
    """Render a template in the customer's language and queue it; the Message-ID is fixed now (threading)."""
    subject, text = catalog.mail(lang, template, params)
    message_id = mail.new_message_id()
    payload = {"to": to, "subject": subject, "text": text, "html": mail.html_of(text), "lang": lang,
               "message_id": message_id, "in_reply_to": in_reply_to, "references": references or [],
               "auto_submitted": auto_submitted, "ticket_id": ticket_id, "template": template}
    item = OutboxItem(kind="email", target=to, payload=payload)
    await orders_repo.add_and_flush(session, item)
    await repo.insert_mail_message(session, MailMessage(message_id=message_id, direction="out", ticket_id=ticket_id,
                                                        from_address=None, subject=subject, outcome="queued",
                                                        details={"outbox_id": item.id, "template": template}))
    return item


async def emit(session: AsyncSession, *, type: str, order_id: str | None, data: dict[str, Any]) -> None:
    """Record an event for the shop's webhook endpoints (fanned out to each endpoint by the worker)."""
    if type not in webhooks.EVENT_TYPES:
        raise ValueError(f"unknown event type {type}")
    event = Event(type=type, order_id=order_id, data=data)
    session.add(event)
    await session.flush()
    session.add(OutboxItem(kind="event", event_id=event.id, target=None, ordering_key=None, payload={}))
    await session.flush()


# Sending (the worker) ---------------------------------------------------------------------------------------

async def fan_out(session: AsyncSession, *, endpoints: list[webhooks.Endpoint], now: datetime,
                  limit: int = 200) -> int:
    """Each new event becomes one webhook row per endpoint, in event order (ordering key: endpoint + order)."""
    await repo.lock_fan_out(session)
    items = await repo.events_to_fan_out(session, limit=limit)
    events = await repo.events_by_id(session, [i.event_id for i in items if i.event_id])
    for item in items:
        event = events.get(item.event_id or "")
        for endpoint in endpoints if event is not None else []:
            assert event is not None
            key = f"{endpoint.url}|{event.order_id}" if event.order_id else None
            session.add(OutboxItem(kind="webhook", event_id=event.id, target=endpoint.url, ordering_key=key,
                                   payload={}, run_at=now))
        item.state = "sent" if endpoints else "skipped"
        item.sent_at = now
        item.updated_at = now
        await session.flush()
    return len(items)


async def run_outbox_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                          now: datetime | None = None, worker_id: str = "outbox", *, limit: int = 50,
                          smtp: mail.SmtpTransport | None = None,
                          http: httpx.AsyncClient | None = None) -> int:
    """One pass of the outbox: fan events out, claim due items, send each, record each. Returns items tried.

    E-mail waits in the outbox while SMTP_URL is unset (queued, not sent). Events with no WEBHOOK_ENDPOINTS are
    marked skipped; with a malformed WEBHOOK_ENDPOINTS or SMTP_URL that channel waits (and says why in the log)."""
    now = now or utcnow()
    kinds: list[str] = []
    endpoints: list[webhooks.Endpoint] = []
    try:
        endpoints = webhooks.parse_endpoints(settings.webhook_endpoints)
    except ValueError as exc:
        log.error("WEBHOOK_ENDPOINTS is malformed; events wait in the outbox", extra={"error": str(exc)})
    else:
        async with sessionmaker() as session, session.begin():
            await fan_out(session, endpoints=endpoints, now=now)
        kinds += ["webhook"] if endpoints else []
    if settings.smtp_url and settings.mail_from:
        try:
            smtp = smtp or mail.SmtpTransport(mail.parse_smtp_url(settings.smtp_url))
            kinds.append("email")
        except mail.MailConfigError as exc:
            log.error("SMTP_URL is malformed; e-mail waits in the outbox", extra={"error": str(exc)})
    if not kinds:
        return 0
    async with sessionmaker() as session, session.begin():
        items = await repo.claim(session, kinds=kinds, worker_id=worker_id, now=now, lease_seconds=LEASE_SECONDS,
                                 limit=limit)
    if not items:
        return 0
    secrets = {e.url: e.secret for e in endpoints}
    async with sessionmaker() as session:
        events = await repo.events_by_id(session, [i.event_id for i in items if i.event_id])
    own_client = http is None
    client = http or httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False)
    try:
        # The claim took at most the oldest pending item per ordering key, so this pass cannot reorder.
        for item in items:
            ok, error, status_code, ms = await _send(item, events, secrets, settings, smtp, client)
            await _record(sessionmaker, item, now, ok=ok, error=error, status_code=status_code, duration_ms=ms,
                          settings=settings)
    finally:
        if own_client:
            await client.aclose()
    return len(items)


async def _send(item: OutboxItem, events: dict[str, Event], secrets: dict[str, str], settings: Settings,
                smtp: mail.SmtpTransport | None,
                client: httpx.AsyncClient) -> tuple[bool, str | None, int | None, int]:
    if item.kind == "email":
        assert smtp is not None and settings.mail_from
        started = utcnow()
        try:
            await smtp.send(mail.build_message(item.payload, mail_from=settings.mail_from))
        except mail.MailSendError as exc:
            return False, str(exc)[:500], None, _ms_since(started)
        return True, None, None, _ms_since(started)
    event = events.get(item.event_id or "")
    secret = secrets.get(item.target or "")
    if event is None or secret is None:
        return False, "endpoint no longer configured" if event else "event missing", None, 0
    body = webhooks.body_of(event_id=event.id, event_type=event.type, created_at=event.created_at, data=event.data)
    headers = webhooks.signed_headers(secret=secret, event_id=event.id, body=body, now=utcnow())
    result = await webhooks.deliver(client, url=item.target or "", headers=headers, body=body)
    return result.ok, result.error, result.status_code, result.duration_ms


def _ms_since(started: datetime) -> int:
    return int((utcnow() - started).total_seconds() * 1000)


async def _record(sessionmaker: async_sessionmaker[AsyncSession], item: OutboxItem, now: datetime, *, ok: bool,
                  error: str | None, settings: Settings, status_code: int | None = None,
                  duration_ms: int = 0) -> None:
    assert item.id is not None
    if ok:
        state, run_at = "sent", None
    elif now - item.created_at >= timedelta(hours=settings.outbox_retry_hours):
        state, run_at = "failed", None  # given up after OUTBOX_RETRY_HOURS; an agent may redeliver
    else:
        state = "queued"
        run_at = now + timedelta(seconds=backoff(item.attempts))
    async with sessionmaker() as session, session.begin():
        session.add(DeliveryAttempt(outbox_id=item.id, event_id=item.event_id, target=item.target,
                                    attempt=item.attempts, outcome="sent" if ok else "failed",
                                    status_code=status_code, error=error, duration_ms=duration_ms))
        if not await repo.record_outcome(session, item_id=item.id, lease=item.lease, state=state, now=utcnow(),
                                         run_at=run_at, error=error):
            log.warning("outbox item taken by another worker before its outcome was recorded",
                        extra={"outbox_id": item.id})
    if not ok:
        log.info("outbox send failed; retrying later", extra={"outbox_id": item.id, "kind": item.kind,
                                                              "error": error, "state": state})


def register_worker_hook() -> None:
    """Run the outbox once per worker pass (services/orders/worker.py calls its PASS_HOOKS after the jobs)."""
    from services.orders import worker

    if run_outbox_once not in worker.PASS_HOOKS:
        worker.PASS_HOOKS.append(run_outbox_once)
