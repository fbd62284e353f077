"""What each console page shows, gathered through the orders service's own rules and repositories; the
console adds only its queue, its search and the drawing of the delivered-address check."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Forbidden
from services.common.settings import Settings
from services.orders import flows, presenters, schemas
from services.orders import repository as orders_repo
from services.orders import service as orders_service
from services.orders.clients.wallet import WalletClient, WalletRejected, WalletUnavailable
from services.orders.console import repository as repo
from services.orders.console.shapes import QueryShape, classify, family_of_chain, tx_families
from services.orders.diagnosis.address import AddressCheck, check_delivery_address, haversine_km
from services.orders.diagnosis.returns import order_zone
from services.orders.diagnosis.snapshot import OrderSnapshot, Policy, ShipmentView
from services.orders.models import Order, Payment, PaymentStatusHistory, Ticket, TicketMessage

QUEUE_PAGE = 25


# Queue ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None
    type_: str | None = None
    channel: str | None = None
    newest_first: bool = True


@dataclass
class QueuePage:
    tickets: list[Ticket]
    counts: dict[str, int]
    next_cursor: str | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def encode_cursor(ticket: Ticket) -> str:
    return base64.urlsafe_b64encode(f"{ticket.created_at.isoformat()}|{ticket.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """A cursor we did not make (edited, truncated) restarts at the first page rather than failing."""
    if not cursor:
        return None
    try:
        at, _, ticket_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (when, ticket_id) if when.tzinfo is not None and ticket_id else None


def _own(principal: Principal) -> str | None:
    return principal.customer_id if principal.is_customer else None


async def queue(session: AsyncSession, *, principal: Principal, filters: QueueFilters,
                cursor: str | None, limit: int = QUEUE_PAGE) -> QueuePage:
    rows = await repo.queue_page(session, customer_id=_own(principal), status=filters.status,
                                 type_=filters.type_, channel=filters.channel, newest_first=filters.newest_first,
                                 after=decode_cursor(cursor), limit=limit + 1)
    counts = await repo.queue_counts(session, customer_id=_own(principal), type_=filters.type_,
                                     channel=filters.channel)
    more = len(rows) > limit
    rows = rows[:limit]
    return QueuePage(tickets=rows, counts=counts, next_cursor=encode_cursor(rows[-1]) if more and rows else None)


# Search --------------------------------------------------------------------------------------------------

@dataclass
class SearchResult:
    shape: QueryShape
    orders: list[Order] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)


async def search(session: AsyncSession, *, principal: Principal, query: str) -> SearchResult:
    shape = classify(query)
    if not shape.text:
        return SearchResult(shape)
    orders = await repo.orders_matching(session, kind=shape.kind, text=shape.text, digits=shape.digits,
                                        customer_id=_own(principal))
    tickets = await repo.tickets_matching(session, kind=shape.kind, text=shape.text,
                                          order_ids=[o.id for o in orders], customer_id=_own(principal))
    return SearchResult(shape, orders, tickets)


# Order page ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddressDrawing:
    """The delivered-address check drawn to scale: shipping point at the centre, rings at the thresholds."""

    size: int
    centre: float
    delivered_x: float
    delivered_y: float
    match_r: float
    mismatch_r: float
    distance_km: float
    match_km: float
    mismatch_km: float


def address_drawing(shipping: dict[str, Any] | None, delivered: dict[str, Any] | None, *, match_km: float,
                    mismatch_km: float, size: int = 240) -> AddressDrawing | None:
    """None when either side has no coordinates (the check then compared address text). Pure."""
    def point(place: dict[str, Any] | None) -> tuple[float, float] | None:
        if not place or not isinstance(place.get("lat"), int | float) or not isinstance(place.get("lon"), int | float):
            return None
        return float(place["lat"]), float(place["lon"])

    a, b = point(shipping), point(delivered)
    if a is None or b is None:
        return None
    distance = haversine_km(a[0], a[1], b[0], b[1])
    centre = size / 2
    scale = (centre - 14) / (max(distance, mismatch_km) * 1.15)  # px per km: the farther of the two fits
    east = (b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    north = b[0] - a[0]
    norm = math.hypot(east, north) or 1.0
    return AddressDrawing(size=size, centre=centre,
                          delivered_x=round(centre + east / norm * distance * scale, 1),
                          delivered_y=round(centre - north / norm * distance * scale, 1),
                          match_r=round(match_km * scale, 1), mismatch_r=round(mismatch_km * scale, 1),
                          distance_km=round(distance, 2), match_km=match_km, mismatch_km=mismatch_km)


@dataclass
class ShipmentPanel:
    view: ShipmentView
    check: AddressCheck | None
    drawing: AddressDrawing | None


@dataclass
class OrderPage:
    snapshot: OrderSnapshot
    diagnosis: schemas.DiagnosisPublic
    zone: str
    payments: list[tuple[Payment, list[PaymentStatusHistory]]]
    shipments: list[ShipmentPanel]

    @property
    def order(self) -> Order:
        return self.snapshot.order


async def order_page(session: AsyncSession, *, principal: Principal, policy: Policy, order_id: str,
                     lang: str) -> OrderPage:
    snapshot = await orders_service.load_snapshot(session, order_id=order_id, principal=principal, policy=policy)
    diagnosis = presenters.render_diagnosis(snapshot, lang)
    address = snapshot.order.shipping_address
    panels = []
    for view in snapshot.shipments:
        check = drawing = None
        delivered = view.delivered_event
        if delivered is not None:
            check = check_delivery_address(address, delivered.location, match_km=policy.address_match_km,
                                           mismatch_km=policy.address_mismatch_km)
            drawing = address_drawing(address, delivered.location, match_km=policy.address_match_km,
                                      mismatch_km=policy.address_mismatch_km)
        panels.append(ShipmentPanel(view, check, drawing))
    return OrderPage(snapshot=snapshot, diagnosis=diagnosis, zone=str(order_zone(address)),
                     payments=[(p, snapshot.history.get(p.id, [])) for p in snapshot.payments], shipments=panels)


async def start_return(session: AsyncSession, *, principal: Principal, policy: Policy, order_id: str,
                       body: schemas.ReturnCreate) -> None:
    snapshot = await orders_service.load_snapshot(session, order_id=order_id, principal=principal, policy=policy)
    await orders_service.create_return(session, snapshot=snapshot, body=body)


# Ticket page ---------------------------------------------------------------------------------------------

@dataclass
class TicketPage:
    ticket: Ticket
    messages: list[TicketMessage]
    diagnosis: schemas.DiagnosisPublic | None
    moves: list[str]
    payment_check: dict[str, Any] | None


async def ticket_page(session: AsyncSession, *, principal: Principal, policy: Policy, ticket_id: str,
                      lang: str) -> TicketPage:
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    messages = orders_service.visible_messages(await orders_repo.messages_of(session, ticket.id), principal)
    diagnosis = None
    if ticket.order_id:
        snapshot = await orders_service.load_snapshot(session, order_id=ticket.order_id, principal=principal,
                                                      policy=policy)
        diagnosis = presenters.render_diagnosis(snapshot, lang)
    moves = [] if principal.is_customer else sorted(orders_service.TICKET_TRANSITIONS[ticket.status])
    # Agents also see which order an already-used transfer paid; a customer only hears that it was used.
    check = ticket.payment_check if principal.is_customer else \
        await orders_service.payment_check_for_agents(session, ticket=ticket)
    return TicketPage(ticket=ticket, messages=messages, diagnosis=diagnosis, moves=moves, payment_check=check)


async def _ticket_for_change(session: AsyncSession, principal: Principal, ticket_id: str) -> Ticket:
    return orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id, for_update=True),
                                                principal, ticket_id)


async def post_message(session: AsyncSession, *, principal: Principal, ticket_id: str,
                       body: schemas.MessageCreate) -> None:
    ticket = await _ticket_for_change(session, principal, ticket_id)
    await orders_service.add_message(session, ticket=ticket, principal=principal, body=body)


async def move_ticket(session: AsyncSession, *, principal: Principal, ticket_id: str, status: str) -> None:
    if principal.is_customer:
        raise Forbidden("Only agents move a ticket's status.")
    ticket = await _ticket_for_change(session, principal, ticket_id)
    await orders_service.move_ticket(session, ticket=ticket, status=status, note=None)


async def check_again(session: AsyncSession, *, principal: Principal, ticket_id: str, wallet: WalletClient | None,
                      settings: Settings, merchant_addresses: dict[str, str]) -> str | None:
    """The ticket's tx re-checked through the same flow that checked it when it was opened."""
    if principal.is_customer:
        raise Forbidden("Only agents re-check a ticket's transaction.")
    ticket = await _ticket_for_change(session, principal, ticket_id)
    outcome = await flows.check_ticket_now(session, ticket=ticket, wallet=wallet, settings=settings,
                                           merchant_addresses=merchant_addresses)
    return outcome.verdict if outcome is not None else None


