"""Property test: random interleavings of ticket claims (any token, any tx, any customer), recorded payments,
reorgs, outages, refunds and worker runs, through the API and the worker, with wallet-support replaced by a
simulated chain. After every step: the sum paid into each order is at most what its own transfers carry; no tx
settles two payments; no payment leaves `refunded`; nothing moves while the chain cannot be reached."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from services.common.types import utcnow
from services.orders.models import Job, Order, Payment, PaymentSettlement, Ticket
from services.orders.worker import Worker
from tests.chain_env import MERCHANT
from tests.conftest import CUSTOMER_1, CUSTOMER_2, auth
from tests.factories import order_body

CUSTOMERS = [("c-1001", CUSTOMER_1), ("c-2002", CUSTOMER_2)]
REQUIRED = 12


@dataclass
class SimTx:
    token: str
    amount: Decimal
    to: str
    block: int
    block_time: datetime
    present: bool = True


@dataclass
class SimChain:
    """What wallet-support would answer, from a chain we control."""

    txs: dict[str, SimTx]
    head: int = 1000
    outage: bool = False
    calls: int = 0

    async def verify(self, *, chain: str, tx_hash: str, to: str | None, token: str, amount: str, lang: str = "en",
                     fresh: bool = False) -> dict[str, Any]:
        self.calls += 1
        tx = self.txs.get(tx_hash)
        base: dict[str, Any] = {"chain": chain, "tx_hash": tx_hash, "status": "not_found", "confirmations": 0,
                                "required_confirmations": REQUIRED, "block_number": None, "block_time": None,
                                "head_block": self.head, "from": None, "to": None, "transfers": [], "failure": None,
                                "replaced_by": None}
        if self.outage:
            return {"verdict": "unknown", "tx": {**base, "status": "unknown", "head_block": None},
                    "explanation": "unreachable", "retry_after": 30, "paid_amount": None, "difference": None}
        if tx is None or not tx.present:
            return {"verdict": "not_found", "tx": base, "explanation": "not found", "paid_amount": None,
                    "difference": None}
        confirmations = self.head - tx.block + 1
        status = {**base, "status": "finalized" if confirmations >= REQUIRED else "confirmed",
                  "confirmations": confirmations, "block_number": tx.block,
                  "block_time": tx.block_time.isoformat(), "to": tx.to}
        paid, expected = tx.amount, Decimal(amount)
        if tx.token != token:
            verdict = "wrong_token"
        elif (to or "").lower() != tx.to.lower():
            verdict = "wrong_recipient"
        elif paid < expected:
            verdict = "underpaid"
        elif confirmations < REQUIRED:
            verdict = "pending"
        else:
            verdict = "overpaid" if paid > expected else "paid"
        return {"verdict": verdict, "tx": status, "explanation": verdict, "paid_amount": str(paid),
                "difference": str(paid - expected)}

    async def aclose(self) -> None:
        return None


@dataclass
class World:
    api: httpx.AsyncClient
    app: FastAPI
    chain: SimChain
    hashes: list[str]
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunded: set[str] = field(default_factory=set)
    clock: float = 1.0


operation = st.one_of(
    st.tuples(st.just("claim"), st.integers(0, 2), st.integers(0, 3), st.sampled_from([None, "USDT", "ETH", "TRX"]),
              st.integers(0, 1)),
    st.tuples(st.just("record"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("reorg"), st.integers(0, 3)),
    st.tuples(st.just("restore"), st.integers(0, 3)),
    st.tuples(st.just("outage"), st.booleans()),
    st.tuples(st.just("refund"), st.integers(0, 2)),
    st.tuples(st.just("worker"), st.integers(1, 3)),
)


async def snapshot(world: World) -> dict[str, Any]:
    ids = [o["id"] for o in world.orders]
    async with world.app.state.sessionmaker() as session:
        orders = {o.id: o.status for o in (await session.execute(select(Order).where(Order.id.in_(ids)))).scalars()}
        payments = list((await session.execute(select(Payment).where(Payment.order_id.in_(ids)))).scalars())
        settlements = list((await session.execute(
            select(PaymentSettlement).where(PaymentSettlement.order_id.in_(ids)))).scalars())
        tickets = {t.id: t.status for t in (await session.execute(
            select(Ticket).where(Ticket.order_id.in_(ids)))).scalars()}
    return {"orders": orders, "payments": {p.id: p for p in payments}, "settlements": settlements,
            "tickets": tickets}


def check_invariants(world: World, state: dict[str, Any]) -> None:
    payments: dict[str, Payment] = state["payments"]
    settled = {s.payment_id: s for s in state["settlements"]}
    by_order = {o["id"]: o for o in world.orders}
    for order_id in by_order:
        succeeded = [p for p in payments.values() if p.order_id == order_id and p.status == "succeeded"]
        carried = Decimal(0)
        for payment in succeeded:
            settlement = settled.get(payment.id)
            assert settlement is not None, "a payment succeeded without holding its transfer"
            sim = world.chain.txs[next(h for h in world.hashes if h.lower() == settlement.tx_hash)]
            placed = datetime.fromisoformat(by_order[order_id]["placed_at"])
            assert sim.token == payment.token and sim.to.lower() == MERCHANT.lower()
            assert sim.block_time >= placed - timedelta(minutes=10), "paid by a transfer older than the order"
            carried += sim.amount
        assert sum((p.amount for p in succeeded), Decimal(0)) <= carried
    used: dict[str, str] = {}
    for payment in payments.values():
        if payment.status == "succeeded" and payment.tx_hash:
            key = payment.tx_hash.lower()
            assert key not in used, "one tx settled two payments"
            used[key] = payment.id
    for payment_id in world.refunded:
        assert payments[payment_id].status == "refunded", "a payment left refunded"


async def step(world: World, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "claim":
        _, o, t, token, who = op
        order = world.orders[o]
        key = CUSTOMERS[who][1] if order["customer"]["id"] == CUSTOMERS[who][0] else None
        body: dict[str, Any] = {"type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
                                "description": "paid", "tx": {"chain": "eth", "tx_hash": world.hashes[t]}}
        if token:
            body["tx"]["token"] = token
        resp = await world.api.post("/v1/tickets", json=body, headers=auth(key) if key else {})
        assert resp.status_code == 201, resp.text
    elif kind == "record":
        _, o, t = op
        resp = await world.api.post(f"/v1/orders/{world.orders[o]['id']}/payments", json={
            "method": "crypto", "amount": "50.00", "currency": "USDT", "status": "pending",
            "crypto": {"chain": "eth", "tx_hash": world.hashes[t], "token": "USDT"}})
        assert resp.status_code == 201, resp.text
    elif kind == "reorg":
        world.chain.txs[world.hashes[op[1]]].present = False
    elif kind == "restore":
        world.chain.txs[world.hashes[op[1]]].present = True
    elif kind == "outage":
        world.chain.outage = op[1]
    elif kind == "refund":
        state = await snapshot(world)
        for payment in state["payments"].values():
            if payment.order_id == world.orders[op[1]]["id"] and payment.status == "succeeded":
                resp = await world.api.patch(f"/v1/payments/{payment.id}", json={"status": "refunded"})
                assert resp.status_code == 200, resp.text
                world.refunded.add(payment.id)
    elif kind == "worker":
        world.clock += op[1]
        one_lane = world.app.state.settings.model_copy(update={"worker_concurrency": 1})
        worker = Worker(sessionmaker=world.app.state.sessionmaker, wallet=world.chain,  # type: ignore[arg-type]
                        settings=one_lane, merchant_addresses=world.app.state.merchant_addresses)
        await worker.run_once(now=utcnow() + timedelta(hours=world.clock))


async def new_world(api: httpx.AsyncClient, app: FastAPI) -> World:
    now = utcnow()
    hashes = ["0x" + uuid.uuid4().hex * 2 for _ in range(4)]
    chain = SimChain(txs={
        hashes[0]: SimTx("USDT", Decimal("50"), MERCHANT, 980, now - timedelta(hours=1)),
        hashes[1]: SimTx("ETH", Decimal("50"), MERCHANT, 981, now - timedelta(hours=1)),
        hashes[2]: SimTx("USDT", Decimal("30"), MERCHANT, 982, now - timedelta(hours=1)),
        hashes[3]: SimTx("USDT", Decimal("50"), MERCHANT, 900, now - timedelta(days=3)),  # before the orders
    })
    world = World(api=api, app=app, chain=chain, hashes=hashes)
    for i in range(3):
        body = order_body(currency="USDT", placed_at=(now - timedelta(days=1)).isoformat(),
                          customer={"id": CUSTOMERS[i % 2][0]})
        body["items"][0]["unit_price"] = "50.00"
        resp = await api.post("/v1/orders", json=body)
        assert resp.status_code == 201, resp.text
        world.orders.append(resp.json())
    async with app.state.sessionmaker() as session, session.begin():  # earlier examples' jobs aside
        await session.execute(update(Job).where(Job.state.in_(["queued", "running"])).values(state="done"))
    return world


class TestMoneyInvariants:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops=st.lists(operation, min_size=1, max_size=14))
    async def test_random_interleavings_keep_the_invariants(self, api: httpx.AsyncClient, hooked_app: FastAPI,
                                                            ops: list[tuple[Any, ...]]) -> None:
        original = hooked_app.state.wallet_client
        world = await new_world(api, hooked_app)
        hooked_app.state.wallet_client = world.chain
        try:
            for op in ops:
                before = await snapshot(world)
                outage = world.chain.outage
                await step(world, op)
                after = await snapshot(world)
                check_invariants(world, after)
                if outage and op[0] in ("claim", "record", "worker"):
                    # Nothing the chain could not confirm moves: payments and orders stay, and no resolved ticket
                    # reopens (a waiting one may go back to an agent at its deadline: that is time, not money).
                    assert {k: p.status for k, p in before["payments"].items()} == \
                        {k: after["payments"][k].status for k in before["payments"]}
                    assert before["orders"] == after["orders"]
                    assert all(after["tickets"][k] == "resolved" for k, v in before["tickets"].items()
                               if v == "resolved")
        finally:
            hooked_app.state.wallet_client = original
