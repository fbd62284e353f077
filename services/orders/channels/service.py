"""Rules of the channels: e-mail in → tickets, attachments, events for agents. Services flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import flows, schemas
from services.orders import repository as orders_repo
from services.orders import service as orders_service
from services.orders.channels import attachments as files
from services.orders.channels import catalog, inbound, outbox, webhooks
from services.orders.channels import repository as repo
from services.orders.channels.errors import AttachmentNotFound, EventNotFound, PayloadTooLarge, UnsupportedMediaType
from services.orders.channels.models import Attachment, Event, MailMessage, OutboxItem
from services.orders.clients.wallet import WalletClient
from services.orders.diagnosis.snapshot import Policy
from services.orders.models import Order, Ticket, TicketMessage

SERVICE = Principal(role="service", key_id="inbound-email")


@dataclass
class InboundOutcome:
    outcome: str  # ticket_created, appended, ignored
    message_id: str
    ticket_id: str | None = None
    reason: str | None = None
    duplicate: bool = False
    recognised: dict[str, Any] = field(default_factory=dict)
    attachments: int = 0


def own_addresses(settings: Settings) -> set[str]:
    return {parseaddr(settings.mail_from)[1].lower()} if settings.mail_from else set()


async def receive_email(session: AsyncSession, *, raw: bytes, settings: Settings, wallet: WalletClient | None,
                        merchant_addresses: dict[str, str], policy: Policy) -> InboundOutcome:
    """One inbound message: ignored (robots, bounces, loops), appended to its ticket, or a new ticket."""
    mail = inbound.parse_message(raw, own_addresses=own_addresses(settings))
    record = MailMessage(message_id=mail.message_id, direction="in", from_address=mail.from_address,
                         subject=mail.subject[:1000], outcome="received")
    if not await repo.insert_mail_message(session, record):
        seen = await repo.mail_by_message_id(session, mail.message_id)
        return InboundOutcome(outcome=seen.outcome if seen else "duplicate", message_id=mail.message_id,
                              ticket_id=seen.ticket_id if seen else None, duplicate=True)
    record = await session.get(MailMessage, record.id) or record  # the row itself, so that updates are written
    if mail.automatic or not mail.from_address:
        record.outcome = "ignored"
        record.details = {"reason": mail.automatic or "no_sender"}
        await session.flush()
        return InboundOutcome(outcome="ignored", message_id=mail.message_id, reason=mail.automatic or "no_sender")
    words = f"{mail.subject}\n{mail.text}"
    mentions = inbound.find_mentions(words)
    ticket = await _thread(session, mail, mentions)
    if ticket is not None:
        await _append(session, ticket, mail)
        outcome = "appended"
    else:
        ticket = await _open_ticket(session, mail, mentions, settings=settings, wallet=wallet,
                                    merchant_addresses=merchant_addresses, policy=policy)
        outcome = "ticket_created"
    stored = await _store_attachments(session, ticket, mail.attachments, settings)
    record.ticket_id, record.outcome = ticket.id, outcome
    record.details = {"recognised": mentions.as_dict(), "attachments": stored}
    await session.flush()
    if outcome == "ticket_created" and ticket.type == "payment_failed" and ticket.tx_hash and ticket.order_id:
        # The lead's flow: it commits what is above before it asks the chain (no network inside a transaction).
        await flows.check_ticket_now(session, ticket=ticket, wallet=wallet, settings=settings,
                                     merchant_addresses=merchant_addresses)
    return InboundOutcome(outcome=outcome, message_id=mail.message_id, ticket_id=ticket.id,
                          recognised=(ticket.details or {}).get("recognised") or mentions.as_dict(),
                          attachments=len(stored))


async def _thread(session: AsyncSession, mail: inbound.ParsedMail, mentions: inbound.Mentions) -> Ticket | None:
    """The ticket a reply belongs to: by the Message-IDs it answers, else by the ticket reference in the subject."""
    ticket_id = await repo.ticket_of_message_ids(session, mail.thread_ids)
    if ticket_id is None:
        refs = inbound.TICKET_REF.findall(mail.subject) or mentions.ticket_ids
        ticket_id = refs[0] if refs else None
    return await orders_repo.ticket_by_id(session, ticket_id, for_update=True) if ticket_id else None


async def _append(session: AsyncSession, ticket: Ticket, mail: inbound.ParsedMail) -> None:
    session.add(TicketMessage(ticket_id=ticket.id, author="customer", channel="email",
                              text=mail.text or mail.subject or "(empty message)"))
    details = dict(ticket.details or {})
    email_details = dict(details.get("email") or {})
    email_details["last_message_id"] = mail.message_id
    email_details.setdefault("reply_to", mail.from_address)
    details["email"] = email_details
    ticket.details = details
    ticket.updated_at = utcnow()
    if ticket.status in ("waiting_customer", "resolved"):
        await orders_service.move_ticket(session, ticket=ticket, status="open", note=None, author="customer")
    await session.flush()


async def _customer_and_order(session: AsyncSession, mail: inbound.ParsedMail,
                              mentions: inbound.Mentions) -> tuple[str | None, Order | None, list[str]]:
    """The sender's customer id and the order the mail is about (an order of that customer first)."""
    orders = await repo.orders_by_numbers(session, mentions.order_numbers)
    shipments = await repo.shipments_by_tracking(session, mentions.tracking_numbers)
    known_tracking = [s.tracking_number for s in shipments]
    if not orders and shipments:
        found = await orders_service.repo.order_by_id(session, shipments[0].order_id)
        orders = [found] if found else []
    customer_id: str | None = None
    if mail.from_address:
        customer = await repo.customer_by_email(session, mail.from_address)
        latest = await repo.latest_order_of_email(session, mail.from_address)
        customer_id = customer.id if customer else (latest.customer_id if latest else None)
    # An order is linked only for its own customer (known by this address, or the address on the order): anyone
    # can write an order number into a mail, and the ticket's replies go back to the sender.
    mine = [o for o in orders if (customer_id is not None and o.customer_id == customer_id) or
            (o.customer_email and o.customer_email.lower() == mail.from_address)]
    order = mine[0] if mine else None
    if customer_id is None and order is not None:
        customer_id = order.customer_id
    return customer_id, order, known_tracking


