"""The diagnosis's one-statement snapshot (plain rows, PostgreSQL) holds exactly what the ORM snapshot holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from services.orders import repository as repo
from tests.conftest import AGENT, CUSTOMER_1, auth
from tests.orders.test_support_api import FAR, deliver, make_order, pay


def columns(row: Any) -> dict[str, Any]:
    """A row's column values (ORM instance or plain stand-in), by column name."""
    names = [c.name for c in type(row).__table__.c] if hasattr(type(row), "__table__") else row.__slots__
    return {name: getattr(row, name) for name in names}


def typed(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (type(v).__name__, v) for k, v in values.items()}


async def test_plain_snapshot_equals_the_orm_snapshot(app: FastAPI, client: httpx.AsyncClient, unique: str) -> None:
    order = await make_order(client)
    await pay(client, order, status="failed", failure_code="card_declined")
    await pay(client, order)
    await deliver(client, order, f"PS{unique}", datetime.now(UTC) - timedelta(hours=2), FAR, extra_events=3)
    resp = await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
        "type": "wrong_item", "channel": "chat", "order_number": order["order_number"], "description": "a phone case"})
    assert resp.status_code == 201, resp.text
    resp = await client.post(f"/v1/orders/{order['id']}/returns", headers=auth(AGENT), json={
        "items": [{"sku": "TP-HW-01", "quantity": 1}], "reason": "wrong_item", "condition": "unopened"})
    assert resp.status_code == 201, resp.text

    async with app.state.sessionmaker() as session:
        orm = await repo.snapshot_rows(session, order["id"])
    async with app.state.sessionmaker() as session:
        plain = await repo.snapshot_plain(session, order["id"])

    o_order, o_items, o_payments, o_history, o_shipments, o_tickets, o_returns = orm
    p_order, p_items, p_payments, p_history, p_shipments, p_tickets, p_returns = plain
    if app.state.engine.dialect.name == "postgresql":  # the one-statement path, not the ORM one again
        assert type(p_order).__name__ == "OrderRow" and not hasattr(p_order, "_sa_instance_state")
    assert typed(columns(p_order)) == typed(columns(o_order))
    assert p_order.shipping_address["city"] == order["shipping_address"]["city"]
    for mine, theirs in ((p_items, o_items), (p_payments, o_payments), (p_tickets, o_tickets),
                         (p_returns, o_returns)):
        assert [typed(columns(r)) for r in mine] == [typed(columns(r)) for r in theirs]
    assert len(p_payments) == 2 and len(p_tickets) == 1 and len(p_returns) == 1
    assert p_returns[0].items[0]["sku"] == "TP-HW-01" and p_returns[0].refund_amount == o_returns[0].refund_amount
    assert {k: [typed(columns(h)) for h in v] for k, v in p_history.items()} == \
        {k: [typed(columns(h)) for h in v] for k, v in o_history.items()}
    assert [(typed(columns(s)), [typed(columns(e)) for e in events]) for s, events in p_shipments] == \
        [(typed(columns(s)), [typed(columns(e)) for e in events]) for s, events in o_shipments]
    events = p_shipments[0][1]
    assert [e.status for e in events] == ["in_transit"] * 3 + ["delivered"]
    assert events[-1].location is not None and events[-1].location["lat"] == FAR["lat"]

    async with app.state.sessionmaker() as session:
        assert await repo.snapshot_plain(session, "ord_nope") == (None, [], [], {}, [], [], [])


async def test_rows_made_in_the_same_instant_come_in_the_same_order(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    from sqlalchemy import update

    from services.orders.models import Payment, Ticket

    order = await make_order(client)
    for _ in range(3):
        await pay(client, order, status="failed", failure_code="card_declined")
        resp = await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
            "description": "declined again"})
        assert resp.status_code == 201, resp.text
    instant = datetime.now(UTC) - timedelta(minutes=5)
    async with app.state.sessionmaker() as session, session.begin():
        for model in (Payment, Ticket):
            await session.execute(update(model).where(model.order_id == order["id"]).values(created_at=instant))
    async with app.state.sessionmaker() as session:
        orm = await repo.snapshot_rows(session, order["id"])
    async with app.state.sessionmaker() as session:
        plain = await repo.snapshot_plain(session, order["id"])
    for index in (2, 5):  # payments, tickets
        assert len(orm[index]) == 3
        assert [r.id for r in plain[index]] == [r.id for r in orm[index]] == sorted(r.id for r in orm[index])
