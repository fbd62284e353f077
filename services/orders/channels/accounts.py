"""Account changes confirmed by e-mail: contact e-mail, phone, default address, shipping address of orders not yet
shipped. Nothing is applied until every link of the change is followed: the address on file, and for a new
e-mail the new address too. Links are single-use, expiring and signed; the token itself is never stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Conflict, InvalidInput
from services.common.settings import Settings
from services.common.types import utcnow
from services.orders import repository as orders_repo
from services.orders.channels import catalog, outbox
from services.orders.channels import repository as repo
from services.orders.channels.errors import ChangeLinkInvalid, CustomerNotFound
from services.orders.channels.models import AccountAudit, AccountChange, ChangeLink, Customer
from services.orders.channels.schemas import ChangeCreate
from services.orders.models import Order, Shipment, TicketMessage

log = logging.getLogger("order_support.accounts")
OPEN_ORDER_STATUSES = ("pending_payment", "paid", "fulfilling")
CARRIER_HAS_IT = ("info_received", "in_transit", "out_for_delivery", "failed_attempt", "available_for_pickup",
                  "delivered", "exception", "returned_to_sender")
_PROCESS_SECRET = secrets.token_bytes(32)


def _secret(settings: Settings) -> bytes:
    if settings.account_link_secret:
        return settings.account_link_secret.encode()
    # Development only (production requires ACCOUNT_LINK_SECRET): links then live as long as this process.
    return _PROCESS_SECRET


def _mac(settings: Settings, change_id: str, nonce: str, recipient: str, expires_at: datetime) -> str:
    """What a link signs: the change, a nonce, the recipient and the expiry (unpadded URL-safe base64)."""
    message = f"{change_id}.{nonce}.{recipient.lower()}.{int(expires_at.timestamp())}".encode()
    return base64.urlsafe_b64encode(hmac.new(_secret(settings), message, hashlib.sha256).digest()).decode().rstrip("=")


def sign_token(settings: Settings, *, change_id: str, recipient: str, expires_at: datetime) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{change_id}.{nonce}.{_mac(settings, change_id, nonce, recipient, expires_at)}"


def _signature_ok(settings: Settings, token: str, *, recipient: str, expires_at: datetime) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    change_id, nonce, mac = parts
    return hmac.compare_digest(_mac(settings, change_id, nonce, recipient, expires_at), mac)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _address_line(address: dict[str, Any] | None) -> str:
    if not address:
        return "—"
    return ", ".join(str(address[k]) for k in ("line1", "line2", "city", "postal_code", "country") if address.get(k))


@dataclass
class ChangeView:
    change: AccountChange
    refused: list[dict[str, Any]] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    confirmations_needed: int = 0


async def customer_on_file(session: AsyncSession, customer_id: str, *, for_update: bool = False) -> Customer:
    """The customer's contact details; the first time, taken from their latest order."""
    customer = await repo.customer_by_id(session, customer_id, for_update=for_update)
    if customer is not None:
        return customer
    orders = await repo.orders_of_customer(session, customer_id)
    if not orders:
        raise CustomerNotFound(customer_id)
    latest = orders[0]
    customer = Customer(id=customer_id, email=latest.customer_email, phone=latest.customer_phone,
                        default_address=latest.shipping_address)
    await orders_repo.add_and_flush(session, customer)
    return customer


def shipped_refusal(lang: str, order: Order, shipments: list[Shipment]) -> dict[str, Any] | None:
    """An order whose parcel the carrier already has cannot change address here: the carrier can redirect it."""
    moving = [s for s in shipments if s.order_id == order.id and s.status in CARRIER_HAS_IT]
    if not moving and order.status in OPEN_ORDER_STATUSES:
        return None
    parcel = moving[0] if moving else next((s for s in shipments if s.order_id == order.id), None)
    params = {"order_number": order.order_number, "carrier": parcel.carrier if parcel else None,
              "tracking_number": parcel.tracking_number if parcel else None}
    return {"order_id": order.id, "order_number": order.order_number, "reason": "already_shipped",
            "advice": catalog.text(lang, "refused.shipped", params)}


