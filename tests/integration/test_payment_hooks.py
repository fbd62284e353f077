"""Failed-payment tickets checked on chain, payments reconciled and followed to finality (anvil + TRON)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import respx
from fastapi import FastAPI
from sqlalchemy import select

from services.common.types import utcnow
from services.orders.models import Job
from services.orders.worker import Worker
from tests.anvil import ACCOUNTS
from tests.chain_env import MERCHANT, Nodes, reorg_sender, token_transfer
from tests.conftest import CUSTOMER_1
from tests.factories import order_body
from tests.integration.conftest import forget_transfer
from tests.wallet_support.test_tron import USDT_OK, TronGrid


async def usdt_order(api: httpx.AsyncClient, total: str = "499.00", **overrides: Any) -> dict[str, Any]:
    body = order_body(currency="USDT", **overrides)
    body["items"][0]["unit_price"] = total
    resp = await api.post("/v1/orders", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def ticket_for(api: httpx.AsyncClient, order: dict[str, Any], tx: str, chain: str = "eth",
                     lang: str = "en") -> dict[str, Any]:
    resp = await api.post("/v1/tickets", headers={"Authorization": f"Bearer {CUSTOMER_1}"}, json={
        "type": "payment_failed", "channel": "chat", "order_number": order["order_number"], "lang": lang,
        "description": "I paid but the order still says unpaid", "tx": {"chain": chain, "tx_hash": tx}})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def get(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    resp = await api.get(path)
    assert resp.status_code == 200, resp.text
    return resp.json()


def later(hours: float = 1) -> Any:
    return utcnow() + timedelta(hours=hours)


class TestEndToEndOnAnvil:
    async def test_pending_then_mined_then_reconciled_once(self, api: httpx.AsyncClient, nodes: Nodes,
                                                          worker: Worker) -> None:
        node = nodes.eth
        order = await usdt_order(api)
        await node.automine(False)
        try:
            tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000))
            ticket = await ticket_for(api, order, tx)
            assert ticket["status"] == "waiting_chain"
            assert ticket["payment_check"]["verdict"] == "pending"
            assert ticket["messages"][-1]["author"] == "system"
            assert "check it again automatically" in ticket["messages"][-1]["text"]
            assert (await get(api, f"/v1/orders/{order['id']}"))["status"] == "pending_payment"
            await node.mine(1)
        finally:
            await node.automine(True)
        await worker.run_once(now=later())  # in a block, not final yet: still waiting, no new message
        waiting = await get(api, f"/v1/tickets/{ticket['id']}")
        assert waiting["status"] == "waiting_chain" and len(waiting["messages"]) == len(ticket["messages"])
        await node.mine(12)
        await worker.run_once(now=later(2))
        done = await get(api, f"/v1/tickets/{ticket['id']}")
        assert done["status"] == "resolved"
        assert done["payment_check"]["verdict"] == "paid"
        assert "now succeeded and the order is paid" in done["messages"][-1]["text"]
        assert (await get(api, f"/v1/orders/{order['id']}"))["status"] == "paid"
        [payment] = (await get(api, f"/v1/orders/{order['id']}/payments"))["items"]
        assert payment["status"] == "succeeded" and payment["crypto"]["tx_hash"] == tx
        assert [(h["to_status"], h["source"]) for h in payment["history"]] == [("pending", "chain"),
                                                                              ("succeeded", "chain")]
        # Checked again (the same ticket, another worker pass): nothing moves twice.
        await worker.run_once(now=later(3))
        again = await get(api, f"/v1/tickets/{ticket['id']}")
        assert len(again["messages"]) == len(done["messages"])
        [payment] = (await get(api, f"/v1/orders/{order['id']}/payments"))["items"]
        assert len(payment["history"]) == 2

    async def test_underpaid_wrong_recipient_reverted(self, api: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        cases = {
            "underpaid": token_transfer(node, nodes.eth_usdt, MERCHANT, 450_000000),
            "wrong_recipient": token_transfer(node, nodes.eth_usdt, ACCOUNTS[3], 499_000000),
            "failed": {**token_transfer(node, nodes.eth_usdt, MERCHANT, 10**30), "gas": 100_000},
        }
        sent = {}
        for verdict, tx in cases.items():
            sent[verdict] = await node.send(**tx)
        await node.receipt(sent["failed"])
        await node.mine(12)
        for verdict, tx in sent.items():
            order = await usdt_order(api)
            ticket = await ticket_for(api, order, tx, lang="zh-CN")
            assert ticket["status"] == "open", verdict
            assert ticket["payment_check"]["verdict"] == verdict
            note = ticket["messages"][-1]
            assert note["author"] == "system" and "已在 eth 上核实" in note["text"]
            assert "\n- " in note["text"]  # next steps follow the explanation
            diagnosis = ticket["diagnosis"]
            finding = next(f for f in diagnosis["findings"] if f["code"] == "crypto_payment_unverified")
            assert finding["evidence"]["verdict"] == verdict
            [payment] = (await get(api, f"/v1/orders/{order['id']}/payments"))["items"]
            assert (payment["status"], payment["failure_code"]) == ("failed", verdict)
            assert (await get(api, f"/v1/orders/{order['id']}"))["status"] == "pending_payment"
            if verdict == "underpaid":
                assert "49.000000" in note["text"]  # the shortfall, in the explanation and the next step

    async def test_reorg_before_finality_and_after_reconciliation(self, api: httpx.AsyncClient, nodes: Nodes,
                                                                  worker: Worker) -> None:
        node = nodes.eth
        order = await usdt_order(api)
        sender = await reorg_sender(nodes, 8)
        tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000, **{"from": sender}))
        await node.receipt(tx)
        ticket = await ticket_for(api, order, tx)
        assert ticket["status"] == "waiting_chain"  # 1 confirmation: pending, never "paid" yet
        await node.rpc("anvil_reorg", 1, [])
        await worker.run_once(now=later())
        after = await get(api, f"/v1/tickets/{ticket['id']}")
        assert after["payment_check"]["verdict"] in ("dropped", "pending"), after["payment_check"]
        assert (await get(api, f"/v1/orders/{order['id']}"))["status"] == "pending_payment"

        # Reconciled at finality, then the chain takes it back: the payment goes back to pending, loudly.
        order2 = await usdt_order(api)
        # Not the first tx again: re-sent after its reorg with the same nonce and data it would have its hash, and
        # that tx belongs to the first order.
        tx2 = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000, gas=120_000,
                                               **{"from": sender}))
        await node.receipt(tx2)
        await node.mine(12)
        ticket2 = await ticket_for(api, order2, tx2)
        assert ticket2["status"] == "resolved", ticket2["payment_check"]
        assert (await get(api, f"/v1/orders/{order2['id']}"))["status"] == "paid"
        await node.rpc("anvil_reorg", 14, [])
        await worker.run_once(now=later(1))  # the reorg watch: gone once is not proof yet
        [payment] = (await get(api, f"/v1/orders/{order2['id']}/payments"))["items"]
        assert payment["status"] == "succeeded"
        await worker.run_once(now=later(2))  # gone on the next look too, by a node past its block: un-paid
        [payment] = (await get(api, f"/v1/orders/{order2['id']}/payments"))["items"]
        assert payment["status"] == "pending"
        assert payment["history"][-1]["source"] == "chain"
        assert payment["history"][-1]["note"].startswith("the transaction left the chain")
        assert (await get(api, f"/v1/orders/{order2['id']}"))["status"] == "pending_payment"
        reopened = await get(api, f"/v1/tickets/{ticket2['id']}")
        assert reopened["status"] == "open" and "left the chain" in reopened["messages"][-1]["text"]


class TestTronHook:
    async def test_tron_ticket_reconciles_on_recorded_answers(self, api: httpx.AsyncClient,
                                                              hooked_app: FastAPI) -> None:
        hooked_app.state.wallet_client.http._transport.app.state.wallet.cache.results.clear()  # type: ignore[attr-defined]
        await forget_transfer(hooked_app, USDT_OK)
        # Placed before the recorded mainnet tx was mined (2024-11-10), so the transfer can be its payment.
        order = await usdt_order(api, total="3.50", placed_at="2024-11-10T00:00:00+00:00")
        with respx.mock(assert_all_called=False) as mock:
            TronGrid(mock)
            ticket = await ticket_for(api, order, USDT_OK, chain="tron")
        assert ticket["status"] == "resolved", ticket["messages"]
        assert ticket["payment_check"]["tx"]["status"] == "finalized"
        assert (await get(api, f"/v1/orders/{order['id']}"))["status"] == "paid"


class TestRetriesAndWorkers:
    async def test_wallet_unreachable_keeps_the_ticket_waiting(self, api: httpx.AsyncClient, hooked_app: FastAPI,
                                                              worker: Worker) -> None:
        order = await usdt_order(api)
        original = hooked_app.state.wallet_client
        from services.orders.clients.wallet import WalletClient

        hooked_app.state.wallet_client = WalletClient(base_url="http://127.0.0.1:9", api_key="x", timeout=1)
        try:
            ticket = await ticket_for(api, order, "0x" + uuid.uuid4().hex * 2)
        finally:
            await hooked_app.state.wallet_client.aclose()
            hooked_app.state.wallet_client = original
        assert ticket["status"] == "waiting_chain"
        assert "try again automatically" in ticket["messages"][-1]["text"]
        async with hooked_app.state.sessionmaker() as session:
            job = (await session.execute(select(Job).where(Job.ref_id == ticket["id"]))).scalar_one()
        assert job.state == "queued" and job.deadline is not None

    async def test_deadline_flags_the_ticket(self, api: httpx.AsyncClient, nodes: Nodes, worker: Worker) -> None:
        node = nodes.eth
        order = await usdt_order(api)
        await node.automine(False)
        try:
            tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000, **{"from": ACCOUNTS[1]}))
            ticket = await ticket_for(api, order, tx)
            assert ticket["status"] == "waiting_chain"
            await worker.run_once(now=later(48))
        finally:
            await node.rpc("anvil_dropTransaction", tx)
            await node.automine(True)
        flagged = await get(api, f"/v1/tickets/{ticket['id']}")
        assert flagged["status"] == "open"
        assert "still not final after 24.0 hours" in flagged["messages"][-1]["text"]

    async def test_two_workers_do_no_double_work(self, api: httpx.AsyncClient, nodes: Nodes, hooked_app: FastAPI,
                                                 worker: Worker) -> None:
        node = nodes.eth
        orders, tickets = [], []
        await node.automine(False)
        try:
            for _ in range(8):
                order = await usdt_order(api)
                tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000))
                orders.append(order)
                tickets.append(await ticket_for(api, order, tx))
            await node.mine(1)
        finally:
            await node.automine(True)
        await node.mine(13)
        state = hooked_app.state
        second = Worker(sessionmaker=state.sessionmaker, wallet=state.wallet_client, settings=state.settings,
                        merchant_addresses=state.merchant_addresses, worker_id="second")
        when = later(5)

        async def drain(w: Worker) -> int:
            # Small claims, so that the two workers interleave their claims on the same queue.
            done = 0
            while processed := await w.run_once(now=when, limit=2):
                done += processed
            return done

        counts = await asyncio.gather(drain(worker), drain(second))
        ids = [t["id"] for t in tickets]
        async with state.sessionmaker() as session:
            jobs = (await session.execute(select(Job).where(Job.ref_id.in_(ids)))).scalars().all()
        assert sum(counts) >= len(ids)  # (other tests may have left due jobs in the same queue)
        assert all(j.attempts == 1 and j.state == "done" for j in jobs), [(j.locked_by, j.attempts) for j in jobs]
        for order, ticket in zip(orders, tickets, strict=True):
            done = await get(api, f"/v1/tickets/{ticket['id']}")
            assert done["status"] == "resolved"
            assert sum(1 for m in done["messages"] if "order is paid" in m["text"]) == 1
            [payment] = (await get(api, f"/v1/orders/{order['id']}/payments"))["items"]
            assert [h["to_status"] for h in payment["history"]] == ["pending", "succeeded"]


class TestRecordedCryptoPayment:
    async def test_recorded_payment_is_verified_against_the_order(self, api: httpx.AsyncClient, nodes: Nodes) -> None:
        node = nodes.eth
        tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000))
        await node.receipt(tx)
        await node.mine(12)
        order = await usdt_order(api)
        resp = await api.post(f"/v1/orders/{order['id']}/payments", json={
            "method": "crypto", "amount": "499.00", "currency": "USDT", "status": "pending",
            "crypto": {"chain": "eth", "tx_hash": tx, "token": "USDT"}})
        assert resp.status_code == 201, resp.text
        payment = resp.json()
        assert payment["crypto"]["to_address"] == MERCHANT  # MERCHANT_ADDRESS_ETH
        assert payment["payment_check"]["verdict"] == "paid" and payment["status"] == "succeeded"
        assert payment["crypto"]["from_address"] == ACCOUNTS[0]
        assert (await get(api, f"/v1/orders/{order['id']}"))["status"] == "paid"


class TestParcelSweep:
    async def test_stalled_parcel_gets_one_proactive_ticket(self, api: httpx.AsyncClient, worker: Worker) -> None:
        order = (await api.post("/v1/orders", json=order_body())).json()
        tracking = f"SW{uuid.uuid4().hex[:10].upper()}"
        shipment = (await api.post(f"/v1/orders/{order['id']}/shipments",
                                   json={"carrier": "sf-express", "tracking_number": tracking})).json()
        scanned = utcnow() - timedelta(hours=100)
        await api.post("/v1/tracking/events", json={"carrier": "sf-express", "tracking_number": tracking, "events": [
            {"event_id": "s1", "status": "in_transit", "occurred_at": scanned.isoformat()}]})
        await worker.run_once()
        await worker.run_once()
        tickets = (await api.get("/v1/tickets", params={"order_id": order["id"]})).json()["items"]
        assert len(tickets) == 1
        assert tickets[0]["details"] == {"source": "stalled_parcel_sweep", "shipment_id": shipment["id"]}
        assert "No carrier scan for 100" in tickets[0]["description"]

    async def test_a_backlog_never_hides_new_stalls_and_one_ticket_per_order(
            self, api: httpx.AsyncClient, worker: Worker, monkeypatch: Any) -> None:
        from services.orders import worker as worker_module

        monkeypatch.setattr(worker_module, "SWEEP_PAGE", 2)  # a backlog larger than one page
        scanned = utcnow() - timedelta(hours=200)

        async def stalled_order(parcels: int) -> dict[str, Any]:
            order = (await api.post("/v1/orders", json=order_body())).json()
            for _ in range(parcels):
                tracking = f"SB{uuid.uuid4().hex[:10].upper()}"
                await api.post(f"/v1/orders/{order['id']}/shipments",
                               json={"carrier": "sf-express", "tracking_number": tracking})
                await api.post("/v1/tracking/events", json={"carrier": "sf-express", "tracking_number": tracking,
                                                            "events": [{"event_id": "s1", "status": "in_transit",
                                                                        "occurred_at": scanned.isoformat()}]})
            return order

        backlog = [await stalled_order(1) for _ in range(5)]
        three_parcels = await stalled_order(3)
        await asyncio.gather(worker.run_once(), worker.run_once())  # two sweeps at once
        await worker.run_once()
        for order in [*backlog, three_parcels]:
            tickets = (await api.get("/v1/tickets", params={"order_id": order["id"]})).json()["items"]
            assert len(tickets) == 1, (order["order_number"], tickets)
        fresh = await stalled_order(1)  # a new stall behind the flagged backlog is still found
        await worker.run_once()
        assert len((await api.get("/v1/tickets", params={"order_id": fresh["id"]})).json()["items"]) == 1