# Tx checker ----------------------------------------------------------------------------------------------

@dataclass
class TxPage:
    tx_hash: str
    chain: str | None
    families: tuple[str, ...]
    status: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    error: str | None = None  # a console catalog key
    error_detail: str = ""


def question_topic(status: dict[str, Any]) -> str:
    if status.get("found_on") and status.get("status") == "not_found":
        return "wrong_network"
    if status.get("status") == "failed":
        return "tx_failed"
    return "tx_pending"


async def check_tx(wallet: WalletClient | None, *, tx_hash: str, chain: str | None, answer_lang: str,
                   with_answer: bool = True) -> TxPage:
    tx_hash = tx_hash.strip()
    families = tx_families(tx_hash)
    if chain:
        family = family_of_chain(chain)
        families = (family,) if family else families
    page = TxPage(tx_hash=tx_hash, chain=chain, families=families)
    if not tx_hash:
        return page
    chosen = chain or (classify(tx_hash).default_chain if families else None)
    if chosen is None:
        page.error = "tx.unrecognised"
        return page
    page.chain = chosen
    if wallet is None:
        page.error = "error.wallet_down"
        return page
    try:
        page.status = await wallet.status(chain=chosen, tx_hash=tx_hash)
        if with_answer:
            page.answer = await wallet.question(topic=question_topic(page.status), chain=chosen, tx_hash=tx_hash,
                                                lang=answer_lang)
    except WalletUnavailable:
        page.error = "error.wallet_down"
    except WalletRejected as exc:
        page.error, page.error_detail = "error.rejected", exc.detail
    return page