async def request_change(session: AsyncSession, *, customer_id: str, body: ChangeCreate, principal: Principal,
                         settings: Settings, lang: str) -> ChangeView:
    if principal.is_customer and principal.customer_id != customer_id:
        raise CustomerNotFound(customer_id)
    customer = await customer_on_file(session, customer_id)
    if body.ticket_id is not None:
        ticket = await orders_repo.ticket_by_id(session, body.ticket_id)
        if ticket is None or ticket.customer_id != customer_id:
            raise InvalidInput("ticket_id is not a ticket of this customer.",
                               errors=[{"field": "ticket_id", "message": f"unknown ticket {body.ticket_id}"}])
    changes: dict[str, Any] = {}
    if body.email and body.email.lower() != (customer.email or "").lower():
        changes["email"] = {"from": customer.email, "to": body.email.lower()}
    if body.phone and body.phone != customer.phone:
        changes["phone"] = {"from": customer.phone, "to": body.phone}
    if body.address is not None:
        changes["default_address"] = {"from": customer.default_address,
                                      "to": body.address.model_dump(exclude_none=True)}
    refused: list[dict[str, Any]] = []
    if body.shipping_address is not None:
        orders = await repo.orders_of_customer(session, customer_id)
        if body.order_ids:
            unknown = set(body.order_ids) - {o.id for o in orders}
            if unknown:
                raise InvalidInput("Some orders are not this customer's.",
                                   errors=[{"field": "order_ids", "message": f"unknown order {o}"} for o in unknown])
            orders = [o for o in orders if o.id in body.order_ids]
        else:
            orders = [o for o in orders if o.status in OPEN_ORDER_STATUSES]
        shipments = await repo.shipments_of_orders(session, [o.id for o in orders])
        new_address = body.shipping_address.model_dump(exclude_none=True)
        for order in orders:
            refusal = shipped_refusal(lang, order, shipments)
            if refusal is not None:
                refused.append(refusal)
            else:
                changes[f"order:{order.id}"] = {"field": "shipping_address", "order_number": order.order_number,
                                                "from": order.shipping_address, "to": new_address}
    if not changes and not refused:
        raise InvalidInput("Nothing to change: name a new email, phone, address or shipping_address.")
    now = utcnow()
    change = AccountChange(customer_id=customer_id, ticket_id=body.ticket_id, requested_by=_who(principal),
                           changes=changes, expires_at=now + timedelta(minutes=settings.account_link_ttl_minutes),
                           status="pending_confirmation" if changes else "refused",
                           refused_reason="; ".join(r["advice"] for r in refused) or None)
    await orders_repo.add_and_flush(session, change)
    view = ChangeView(change, refused=refused, advice=[r["advice"] for r in refused])
    if not changes:
        return view
    if not customer.email:
        raise Conflict("There is no e-mail address on file to confirm this change from; an agent must verify the "
                       "customer another way.")
    recipients = [(customer.email, "change_confirm")]
    if "email" in changes:
        recipients.append((changes["email"]["to"], "change_confirm_new"))
    summary = summarize(lang, changes)
    for recipient, template in recipients:
        token = sign_token(settings, change_id=change.id, recipient=recipient, expires_at=change.expires_at)
        session.add(ChangeLink(change_id=change.id, token_hash=token_hash(token), recipient=recipient))
        link = f"{settings.public_base_url.rstrip('/')}/v1/account-changes/confirm?token={token}"
        await outbox.enqueue_mail(session, to=recipient, lang=lang, template=template, ticket_id=body.ticket_id,
                                  params={"summary": summary, "link": link,
                                          "expires_at": change.expires_at.strftime("%Y-%m-%d %H:%M UTC")})
    await session.flush()
    view.confirmations_needed = len(recipients)
    return view


def summarize(lang: str, changes: dict[str, Any]) -> str:
    lines = []
    for key, value in changes.items():
        if key.startswith("order:"):
            lines.append(catalog.text(lang, "field.shipping_address", {
                "order_number": value["order_number"], "old": _address_line(value["from"]),
                "new": _address_line(value["to"])}))
        elif key == "default_address":
            lines.append(catalog.text(lang, "field.default_address", {"old": _address_line(value["from"]),
                                                                      "new": _address_line(value["to"])}))
        else:
            lines.append(catalog.text(lang, f"field.{key}", {"old": value["from"] or "—", "new": value["to"]}))
    return "\n".join(f"- {line}" for line in lines)


def _who(principal: Principal) -> str:
    return f"{principal.role}:{principal.customer_id or principal.key_id or '-'}"[:64]


async def describe(session: AsyncSession, *, token: str) -> AccountChange:
    """What a link would confirm (reading it changes nothing: mail scanners open links too)."""
    link = await repo.link_by_hash(session, token_hash(token))
    change = await repo.change_by_id(session, link.change_id) if link else None
    if link is None or change is None:
        raise ChangeLinkInvalid("This link is not valid.")
    return change