async def _open_ticket(session: AsyncSession, mail: inbound.ParsedMail, mentions: inbound.Mentions, *,
                       settings: Settings, wallet: WalletClient | None, merchant_addresses: dict[str, str],
                       policy: Policy) -> Ticket:
    customer_id, order, known_tracking = await _customer_and_order(session, mail, mentions)
    words = f"{mail.subject}\n{mail.text}"
    lang = inbound.guess_lang(words)
    tx = next(iter(mentions.txs), None)
    chain = None
    if tx is not None:
        # Without a word naming the chain: 0x + 64 hex is Ethereum's shape, 64 bare hex a TRON tx id (the words
        # would have said bitcoin). The check asks that chain; nothing is paid on a guess, only on its answer.
        chain = tx.chain or {"evm": "eth", "tron_or_btc": "tron"}.get(tx.family)
    ticket_type = inbound.guess_ticket_type(words, mentions)
    body = schemas.TicketCreate(
        type=ticket_type, channel="email", order_id=order.id if order else None,  # type: ignore[arg-type]
        customer_id=customer_id, description=(mail.text or mail.subject or "(empty message)")[:5000],
        tx=schemas.TicketTx(chain=chain, tx_hash=tx.tx_hash) if tx and chain else None,
        lang=lang,  # type: ignore[arg-type]
        details=schemas.TicketDetails(tracking_number=known_tracking[0] if known_tracking else None))
    snapshot = await orders_service.load_snapshot(session, order_id=order.id, principal=SERVICE,
                                                  policy=policy) if order else None
    ticket = await orders_service.create_ticket(session, body=body, principal=SERVICE, lang=lang, snapshot=snapshot)
    ticket.details = {**(ticket.details or {}),
                      "email": {"reply_to": mail.from_address, "from_name": mail.from_name, "subject": mail.subject,
                                "first_message_id": mail.message_id, "last_message_id": mail.message_id},
                      "recognised": mentions.as_dict()}
    if mentions.order_numbers or mentions.tracking_numbers or mentions.txs:
        refs = ", ".join([*mentions.order_numbers, *mentions.tracking_numbers, *(t.tx_hash for t in mentions.txs)])
        session.add(TicketMessage(ticket_id=ticket.id, author="system", channel="email",
                                  text=catalog.text(lang, "inbound.linked", {"refs": refs})))
    await session.flush()
    await outbox.enqueue_mail(session, to=mail.from_address or "", lang=lang, template="ticket_ack",
                              ticket_id=ticket.id, in_reply_to=mail.message_id, references=[mail.message_id],
                              auto_submitted=True, params={"ticket_id": ticket.id, "subject": mail.subject})
    return ticket


