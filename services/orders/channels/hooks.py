"""What the ticket service calls at its moments (flush only, inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.schemas import format_decimal
from services.orders.channels import help, outbox
from services.orders.channels import repository as repo
from services.orders.models import Order, Payment, Shipment, Ticket, TicketMessage


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    return {"ticket_id": ticket.id, "type": ticket.type, "channel": ticket.channel, "status": ticket.status,
            "order_id": ticket.order_id, "order_number": ticket.order_number, "customer_id": ticket.customer_id}


async def ticket_created(session: AsyncSession, ticket: Ticket) -> None:
    """A new ticket carries its top three help articles, and the shop hears of it."""
    words = " ".join(filter(None, [ticket.description, (ticket.details or {}).get("product"),
                                   (ticket.details or {}).get("device_model")]))
    ticket.details = {**(ticket.details or {}), "suggested_articles": help.suggestions(words, lang=ticket.lang)}
    await session.flush()
    await outbox.emit(session, type="ticket.created", order_id=ticket.order_id, data=ticket_data(ticket))


async def ticket_status_changed(session: AsyncSession, ticket: Ticket, previous: str) -> None:
    if previous != ticket.status:
        await outbox.emit(session, type="ticket.status_changed", order_id=ticket.order_id,
                          data={**ticket_data(ticket), "previous_status": previous})


async def reply_address(session: AsyncSession, ticket: Ticket) -> str | None:
    """Where a ticket's e-mail goes: the address it came from, else the customer's address on file."""
    mail_details = (ticket.details or {}).get("email") or {}
    if mail_details.get("reply_to"):
        return str(mail_details["reply_to"])
    if ticket.customer_id:
        customer = await repo.customer_by_id(session, ticket.customer_id)
        if customer is not None and customer.email:
            return customer.email
        orders = await repo.orders_of_customer(session, ticket.customer_id)
        if orders and orders[0].customer_email:
            return orders[0].customer_email
    return None


async def message_added(session: AsyncSession, *, ticket: Ticket, message: TicketMessage) -> None:
    """An agent's public reply on an e-mail ticket goes out by e-mail; an internal note never does."""
    if message.author != "agent" or getattr(message, "visibility", "public") != "public":
        return
    if "email" not in (ticket.channel, message.channel):
        return
    to = await reply_address(session, ticket)
    if to is None:
        return
    mail_details = (ticket.details or {}).get("email") or {}
    last = mail_details.get("last_message_id")
    references = [m for m in (mail_details.get("first_message_id"), last) if m]
    await outbox.enqueue_mail(session, to=to, lang=ticket.lang, template="agent_reply", ticket_id=ticket.id,
                              params={"ticket_id": ticket.id, "text": message.text,
                                      "subject": mail_details.get("subject") or ticket.type},
                              in_reply_to=last, references=list(dict.fromkeys(references)))


SHIPMENT_EVENTS = {"delivered": "shipment.delivered", "exception": "shipment.exception",
                   "returned_to_sender": "shipment.exception"}


async def shipment_changed(session: AsyncSession, shipment: Shipment, previous: str | None) -> None:
    """A parcel newly delivered, or newly in trouble, is an event for the shop."""
    event_type = SHIPMENT_EVENTS.get(shipment.status)
    if event_type is None or shipment.status == previous:
        return
    await outbox.emit(session, type=event_type, order_id=shipment.order_id, data={
        "shipment_id": shipment.id, "order_id": shipment.order_id, "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number, "status": shipment.status, "previous_status": previous,
        "delivered_at": shipment.delivered_at.isoformat() if shipment.delivered_at else None,
        "last_event_at": shipment.last_event_at.isoformat() if shipment.last_event_at else None})


def _payment_data(payment: Payment, order: Order) -> dict[str, Any]:
    return {"order_id": order.id, "order_number": order.order_number, "order_status": order.status,
            "payment_id": payment.id, "payment_status": payment.status, "method": payment.method,
            "amount": format_decimal(payment.amount), "currency": payment.currency, "chain": payment.chain,
            "tx_hash": payment.tx_hash}


async def order_paid(session: AsyncSession, order: Order, payment: Payment | None = None) -> None:
    """The order moved to paid (by any payment: card, bank, or a tx the chain confirmed)."""
    data: dict[str, Any] = {"order_id": order.id, "order_number": order.order_number, "total":
                            format_decimal(order.total), "currency": order.currency}
    if payment is not None:
        data.update({"payment_id": payment.id, "method": payment.method})
    await outbox.emit(session, type="order.paid", order_id=order.id, data=data)


async def payment_reconciled(session: AsyncSession, *, payment: Payment, order: Order, verdict: str) -> None:
    """A payment reported failed or pending turned out paid on the chain's evidence."""
    await outbox.emit(session, type="payment.reconciled", order_id=order.id,
                      data={**_payment_data(payment, order), "verdict": verdict})


async def payment_reversed(session: AsyncSession, *, payment: Payment, order: Order, reason: str) -> None:
    """A settled payment whose tx left the chain went back to pending (reorg)."""
    await outbox.emit(session, type="payment.reversed", order_id=order.id,
                      data={**_payment_data(payment, order), "reason": reason})