async def confirm(session: AsyncSession, *, token: str, principal: Principal | None, settings: Settings,
                  lang: str) -> ChangeView:
    now = utcnow()
    link = await repo.link_by_hash(session, token_hash(token))
    if link is None or link.id is None:
        raise ChangeLinkInvalid("This link is not valid.")
    change = await repo.change_by_id(session, link.change_id, for_update=True)
    if change is None or not _signature_ok(settings, token, recipient=link.recipient, expires_at=change.expires_at):
        raise ChangeLinkInvalid("This link is not valid.")
    if principal is not None and principal.is_customer and principal.customer_id != change.customer_id:
        raise ChangeLinkInvalid("This link belongs to another customer's account; nothing was changed.")
    if link.used_at is not None:
        raise ChangeLinkInvalid("This link has already been used; each link works once.")
    if change.status != "pending_confirmation":
        raise ChangeLinkInvalid(f"This change is {change.status}; nothing was changed.")
    if now >= change.expires_at:
        # Returned, not raised: the request commits the new status, and the route answers 410.
        change.status, change.updated_at = "expired", now
        await session.flush()
        return ChangeView(change)
    if not await repo.use_link(session, link_id=link.id, now=now):
        raise ChangeLinkInvalid("This link has already been used; each link works once.")
    remaining = [x for x in await repo.links_of(session, change.id) if x.used_at is None and x.id != link.id]
    if remaining:
        return ChangeView(change, confirmations_needed=len(remaining))
    return await _apply(session, change, settings=settings, lang=lang, now=now)


async def _apply(session: AsyncSession, change: AccountChange, *, settings: Settings, lang: str,
                 now: datetime) -> ChangeView:
    customer = await customer_on_file(session, change.customer_id, for_update=True)
    orders = {o.id: o for o in await repo.orders_of_customer(session, change.customer_id)}
    shipments = await repo.shipments_of_orders(session, list(orders))
    applied: dict[str, Any] = {}
    refused: list[dict[str, Any]] = []
    for key, value in change.changes.items():
        if key.startswith("order:"):
            order = orders.get(key.split(":", 1)[1])
            refusal = shipped_refusal(lang, order, shipments) if order else None
            if order is None or refusal is not None:
                refused.append(refusal or {"order_id": key, "reason": "order_gone"})
                continue
            order.shipping_address, order.updated_at = value["to"], now
        elif key == "email":
            customer.email = value["to"]
            _on_open_orders(orders.values(), customer_email=value["to"], now=now)
        elif key == "phone":
            customer.phone = value["to"]
            _on_open_orders(orders.values(), customer_phone=value["to"], now=now)
        elif key == "default_address":
            customer.default_address = value["to"]
        applied[key] = value
        session.add(AccountAudit(customer_id=change.customer_id, change_id=change.id,
                                 field=value.get("field", key) if key.startswith("order:") else key,
                                 old_value=value["from"], new_value=value["to"], requested_by=change.requested_by,
                                 requested_at=change.created_at, confirmed_at=now))
    customer.updated_at = now
    change.status = "applied" if applied else "refused"
    change.confirmed_at, change.applied_at, change.updated_at = now, now if applied else None, now
    if refused:
        change.refused_reason = "; ".join(r.get("advice", r["reason"]) for r in refused)
    if "email" in applied and applied["email"]["from"]:
        await outbox.enqueue_mail(session, to=applied["email"]["from"], lang=lang, template="change_notice_old",
                                  params={"old": applied["email"]["from"], "new": applied["email"]["to"],
                                          "applied_at": now.strftime("%Y-%m-%d %H:%M UTC")})
    if change.ticket_id:
        session.add(TicketMessage(ticket_id=change.ticket_id, author="system", channel="email",
                                  text=catalog.text(lang, "change.applied", {"change_id": change.id,
                                                                             "summary": summarize(lang, applied)})))
    await session.flush()
    return ChangeView(change, refused=refused, advice=[r["advice"] for r in refused if "advice" in r])


def _on_open_orders(orders: Any, *, now: datetime, **values: str) -> None:
    for order in orders:
        if order.status in OPEN_ORDER_STATUSES:
            for name, value in values.items():
                setattr(order, name, value)
            order.updated_at = now


async def get_change(session: AsyncSession, *, customer_id: str, change_id: str, principal: Principal) -> ChangeView:
    change = await repo.change_by_id(session, change_id)
    if change is None or change.customer_id != customer_id or (
            principal.is_customer and principal.customer_id != customer_id):
        raise CustomerNotFound(customer_id)
    remaining = [x for x in await repo.links_of(session, change.id) if x.used_at is None]
    return ChangeView(change, confirmations_needed=len(remaining) if change.status == "pending_confirmation" else 0)
