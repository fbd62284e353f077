"""Money integrity: no order is paid except by its own transfer, and no fault un-pays one.

Each class is one of the failures found in the landed code (issue #10), tried as a dishonest customer or a
flaky network would, on SQLite and PostgreSQL, on anvil (TRON on recorded TronGrid answers)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import event, func, select

from services.orders.channels.models import Event
from services.orders.flows import PAYMENT_JOB
from services.orders.models import Job, PaymentSettlement
from services.orders.worker import Worker
from tests.anvil import ACCOUNTS
from tests.chain_env import MERCHANT, Nodes, reorg_sender, token_transfer
from tests.conftest import CUSTOMER_1, CUSTOMER_2, auth
from tests.factories import order_body
from tests.integration.conftest import forget_transfer
from tests.integration.test_payment_hooks import get, later, usdt_order
from tests.wallet_support.test_tron import TRX_TRANSFER, USDT_OK, TronGrid

TRON_MERCHANT = "TUikLT3nTTjTkXPAuC4xUGj84vfSERCWRn"


def chain_back(app: FastAPI) -> None:
    """After a test's outage the endpoints' breakers are open for a cool-down: close them for the next test."""
    wallet = app.state.wallet_client.http._transport.app.state.wallet
    for client in wallet.clients.values():
        transport = getattr(client, "transport", None)
        if transport is not None and hasattr(transport, "pool"):
            transport.pool.reset()


async def claim(api: httpx.AsyncClient, order: dict[str, Any], tx: str, *, key: str = CUSTOMER_1,
                chain: str = "eth", token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
                            "description": "I paid, the order says unpaid", "tx": {"chain": chain, "tx_hash": tx}}
    if token:
        body["tx"]["token"] = token
    resp = await api.post("/v1/tickets", headers=auth(key), json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def paid_usdt(nodes: Nodes, amount: int = 499_000000, to: str = MERCHANT, sender: int = 0) -> str:
    node = nodes.eth
    tx = await node.send(**token_transfer(node, nodes.eth_usdt, to, amount, **{"from": ACCOUNTS[sender]}))
    await node.receipt(tx)
    await node.mine(12)
    return tx


async def payments_of(api: httpx.AsyncClient, order: dict[str, Any]) -> list[dict[str, Any]]:
    return list((await get(api, f"/v1/orders/{order['id']}/payments"))["items"])


async def status_of(api: httpx.AsyncClient, order: dict[str, Any]) -> str:
    return str((await get(api, f"/v1/orders/{order['id']}"))["status"])


class TestTheCustomerDoesNotChooseTheToken:
    async def test_eth_sent_for_a_usdt_order_does_not_pay_it(self, api: httpx.AsyncClient, nodes: Nodes) -> None:
        order = await usdt_order(api)
        node = nodes.eth
        tx = await node.send(to=MERCHANT, value=499 * 10**18)
        await node.receipt(tx)
        await node.mine(12)
        ticket = await claim(api, order, tx, token="ETH")
        assert ticket["payment_check"]["verdict"] == "wrong_token"
        assert ticket["details"]["claimed"] == {"token": "ETH"}  # kept for agents, never used to decide
        assert ticket["status"] == "open"
        assert await status_of(api, order) == "pending_payment"
        assert all(p["status"] != "succeeded" for p in await payments_of(api, order))

    async def test_trx_sent_for_a_usdt_order_does_not_pay_it(self, api: httpx.AsyncClient,
                                                             hooked_app: FastAPI) -> None:
        hooked_app.state.wallet_client.http._transport.app.state.wallet.cache.results.clear()  # type: ignore[attr-defined]
        order = await usdt_order(api, total="499.00", placed_at="2018-01-01T00:00:00+00:00")
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            ticket = await claim(api, order, TRX_TRANSFER, chain="tron", token="TRX")
        assert ticket["payment_check"]["verdict"] not in ("paid", "overpaid")
        assert ticket["payment_check"]["verdict"] in ("wrong_token", "wrong_recipient")
        assert await status_of(api, order) == "pending_payment"


class TestOneTransferPaysOneOrder:
    async def test_a_public_tx_hash_does_not_pay_a_second_order(self, api: httpx.AsyncClient, nodes: Nodes) -> None:
        order_a = await usdt_order(api, total="77.00")
        order_b = await usdt_order(api, total="77.00", customer={"id": "c-2002", "email": "b@example.com"})
        tx = await paid_usdt(nodes, 77_000000)
        assert (await claim(api, order_a, tx))["status"] == "resolved"
        assert await status_of(api, order_a) == "paid"

        ticket_b = await claim(api, order_b, tx, key=CUSTOMER_2)
        assert ticket_b["payment_check"]["verdict"] == "already_used"
        assert "another order" in ticket_b["messages"][-1]["text"]
        assert order_a["order_number"] not in str(ticket_b) and order_a["id"] not in str(ticket_b)
        assert await status_of(api, order_b) == "pending_payment"
        assert all(p["status"] != "succeeded" for p in await payments_of(api, order_b))
        # Agents see which order the transfer paid; the customer never does.
        as_agent = await get(api, f"/v1/tickets/{ticket_b['id']}")
        assert as_agent["payment_check"]["used_by"][0]["order_number"] == order_a["order_number"]
        as_customer = (await api.get(f"/v1/tickets/{ticket_b['id']}", headers=auth(CUSTOMER_2))).json()
        assert "used_by" not in as_customer["payment_check"]
        assert order_a["order_number"] not in str(as_customer)

    async def test_concurrent_claims_settle_once(self, api: httpx.AsyncClient, nodes: Nodes,
                                                 hooked_app: FastAPI) -> None:
        orders = [await usdt_order(api, total="55.00") for _ in range(4)]
        tx = await paid_usdt(nodes, 55_000000)
        tickets = await asyncio.gather(*(claim(api, o, tx) for o in orders))
        verdicts = sorted(t["payment_check"]["verdict"] for t in tickets)
        assert verdicts.count("paid") == 1, verdicts
        assert set(verdicts) <= {"paid", "already_used"}
        statuses = [await status_of(api, o) for o in orders]
        assert statuses.count("paid") == 1, statuses
        async with hooked_app.state.sessionmaker() as session:
            settled = (await session.execute(select(func.count()).select_from(PaymentSettlement).where(
                PaymentSettlement.tx_hash == tx.lower()))).scalar_one()
        assert settled == 1

    async def test_agents_cannot_record_one_tx_twice_either(self, api: httpx.AsyncClient, nodes: Nodes) -> None:
        tx = await paid_usdt(nodes, 12_000000)
        first, second = await usdt_order(api, total="12.00"), await usdt_order(api, total="12.00")
        body = {"method": "crypto", "amount": "12.00", "currency": "USDT", "status": "succeeded",
                "crypto": {"chain": "eth", "tx_hash": tx, "token": "USDT", "to_address": MERCHANT}}
        assert (await api.post(f"/v1/orders/{first['id']}/payments", json=body)).status_code == 201
        again = await api.post(f"/v1/orders/{second['id']}/payments", json=body)
        assert again.status_code == 409 and again.json()["type"].endswith("transfer-already-used")
        assert await status_of(api, second) == "pending_payment"

    async def test_a_transfer_older_than_the_order_is_not_its_payment(self, api: httpx.AsyncClient,
                                                                      nodes: Nodes) -> None:
        tx = await paid_usdt(nodes, 66_000000)
        order = await usdt_order(api, total="66.00", placed_at=later(1).isoformat())  # placed after the transfer
        ticket = await claim(api, order, tx)
        assert ticket["payment_check"]["verdict"] == "before_order"
        assert ticket["status"] == "open" and await status_of(api, order) == "pending_payment"


class TestAFaultNeverUnpays:
    async def test_outage_and_pending_during_the_watch_change_nothing(self, api: httpx.AsyncClient, nodes: Nodes,
                                                                     worker: Worker, hooked_app: FastAPI) -> None:
        order = await usdt_order(api)
        tx = await paid_usdt(nodes)
        ticket = await claim(api, order, tx)
        assert ticket["status"] == "resolved"
        before = await get(api, f"/v1/tickets/{ticket['id']}")
        with respx.mock(assert_all_called=False) as mock:  # the chain's only endpoint answers 503
            mock.post(nodes.eth.url).respond(503, headers={"Retry-After": "7"})
            await worker.run_once(now=later(1))
            await worker.run_once(now=later(2))
        chain_back(hooked_app)
        [payment] = await payments_of(api, order)
        assert payment["status"] == "succeeded"
        assert await status_of(api, order) == "paid"
        after = await get(api, f"/v1/tickets/{ticket['id']}")
        assert after["status"] == "resolved" and len(after["messages"]) == len(before["messages"])
        # The watch goes on once the chain answers again, and finds it still paid.
        await worker.run_once(now=later(3))
        assert (await payments_of(api, order))[0]["status"] == "succeeded"

    async def test_a_lagging_node_does_not_unpay(self, api: httpx.AsyncClient, nodes: Nodes,
                                                 worker: Worker, hooked_app: FastAPI) -> None:
        order = await usdt_order(api)
        tx = await paid_usdt(nodes)
        assert (await claim(api, order, tx))["status"] == "resolved"
        [payment] = await payments_of(api, order)
        settled_block = payment["payment_check"]["tx"]["block_number"]
        lagging = {"jsonrpc": "2.0", "id": 1, "result": hex(settled_block - 5)}

        def answer(request: httpx.Request) -> httpx.Response:
            import json

            calls = json.loads(request.content)
            batch = calls if isinstance(calls, list) else [calls]
            out = [{**lagging, "id": c["id"]} if c["method"] == "eth_blockNumber" else
                   {"jsonrpc": "2.0", "id": c["id"], "result": hex(1) if c["method"] == "eth_chainId" else None}
                   for c in batch]
            return httpx.Response(200, json=out if isinstance(calls, list) else out[0])

        for hours in (1, 2, 3):
            with respx.mock(assert_all_called=False) as mock:  # a node behind the block says "no such tx"
                mock.post(nodes.eth.url).mock(side_effect=answer)
                await worker.run_once(now=later(hours))
        chain_back(hooked_app)
        assert (await payments_of(api, order))[0]["status"] == "succeeded"
        assert await status_of(api, order) == "paid"


class Meanwhile:
    """The wallet client, with something done by someone else while the first check is on the wire (no
    transaction is open then: that is exactly when another request can change the rows)."""

    def __init__(self, inner: Any, act: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self.act: Callable[[], Awaitable[None]] | None = act

    async def verify(self, **kwargs: Any) -> dict[str, Any]:
        if self.act is not None:
            act, self.act = self.act, None
            await act()
        return dict(await self.inner.verify(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TestTheLockedRowIsTheOneRead:
    async def test_a_payment_settled_during_the_chain_call_is_not_settled_again(
            self, api: httpx.AsyncClient, nodes: Nodes, hooked_app: FastAPI) -> None:
        # The recording request commits, asks the chain, then re-reads the payment FOR UPDATE in the same session.
        # Meanwhile the customer's payment_failed ticket settles that very payment in another request. The re-read
        # must see it settled (the session's copy from before the chain call said pending).
        order = await usdt_order(api, total="61.00")
        tx = await paid_usdt(nodes, 61_000000)
        original = hooked_app.state.wallet_client
        hooked_app.state.wallet_client = Meanwhile(original, lambda: settle_by_ticket(api, order, tx, original,
                                                                                      hooked_app))
        try:
            resp = await api.post(f"/v1/orders/{order['id']}/payments", json={
                "method": "crypto", "amount": "61.00", "currency": "USDT", "status": "pending",
                "crypto": {"chain": "eth", "tx_hash": tx, "token": "USDT"}})
        finally:
            hooked_app.state.wallet_client = original
        assert resp.status_code == 201 and resp.json()["status"] == "succeeded", resp.text
        [payment] = await payments_of(api, order)
        assert [h["to_status"] for h in payment["history"]].count("succeeded") == 1, payment["history"]
        async with hooked_app.state.sessionmaker() as session:
            paid_events = (await session.execute(select(func.count()).select_from(Event).where(
                Event.type == "order.paid", Event.order_id == order["id"]))).scalar_one()
        assert paid_events == 1


class TestLockOrder:
    async def test_a_tickets_check_locks_the_payment_before_its_order(
            self, api: httpx.AsyncClient, nodes: Nodes, hooked_app: FastAPI) -> None:
        # Every payment path takes the payment's row lock, then its order's. A ticket's check that took them the
        # other way round could deadlock with the payment's own check (worker, reorg watch, POST /payments).
        engine = hooked_app.state.engine.sync_engine
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite takes no row locks (one writer at a time)")
        order = await usdt_order(api, total="63.00")
        tx = await paid_usdt(nodes, 63_000000)
        resp = await api.post(f"/v1/orders/{order['id']}/payments", json={
            "method": "crypto", "amount": "63.00", "currency": "USDT", "status": "pending",
            "crypto": {"chain": "eth", "tx_hash": tx, "token": "USDT"}})
        assert resp.status_code == 201, resp.text
        locked: list[str] = []

        def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.rstrip().endswith("FOR UPDATE") and (table := re.search(r"\bFROM (\w+)", statement)):
                locked.append(table.group(1))

        event.listen(engine, "before_cursor_execute", on_statement)
        try:
            ticket = await claim(api, order, tx)
        finally:
            event.remove(engine, "before_cursor_execute", on_statement)
        assert ticket["payment_check"]["verdict"] == "paid", ticket["payment_check"]
        assert "payments" in locked and locked.index("payments") < locked.index("orders"), locked


async def settle_by_ticket(api: httpx.AsyncClient, order: dict[str, Any], tx: str, wallet: Any,
                           app: FastAPI) -> None:
    app.state.wallet_client = wallet  # the ticket's own check goes straight to the chain
    ticket = await claim(api, order, tx)
    assert ticket["payment_check"]["verdict"] == "paid", ticket["payment_check"]
    [payment] = await payments_of(api, order)
    assert payment["status"] == "succeeded"


class TestARefundIsFinal:
    async def test_refunded_payment_stays_refunded(self, api: httpx.AsyncClient, nodes: Nodes,
                                                   worker: Worker) -> None:
        order = await usdt_order(api)
        tx = await paid_usdt(nodes)
        assert (await claim(api, order, tx))["status"] == "resolved"
        [payment] = await payments_of(api, order)
        resp = await api.patch(f"/v1/payments/{payment['id']}", json={"status": "refunded", "note": "refunded"})
        assert resp.status_code == 200, resp.text
        await worker.run_once(now=later(1))  # the reorg watch
        second = await claim(api, order, tx)  # and the customer asks again
        [payment] = await payments_of(api, order)
        assert payment["status"] == "refunded"
        assert payment["history"][-1]["note"].startswith("chain says paid; not applied")
        notes = [m for m in (await get(api, f"/v1/tickets/{second['id']}"))["messages"]
                 if m.get("visibility") == "internal"]
        assert notes and "nothing was changed" in notes[-1]["text"]
        customer_view = (await api.get(f"/v1/tickets/{second['id']}", headers=auth(CUSTOMER_1))).json()
        assert all(m.get("visibility") != "internal" for m in customer_view["messages"])


class TestEveryPaidPaymentIsWatched:
    async def test_a_recorded_payment_gets_the_reorg_watch(self, api: httpx.AsyncClient, nodes: Nodes,
                                                           hooked_app: FastAPI, worker: Worker) -> None:
        order = await usdt_order(api)
        tx = await paid_usdt(nodes, sender=ACCOUNTS.index(await reorg_sender(nodes, 7)))
        body = {"method": "crypto", "amount": "499.00", "currency": "USDT", "status": "pending",
                "crypto": {"chain": "eth", "tx_hash": tx, "token": "USDT"}}
        resp = await api.post(f"/v1/orders/{order['id']}/payments", json=body)
        assert resp.status_code == 201 and resp.json()["status"] == "succeeded", resp.text
        async with hooked_app.state.sessionmaker() as session:
            job = (await session.execute(select(Job).where(Job.kind == PAYMENT_JOB,
                                                           Job.ref_id == resp.json()["id"]))).scalar_one()
        assert job.state == "queued"
        watch = hooked_app.state.settings.reorg_watch_seconds
        assert timedelta(seconds=watch - 30) < job.run_at - job.updated_at < timedelta(seconds=watch + 30)
        await nodes.eth.rpc("anvil_reorg", 14, [])
        await worker.run_once(now=later(1))
        await worker.run_once(now=later(2))
        [payment] = await payments_of(api, order)
        assert payment["status"] == "pending"
        assert await status_of(api, order) == "pending_payment"


class TestFiatOrders:
    async def test_a_fiat_order_is_never_settled_by_a_tx(self, api: httpx.AsyncClient, nodes: Nodes) -> None:
        resp = await api.post("/v1/orders", json=order_body())  # CNY, no crypto payment recorded
        order = resp.json()
        tx = await paid_usdt(nodes)
        ticket = await claim(api, order, tx, token="USDT")
        assert ticket["payment_check"]["verdict"] == "no_expectation"
        assert "crypto_payment" in ticket["missing_information"] and ticket["status"] == "open"
        assert await status_of(api, order) == "pending_payment"
        assert await payments_of(api, order) == []


class TestTron:
    async def test_tron_one_transfer_one_order(self, api: httpx.AsyncClient, hooked_app: FastAPI) -> None:
        hooked_app.state.wallet_client.http._transport.app.state.wallet.cache.results.clear()  # type: ignore[attr-defined]
        await forget_transfer(hooked_app, USDT_OK)
        first = await usdt_order(api, total="3.50", placed_at="2024-11-10T00:00:00+00:00")
        second = await usdt_order(api, total="3.50", placed_at="2024-11-10T00:00:00+00:00",
                                  customer={"id": "c-2002"})
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            assert (await claim(api, first, USDT_OK, chain="tron"))["status"] == "resolved"
            again = await claim(api, second, USDT_OK, chain="tron", key=CUSTOMER_2)
        assert again["payment_check"]["verdict"] == "already_used"
        assert await status_of(api, second) == "pending_payment"

    async def test_no_merchant_address_is_the_shops_to_fix(self, api: httpx.AsyncClient, hooked_app: FastAPI,
                                                           nodes: Nodes) -> None:
        order = await usdt_order(api)
        tx = await paid_usdt(nodes)
        saved = hooked_app.state.merchant_addresses.pop("eth")
        try:
            ticket = await claim(api, order, tx)
        finally:
            hooked_app.state.merchant_addresses["eth"] = saved
        assert ticket["payment_check"]["verdict"] == "no_merchant_address"
        assert "no receiving address configured on eth" in ticket["messages"][-1]["text"]
        assert "tx_hash" not in ticket["missing_information"]  # nothing to ask the customer for
        assert ticket["status"] == "open" and await status_of(api, order) == "pending_payment"