async def _store_attachments(session: AsyncSession, ticket: Ticket, parts: list[inbound.MailAttachment],
                             settings: Settings) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    for part in parts:
        if len(part.data) > settings.max_attachment_bytes:
            stored.append({"filename": part.filename, "skipped": "too_large", "size": len(part.data)})
            continue
        row = await save_attachment(session, ticket=ticket, data=part.data, filename=part.filename, source="email",
                                    root=settings.attachments_dir)
        stored.append({"id": row.id, "filename": row.filename, "content_type": row.content_type})
    return stored


async def save_attachment(session: AsyncSession, *, ticket: Ticket, data: bytes, filename: str | None, source: str,
                          root: Path, content_type: str | None = None) -> Attachment:
    """`content_type`: what the caller already sniffed from `data` (else sniffed here)."""
    key, digest = files.store(root, data)
    row = Attachment(ticket_id=ticket.id, filename=(filename or "")[:300] or None,
                     content_type=content_type or files.sniff(data),
                     size=len(data), sha256=digest, storage_key=key, source=source)
    await orders_repo.add_and_flush(session, row)
    return row


async def upload_attachment(session: AsyncSession, *, ticket: Ticket, data: bytes, filename: str | None,
                            settings: Settings) -> Attachment:
    if len(data) > settings.max_attachment_bytes:
        raise PayloadTooLarge(f"An attachment may be at most {settings.max_attachment_bytes} bytes.")
    if not data:
        raise UnsupportedMediaType("The upload is empty.")
    kind = files.sniff(data)
    if not files.upload_allowed(kind):
        raise UnsupportedMediaType(f"The file is {kind}; send a screenshot, a short video, a PDF or a text log.")
    return await save_attachment(session, ticket=ticket, data=data, filename=filename, source="upload",
                                 root=settings.attachments_dir, content_type=kind)


async def get_attachment(session: AsyncSession, *, ticket: Ticket, attachment_id: str) -> Attachment:
    row = await repo.attachment_by_id(session, attachment_id)
    if row is None or row.ticket_id != ticket.id:
        raise AttachmentNotFound(attachment_id)
    return row


# Events ---------------------------------------------------------------------------------------------------

async def event_with_log(session: AsyncSession, *, event_id: str) -> tuple[Event, list[OutboxItem], list[Any]]:
    event = await repo.event_by_id(session, event_id)
    if event is None:
        raise EventNotFound(event_id)
    return event, await repo.outbox_of_event(session, event_id), await repo.attempts_of_event(session, event_id)


async def redeliver(session: AsyncSession, *, event_id: str, settings: Settings) -> list[OutboxItem]:
    """Send an event again to every endpoint now (out of the per-order sequence: it is a repeat)."""
    event = await repo.event_by_id(session, event_id)
    if event is None:
        raise EventNotFound(event_id)
    items = [OutboxItem(kind="webhook", event_id=event.id, target=e.url, ordering_key=None,
                        payload={"redelivery": True}) for e in webhooks.parse_endpoints(settings.webhook_endpoints)]
    await orders_repo.add_and_flush(session, *items)
    return items
